"""python -m inference_service: run the gRPC inference service with settings from the environment."""

import os

# One process serves everything, so prometheus_client's multi-process mode (set for the API images) would only
# add mmap files; it is chosen when prometheus_client is imported, hence before any import below.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

import asyncio  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from inference_service.server import serve  # noqa: E402
from inference_service.settings import InferenceSettings  # noqa: E402


def main() -> None:
    settings = InferenceSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
