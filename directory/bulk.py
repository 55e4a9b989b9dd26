"""Helpers for bulk work (demo loads, index builds) that every layer may use."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block of bulk work.

    A bulk load or an index build allocates millions of objects; the collector would scan
    every live one (the gazetteer, the vocabulary, the index being built) again at each
    generation threshold, for nothing, since these records hold no reference cycles.
    Measured, it doubled the time of building 100k documents. Reference counting still
    frees everything as usual; only cycles wait for the next collection after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def collector_settled() -> Iterator[Callable[[], None]]:
    """For a long bulk run in steps (an import's batches): the collector is paused within
    a step, and ``settle()`` after each step collects what that step left and freezes
    the survivors.

    Frozen objects (the run's growing indexes) are never scanned again, so a collection
    costs what one step allocated, not what the whole run holds; and a reference cycle a
    step made is still freed at its end, so memory does not fill with garbage over an
    hours-long import, as it would with the collector paused throughout. Everything is
    unfrozen at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()

    def settle() -> None:
        gc.collect()
        gc.freeze()

    try:
        yield settle
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
