"""Torch's idle OpenMP threads sleep rather than spin, so a model process leaves the cores it is not using."""

import os
import subprocess
import sys

import pytest

# CPU time the process spends while its only Python thread sleeps: all of it is torch's idle pool.
IDLE_CPU_SCRIPT = """
import os, time
import blogcore.ai.engine as engine
import torch

engine.configure_torch(2)
x = torch.randn(256, 256)
for _ in range(50):
    x = torch.tanh(x @ x)
before = time.process_time()
time.sleep(1.0)
print(os.environ.get("OMP_WAIT_POLICY"), time.process_time() - before)
"""


def idle_cpu_s(policy: str | None) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run([sys.executable, "-c", IDLE_CPU_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    seen, cpu = done.stdout.split()
    return seen, float(cpu)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="an idle pool needs a second thread to spin")
def test_idle_model_threads_sleep_unless_the_operator_says_otherwise():
    seen, passive_cpu = idle_cpu_s(None)
    assert seen == "PASSIVE"
    assert passive_cpu < 0.1, f"the idle pool used {passive_cpu:.2f} s of CPU in 1 s"
    # The control: told to spin, the same pool burns its idle second, so the measurement above can see spinning.
    seen, active_cpu = idle_cpu_s("ACTIVE")
    assert seen == "ACTIVE"
    assert active_cpu > 0.3, f"a spinning pool used only {active_cpu:.2f} s of CPU in 1 s"
