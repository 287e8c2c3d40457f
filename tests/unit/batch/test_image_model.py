"""DenseNet121 wrapper: untrained label without weights; operator weights file loads; no download."""

from __future__ import annotations

import numpy as np
import pytest

from batch.image.model import UNTRAINED_WARNING, ImageModel


@pytest.fixture(scope="module")
def untrained() -> ImageModel:
    return ImageModel()


def test_untrained_model_says_so(untrained):
    info = untrained.info()
    assert info["name"] == "DenseNet121" and info["trained"] is False
    assert info["warning"] == UNTRAINED_WARNING == "untrained model: outputs are not clinical findings"
    x = np.zeros((1, 224, 224, 3), np.float32)
    pred = untrained.predict(x)
    assert len(pred["top"]) == 5 and pred["n_classes"] == 1000
    assert abs(sum(t["probability"] for t in pred["top"])) <= 1.0
    assert untrained.predict(x) == pred  # deterministic


def test_operator_weights_file_is_loaded(untrained, tmp_path):
    import json

    path = tmp_path / "densenet.weights.h5"
    untrained.net.save_weights(str(path))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([f"class_{i}" for i in range(1000)]))
    m = ImageModel(weights=path, labels=labels)
    info = m.info()
    assert info["trained"] is True and "warning" not in info and len(info["weights_sha256"]) == 16
    assert m.predict(np.zeros((1, 224, 224, 3), np.float32))["top"][0]["class"].startswith("class_")
    with pytest.raises(FileNotFoundError):
        ImageModel(weights=tmp_path / "missing.weights.h5")
