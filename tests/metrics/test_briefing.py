"""The briefing: its footer pieces, its released absence summary, and its figures stored when first
worked out and read back by every later view."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import periods, store
from dashboard.metrics import briefing, scorecard


def test_footer_from_pieces_equals_the_briefings(demo_con, demo_brief):
    # The Overview draws its scorecard before gathering the briefing (Where to look fills in
    # last), so its footer comes from the same pieces without the briefing: the same line.
    info = store.dataset_info(demo_con)
    table = scorecard.indicator_table(demo_con, demo_brief.wave_id, demo_brief.threshold)
    line = briefing.footer_line(
        info["name"], bool(info["is_demo"]),
        briefing.period_text(demo_brief.wave_label,
                             periods.wave_periods(demo_con, demo_brief.wave_id)[0]),
        briefing.respondents_text(table), demo_brief.threshold, demo_brief.produced)
    assert line == demo_brief.footer
    assert f"{demo_brief.respondents} respondents" in line and demo_brief.wave_label in line


def test_respondents_without_survey_figures():
    import pandas as pd

    empty = pd.DataFrame({"kind": ["mean", "rate"], "n": [40.0, None]})
    assert briefing.respondents(empty) is None
    assert briefing.respondents_text(empty) == "– respondents"
    assert briefing.respondents(pd.DataFrame({"kind": ["proportion"] * 2, "n": [12.0, 30.0]})) == 30


def test_absence_summary_is_the_released_one(demo_con, demo_brief):
    # the organisation's summary read from the stored release equals period_summary computed
    # afresh, released at the threshold, and, the organisation being shown, the raw figures
    from dashboard.metrics import absence

    start, end = periods.wave_periods(demo_con, demo_brief.wave_id)[0]
    assert demo_brief.absence_period == (start, end)
    released = absence.period_summary(demo_con, start, end, threshold=demo_brief.threshold)
    assert demo_brief.absence_summary == released
    assert released["suppressed"] is False
    plain = absence.period_summary(demo_con, start, end)
    assert {k: v for k, v in released.items() if k != "suppressed"} == plain
    assert plain["rate"] == plain["fte_days_lost"] / plain["fte_days_available"]


def test_withheld_absence_summary_shows_no_figure(demo_brief):
    # an organisation with too few staff in post: every figure None; the meeting screen and the
    # board report say why and show "–", never a number or a crash
    import dataclasses

    from dashboard.present import board_report, formatting, screens

    withheld = {k: None for k in demo_brief.absence_summary} | {"suppressed": True}
    brief = dataclasses.replace(demo_brief, absence_summary=withheld)
    screen = next(s for s in screens.build(brief) if s.key == "absence")
    assert "not shown" in screen.message
    assert formatting.fewer_than(brief.threshold, formatting.STAFF) in screen.message
    assert [f.value for f in screen.figures][:2] == ["–", "–"]
    text = " ".join(str(b[1]) for b in board_report.blocks(brief, withheld, 2025) if b[0] == "p")
    assert "Figures shown as – are withheld" in text
    days = f"{demo_brief.absence_summary['fte_days_lost']:,.0f}"
    assert days not in text


# --- Where to look's figures stored when first worked out, read by every later view -------------

def _canon(brief) -> dict:
    """Everything a briefing shows, in a form == compares (frames as records)."""
    def cell(v):
        if isinstance(v, (list, tuple)) or hasattr(v, "tolist") and not isinstance(v, str):
            v = v.tolist() if hasattr(v, "tolist") else v
            return tuple(cell(x) for x in v) if isinstance(v, (list, tuple)) else v
        return None if pd.api.types.is_scalar(v) and pd.isna(v) else v

    def frame(f):
        return (list(f.columns), [str(t) for t in f.dtypes],
                [tuple(cell(v) for v in row) for row in f.itertuples(index=False)])

    return {
        "head": (brief.dataset, brief.is_demo, brief.wave_id, brief.wave_label, brief.fielded_on,
                 brief.threshold, brief.absence_period),
        "frames": [frame(f) for f in (brief.table, brief.domains, brief.heat, brief.absence_monthly,
                                      brief.absence_reasons, brief.register)],
        "funnels": {k: (frame(points), org) for k, (points, org) in brief.funnels.items()},
        "summary": brief.absence_summary,
        "evaluations": [(e.intervention["intervention_id"], [(r.indicator_id, r.verdict) for r in e.results])
                        for e in brief.evaluations],
        "groups": brief.groups, "ranked": brief.ranked,
    }


def _stored_rows(con) -> int:
    return con.execute("SELECT count(*) FROM briefing_store").fetchone()[0]


@pytest.fixture
def demo_rw(demo_db, tmp_path):
    import shutil

    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, path)
    con = store.connect(path)
    yield con
    con.close()


@pytest.fixture
def worked_out(monkeypatch):
    """The waves whose figures were worked out rather than read from the store."""
    calls = []
    real = briefing._figures

    def counting(con, cat, wave_id, threshold, absence_period):
        calls.append(wave_id)
        return real(con, cat, wave_id, threshold, absence_period)

    monkeypatch.setattr(briefing, "_figures", counting)
    return calls


def _fresh(con, wave, threshold=10):
    """The briefing worked out from scratch (nothing stored to read)."""
    con.execute("DELETE FROM briefing_store")
    return briefing.gather(con, wave, threshold)


def test_a_stored_briefing_is_read_back_as_the_one_worked_out(demo_rw, demo_brief, worked_out):
    wave = briefing.latest_wave(demo_rw)
    assert _stored_rows(demo_rw) == 0
    first = briefing.gather(demo_rw, wave, 10)
    assert worked_out == [wave] and _stored_rows(demo_rw) == 1
    again = briefing.gather(demo_rw, wave, 10)
    assert worked_out == [wave]  # read, not worked out
    assert _canon(again) == _canon(first) == _canon(demo_brief)
    assert again.ranked and again.footer == first.footer
    # another wave or threshold is worked out and stored beside it; a chosen absence period is
    # never stored nor read
    earlier = int(demo_rw.execute("SELECT min(wave_id) FROM waves").fetchone()[0])
    briefing.gather(demo_rw, earlier, 10)
    briefing.gather(demo_rw, wave, 7)
    assert _stored_rows(demo_rw) == 3 and worked_out == [wave, earlier, wave]
    period = (date(2024, 1, 1), date(2024, 12, 31))
    chosen = briefing.gather(demo_rw, wave, 10, absence_period=period)
    assert chosen.absence_period == period and worked_out[-1] == wave and _stored_rows(demo_rw) == 3


def test_a_stored_briefing_is_worked_out_again_when_what_it_shows_came_from_changes(demo_rw, worked_out):
    con = demo_rw
    wave = briefing.latest_wave(con)
    briefing.gather(con, wave, 10)

    def read_or_worked_out(expect_worked_out: bool):
        before = len(worked_out)
        got = briefing.gather(con, wave, 10)
        assert len(worked_out) == before + int(expect_worked_out)
        if not expect_worked_out:  # what is read equals what would be worked out now
            assert _canon(got) == _canon(_fresh(con, wave))
        return got

    # a register entry (the Data insights domain counts the interventions that can be evaluated)
    from dashboard.framework import interventions

    unit = int(con.execute("SELECT min(unit_id) FROM units").fetchone()[0])
    interventions.create_intervention(con, interventions.Intervention(
        "Walking meetings", "personal_health", [unit], date(2024, 1, 1), ["stress"]))
    got = read_or_worked_out(True)
    assert "Walking meetings" in set(got.register.name)
    read_or_worked_out(False)

    # a published figure, a renamed wave, a survey answer: worked out again
    con.execute("INSERT INTO published_figures VALUES (?, 'stress', 0.5, NULL)", [wave])
    read_or_worked_out(True)
    con.execute("UPDATE waves SET label = label || ' (revised)' WHERE wave_id = ?", [wave])
    assert "(revised)" in read_or_worked_out(True).wave_label
    with store.transaction(con):
        rid = con.execute("SELECT max(response_id) + 1 FROM responses").fetchone()[0]
        con.execute("INSERT INTO responses (response_id, wave_id, unit_id) VALUES (?, ?, ?)",
                    [rid, wave, unit])
        con.execute("INSERT INTO answers VALUES (?, 'q11c', 1)", [rid])
        store.refresh_scores(con)
        store.bump_version(con)
    assert _stored_rows(con) == 0   # an import (or undo) removes what its data replaced
    read_or_worked_out(True)
    # other code or other settings: worked out again
    briefing.gather(con, wave, 10)
    old = briefing._CODE
    try:
        briefing._CODE = "other code"
        read_or_worked_out(True)
    finally:
        briefing._CODE = old


def test_a_stored_payload_naming_anything_else_is_never_unpickled(demo_rw, worked_out):
    import pickle

    wave = briefing.latest_wave(demo_rw)
    first = briefing.gather(demo_rw, wave, 10)
    ran = []

    class Hostile:
        def __reduce__(self):
            return (ran.append, ("unpickled",))

    demo_rw.execute("UPDATE briefing_store SET payload = ?", [pickle.dumps(Hostile())])
    again = briefing.gather(demo_rw, wave, 10)
    assert ran == [] and worked_out == [wave, wave]
    assert _canon(again) == _canon(first)
    assert _stored_rows(demo_rw) == 1  # the hostile row replaced by the figures worked out


def test_a_read_only_store_works_out_the_briefing_and_writes_nothing(demo_con, demo_brief, worked_out):
    wave = briefing.latest_wave(demo_con)
    got = briefing.gather(demo_con, wave, 10)
    assert worked_out == [wave] and _canon(got) == _canon(demo_brief)
    assert _stored_rows(demo_con) == 0
