"""python -m inference_service: run the gRPC inference service with settings from the environment."""

import os

# One process serves everything, so prometheus_client's multi-process mode (set for the API images) would only
# add mmap files; it is chosen when prometheus_client is imported, hence before any import below.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

import asyncio  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from blogcore.ai.cpu_priority import yield_session_to_requests  # noqa: E402
from inference_service.server import serve  # noqa: E402
from inference_service.settings import InferenceSettings  # noqa: E402


def main() -> None:
    settings = InferenceSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # The model thread lowers its own nice (server.py); where the kernel shares a core between sessions first,
    # the whole service must step back as well, or it takes half the core the APIs share with it.
    if yield_session_to_requests(settings.effective_ai_nice):
        logging.getLogger(__name__).info("session CPU priority lowered by %d (autogroup)", settings.effective_ai_nice)
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
