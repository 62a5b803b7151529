"""Keeping the garbage collector's full passes off the requests.

A full (generation 2) collection walks every object the interpreter tracks, holding the GIL while it does. An API
worker that has imported its framework and the gRPC stack tracks some 85,000 objects (in process, the models add
more), and under load a full pass came every 47 s or so in each worker and took 55-100 ms on this project's 2-core
host: every request of that worker, reads and AI refusals alike, waited it out. Those were the slowest reads and
refusals of a benchmark arm, one by one. The objects loaded at start-up live as long as the process, so scanning
them finds nothing: gc.freeze() moves them to a generation no collection visits, the practice the gc module's
documentation gives for long-running pre-fork servers. What requests allocate later is collected as before.
Every worker calls it once its app is loaded (blogcore.gunicorn_conf), and the model engine once its models are
loaded and again once they are warm (in process, in a preloading master before it forks, in the inference service).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_what_is_loaded(what: str) -> int:
    """Collect today's garbage, then exempt every surviving object from later collections; returns how many
    objects are frozen now. Call it once start-up (imports, models, warm-up) is done; calling it again later
    freezes what was added since."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%s loaded: %d long-lived objects frozen out of the garbage collector's passes", what, frozen)
    return frozen
