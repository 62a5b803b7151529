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
from pathlib import Path

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


AUTOGROUP = Path("/proc/self/autogroup")


def yield_session_to_requests(nice: int, autogroup: Path = AUTOGROUP) -> bool:
    """Lower this process's whole session against other sessions by nice, where Linux groups sessions; True if done.

    With autogroup (on by default in many distributions, and on the VM this project is measured on) the kernel
    shares a core between sessions first and by nice only within one: a service in a session of its own, as the
    benchmark and the tests start the inference service, took half of the core it shared with the API past capacity,
    however low its model thread's nice. Only a session leader does this, since in a shared terminal session it would
    slow every process of it, the APIs too. In containers and systemd units their cgroups share the CPU instead, and
    this changes nothing: give the inference service a lower CPU weight there (README).
    """
    if nice <= 0 or os.getsid(0) != os.getpid():
        return False
    try:
        current = int(autogroup.read_text().rsplit("nice", 1)[1])
        autogroup.write_text(str(min(19, current + nice)))
    except (OSError, ValueError, IndexError):
        log.warning("could not lower the session's CPU priority", exc_info=True)
        return False
    return True
