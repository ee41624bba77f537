"""Weight averaging in the keyword-model training (models/speech/train.py): the mean of epoch
snapshots, batch-norm statistics included."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf_keras")

from models.speech import train  # noqa: E402


def test_average_snapshots_is_the_elementwise_mean(tmp_path):
    rng = np.random.default_rng(0)
    epochs = [[rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=5).astype(np.float32)] for _ in range(3)]
    paths = []
    for i, weights in enumerate(epochs):
        paths.append(tmp_path / f"epoch-{i:02d}.npz")
        np.savez(paths[-1], *weights)
    mean = train.average_snapshots(paths)
    assert [w.shape for w in mean] == [(3, 2), (5,)]
    for k in range(2):
        np.testing.assert_allclose(mean[k], np.mean([e[k] for e in epochs], axis=0), rtol=1e-6)
