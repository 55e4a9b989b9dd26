"""directory.ordering: the first k rows by lazily computed keys equal a full sort."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from directory.ordering import Key, first_rows, kth_smallest, sorted_rows

columns = st.integers(1, 300).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
        st.lists(
            st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 1)), min_size=n, max_size=n
        ),
    )
)


@given(columns=columns, k=st.integers(0, 320))
def test_the_first_rows_are_the_head_of_the_full_sort(
    columns: tuple[list[int], list[float]], k: int
) -> None:
    """Keys tie often (a few values each); the last key (the position) is unique."""
    level, score = np.array(columns[0]), np.array(columns[1])
    asked: list[str] = []

    def key(name: str, values: np.ndarray) -> Key:
        def read(rows: np.ndarray) -> np.ndarray:
            asked.append(name)
            return values[rows]

        return read

    keys = [key("level", level), key("score", score), key("position", np.arange(len(level)))]
    rows = np.arange(len(level))
    expected = sorted(rows.tolist(), key=lambda r: (level[r], score[r], r))[:k]
    assert first_rows(keys, rows, k).tolist() == expected
    assert sorted_rows(keys, rows).tolist() == sorted(
        rows.tolist(), key=lambda r: (level[r], score[r], r)
    )


def test_later_keys_are_computed_only_for_the_rows_tied_at_the_cut() -> None:
    level = np.array([0, 1, 1, 1, 2, 2, 2, 2])
    seen: list[int] = []

    def position(rows: np.ndarray) -> np.ndarray:
        seen.extend(rows.tolist())
        return rows

    picked = first_rows([level.__getitem__, position], np.arange(len(level)), 2)
    assert picked.tolist() == [0, 1]
    assert seen and set(seen) <= {0, 1, 2, 3}  # never the rows of level 2


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=200), st.data())
def test_the_kth_smallest_is_that_of_a_sort(values: list[int], data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(values)))
    assert kth_smallest(np.array(values), k) == sorted(values)[k - 1]
