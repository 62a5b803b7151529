"""bench.machine: what a run records about where it ran."""

from bench import machine
from bench.model import Machine


def test_machine_and_versions_describe_this_host():
    found = machine.machine()
    assert isinstance(found, Machine) and found.cpu_count >= 1 and found.memory_gib > 0 and found.cpu_model
    versions = machine.package_versions()
    assert set(versions) == set(machine.PACKAGES) and versions["pydantic"][0].isdigit()
    commit, dirty = machine.git_commit()
    assert commit == "unknown" or len(commit) == 40
    assert isinstance(dirty, bool)
