"""Helpers for bulk work (demo loads, index builds) that every layer may use."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


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
