from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from batch.genomic.expression import (
    expression_cluster,
    expression_cv,
    expression_evaluate,
    expression_predict,
    expression_preprocess,
    expression_rank,
    expression_scale,
)
from batch.genomic.golub import (
    ExpressionFormatError,
    golub_align,
    golub_parse_expression,
    golub_parse_labels,
)
from batch.genomic.train import genomic_load


@pytest.fixture(scope="module")
def train(golub_dir):
    x = golub_parse_expression(golub_dir / "data_set_ALL_AML_train.csv")
    y = golub_parse_labels(golub_dir / "labels_train.csv")
    return golub_align(x, y)


def test_golub_parse_matches_samples_by_name_not_position(golub_dir, train):
    x, y = train
    assert x.shape == (38, 7129)
    assert list(x.index) == [str(i) for i in range(1, 39)]
    # Raw file: sample "34" is the 28th sample column (the file runs 1..27, 34..38, 28..33).
    raw = pd.read_csv(golub_dir / "data_set_ALL_AML_train.csv")
    assert list(raw.columns[2:][::2][26:29]) == ["27", "34", "35"]
    assert x.loc["34", "AFFX-BioB-5_at"] == raw.loc[0, "34"] == -20
    assert x.loc["28", "AFFX-BioB-5_at"] == raw.loc[0, "28"]
    assert (y == "AML").sum() == 11 and y.loc["28"] == "AML" and y.loc["27"] == "ALL"
    assert "call" not in " ".join(map(str, x.columns)).lower()


def test_golub_parse_rejects_wrong_formats():
    with pytest.raises(ExpressionFormatError, match="Gene Accession Number"):
        golub_parse_expression(io.StringIO("a,b\n1,2\n"))
    bad = "Gene Description,Gene Accession Number,1,2\nx,P1,5,6\n"
    with pytest.raises(ExpressionFormatError, match="call"):
        golub_parse_expression(io.StringIO(bad))
    nonnum = "Gene Description,Gene Accession Number,1,call\nx,P1,abc,A\n"
    with pytest.raises(ExpressionFormatError, match="non-numeric"):
        golub_parse_expression(io.StringIO(nonnum))
    with pytest.raises(ExpressionFormatError, match="unknown labels"):
        golub_parse_labels(io.StringIO("patient,cancer\n1,CLL\n"))


def test_preprocess_floor_ceiling_log():
    out = expression_preprocess(np.array([[-50.0, 1000.0, 50000.0]])).tolist()
    assert out == [[2.0, 3.0, np.log10(16000)]]


def test_per_sample_normalisations_undo_a_chip_scaling_factor(train):
    x, _ = train
    xa = x.to_numpy(dtype=float)[:5]
    factors = np.array([[1 / 3], [0.5], [1.0], [2.0], [3.0]])
    np.testing.assert_allclose(expression_scale(xa * factors), expression_scale(xa), atol=1e-9)
    np.testing.assert_array_equal(expression_rank(xa * factors + 40), expression_rank(xa))
    # the plain log transform does not: that is what the scaling step is for
    assert np.abs(expression_preprocess(xa * factors) - expression_preprocess(xa)).max() > 0.4


def test_committed_model_is_unmoved_by_chip_scaling(train):
    model = genomic_load()
    x, _ = train
    base = [p["label"] for p in expression_predict(model, x)]
    for factor in (1 / 3, 3.0):
        assert [p["label"] for p in expression_predict(model, x * factor)] == base


def test_cross_validated_accuracy_bound(train):
    x, y = train
    # Small and quick (5 fits); the full 10x5-fold + leave-one-out is in models/genomic.
    m = expression_cv(x, y, folds=5, repeats=1, seed=0, loo=False)
    # Golub 1999 predicted 29/34 of the independent set with 50 genes; the shipped pipeline with
    # in-fold gene selection should stay above 85 % cross-validated on the training set, and as
    # far above it with every test fold measured as another laboratory might have.
    assert m["rskf_accuracy_mean"] >= 0.85 and m["shift_accuracy_mean"] >= 0.85
    assert m["rskf_recall"]["AML"] >= 0.8
    assert m["rskf_folds"] == 5 and m["n"] == 38


def test_committed_model_predicts_in_any_column_order(golub_dir, train):
    model = genomic_load()
    x, y = train
    shuffled = x.sample(frac=1.0, random_state=1).iloc[:, ::-1]
    p1 = {p["sample"]: p["label"] for p in expression_predict(model, x)}
    p2 = {p["sample"]: p["label"] for p in expression_predict(model, shuffled)}
    assert p1 == p2
    r = expression_evaluate(model, x, y)
    assert r["n"] == 38 and r["confusion"]["labels"] == ["ALL", "AML"]
    assert r["confusion"]["matrix"][0][0] + r["confusion"]["matrix"][1][1] == round(r["accuracy"] * 38)


def test_missing_probes_are_rejected(train):
    model = genomic_load()
    x, _ = train
    with pytest.raises(ValueError, match="probes missing"):
        expression_predict(model, x.iloc[:, :1000])


def test_clustering_separates_all_aml_and_draws_png(train):
    x, y = train
    c = expression_cluster(x, k=2, labels=list(y), seed=0)
    assert c.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(c.clusters) == 38 and set(c.clusters) == {0, 1}
    assert c.adjusted_rand_vs_labels is not None and c.adjusted_rand_vs_labels > 0.5
    with pytest.raises(ValueError, match="at least 2"):
        expression_cluster(x.iloc[:1])
