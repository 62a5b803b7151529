import subprocess
import sys

SCRIPT = """
import sys
from blogcore.ai import create_backend
from blogcore.ai.backend import AIDisabled, Task
from blogcore.settings import APISettings

backend = create_backend(APISettings(inference_mode="off"))
backend.start()
assert backend.readiness().ready
try:
    backend.run(Task.SUMMARIZE, ["text"])
except AIDisabled:
    pass
else:
    raise SystemExit("off mode ran a model")
heavy = sorted(name for name in ("torch", "transformers", "tokenizers") if name in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def test_off_mode_never_imports_torch():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY:"
