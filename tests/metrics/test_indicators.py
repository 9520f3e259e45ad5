"""Indicator values against hand computation on the tiny organisation (tests/tiny_org.py)."""
from __future__ import annotations

import math

import pytest

from dashboard.metrics import indicators
from tests import tiny_org


@pytest.fixture
def con(tmp_path):
    return tiny_org.build(tmp_path / "tiny.duckdb")


def _value(frame, **where):
    rows = frame
    for col, val in where.items():
        rows = rows[rows[col] == val]
    assert len(rows) == 1, f"expected one row for {where}, got {len(rows)}"
    return rows.iloc[0]


def test_stress_by_team_counts_only_answers(con):
    frame = indicators.survey_results(con, by=("team",), indicator_ids=["stress"], wave_ids=[1])
    ward_a = _value(frame, team="Ward A")
    # Ward A, 2024: Yes, Yes, No answered; respondent 4 skipped the item.
    assert ward_a.n == 3
    assert ward_a.value == pytest.approx(2 / 3)
    # sample sd of (1, 1, 0)
    assert ward_a.sd == pytest.approx(math.sqrt(((1 / 3) ** 2 * 2 + (2 / 3) ** 2) / 2))
    assert _value(frame, team="Ward B").value == 0


def test_combined_bullying_is_yes_if_any_yes_and_no_only_when_all_answered_no(con):
    frame = indicators.survey_results(
        con, by=("team",), indicator_ids=["bullying_managers_or_colleagues"], wave_ids=[1]
    )
    # Ward A: r1 managers never, colleagues 3-5 times -> yes; r2 managers never, colleagues
    # skipped -> missing (not "no": a skipped item could have been a yes), so n is 1.
    a = _value(frame, team="Ward A")
    assert (a.n, a.value) == (1, 1.0)
    # Ward B: r5 managers 1-2 -> yes; r6 never, never -> no (both asked items answered).
    b = _value(frame, team="Ward B")
    assert (b.n, b.value) == (2, 0.5)


def test_any_of_counts_only_items_asked_in_the_wave(con):
    from dashboard import store

    # Drop the colleagues item from the 2024 questionnaire: nobody answered it that wave, so
    # r2 (managers never) is now a complete "no" and r1 (managers never) a "no" too.
    con.execute("DELETE FROM answers WHERE item_id = 'q14c' AND response_id IN (1, 5, 6)")
    store.refresh_scores(con)
    frame = indicators.survey_results(
        con, by=("team",), indicator_ids=["bullying_managers_or_colleagues"], wave_ids=[1]
    )
    a = _value(frame, team="Ward A")
    assert (a.n, a.value) == (2, 0.0)
    b = _value(frame, team="Ward B")  # r5 managers 1-2 -> yes, r6 never -> no
    assert (b.n, b.value) == (2, 0.5)


def test_multi_item_proportion_averages_share_of_answered_items(con):
    frame = indicators.survey_results(con, by=("team",), indicator_ids=["work_life_balance"], wave_ids=[1])
    a = _value(frame, team="Ward A")
    # r1 agrees with 2 of 3 items, r2 with 1 of 2 answered, r4 with 0 of 1.
    assert a.n == 3
    assert a.value == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_reverse_scored_items_are_recoded(con):
    frame = indicators.survey_results(con, by=("team",), indicator_ids=["hse_demands"], wave_ids=[1])
    a = _value(frame, team="Ward A")
    # r1 raw 5, 4 -> 1, 2 (mean 1.5); r2 raw 1, 2 -> 5, 4 (mean 4.5).
    assert a.value == pytest.approx(3.0)
    assert a.n == 2


def test_directorate_and_organisation_roll_up(con):
    by_dir = indicators.survey_results(con, by=("directorate",), indicator_ids=["stress"], wave_ids=[1])
    assert _value(by_dir, directorate="Medicine").value == pytest.approx(2 / 5)
    org = indicators.survey_results(con, indicator_ids=["stress"])
    assert list(org.wave_label) == ["2024", "2025"]
    assert _value(org, wave_id=2).value == 1.0


