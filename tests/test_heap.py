"""The long-run collector policy: the loaded heap frozen, young collections far rarer, the collector still on."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tickstem_tui import heap


@pytest.fixture
def restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_freezes_what_is_loaded_and_keeps_collecting_cycles(restore_collector: None) -> None:
    class Node:
        other: Node | None = None

    loaded = [object() for _ in range(1000)]
    frozen_before = gc.get_freeze_count()
    heap.settle()
    assert gc.get_freeze_count() >= frozen_before + len(loaded)
    assert gc.get_threshold() == heap.LONG_RUN_THRESHOLDS
    assert gc.get_threshold()[0] > 10 * 700  # young collections much rarer than the default
    assert gc.isenabled()
    # A cycle made after start-up is still reclaimed by a collection.
    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2


def test_collection_paused_for_a_burst_and_restored_even_on_error() -> None:
    assert gc.isenabled()
    with heap.collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), heap.collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()  # someone else turned it off: left as it was
    try:
        with heap.collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
