"""Single-text latency per task on this machine: `python -m blogcore.ai.measure_latency --threads 1 2`.

Uses whatever MODEL_PROFILE / MODEL_SOURCE say (e.g. light + synthetic); reports the median and the minimum of
--repeats runs (the minimum is the figure to trust on a machine shared with other work).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from blogcore.ai.backend import Task
from blogcore.ai.corpus import generate_corpus
from blogcore.ai.engine import ModelEngine, configure_torch
from blogcore.settings import ModelSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    settings = ModelSettings()
    configure_torch(1)
    engine = ModelEngine(settings)
    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    post = " ".join(p.body for p in generate_corpus(3, seed=42))  # a ~150-word post
    report: dict = {
        "profile": str(settings.model_profile),
        "load_s": round(load_s, 1),
        "post_words": len(post.split()),
        "sources": {str(t): engine.info(t).source for t in Task},
        "summary_max_new_tokens": settings.summary_max_new_tokens,
        "title_max_new_tokens": settings.title_max_new_tokens,
        "num_beams": settings.num_beams,
        "median_ms": {},
        "min_ms": {},
    }
    for threads in args.threads:
        configure_torch(threads)
        engine.warm_up()
        medians, minimums = {}, {}
        for task in Task:
            samples = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                engine.run_batch(task, [post])
                samples.append(time.perf_counter() - t0)
            medians[str(task)] = round(statistics.median(samples) * 1000)
            minimums[str(task)] = round(min(samples) * 1000)
        report["median_ms"][f"threads={threads}"] = medians
        report["min_ms"][f"threads={threads}"] = minimums
        report["loadavg"] = _loadavg()
        print(json.dumps(report), flush=True)
    return 0


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
