"""The inference service is a package of its own (services/inference), importable here without installing it."""

import sys
from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2] / "services" / "inference"
if str(SERVICE_DIR) not in sys.path:
    sys.path.insert(0, str(SERVICE_DIR))
