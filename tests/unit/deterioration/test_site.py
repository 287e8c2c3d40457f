"""Site calibration: the deployed coefficients, the Platt step and threshold refitted on a site's
own labelled patients (``models.deterioration.site``, ``wardwatch calibrate deterioration``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from models.deterioration.dataset import build, iter_dir
from models.deterioration.model import load_model
from models.deterioration.site import calibrate_site, is_holdout, recalibrate
from models.deterioration.train import SET_A_TAR, split_of
from wardwatch.settings import shared_data

SET_A = shared_data(SET_A_TAR)

WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'hospital' where sepsis is rarer than in set A: the first 1,200 test-split patients of
    set A (never used to fit the model) with only every third septic patient kept."""
    out = tmp_path_factory.mktemp("site")
    seen = septic = 0
    with tarfile.open(SET_A, "r:*") as tf:
        for m in tf:
            name = Path(m.name).name
            if not (m.isfile() and name.endswith(".psv")) or split_of(name) != "test":
                continue
            text = tf.extractfile(m).read().decode()
            seen += 1
            if text.rstrip().splitlines()[-1].endswith("|1"):  # SepsisLabel is the last column
                septic += 1
                if septic % 3:
                    continue
            (out / name).write_text(text)
            if seen >= 1200:
                break
    return out


def test_holdout_share_is_stable_and_about_the_fraction() -> None:
    names = [f"p{i:06d}.psv" for i in range(5000)]
    held = [is_holdout(n) for n in names]
    assert held == [is_holdout(n) for n in names]
    assert 0.27 < np.mean(held) < 0.33
    assert not any(is_holdout(n, 0.0) for n in names)


def test_refit_needs_septic_and_non_septic_patients(site_dir: Path) -> None:
    m = load_model()
    pms = [pm for pm in build(iter_dir(site_dir), m.feature_set) if not pm.y.any()][:50]
    with pytest.raises(ValueError, match="septic"):
        recalibrate(m, pms)


def test_site_fit_keeps_the_ranking_and_matches_the_site_risk(site_dir: Path) -> None:
    base = load_model()
    pms = build(iter_dir(site_dir), base.feature_set)
    site, report = calibrate_site(base, pms)
    fit = [pm for pm in pms if not is_holdout(pm.name)]
    assert report["fit"]["patients"] == len(fit)
    assert report["holdout"]["site"]["patients"] == len(pms) - len(fit)
    # Same coefficients: the ranking (AUROC) is hospital A's, on the held-out patients too.
    assert site.coef == base.coef and site.knots == base.knots
    assert report["holdout"]["site"]["auroc"] == report["holdout"]["deployed"]["auroc"]
    # Sepsis is rarer here than in set A: the deployed probabilities overstate the site's risk,
    # the refitted ones match its label rate on the fit rows (a logistic fit's mean equals it).
    y = np.concatenate([pm.y for pm in fit])
    p_base = np.concatenate([base.predict_proba(pm.X) for pm in fit])
    p_site = np.concatenate([site.predict_proba(pm.X) for pm in fit])
    assert p_base.mean() > 1.3 * y.mean()
    assert abs(p_site.mean() - y.mean()) < 0.02 * y.mean()
    # Fewer septic patients per false alarm: the site alerts on fewer of the fit rows.
    assert (p_site >= site.threshold).mean() < (p_base >= base.threshold).mean()
    assert site.clear_threshold < site.threshold
    assert site.version.startswith(base.version + "-site-")
    assert site.metrics["site_report"] == report
    assert report["warnings"] == [] and report["data_quality"]["Temp"]["values"] > 0


def test_cli_writes_an_artifact_that_eval_and_the_stream_load(site_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "site.json"
    r = subprocess.run(
        [WARDWATCH, "calibrate", "deterioration", "--data", str(site_dir), "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    site = load_model(str(out))  # what WARDWATCH_DETERIORATION_MODEL=<out> loads
    assert site.version == report["model_version"] and site.threshold == report["threshold"]
    ev = subprocess.run(
        [WARDWATCH, "eval", "deterioration", "--data", str(site_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WARDWATCH_DETERIORATION_MODEL": str(out)},
    )
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert json.loads(ev.stdout)["model_version"] == site.version


def test_cli_refuses_a_folder_without_septic_patients(site_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "none"
    data.mkdir()
    for p in sorted(site_dir.glob("*.psv"))[:40]:
        if not p.read_text().rstrip().splitlines()[-1].endswith("|1"):
            (data / p.name).write_text(p.read_text())
    r = subprocess.run(
        [WARDWATCH, "calibrate", "deterioration", "--data", str(data), "--out", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "septic" in r.stdout + r.stderr
    assert not (tmp_path / "x.json").exists()


def test_vitals_in_the_wrong_units_are_reported_not_silently_dropped(site_dir: Path, tmp_path: Path) -> None:
    from models.deterioration.evaluate import evaluate_dir

    data = tmp_path / "fahrenheit"
    data.mkdir()
    for p in sorted(site_dir.glob("*.psv"))[:20]:
        lines = p.read_text().splitlines()
        col = lines[0].split("|").index("Temp")
        rows = [lines[0]]
        for line in lines[1:]:
            cells = line.split("|")
            if cells[col] != "NaN":
                cells[col] = f"{float(cells[col]) * 9 / 5 + 32:.1f}"
            rows.append("|".join(cells))
        (data / p.name).write_text("\n".join(rows) + "\n")
    res = evaluate_dir(data)
    assert res["data_quality"]["Temp"]["implausible_pct"] == 100.0
    assert res["data_quality"]["HR"]["implausible_pct"] < 1.0
    assert [w for w in res["warnings"] if w.startswith("Temp:") and "deg C" in w]
    assert not [w for w in res["warnings"] if w.startswith("HR:")]