def test_staff_group_cut(con):
    frame = indicators.survey_results(con, by=("staff_group",), indicator_ids=["stress"], wave_ids=[1])
    assert _value(frame, staff_group="Nursing").value == pytest.approx(2 / 4)
    assert _value(frame, staff_group="Medical").n == 1


def test_empty_wave_gives_no_rows(con):
    frame = indicators.survey_results(con, by=("team",), wave_ids=[3])
    assert frame.empty


def test_pre_aggregated_rows_join_the_same_figures(tmp_path):
    con = tiny_org.build(tmp_path / "agg.duckdb", with_aggregate=True)
    org = indicators.survey_results(con, indicator_ids=["stress"], wave_ids=[1])
    # 2 of 5 respondents + 10 of 20 from the aggregate.
    row = _value(org, wave_id=1)
    assert row.n == 25
    assert row.value == pytest.approx(12 / 25)
    assert math.isnan(row.sd)  # no spread once an aggregate without one is mixed in
    by_group = indicators.survey_results(con, by=("staff_group",), indicator_ids=["stress"], wave_ids=[1])
    assert by_group.n.sum() == 5  # aggregates carry no staff group


def test_unknown_cut_is_refused(con):
    with pytest.raises(ValueError, match="unknown cut"):
        indicators.survey_results(con, by=("team; DROP TABLE units",))


def test_respondent_values(con):
    frame = indicators.respondent_values(con, "stress", wave_ids=[1], unit_ids=[1])
    assert sorted(frame.value) == [0, 1, 1]


def _exact(cells, keys):
    """Value and sd from the cells' sums added exactly (Decimal at the cells' 1e-9), the way the
    figures must come out whatever order DuckDB's threads add them in."""
    from decimal import Decimal

    out = {}
    for row in cells.itertuples(index=False):
        key = tuple(getattr(row, k) for k in keys)
        n, s, s2, whole = out.get(key, (0, Decimal(0), Decimal(0), True))
        s2_here = None if row.sum_v2 is None or (isinstance(row.sum_v2, float) and math.isnan(row.sum_v2)) \
            else Decimal(repr(row.sum_v2)).quantize(Decimal("1e-9"))
        out[key] = (n + int(row.n), s + Decimal(repr(row.sum_v)).quantize(Decimal("1e-9")),
                    s2 + (s2_here or 0), whole and s2_here is not None)
    figures = {}
    for key, (n, s, s2, whole) in out.items():
        sd = (math.sqrt(max(float(s2) - float(s) * float(s) / n, 0) / (n - 1))
              if whole and n > 1 else math.nan)
        figures[key] = (float(s) / n, n, sd)
    return figures


@pytest.mark.parametrize("by", [(), ("directorate",), ("site",), ("staff_group",)])
def test_figures_are_the_exact_sums_of_the_cells_bit_for_bit(by, tmp_path):
    """Sums are added as decimals, so a figure does not depend on the order rows are added in
    (at national scale DuckDB's threads added doubles in a different order each run)."""
    con = tiny_org.build(tmp_path / "agg.duckdb", with_aggregate=True)
    # shares whose sum as doubles depends on the order they are added in: (0.1 + 0.2) + 0.3 is
    # 0.6000000000000001, 0.1 + (0.2 + 0.3) is 0.6
    con.executemany("INSERT INTO survey_aggregates VALUES (?, 3, 'stress', ?, 1, NULL)",
                    [(1, 0.1), (2, 0.2), (3, 0.3)])
    frame = indicators.survey_results(con, by=by)
    cells = con.execute(
        "SELECT c.*, u.directorate, u.site FROM survey_cells AS c JOIN units AS u USING (unit_id)"
        + (" WHERE c.respondent" if "staff_group" in by else "")).df()
    cells["sum_v2"] = cells.sum_v2.astype(object).where(cells.sum_v2.notna(), None)
    expected = _exact(cells, [*by, "wave_id", "indicator_id"])
    assert len(frame) == len(expected) > 0
    for row in frame.itertuples(index=False):
        value, n, sd = expected[tuple(getattr(row, k) for k in [*by, "wave_id", "indicator_id"])]
        assert row.n == n
        assert row.value == value  # bit for bit, not approximately
        assert (math.isnan(row.sd) and math.isnan(sd)) or row.sd == sd


