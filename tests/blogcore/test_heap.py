"""blogcore.heap: what start-up loaded is frozen out of the collector's passes; later garbage is still collected."""

from __future__ import annotations

import gc
import weakref

import pytest

from blogcore.heap import freeze_what_is_loaded


@pytest.fixture
def thawed():
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


def test_everything_alive_at_the_call_is_frozen_and_its_garbage_collected_first(thawed):
    loaded = [Node() for _ in range(1000)]
    cycle = Node()
    cycle.peer = Node()
    cycle.peer.peer = cycle
    gone = weakref.ref(cycle)
    del cycle
    frozen = freeze_what_is_loaded("the test")
    assert gone() is None  # the cycle was collected, not frozen
    assert frozen >= len(loaded) and gc.get_freeze_count() >= len(loaded)
    assert len(gc.get_objects(generation=2)) < frozen  # a full pass no longer walks them


def test_garbage_made_after_the_freeze_is_still_collected(thawed):
    freeze_what_is_loaded("the test")
    cycle = Node()
    cycle.peer = cycle
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is None
