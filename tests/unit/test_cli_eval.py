"""The evaluation commands the unseen-data figures are measured with (issue #22: they must keep
working on any such folder): ``wardwatch eval genomic`` and ``wardwatch eval ecg`` end to end
through the CLI, on files written here in the formats the outside data comes in.
(``eval deterioration`` on a folder: tests/unit/deterioration/test_site.py.)"""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from tests.unit.ecg.short_records import write_short_record
from wardwatch.cli import app
from wardwatch.settings import shared_data

GOLUB = shared_data("golub")


def test_eval_genomic_on_a_reordered_rescaled_copy(tmp_path):
    """The samples in another order, and every chip's values x 3 (another laboratory's scanner
    scaling): the JSON names accuracy, confusion and model version; the training samples are
    still called right."""
    with open(GOLUB / "data_set_ALL_AML_train.csv", newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    samples = [i for i, h in enumerate(head) if h.strip().isdigit()]
    order = [0, 1, *[j for i in reversed(samples) for j in (i, i + 1)]]
    out = [[head[j] for j in order]]
    for r in body:
        out.append([r[j] if j < 2 or head[j] == "call" else str(3 * float(r[j])) for j in order])
    expr = tmp_path / "expression.csv"
    with open(expr, "w", newline="") as f:
        csv.writer(f).writerows(out)
    res = CliRunner().invoke(
        app,
        ["eval", "genomic", "--expression", str(expr), "--labels", str(GOLUB / "labels_train.csv"), "--json"],
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["n"] == 38 and r["model_version"] and r["confusion"]["labels"]
    assert r["accuracy"] >= 0.95


def test_eval_ecg_writes_annotations_for_a_short_record(tmp_path):
    """Two minutes of record 119 written as a new WFDB record (as another database's would
    come): QRS statistics and one ``.wwd`` annotation file per record."""
    recs, wwd = tmp_path / "recs", tmp_path / "wwd"
    recs.mkdir()
    write_short_record("119", recs, 120, as_name="x119")
    res = CliRunner().invoke(
        app, ["eval", "ecg", "--records", str(recs), "--json", "--write-annotations", str(wwd)]
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert set(r["records"]) == {"x119"}
    assert r["qrs"]["tp"] > 100 and r["qrs"]["se"] >= 99.0
    assert [p.name for p in wwd.iterdir()] == ["x119.wwd"]