def test_scope_figures_are_the_exact_sums_of_the_cells(con):
    con.executemany("INSERT INTO survey_aggregates VALUES (?, 3, 'stress', ?, 1, NULL)",
                    [(1, 0.1), (2, 0.2), (3, 0.3)])   # an order-dependent double sum, as above
    frame = indicators.scope_results(con, {"org": None, "two": [1, 2]}, [1, 3])
    cells = con.execute("SELECT * FROM survey_cells WHERE wave_id IN (1, 3)").df()
    for scope, units in (("org", None), ("two", [1, 2])):
        part = cells if units is None else cells[cells.unit_id.isin(units)]
        expected = _exact(part.assign(sum_v2=part.sum_v2.astype(object)), ["wave_id", "indicator_id"])
        got = frame[frame.scope == scope]
        assert len(got) == len(expected) > 0
        for row in got.itertuples(index=False):
            value, n, _ = expected[(row.wave_id, row.indicator_id)]
            assert (row.n, row.value) == (n, value)


def _every_pair_of_cuts():
    from dashboard import privacy

    cuts = list(privacy.RELEASE_ORDER)
    return [[a, b] for i, a in enumerate(cuts) for b in cuts[i + 1:]] + [cuts, [("team",), ("team",), ()]]


def _collision_store(path):
    """A blank directorate next to a literal "Not recorded", and a pre-aggregated row (no staff
    group, no spread) beside respondent rows."""
    from dashboard import privacy, store

    con = tiny_org.build(path, with_aggregate=True)
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)",
                        [(4, "Ward Q", None, None), (5, "Ward R", privacy.NOT_RECORDED, "North")])
        con.executemany("INSERT INTO responses (response_id, wave_id, unit_id, staff_group)"
                        " VALUES (?, ?, ?, ?)",
                        [(9, 1, 4, None), (10, 1, 4, "Nursing"), (11, 1, 5, "Nursing")])
        con.executemany("INSERT INTO answers VALUES (?, ?, ?)",
                        [(9, "q11c", 1), (10, "q11c", 0), (11, "q11c", 1), (11, "hse03", 2)])
        store.refresh_scores(con)
        store.bump_version(con)
    return con


@pytest.mark.parametrize("store_kind", ["demo", "collision"])
def test_several_cuts_in_one_query_give_each_cuts_own_frame(store_kind, demo_con, tmp_path):
    """survey_results_of: one query per kind of cut, the frames survey_results gives cut by cut
    (rows, order, column types), with a blank directorate, a literal "Not recorded", staff groups
    and pre-aggregated rows."""
    from pandas.testing import assert_frame_equal

    con = demo_con if store_kind == "demo" else _collision_store(tmp_path / "c.duckdb")
    waves = None if store_kind == "collision" else [int(w) for (w,) in con.execute(
        "SELECT wave_id FROM waves ORDER BY wave_id DESC LIMIT 2").fetchall()]
    ids = None if store_kind == "collision" else ["stress", "hse_control"]
    for cuts in _every_pair_of_cuts():
        together = indicators.survey_results_of(con, cuts, ids, waves)
        assert len(together) == len(cuts)
        for by, frame in zip(cuts, together, strict=True):
            alone = indicators.survey_results(con, by=by, indicator_ids=ids, wave_ids=waves)
            assert len(alone) > 0
            assert_frame_equal(frame, alone, check_exact=True, obj=f"{by} with {cuts}")
    if store_kind == "collision":
        directorates = indicators.survey_results_of(con, [("directorate",), ()], ["stress"], [1])[0]
        assert directorates.directorate.isna().sum() == 1
        assert (directorates.directorate == "Not recorded").sum() == 1
        con.close()
