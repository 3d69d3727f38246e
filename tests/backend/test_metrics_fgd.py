"""FGD autoencoder: trains, round-trips through safetensors, and scores known cases."""

import json

import numpy as np
import pytest
import torch

from backend.errors import CheckpointError, DimGestureError
from backend.motion.features import FeatureStats
from backend.eval.fgd import FGDConfig, FGDScorer, MotionAutoencoder, sliding_windows, train_autoencoder


def _clips(n=6, frames=48, dim=6, seed=0):
    """Sinusoids of fixed frequencies with one random phase per clip: a one-parameter family."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 20.0
    freq = np.linspace(0.5, 2.0, dim)
    return [np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)).astype(np.float32) for _ in range(n)]


def test_sliding_windows_shapes():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    w = sliding_windows(x, 4, 2)
    assert w.shape == (4, 4, 2)
    np.testing.assert_array_equal(w[1], x[2:6])
    assert sliding_windows(x[:3], 4, 2).shape == (0, 4, 2)


def test_autoencoder_shapes_and_window_check():
    cfg = FGDConfig(feature_dim=6, window=8, channels=16, latent=4)
    model = MotionAutoencoder(cfg)
    x = torch.zeros(3, 8, 6)
    assert model.encode(x).shape == (3, 4)
    assert model(x).shape == (3, 8, 6)
    with pytest.raises(ValueError, match="multiple of 4"):
        FGDConfig(feature_dim=6, window=10).validate()


def test_training_reduces_reconstruction_loss_and_is_deterministic():
    cfg = FGDConfig(feature_dim=6, window=8, channels=16, latent=4)
    windows = np.concatenate([sliding_windows(c, 8, 4) for c in _clips()])
    _, history = train_autoencoder(windows, cfg, epochs=15, batch_size=22, lr=1e-2, seed=1)
    _, again = train_autoencoder(windows, cfg, epochs=15, batch_size=22, lr=1e-2, seed=1)
    assert history[-1] < 0.85 * history[0]
    assert history == again


def test_scorer_round_trip_and_known_distances(tmp_path):
    cfg = FGDConfig(feature_dim=6, window=8, channels=16, latent=4)
    clips = _clips()
    model, _ = train_autoencoder(np.concatenate([sliding_windows(c, 8, 4) for c in clips]), cfg, epochs=2, seed=0)
    scorer = FGDScorer(model, FeatureStats(np.zeros(6), np.ones(6)))
    scorer.save(tmp_path / "fgd", {"note": "test"})
    loaded = FGDScorer.load(tmp_path / "fgd")
    assert json.loads((tmp_path / "fgd" / "config.json").read_text())["note"] == "test"
    np.testing.assert_allclose(loaded.embed(clips), scorer.embed(clips), rtol=0, atol=1e-6)
    assert loaded.distance(clips, clips) == pytest.approx(0.0, abs=1e-6)
    assert loaded.distance(clips, [c + 2.0 for c in clips]) > 1e-3
    with pytest.raises(DimGestureError, match="at least 2 windows"):
        loaded.distance(clips, [clips[0][:8]])


def test_load_rejects_missing_or_foreign_folder(tmp_path):
    with pytest.raises(CheckpointError, match="config.json"):
        FGDScorer.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "other", "format_version": 1}))
    with pytest.raises(CheckpointError, match="not an FGD autoencoder"):
        FGDScorer.load(tmp_path)


def test_training_streams_a_dataset_and_checks_window_shapes():
    cfg = FGDConfig(feature_dim=6, window=8, channels=16, latent=4)
    windows = np.concatenate([sliding_windows(c, 8, 4) for c in _clips()])

    class Windows(torch.utils.data.Dataset):
        def __len__(self):
            return len(windows)

        def __getitem__(self, i):
            return torch.from_numpy(windows[i])

    _, from_array = train_autoencoder(windows, cfg, epochs=2, seed=4)
    _, from_dataset = train_autoencoder(Windows(), cfg, epochs=2, seed=4)
    assert from_array == from_dataset
    with pytest.raises(ValueError, match=r"\(8, 6\) windows"):
        train_autoencoder(windows[:, :4], cfg, epochs=1)
    with pytest.raises(ValueError, match="non-empty"):
        train_autoencoder(windows[:0], cfg, epochs=1)
