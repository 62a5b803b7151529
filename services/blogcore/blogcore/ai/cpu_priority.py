"""Model work yields the CPU to request handling: the threads that run models lower their own priority.

Where the API's request threads (or event loop) and model computation want the same core, as they do in process and
when the inference service shares the API's cores, the kernel then serves the requests first: reads and 429s stay
fast while AI takes what is left. No torch import here: the inference service sets up its model thread before it
loads torch.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)


def yield_cpu_to_requests(nice: int) -> None:
    """Lower the calling thread's CPU priority by nice (capped at 19); call it first thing in a model thread.

    Linux keeps a nice value per thread and a thread it starts inherits it, so torch's pool, created by the first
    forward pass in this thread, inherits it too. Elsewhere, or where the kernel refuses, the thread keeps its own.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))
    except OSError:
        log.warning("could not lower the model thread's CPU priority", exc_info=True)
