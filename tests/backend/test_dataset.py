"""GestureWindows: window layout, normalisation, audio/motion alignment and mirroring."""

import json
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from backend.audio import SPEECH_SAMPLE_RATE, load_audio
from backend.corpus.takes import make_corpus, plan_takes
from backend.data import prepare
from backend.data.dataset import GestureWindows, mirror_features, read_manifest
from backend.data.prepare import DatasetError
from backend.model.config import FrontendConfig
from backend.model.frontends import build_frontend
from backend.motion.features import FeatureStats, features_to_motion, motion_to_features

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

FPS = 20.0
TAKE_FRAMES = 140  # 7 s at 20 fps


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    src = tmp_path_factory.mktemp("corpus")
    make_corpus(src, plan_takes(9, 0, (7.0, 7.0), 30.0, takes=3), progress=False)
    out = tmp_path_factory.mktemp("cache")
    prepare.prepare(src, out, fps=FPS, val_fraction=0.3, frontend_chunk_seconds=3.0, progress=False)
    return src, out


def _raw(out, take, kind):
    shard = np.load(out / f"{kind}-{take['shard']:05d}.npy", mmap_mode="r")
    start = take[f"{kind}_start"]
    return np.asarray(shard[start : start + take[f"{kind}_frames"]])


def test_windows_cover_each_take_with_overlap(cache):
    _, out = cache
    ds = GestureWindows(out, "train", window_frames=60, hop_frames=30)
    train = [t for t in read_manifest(out)["takes"] if t["split"] == "train"]
    assert len(train) == 2 and all(t["motion_frames"] == TAKE_FRAMES for t in train)
    # starts 0, 30, 60 and one aligned to the end (80) per take
    assert [(w[1], w[2]) for w in ds.windows] == [(0, 60), (30, 60), (60, 60), (80, 60)] * 2
    item = ds[3]
    assert item["motion"].shape == (60, 454) and item["motion"].dtype == torch.float32
    assert item["audio"].shape == (round(60 * 50 / FPS), 80) and item["audio"].dtype == torch.float32
    assert item["take"] == train[0]["name"] and item["start"] == 80
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch["motion"].shape == (4, 60, 454) and batch["audio"].shape == (4, 150, 80)
    assert len(GestureWindows(out, "val", 60, 30)) == 4
    short = GestureWindows(out, "train", window_frames=TAKE_FRAMES + 1)
    assert len(short) == 0 and len(short.skipped_takes) == 2


