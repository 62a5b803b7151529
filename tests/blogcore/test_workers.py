"""blogcore.workers: readiness posted per worker, counted for the service, never torn by concurrent posts."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from blogcore.ai.backend import Readiness
from blogcore.workers import ReadinessPoster, WorkerBoard, forget_worker, WORKER_STATE_DIR_ENV


def test_the_service_is_ready_when_as_many_live_workers_say_so(tmp_path: Path) -> None:
    board = WorkerBoard(tmp_path, expected_workers=2)
    board.post(True, "ready")
    assert board.service().ready_workers == 1 and not board.service().ready
    # another live process (this test's parent) posting ready makes two
    (tmp_path / f"{os.getppid()}.json").write_text(json.dumps({"ready": True, "phase": "ready"}))
    assert board.service().ready
    # a dead worker's entry does not count, even before the master removed it
    (tmp_path / "999999999.json").write_text(json.dumps({"ready": True, "phase": "ready"}))
    assert board.service().ready_workers == 2
    board.post(False, "warming_up")
    assert not board.service().ready


def test_forget_worker_removes_a_dead_workers_entry(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(WORKER_STATE_DIR_ENV, str(tmp_path))
    (tmp_path / "12345.json").write_text("{}")
    forget_worker(12345)
    forget_worker(12345)  # twice is harmless
    assert not (tmp_path / "12345.json").exists()


def test_concurrent_posts_from_one_worker_never_fail(tmp_path: Path) -> None:
    poster = ReadinessPoster(WorkerBoard(tmp_path, 1), lambda: Readiness(True, {"phase": "ready"}))
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(200):
                poster.post_now()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and WorkerBoard(tmp_path, 1).service().ready
