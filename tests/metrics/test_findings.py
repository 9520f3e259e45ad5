"""Where to look: hand-worked rankings on small frames, and the demo's planted effects on top."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from dashboard import catalogue, demo, stats
from dashboard.metrics import findings


def _points(rows):
    return pd.DataFrame(rows, columns=["group", "n", "value", "zone", "signal"])


def test_funnel_findings_keep_only_unfavourable_teams_beyond_998_and_rank_by_gap():
    cat = catalogue.get()
    funnels = {
        # stress, low is favourable: centre 40%. A: +20 pts -> gap 2.0; B: +12 pts -> 1.2;
        # C beyond 95% only; D beyond 99.8% but favourable.
        "stress": (_points([
            ("A", 50, 0.60, "Above 99.8% limit", "worse"),
            ("B", 80, 0.52, "Above 99.8% limit", "worse"),
            ("C", 40, 0.55, "Above 95% limit", "worse"),
            ("D", 60, 0.20, "Below 99.8% limit", "better"),
        ]), {"value": 0.40}),
        # HSE manager support, high is favourable: centre 3.5. B at 2.9 -> gap 0.6 * 2.5 = 1.5
        "hse_manager_support": (_points([
            ("B", 80, 2.9, "Below 99.8% limit", "worse"),
        ]), {"value": 3.5}),
    }
    found = findings.funnel_findings(funnels, cat, wave_id=7)
    assert [f.subject for f in found] == ["A", "B"]
    assert found[0].weight == pytest.approx(2.0)
    # B's largest gap is manager support (1.5 > 1.2); stress is named as well
    assert found[1].weight == pytest.approx(1.5)
    assert "HSE Manager support 2.90 out of 5" in found[1].text
    assert "Also unusually poor: stress" in found[1].text
    assert "work-related stress 60.0%, against 40.0%" in found[0].text
    assert found[0].link == "teams?team=A&wave=7&ind=stress"
    assert found[0].n == 50


def _result(label, kind, estimate, verdict, design="difference-in-differences", n=(40, 60)):
    cells = pd.DataFrame({"n": list(n)}) if kind != "rate" else None
    return SimpleNamespace(label=label, kind=kind, estimate=estimate, verdict=verdict, design=design,
                           cells=cells)


def _evaluation(iid, name, results, units=4):
    return SimpleNamespace(intervention={"intervention_id": iid, "name": name}, results=results,
                           n_target_units=units)


def test_change_findings_rank_worsened_first_then_by_size_on_the_0_10_scale():
    evs = [
        # -6 points -> 0.6 on 0-10
        _evaluation(1, "Stress course", [_result("Work-related stress", "proportion", -6.0, stats.IMPROVED)]),
        # +0.4 on 1-5 -> 1.0 on 0-10
        _evaluation(2, "Manager training", [_result("HSE Manager support", "mean", 0.4, stats.IMPROVED)]),
        # rate ratio 0.8 at a 5% rate: 0.2 x 5 = 1.0 point of rate -> 1.0 on 0-10
        _evaluation(3, "Rota", [_result("Sickness absence rate", "rate", 0.8, stats.IMPROVED)], units=5),
        # small but worse: listed first
        _evaluation(4, "Pilot", [_result("Work-related stress", "proportion", 2.0, stats.WORSENED),
                                 _result("Work-life balance", "proportion", 1.0, stats.NO_CLEAR_CHANGE)]),
    ]
    found = findings.change_findings(evs, org_rate=0.05)
    assert [f.subject for f in found] == ["Pilot", "Manager training", "Rota", "Stress course"]
    weights = {f.subject: f.weight for f in found}
    assert weights["Rota"] == pytest.approx(1.0)
    assert weights["Manager training"] == pytest.approx(1.0)
    assert weights["Stress course"] == pytest.approx(0.6)
    stress = next(f for f in found if f.subject == "Stress course")
    assert stress.text == ("Stress course: work-related stress fell by 6.0 percentage points in the 4 "
                           "teams that had it, compared with teams without it — likely improved.")
    assert stress.n == 40 and stress.link == "interventions?iv=Stress+course"
    rota = next(f for f in found if f.subject == "Rota")
    assert "sickness absence fell by about 20%" in rota.text and rota.n is None


def test_domain_findings_only_worse_domains_furthest_first():
    domains = pd.DataFrame({
        "domain": ["Relationships", "Environment", "Data insights"],
        "score": [5.0, 4.0, 8.0],
        "status": ["worse", "worse", "better"],
        "benchmark_gap": [-0.6, -1.2, 0.7],
        "benchmark_score": [5.6, 5.2, 7.3],
    })
    found = findings.domain_findings(domains, wave_id=2)
    assert [f.subject for f in found] == ["Environment", "Relationships"]
    assert found[0].text == ("Environment scores 4.0 / 10, 1.2 below where the benchmark would put it "
                             "(5.2 / 10).")
    assert found[0].link == "teams?wave=2&ref=benchmark"


def test_absence_findings_rank_by_excess_rate_times_staff_and_skip_withheld():
    heat = pd.DataFrame({
        "group": ["Big", "Tiny", "Hidden", "Big", "Fine"],
        "indicator_id": ["absence_rate", "absence_rate", "absence_rate", "s10_share", "absence_rate"],
        "source": ["absence"] * 5,
        "value": [0.06, 0.12, 0.30, 0.4, 0.05],
        "reference_value": [0.05, 0.05, 0.05, 0.3, 0.05],
        "n": [200, 12, 8, 200, 50],
        "status": ["worse", "worse", "suppressed", "worse", "similar"],
        "suppressed": [False, False, True, False, False],
    })
    found = findings.absence_findings(heat, wave_id=3)
    # Big: 0.01 x 200 = 2.0; Tiny: 0.07 x 12 = 0.84; Hidden is withheld, Fine is not worse
    assert [f.subject for f in found] == ["Big", "Tiny"]
    assert found[0].weight == pytest.approx(2.0) and found[1].weight == pytest.approx(0.84)
    assert "stress, anxiety or depression" in found[0].text
    assert "stress" not in found[1].text
    assert found[0].n_label == "staff in post"


def test_where_to_look_orders_kinds_caps_each_and_overall():
    def f(kind, k):
        return findings.Finding(kind, f"{kind}{k}", "t", 1.0 / (k + 1), "teams")

    groups = {kind: [f(kind, k) for k in range(5)] for kind in findings.KIND_ORDER}
    ranked = findings.where_to_look(groups, per_kind=2, limit=7)
    assert [x.subject for x in ranked] == ["outlier0", "outlier1", "change0", "change1", "domain0",
                                           "domain1", "absence0"]
    assert findings.summary_sentence([]).startswith("Nothing stands out")
    assert findings.summary_sentence(ranked).startswith("7 things to look at")


def test_demo_planted_effects_come_out_on_top(demo_brief):
    ranked = demo_brief.ranked
    outliers = [f.subject for f in ranked if f.kind == "outlier"]
    # the two genuinely worse stress teams lead the list
    assert set(outliers[:2]) == set(demo.WORSE_STRESS_TEAMS)
    assert ranked[0].kind == "outlier" and ranked[0].params["ind"] == "stress"
    changes = [f.subject for f in ranked if f.kind == "change"]
    # the three programmes that worked, and not the null app pilot
    assert set(changes) == {"Stress management programme", "Manager development programme",
                            "Rota redesign"}
    assert all("Wellbeing app pilot" not in f.text for f in demo_brief.groups["change"])


def test_demo_findings_use_only_released_figures(demo_brief):
    heat = demo_brief.heat
    hidden = heat.suppressed.astype(bool)
    withheld = set(heat.loc[hidden, "group"]) - set(heat.loc[~hidden, "group"])
    for f in demo_brief.ranked:
        assert f.subject not in withheld
    # the figures in an outlier sentence are the funnel's own numbers
    top = demo_brief.ranked[0]
    points, centre = demo_brief.funnels[top.params["ind"]]
    row = points[points.group == top.subject].iloc[0]
    assert f"{row.value:.1%}" in top.text and f"{centre['value']:.1%}" in top.text
    assert top.n == int(row.n)
