"""privacy.plan_rows: a few groups' rows of the release plan, equal to the whole plan filtered."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboard import privacy

WANTED = [("team", "Ward 3 Cardiology"), ("directorate", "Medicine"), ("organisation", None),
          ("site", "Northgate General Hospital")]


def _by_hand(plan: pd.DataFrame, wanted) -> pd.DataFrame:
    # the second method: the whole plan, filtered in pandas one group at a time
    parts = [plan[(plan.cut == cut) & ((plan[cut] == key).fillna(False) if key else True)]
             for cut, key in dict.fromkeys(wanted)]
    return pd.concat(parts, ignore_index=True)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["wave_id", "cut", "indicator_id", "team", "directorate", "site", "staff_group"]
    out = frame.astype({c: object for c in cols[3:]}).fillna({c: "" for c in cols[3:]})
    return out.sort_values(cols, kind="stable").reset_index(drop=True)[list(frame.columns)]


@pytest.mark.parametrize("threshold", [10, 7])  # 10 is stored at import; 7 is decided on the fly
def test_rows_equal_the_whole_plan_filtered(demo_con, threshold):
    waves = [w for (w,) in demo_con.execute("SELECT wave_id FROM waves ORDER BY wave_id").fetchall()]
    rows = privacy.plan_rows(demo_con, threshold, waves, WANTED + [WANTED[0]])  # a repeat adds nothing
    expected = _by_hand(privacy.plan(demo_con, threshold, waves), WANTED)
    assert len(rows) == len(expected) > 0
    assert set(rows.cut) == {"team", "directorate", "organisation", "site"}
    pd.testing.assert_frame_equal(_canonical(rows), _canonical(expected), check_dtype=False)
    assert rows.released.dtype == bool and rows.n.dtype == "int64"


def test_a_withheld_team_reads_withheld_and_unknown_groups_read_nothing(demo_con):
    wave = demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0]
    plan = privacy.plan(demo_con, 10, [wave])
    team = plan[(plan.cut == "team") & ~plan.released].team.iloc[0]
    rows = privacy.plan_rows(demo_con, 10, [wave], [("team", team), ("team", "No such team")])
    assert len(rows) and not rows.released.any() and set(rows.team) == {team}
    with pytest.raises(ValueError, match="one-key cuts"):
        privacy.plan_rows(demo_con, 10, [wave], [("directorate+staff_group", "Medicine")])
