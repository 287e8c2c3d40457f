"""Model cards are rendered from the committed metrics files, so their figures cannot drift."""

import json
import shutil

import pytest

from models.cards import CARDS, ROOT, card_render, cards_stale, main


@pytest.mark.parametrize("name", list(CARDS))
def test_committed_card_is_its_rendering(name):
    card = CARDS[name]
    assert card_render(card) == (ROOT / card.path).read_text(encoding="utf-8"), (
        f"{card.path} differs from its template and metrics: run python -m models.cards {name}"
    )


def test_check_mode_passes_on_the_committed_cards():
    assert cards_stale() == []
    assert main(["--check"]) == 0


def _copy(card, root):
    """The card, its template and its sources under ``root``."""
    base = ROOT / card.path
    files = [
        base,
        base.with_name(base.name + ".tmpl"),
        *[(base.parent / rel).resolve() for rel in card.sources.values()],
    ]
    for f in files:
        if f.exists():
            dst = root / f.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst)
    return root / card.path


def test_changing_a_metric_changes_the_ecg_card(tmp_path):
    card = CARDS["ecg"]
    path = _copy(card, tmp_path)
    m2 = tmp_path / "models/ecg/artifacts/metrics_2lead.json"
    metrics = json.loads(m2.read_text())
    assert metrics["cv"]["pooled"]["veb"]["se"] != 12.34
    metrics["cv"]["pooled"]["veb"]["se"] = 12.34
    m2.write_text(json.dumps(metrics))
    text = card_render(card, root=tmp_path)
    assert text != path.read_text()
    assert "| two-lead ensemble | **12.3** |" in text
    assert cards_stale(tmp_path, ["ecg"]) == ["ecg"]


@pytest.mark.parametrize(
    "name, source, keys, value",
    [
        ("deterioration", "artifacts/metrics.json", ("vitals", "test", "auroc"), 0.1234),
        ("genomic", "metrics.json", ("loo_accuracy",), 0.5),
        ("notes", "metrics.json", ("heldout", "negated", "f1"), 0.5),
    ],
)
def test_changing_a_metric_changes_the_card(tmp_path, name, source, keys, value):
    card = CARDS[name]
    path = _copy(card, tmp_path)
    if name == "genomic":
        shutil.copy(ROOT / "models/genomic/model.joblib", path.parent)
    src = path.parent / source
    metrics = json.loads(src.read_text())
    node = metrics
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    src.write_text(json.dumps(metrics))
    text = card_render(card, root=tmp_path)
    assert text != path.read_text()
    assert (str(value) if name == "deterioration" else f"{value:.3f}") in text


def test_tuning_history_is_an_appendix_when_present(tmp_path):
    card = CARDS["ecg"]
    path = _copy(card, tmp_path)
    without = card_render(card, root=tmp_path)  # the copy has no tuning_history.md
    assert "tuning history" not in without
    assert path.read_text().startswith(without)  # the committed card: the same, plus its appendix
    (path.parent / "tuning_history.md").write_text(
        "# ECG alarm rules: tuning history\n\n## Pause\n\n- 2.5 s (2026-11-25).\n"
    )
    text = card_render(card, root=tmp_path)
    assert text.startswith(without)
    assert text[len(without) :] == "\n## Alarm rule tuning history\n\n### Pause\n\n- 2.5 s (2026-11-25).\n"


def test_deterioration_card_from_training_results(tmp_path):
    from models.deterioration.card import write_card

    res = json.loads((ROOT / "models/deterioration/artifacts/metrics.json").read_text())
    res["vitals"]["threshold"] = 0.5
    (tmp_path / "artifacts").mkdir()
    text = write_card(res, tmp_path / "MODEL_CARD.md").read_text()
    assert "Thresholds (deployed): raise at p >= 0.5," in text
    assert "Shift proxy" not in text  # no unit_shift.json next to this card


def test_unknown_source_is_an_error():
    with pytest.raises(ValueError, match="unknown sources"):
        card_render(CARDS["genomic"], data={"nope": {}})


def test_renderer_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, models.cards, models.deterioration.card; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
