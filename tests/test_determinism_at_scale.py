"""The same store gives the same figures bit for bit however many threads DuckDB adds them with,
on a generated organisation large enough for parallel scans (`make slow`; the suite's short
versions are the demo's order-independence tests in tests/metrics)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import generate, measure
from dashboard import store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("determinism_db")]

# 30,000 responses x 48 items: about 1.4M answers, a dozen of DuckDB's 122,880-row groups, so a
# scan with several threads adds partial sums in an order that changes from run to run.
RESPONSES, EPISODES, TEAMS = 30_000, 150_000, 200


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("determinism") / "big.duckdb"
    con = store.connect(path)
    try:
        generate.generate(con, RESPONSES, EPISODES, TEAMS, waves=3, seed=11)
    finally:
        con.close()
    return path


def _same(a: object, b: object, where: str) -> None:
    """a and b hold the same values, floats equal to the last bit (NaN equal to NaN)."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, (where, a, b)


def test_every_page_figure_is_the_same_with_one_thread_and_with_four(big_db):
    """Each operation the benchmark times (every page's first view) on one connection adding
    with a single thread and on another with four: identical results, memos cleared before
    each call so every figure is computed, not remembered."""
    one = measure.open_store(big_db)
    four = measure.open_store(big_db)
    try:
        one.execute("SET threads = 1")
        four.execute("SET threads = 4")
        assert one.execute("SELECT count(*) FROM answers").fetchone()[0] > 5 * 122_880
        ops = measure.operations(one, 10)
        assert len(ops) >= 15
        for op in ops:
            measure.forget_memos()
            alone = op.run(one)
            for _ in range(2):
                measure.forget_memos()
                _same(alone, op.run(four), op.name)
    finally:
        one.close()
        four.close()
