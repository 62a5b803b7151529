"""What every experiment of a run gets: the configuration, where to write, the CPUs, the request texts, a voice."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import BenchConfig
from bench.model import Pinning
from bench.services import RunningConfig, start_config


@dataclass
class RunContext:
    config: BenchConfig
    run_dir: Path
    pinning: Pinning
    # Real news articles for the AI requests (bench/corpus.py); None: the stored post's template text
    texts_file: Path | None
    # say(where, what): one progress line
    say: Callable[[str, str], None]
    # Words of every text the AI requests carried: the report states the length distribution of what was sent
    words_sent: list[float] = field(default_factory=list)
    _windows: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def k6_paths(self, label: str) -> tuple[Path, Path]:
        """Where one k6 run writes its summary and its log: numbered in the order the run made them."""
        stem = f"{next(self._windows):04d}-{label}"
        k6_dir = self.run_dir / "k6"
        k6_dir.mkdir(parents=True, exist_ok=True)
        return k6_dir / f"{stem}.json", k6_dir / f"{stem}.log"

    @property
    def service_cpus(self) -> tuple[int, ...] | None:
        return self.pinning.services

    @property
    def k6_cpus(self) -> tuple[int, ...] | None:
        return self.pinning.k6

    def start(self, framework: str, mode: str, *, guard: str | None = None, api_env: dict[str, str] | None = None,
              inference_env: dict[str, str] | None = None, tag: str = "") -> RunningConfig:
        """Start one config's services on the service CPUs, with the run's settings and these changes."""
        svc = self.config.services
        if guard is not None:
            svc = dataclasses.replace(svc, ai_guard=guard)
        if api_env:
            svc = dataclasses.replace(svc, api_env={**svc.api_env, **api_env})
        return start_config(framework, mode, svc, self.run_dir, self.service_cpus, inference_extra_env=inference_env,
                            tag=tag)
