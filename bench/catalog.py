"""What exists, read from the repository instead of listed: services (frameworks), modes and k6 scenarios.

A service is a directory with a service.toml (services/*/, and the directories named in BENCH_SERVICE_PATH, which
is how the tests add a framework of their own). Frameworks are the services whose role is "api", ordered by their
default port. A mode says which processes it needs. A scenario is a k6 script the matrix drives (it builds its
iterations with k6/lib/scenario.js); an AI-only one has no post operation in its default mix, so "off" skips it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVICES_DIR = REPO / "services"
K6_DIR = REPO / "k6"
# More directories holding service directories, separated like PATH (the tests' fixture framework lives there).
SEARCH_PATH_ENV = "BENCH_SERVICE_PATH"
MANIFEST = "service.toml"
API, INFERENCE = "api", "inference"

# Which processes each mode starts, in start order: only "remote" needs the inference service.
MODE_PROCESSES: dict[str, tuple[str, ...]] = {"off": (API,), "inprocess": (API,), "remote": (INFERENCE, API)}
# The post operations of k6/lib/mix.js; a scenario whose default mix has none of them is AI-only.
POST_OPERATIONS = ("list", "read", "create", "update", "delete")


class CatalogError(ValueError):
    """A manifest is missing a field, or two services share a name."""


@dataclass(frozen=True)
class Service:
    name: str
    role: str
    directory: Path
    default_port: int
    server: str
    worker_class: str
    start: str
    concurrency: str

    @property
    def start_script(self) -> Path:
        return self.directory / self.start


def _search_dirs() -> tuple[Path, ...]:
    extra = [Path(p) for p in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep) if p]
    return (SERVICES_DIR, *extra)


def _read_manifest(path: Path) -> Service:
    data = tomllib.loads(path.read_text())
    try:
        return Service(
            name=data["name"], role=data["role"], directory=path.parent, default_port=int(data["default_port"]),
            server=data["server"], worker_class=data.get("worker_class", ""), start=data.get("start", "start.sh"),
            concurrency=data["concurrency"],
        )
    except KeyError as missing:
        raise CatalogError(f"{path} has no {missing.args[0]!r}") from None


@cache
def _services_in(dirs: tuple[Path, ...]) -> dict[str, Service]:
    found: dict[str, Service] = {}
    for directory in dirs:
        for manifest in sorted(directory.glob(f"*/{MANIFEST}")):
            service = _read_manifest(manifest)
            if service.name in found:
                raise CatalogError(f"two services are called {service.name}: {found[service.name].directory}, "
                                   f"{service.directory}")
            found[service.name] = service
    return found


def services() -> dict[str, Service]:
    """Every service found, by name."""
    return _services_in(_search_dirs())


def service(name: str) -> Service:
    try:
        return services()[name]
    except KeyError:
        raise CatalogError(f"no service called {name} (no {MANIFEST} names it)") from None


def frameworks() -> tuple[str, ...]:
    """The API frameworks, in the order the report shows them (by default port: flask, fastapi, django...)."""
    apis = [s for s in services().values() if s.role == API]
    return tuple(s.name for s in sorted(apis, key=lambda s: (s.default_port, s.name)))


def modes() -> tuple[str, ...]:
    return tuple(MODE_PROCESSES)


def needs_inference(mode: str) -> bool:
    return INFERENCE in MODE_PROCESSES[mode]


_DEFAULT_MIX = re.compile(r"mixFromEnv\('([^']*)'\)")


@cache
def _scenario_mixes(k6_dir: Path) -> dict[str, tuple[str, ...]]:
    mixes = {}
    for script in sorted(k6_dir.glob("*.js")):
        text = script.read_text()
        mix = _DEFAULT_MIX.search(text)
        if "./lib/scenario.js" in text and mix:
            mixes[script.stem] = tuple(part.split(":")[0].strip() for part in mix.group(1).split(","))
    return mixes


def scenarios() -> tuple[str, ...]:
    """The k6 scripts the matrix can run."""
    return tuple(_scenario_mixes(K6_DIR))


def ai_only_scenarios() -> tuple[str, ...]:
    """The scenarios with no post operation: there is nothing to measure in them when AI is off."""
    mixes = _scenario_mixes(K6_DIR)
    return tuple(name for name, ops in mixes.items() if not set(ops) & set(POST_OPERATIONS))
