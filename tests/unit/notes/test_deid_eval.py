"""``wardwatch eval deid``: the report on a corpus sample, and the CI guard on the test split."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from batch.notes.deid_corpus import CORPUS_DIR, corpus_read
from batch.notes.deid_eval import deid_evaluate, deid_score
from batch.notes.negex_eval import negex_evaluate
from wardwatch.cli import app
from wardwatch.settings import shared_data


def test_eval_command_reports_on_a_small_sample(tmp_path):
    notes = corpus_read(CORPUS_DIR, "test")[:3]
    with gzip.open(tmp_path / "test.jsonl.gz", "wt", encoding="utf-8") as fh:
        for n in notes:
            fh.write(json.dumps(n) + "\n")
    r = CliRunner().invoke(app, ["eval", "deid", "--corpus", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["notes"] == 3 and out["split"] == "test"
    gold = sum(len(n["spans"]) for n in notes)
    assert out["overall"]["span"]["gold"] == gold
    for level in ("span", "token"):
        assert 0.9 <= out["overall"][level]["recall"] <= 1.0
    cats = {sp["category"] for n in notes for sp in n["spans"]}
    assert cats <= set(out["by_category"])
    assert out["medical_terms"]["present"] > 0


def test_eval_command_missing_split_is_a_clear_error(tmp_path):
    r = CliRunner().invoke(app, ["eval", "deid", "--corpus", str(tmp_path), "--split", "dev"])
    assert r.exit_code == 2 and "no dev.jsonl.gz" in r.output


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not JSON"),
        ('{"text": "abc"}', "'text' and 'spans'"),
        ('{"text": "abc", "spans": [{"start": 2, "end": 9, "category": "NAME"}]}', "bad span"),
    ],
)
def test_eval_command_bad_corpus_line_is_a_clear_error(tmp_path, line, why):
    (tmp_path / "test.jsonl").write_text('{"text": "ok", "spans": []}\n' + line + "\n")
    r = CliRunner().invoke(app, ["eval", "deid", "--corpus", str(tmp_path)])
    assert r.exit_code == 2 and why in r.output and "line 2" in r.output


def test_scoring_counts_a_partly_removed_name_as_missed():
    note = {
        "id": "x",
        "text": "Pt Harold Jenkins hmm",
        "spans": [{"start": 3, "end": 17, "category": "NAME"}],
    }
    r = deid_score([note])
    assert r["overall"]["span"]["recall"] == 1.0
    note2 = {
        "id": "y",
        "text": "lowercase harold jenkins",
        "spans": [{"start": 10, "end": 24, "category": "NAME"}],
    }
    r2 = deid_score([note2])
    assert r2["overall"]["span"]["recall"] == 0.0 and r2["overall"]["token"]["gold"] == 2
    assert r2["missed"][0]["text"] == "harold jenkins"


@pytest.mark.parametrize("split", ["test", "fresh"])
def test_guard_heldout_recall_and_precision(split):
    """CI guard for issue 24's goal on the held-out splits (150 notes each, about a second)."""
    r = deid_evaluate(CORPUS_DIR, split)
    o = r["overall"]
    assert o["span"]["recall"] >= 0.99 and o["token"]["recall"] >= 0.99
    assert o["span"]["precision"] >= 0.90
    assert r["medical_terms"]["share_kept"] >= 0.99


def test_issue24_notes():
    r = deid_evaluate(CORPUS_DIR, "issue24")
    assert r["overall"]["span"]["gold"] == 38 and r["overall"]["span"]["recall"] >= 0.97


@pytest.mark.parametrize("reports", ["heldout"])
def test_negex_f1_unchanged_by_deid(reports):
    tsv = shared_data("negex", "annotations-reports-1-60.tsv")
    plain = negex_evaluate(tsv, reports)
    deid = negex_evaluate(tsv, reports, deidentify=True)
    assert deid["negated"]["f1"] == plain["negated"]["f1"]
    assert deid["deid"]["concepts_kept"] == deid["deid"]["rows"]
