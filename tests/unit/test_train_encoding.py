"""Training encodes its texts with the batched Preprocessor.encode_many that serving uses."""

from __future__ import annotations

import numpy as np
import pytest

from model_build import pipeline
from model_build.preprocess import PreprocessConfig, Preprocessor

pytestmark = pytest.mark.unit


def test_encoding_in_groups_gives_each_texts_own_ids(monkeypatch):
    # GIVEN groups smaller than the texts, so that some texts sit at a group's edge
    monkeypatch.setattr(pipeline, "TEXTS_PER_ENCODING", 3)
    preprocessor = Preprocessor(PreprocessConfig(num_buckets=4096))
    texts = ["a great film", "", "awful <br /> plot!", "don't", "x " * 50, "ok", "the end"]
    # WHEN the pipeline encodes them
    encoded = pipeline.encode(preprocessor, texts, "test", progress=False)
    # THEN each text has the ids it has on its own, as serving computes them
    assert len(encoded) == len(texts)
    for text, ids in zip(texts, encoded, strict=True):
        np.testing.assert_array_equal(ids, preprocessor.encode(text))
