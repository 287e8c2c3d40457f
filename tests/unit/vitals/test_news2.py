"""NEWS2 against the RCP 2017 chart: every band edge on both sides, both SpO2 scales."""

import pytest

from models.vitals import news2 as n


@pytest.mark.parametrize(
    "rr,pts",
    [
        (0, 3),
        (8, 3),
        (9, 1),
        (11, 1),
        (12, 0),
        (20, 0),
        (21, 2),
        (24, 2),
        (25, 3),
        (60, 3),
        (20.4, 0),
        (20.5, 2),
        (8.5, 1),
    ],
)
def test_respiration_rate_bands(rr, pts):
    assert n.score_rr(rr) == pts


@pytest.mark.parametrize(
    "spo2,pts", [(85, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
)
def test_spo2_scale1(spo2, pts):
    assert n.score_spo2(spo2, 1, on_oxygen=False) == pts
    assert n.score_spo2(spo2, 1, on_oxygen=True) == pts  # scale 1 ignores oxygen


@pytest.mark.parametrize(
    "spo2,o2,pts",
    [
        (83, False, 3),
        (84, False, 2),
        (85, True, 2),
        (86, False, 1),
        (87, True, 1),
        (88, True, 0),
        (92, True, 0),
        (93, False, 0),
        (97, False, 0),
        (100, False, 0),
        (93, True, 1),
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
    ],
)
def test_spo2_scale2(spo2, o2, pts):
    assert n.score_spo2(spo2, 2, on_oxygen=o2) == pts


def test_spo2_unknown_scale():
    with pytest.raises(ValueError, match="scale"):
        n.score_spo2(95, 3, on_oxygen=False)


@pytest.mark.parametrize(
    "sbp,pts", [(60, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
)
def test_systolic_bp(sbp, pts):
    assert n.score_sbp(sbp) == pts


@pytest.mark.parametrize(
    "hr,pts",
    [(30, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_pulse(hr, pts):
    assert n.score_hr(hr) == pts


@pytest.mark.parametrize(
    "t,pts",
    [
        (34.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (41.0, 2),
        (35.04, 3),
        (35.05, 1),
        (38.04, 0),
        (38.05, 1),
    ],
)
def test_temperature(t, pts):
    assert n.score_temp(t) == pts


@pytest.mark.parametrize("c,pts", [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(c, pts):
    assert n.score_consciousness(c) == pts


def test_air_or_oxygen():
    assert n.score_air_or_oxygen(False) == 0
    assert n.score_air_or_oxygen(True) == 2


NORMAL = dict(
    rr_bpm=16, spo2_pct=97, spo2_scale=1, on_oxygen=False, sbp_mmhg=120, hr_bpm=70, acvpu="A", temp_c=37.0
)


def test_normal_patient_scores_zero():
    r = n.news2_score(**NORMAL)
    assert (r.score, r.band, r.risk, r.single_param_3) == (0, "0", "low", False)


def test_issue_example_is_high():
    # wardwatch news2 --rr 22 --spo2 95 --scale 1 --o2 air --sbp 105 --hr 115 --acvpu A --temp 38.5
    r = n.news2_score(
        rr_bpm=22,
        spo2_pct=95,
        spo2_scale=1,
        on_oxygen=False,
        sbp_mmhg=105,
        hr_bpm=115,
        acvpu="A",
        temp_c=38.5,
    )
    assert r.components == {
        "rr": 2,
        "spo2": 1,
        "air_or_oxygen": 0,
        "sbp": 1,
        "hr": 2,
        "consciousness": 0,
        "temp": 1,
    }
    assert (r.score, r.band, r.risk) == (7, "7+", "high")
    assert "emergency" in r.response


@pytest.mark.parametrize(
    "changes,score,band,risk",
    [
        ({"hr_bpm": 95}, 1, "1-4", "low"),
        ({"hr_bpm": 95, "rr_bpm": 22, "temp_c": 38.5}, 4, "1-4", "low"),
        ({"acvpu": "C"}, 3, "1-4", "low-medium"),  # single parameter 3
        ({"rr_bpm": 26}, 3, "1-4", "low-medium"),
        ({"on_oxygen": True, "hr_bpm": 95}, 3, "1-4", "low"),  # 2 + 1: no single 3
        ({"hr_bpm": 95, "rr_bpm": 22, "temp_c": 38.5, "sbp_mmhg": 105}, 5, "5-6", "medium"),
        ({"on_oxygen": True, "rr_bpm": 22, "sbp_mmhg": 95}, 6, "5-6", "medium"),
        ({"acvpu": "V", "rr_bpm": 22, "spo2_pct": 93}, 7, "7+", "high"),
        (
            {
                "acvpu": "U",
                "rr_bpm": 7,
                "spo2_pct": 88,
                "on_oxygen": True,
                "sbp_mmhg": 85,
                "hr_bpm": 140,
                "temp_c": 34.5,
            },
            20,
            "7+",
            "high",
        ),  # the maximum
    ],
)
def test_aggregate_bands_and_single_parameter_rule(changes, score, band, risk):
    r = n.news2_score(**{**NORMAL, **changes})
    assert (r.score, r.band, r.risk) == (score, band, risk)
    assert r.response == n.RESPONSES[risk]


def test_scale2_on_oxygen_hyperoxia_scores():
    r = n.news2_score(**{**NORMAL, "spo2_scale": 2, "on_oxygen": True, "spo2_pct": 97})
    assert r.components["spo2"] == 3 and r.components["air_or_oxygen"] == 2
    assert (r.score, r.risk) == (5, "medium")


@pytest.mark.parametrize(
    "score,band", [(0, "0"), (1, "1-4"), (4, "1-4"), (5, "5-6"), (6, "5-6"), (7, "7+"), (20, "7+")]
)
def test_band_edges(score, band):
    assert n.news2_band(score) == band