def test_motion_is_normalised_with_train_stats(cache):
    _, out = cache
    ds = GestureWindows(out, "train", window_frames=None)
    stats = FeatureStats.load(out / "stats.npz")
    assert len(ds) == 2
    whole = torch.cat([ds[i]["motion"] for i in range(len(ds))]).numpy()
    raw = np.concatenate([_raw(out, t, "motion") for t in ds.takes])
    np.testing.assert_allclose(whole * stats.std + stats.mean, raw, atol=1e-4)
    varying = raw.std(0) > 1e-2
    np.testing.assert_allclose(whole.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(whole[:, varying].std(0), 1.0, atol=1e-3)


def test_audio_window_is_aligned_with_motion_window(cache):
    src, out = cache
    ds = GestureWindows(out, "train", window_frames=40, hop_frames=25)
    frontend = build_frontend(FrontendConfig())
    chunk = 3 * SPEECH_SAMPLE_RATE  # prepare ran the frontend in 3 s chunks (--window-seconds 3)
    compared = 0
    for index in range(len(ds)):
        item = ds[index]
        take = next(t for t in ds.takes if t["name"] == item["take"])
        t_a = item["audio"].shape[0]
        assert t_a == round(item["motion"].shape[0] * ds.audio_rate / ds.fps)
        a0 = round(item["start"] * ds.audio_rate / ds.fps)
        np.testing.assert_array_equal(item["audio"].numpy(), _raw(out, take, "audio")[a0 : a0 + t_a])
        # the cached frames are the frontend's frames of the same stretch of the take's own WAV
        first, last = int(item["start"] / FPS * SPEECH_SAMPLE_RATE), int((item["start"] + 40) / FPS * SPEECH_SAMPLE_RATE) - 1
        if first // chunk == last // chunk:
            base = first // chunk * chunk
            wave = load_audio(src / f"{item['take']}.wav")
            direct = frontend(torch.from_numpy(wave[base : base + chunk])[None])[0].numpy()
            offset = a0 - base // 320  # the audio frame nearest the window's start time...
            assert abs(offset * 320 - (first - base)) <= 160  # ...within half an audio frame
            np.testing.assert_allclose(item["audio"].numpy(), direct[offset : offset + t_a], atol=1e-4)
            compared += 1
    assert compared >= 2


def test_mirrored_windows_match_the_mirrored_motion(cache):
    _, out = cache
    plain = GestureWindows(out, "train", window_frames=60, hop_frames=30)
    ds = GestureWindows(out, "train", window_frames=60, hop_frames=30, mirror=True)
    assert len(ds) == 2 * len(plain)
    a, b = ds[2], ds[2 + len(plain)]
    assert not a["mirrored"] and b["mirrored"] and a["take"] == b["take"] and a["start"] == b["start"]
    assert torch.equal(a["audio"], b["audio"])
    raw = ds.stats.denormalize(a["motion"].numpy())
    mirrored = ds.stats.denormalize(b["motion"].numpy())
    expected = motion_to_features(features_to_motion(raw, ds.skeleton, FPS).mirror())
    # frame 0: re-encoding a window cannot know the root velocity into its first frame (it is 0
    # there), while the cached window keeps the take's; the corpus's hips sway, so compare from frame 1
    np.testing.assert_allclose(mirrored[1:], expected[1:], atol=2e-3)
    np.testing.assert_allclose(mirrored[0, :-4], expected[0, :-4], atol=2e-3)
    assert not np.allclose(mirrored, raw, atol=1e-2)
    np.testing.assert_allclose(mirror_features(mirror_features(raw, ds.skeleton), ds.skeleton), raw, atol=1e-6)


def test_style_reference_comes_from_another_window_of_the_same_take(cache):
    _, out = cache
    ds = GestureWindows(out, "train", window_frames=40, hop_frames=20, mirror=True, style_reference="other_window")
    plain = GestureWindows(out, "train", window_frames=40, hop_frames=20)
    partners = []
    for index in range(len(ds)):
        item = ds[index]
        take = next(t for t in ds.takes if t["name"] == item["take"])
        start, style_start = item["start"], item["style_start"]
        assert abs(style_start - start) >= 40  # no overlap with the window it conditions
        t_a = item["audio"].shape[0]
        a0 = round(style_start * ds.audio_rate / ds.fps)
        assert item["style_audio"].shape == item["audio"].shape
        np.testing.assert_array_equal(item["style_audio"].numpy(), _raw(out, take, "audio")[a0 : a0 + t_a])
        assert torch.equal(item["audio"], plain[index % len(plain)]["audio"])  # the window's own audio is unchanged
        assert ds[index]["style_start"] == style_start  # the pairing is a function of the index (exact resume)
        partners.append(style_start)
    assert len(set(partners)) > 2  # not one fixed reference per take
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch["style_audio"].shape == batch["audio"].shape
    assert "style_audio" not in plain[0]
    with pytest.raises(ValueError, match="fixed-length windows"):
        GestureWindows(out, "train", window_frames=None, style_reference="other_window")
    with pytest.raises(ValueError, match="style_reference must be one of"):
        GestureWindows(out, "train", window_frames=40, style_reference="voice")


def test_style_reference_comes_from_another_take_of_the_style_speaker(tmp_path):
    """Two speakers taking turns, some takes gestured with the other one's habits (make-corpus labels)."""
    src, out = tmp_path / "corpus", tmp_path / "cache"
    plans = plan_takes(2, 0, (7.0, 7.0), 30.0, takes=5, speakers=2, style_swap=0.5)
    assert any(p.style_speaker != p.speaker for p in plans) and any(p.style_speaker == p.speaker for p in plans)
    make_corpus(src, plans, progress=False)
    prepare.prepare(src, out, fps=FPS, val_fraction=0.0, frontend_chunk_seconds=3.0, progress=False)
    takes = {t["name"]: t for t in read_manifest(out)["takes"]}
    for plan in plans:  # the labels travel from the corpus's JSON into the cache
        assert (takes[plan.name]["speaker"], takes[plan.name]["style_speaker"]) == (str(plan.speaker), str(plan.style_speaker))
    ds = GestureWindows(out, "train", window_frames=40, hop_frames=20, style_reference="speaker")
    sources = set()
    for index in range(len(ds)):
        item = ds[index]
        take, source = takes[item["take"]], takes[item["style_take"]]
        assert source["name"] != take["name"] and source["speaker"] == take["style_speaker"]
        a0, t_a = round(item["style_start"] * ds.audio_rate / ds.fps), item["audio"].shape[0]
        np.testing.assert_array_equal(item["style_audio"].numpy(), _raw(out, source, "audio")[a0 : a0 + t_a])
        assert ds[index]["style_take"] == source["name"] and ds[index]["style_start"] == item["style_start"]
        sources.add(source["name"])
    assert len(sources) > 2


def test_speaker_reference_falls_back_to_another_window_without_labels(cache):
    _, out = cache  # three takes of three speakers: no other take of any style speaker
    ds = GestureWindows(out, "train", window_frames=40, hop_frames=20, style_reference="speaker")
    for index in range(len(ds)):
        item = ds[index]
        assert item["style_take"] == item["take"] and abs(item["style_start"] - item["start"]) >= 40


def test_bad_cache_folders_are_named(cache, tmp_path):
    _, out = cache
    with pytest.raises(DatasetError, match="no manifest.json"):
        GestureWindows(tmp_path, "train", 10)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="version 99"):
        GestureWindows(tmp_path, "train", 10)
    with pytest.raises(ValueError, match="split"):
        GestureWindows(out, "test", 10)
