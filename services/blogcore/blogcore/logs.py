"""One log format and level for everything the APIs log beside gunicorn's access and error lines.

Set up once in gunicorn's master (blogcore.gunicorn_conf), before any framework loads, so that blogcore's own
lines (models loaded and warmed up, inference outages, overload refusals) reach stderr alike in all three APIs;
without a handler Python would drop every line under WARNING and print the rest without time or source.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
