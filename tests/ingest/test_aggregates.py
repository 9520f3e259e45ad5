"""Pre-aggregated results: each rate with its own base, one date per wave, no base, wide year layouts."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from dashboard.ingest import pipeline
from dashboard.metrics import drilldown, indicators, scorecard
from tests.ingest.conftest import UPLOADS, snapshot

BASES = UPLOADS / "survey_aggregate_waves_bases.csv"
NO_BASE = UPLOADS / "survey_aggregate_no_base.csv"
WIDE = UPLOADS / "survey_wide_years.csv"
YEAR_DATES = {"2021": "2021-10-15", "2022": "2022-10-14", "2023": "2023-10-13", "2024": "2024-10-11"}


def _csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_each_rate_is_paired_with_its_own_base_and_every_wave_asks_its_date(con):
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, BASES, "survey_aggregate")
    report = prepared.report
    assert report.pairing.to_dict("records") == [
        {"result column": "stress_rate", "indicator": "Stress", "base": "'stress_base' (its own)"},
        {
            "result column": "work_life_balance_rate",
            "indicator": "Work-life balance",
            "base": "'work_life_balance_base' (its own)",
        },
    ]
    # The respondents total is never used as the n of every rate.
    assert "n" not in prepared.mapping.fields and report.ignored_columns == ["Respondents"]
    assert report.waves_without_date == ["2021", "2022", "2023", "2024"]
    assert report.questions == [
        f"When was survey wave '{y}' in the field? Give the middle date of its fieldwork "
        f"(on the page, or with --wave-date '{y}=YYYY-MM-DD')."
        for y in YEAR_DATES
    ]
    assert snapshot(con) == before


def _import_bases(con):
    _raw, prepared = pipeline.prepare(con, BASES, "survey_aggregate", answers={"wave_dates": YEAR_DATES})
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    pipeline.commit(con, prepared, user="t")
    return prepared


def test_four_waves_each_with_its_own_date_and_figures_weighted_by_their_own_bases(con):
    prepared = _import_bases(con)
    assert prepared.report.wave_dates == {y: f"fielded on {d} (date given)" for y, d in YEAR_DATES.items()}
    waves = indicators.waves(con)
    assert waves.label.tolist() == list(YEAR_DATES)
    assert [str(d)[:10] for d in waves.fielded_on] == list(YEAR_DATES.values())
    rows = _csv(BASES)
    for wave in waves.itertuples():
        mine = [r for r in rows if r["Year"] == wave.label]
        table = scorecard.indicator_table(con, int(wave.wave_id), 10).set_index("indicator_id")
        for ind, col in (("stress", "stress"), ("work_life_balance", "work_life_balance")):
            n = sum(int(r[f"{col}_base"]) for r in mine)
            value = sum(float(r[f"{col}_rate"]) / 100 * int(r[f"{col}_base"]) for r in mine) / n
            assert table.at[ind, "value"] == pytest.approx(value), (wave.label, ind)
            assert table.at[ind, "n"] == n  # not the respondents total
            earlier = [r for r in rows if r["Year"] == str(int(wave.label) - 1)]
            if earlier:
                n0 = sum(int(r[f"{col}_base"]) for r in earlier)
                v0 = sum(float(r[f"{col}_rate"]) / 100 * int(r[f"{col}_base"]) for r in earlier) / n0
                assert table.at[ind, "change"] == pytest.approx(value - v0)
            else:
                assert pd.isna(table.at[ind, "change"])
    latest = int(waves.wave_id.iloc[-1])
    heat = drilldown.heatmap(con, ("team",), latest, 10)
    heat = heat[(heat.source == "survey") & ~heat.suppressed].set_index(["team", "indicator_id"])
    for r in (r for r in rows if r["Year"] == "2024"):
        assert heat.at[(r["Team"], "stress"), "value"] == pytest.approx(float(r["stress_rate"]) / 100)
        assert heat.at[(r["Team"], "stress"), "n"] == int(r["stress_base"])
        assert heat.at[(r["Team"], "work_life_balance"), "n"] == int(r["work_life_balance_base"])


def test_reimporting_the_same_rows_is_nothing_new_and_not_logged(con, tmp_path):
    _import_bases(con)
    copy = tmp_path / "again.csv"
    copy.write_bytes(BASES.read_bytes() + b"\n")
    _raw, prepared = pipeline.prepare(con, copy, "survey_aggregate")
    assert prepared.report.nothing_new and prepared.report.rows_ready == 0
    assert prepared.report.errors == [
        "Nothing new: all 24 rows of this file are already in the store from an earlier import. "
        "Nothing was written and the import log is unchanged."
    ]
    assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 1


def test_a_result_without_its_own_base_is_refused_never_given_another(con, tmp_path):
    f = tmp_path / "half.csv"
    f.write_text(
        "Team,Year,stress_rate,stress_base,presenteeism_rate\nWard 7,2024,40,50,55\n", encoding="utf-8"
    )
    _raw, prepared = pipeline.prepare(
        con, f, "survey_aggregate", answers={"wave_dates": {"2024": "2024-10-01"}}
    )
    assert prepared.report.errors == [
        "No base for result column(s) 'presenteeism_rate': pair each with its own base column (on the page, "
        "or --base RESULT=BASE) or leave it out; no n is ever borrowed from another result."
    ]
    # Pairing by hand (the page's editor, or --base) resolves it.
    f.write_text(
        "Team,Year,stress_rate,stress_base,presenteeism_rate,Pres count\nWard 7,2024,40,50,55,44\n",
        encoding="utf-8",
    )
    _raw, prepared = pipeline.prepare(
        con,
        f,
        "survey_aggregate",
        answers={"wave_dates": {"2024": "2024-10-01"}, "bases": {"presenteeism_rate": "Pres count"}},
    )
    assert prepared.report.ok, prepared.report.errors
    assert sorted(
        prepared.tables["aggregates"][["indicator_id", "n"]].itertuples(index=False, name=None)
    ) == [("presenteeism", 44), ("stress", 50)]


def test_file_without_bases_asks_then_imports_published_organisation_figures(con):
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, NO_BASE, "survey_aggregate")
    assert prepared.report.no_base and not prepared.report.errors
    # The base question and every wave's date are asked in one round.
    assert prepared.report.waves_without_date == ["NSS 2023", "NSS 2024"]
    assert len(prepared.report.questions) == 3 and "--published" in prepared.report.questions[-1]
    assert "no n is ever invented from another column" in prepared.report.questions[-1]
    assert snapshot(con) == before
    dates = {"NSS 2023": "2023-10-20", "NSS 2024": "2024-10-18"}
    _raw, prepared = pipeline.prepare(
        con, NO_BASE, "survey_aggregate", answers={"published": True, "wave_dates": dates}
    )
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    pipeline.commit(con, prepared, user="t")
    assert con.execute("SELECT count(*) FROM survey_aggregates").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == 0
    file_values = {
        (r["Survey"], r["Measure"]): float(r["Score"].rstrip("%")) / (100 if r["Score"].endswith("%") else 1)
        for r in _csv(NO_BASE)
    }
    names = {
        "Work-related stress": "stress",
        "Work-life balance": "work_life_balance",
        "HSE Demands": "hse_demands",
    }
    waves = indicators.waves(con)
    assert waves.label.tolist() == ["NSS 2023", "NSS 2024"]
    for wave in waves.itertuples():
        table = scorecard.indicator_table(con, int(wave.wave_id), 10).set_index("indicator_id")
        for measure, ind in names.items():
            assert table.at[ind, "value"] == pytest.approx(file_values[(wave.label, measure)])
            assert table.at[ind, "note"] == scorecard.PUBLISHED_NOTE
            assert pd.isna(table.at[ind, "n"])
        # No n: a proportion has no interval, so it is not rated against the benchmark.
        assert table.at["stress", "status"] == "none" and table.at["stress", "band"] == ""
        # HSE scales are placed in the published percentile bands, which need no n.
        assert table.at["hse_demands", "band"] != ""
        # Never part of respondent/based figures: no intervals, no funnels, no evaluation.
        assert indicators.survey_results(con, wave_ids=[int(wave.wave_id)]).empty
        assert drilldown.heatmap(con, ("team",), int(wave.wave_id), 10).empty
    later = scorecard.indicator_table(con, int(waves.wave_id.iloc[-1]), 10).set_index("indicator_id")
    assert later.at["stress", "change"] == pytest.approx(
        file_values[("NSS 2024", "Work-related stress")] - file_values[("NSS 2023", "Work-related stress")]
    )
    # Unit scope (a directorate or team profile) never sees organisation-only figures.
    assert (
        scorecard.indicator_table(con, int(waves.wave_id.iloc[-1]), 10, unit_ids=[1])
        .query("indicator_id == 'stress'")
        .value.isna()
        .all()
    )


def test_results_without_bases_for_several_teams_are_refused(con, tmp_path):
    f = tmp_path / "teams.csv"
    f.write_text(
        "Team,Survey,Question,Result\nWard 7,NSS 2024,q11c,40%\nTheatres,NSS 2024,q11c,30%\n",
        encoding="utf-8",
    )
    _raw, prepared = pipeline.prepare(
        con, f, "survey_aggregate", answers={"published": True, "wave_dates": {"NSS 2024": "2024-10-01"}}
    )
    assert prepared.report.errors == [
        "Results without a base can only be imported as organisation-level figures, but column 'Team' names "
        "2 teams. Add each result's base, or upload the organisation's rows only."
    ]


def test_wide_year_layout_is_recognised_confirmed_and_unpivoted(con):
    _raw, prepared = pipeline.prepare(con, WIDE, "survey_aggregate")
    assert prepared.report.wide_layout == ["2021", "2022", "2023", "2024"]
    assert prepared.report.questions == [
        "This file has one column per year (2021, 2022, 2023, 2024) and one row per measure. Read each year "
        "column as a survey wave? Confirm on the page, or with --unpivot."
    ]
    _raw, prepared = pipeline.prepare(con, WIDE, "survey_aggregate", answers={"unpivot": True})
    assert prepared.report.no_base and prepared.report.questions[-1].startswith("This file gives no base")
    dates = {y: f"{y}-10-01" for y in ("2021", "2022", "2023", "2024")}
    _raw, prepared = pipeline.prepare(
        con, WIDE, "survey_aggregate", answers={"unpivot": True, "published": True, "wave_dates": dates}
    )
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    assert "1 blank year cells (not measured that year) were left out." in prepared.report.notes
    assert prepared.report.rows_read == 3 and prepared.report.rows_ready == 3
    pipeline.commit(con, prepared, user="t")
    rows = _csv(WIDE)
    names = {"Work-related stress": "stress", "Presenteeism": "presenteeism", "HSE Demands": "hse_demands"}
    expected = {
        (y, names[r["Theme"]]): float(r[y].rstrip("%")) / (100 if r[y].endswith("%") else 1)
        for r in rows
        for y in dates
        if r[y]
    }
    got = indicators.published_results(con)
    assert {
        (w, i): v for w, i, v in zip(got.wave_label, got.indicator_id, got.value, strict=True)
    } == pytest.approx(expected)
    # The Overview's trend line carries the published series in date order.
    trend = scorecard.trend(con, ["stress", "presenteeism"], 10)
    assert trend.wave_label.tolist() == ["2021", "2021", "2022", "2022", "2023", "2024", "2024"]
    assert trend.n.isna().all()


def test_waves_are_ordered_by_fieldwork_date_not_by_when_they_were_imported(con, tmp_path):
    rows = _csv(BASES)
    header = "Team,Year,stress_rate,stress_base\n"
    for year in ("2024", "2021"):  # the later wave arrives first
        f = tmp_path / f"y{year}.csv"
        f.write_text(
            header
            + "".join(
                f"{r['Team']},{year},{r['stress_rate']},{r['stress_base']}\n"
                for r in rows
                if r["Year"] == year
            ),
            encoding="utf-8",
        )
        _raw, prepared = pipeline.prepare(
            con, f, "survey_aggregate", answers={"wave_dates": {year: YEAR_DATES[year]}}
        )
        pipeline.commit(con, prepared, user="t")
    waves = indicators.waves(con)
    assert waves.label.tolist() == ["2021", "2024"] and waves.wave_id.tolist() == [2, 1]
    # The Overview opens on the last wave by date and compares it with the one before by date.
    table = scorecard.indicator_table(con, int(waves.wave_id.iloc[-1]), 10).set_index("indicator_id")

    def org(year):
        mine = [r for r in rows if r["Year"] == year]
        return sum(float(r["stress_rate"]) / 100 * int(r["stress_base"]) for r in mine) / sum(
            int(r["stress_base"]) for r in mine
        )

    assert table.at["stress", "value"] == pytest.approx(org("2024"))
    assert table.at["stress", "previous"] == pytest.approx(org("2021"))
