"""dimgesture prepare: the cache contract, the split, the stats, and bad files skipped by name."""

import argparse
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from backend.corpus.takes import make_corpus, plan_takes
from backend.data import prepare
from backend.data.prepare import DatasetError
from backend.errors import DimGestureError
from backend.motion import quaternions as quat
from backend.motion.bvh import read_bvh, write_bvh
from backend.motion.features import FeatureStats, motion_to_features
from backend.motion.motion import Motion
from backend.motion.skeleton import Skeleton, default_skeleton

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

SECONDS, FPS = 6.0, 20.0


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    make_corpus(out, plan_takes(5, 0, (SECONDS, SECONDS), 30.0, takes=3), progress=False)
    return out


@pytest.fixture(scope="module")
def cache(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    manifest = prepare.prepare(tiny_corpus, out, "pairs", fps=FPS, val_fraction=0.1, frontend_chunk_seconds=4.0, progress=False)
    return out, manifest


def test_manifest_fields(cache):
    out, manifest = cache
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["format"] == "dimgesture-cache" and manifest["format_version"] == 1
    assert manifest["fps"] == FPS
    assert manifest["frontend"]["config"]["kind"] == "mel"
    assert manifest["frontend"]["frame_rate"] == 50.0 and manifest["frontend"]["dim"] == 80
    assert Skeleton.from_dict(manifest["skeleton"]).names == default_skeleton().names
    assert manifest["feature_dim"] == 6 * 75 + 4
    assert manifest["stats"] == "stats.npz" and manifest["skipped"] == []
    assert [t["name"] for t in manifest["takes"]] == ["take_00000", "take_00001", "take_00002"]


def test_shards_hold_each_take_at_the_cache_rate(cache, tiny_corpus):
    out, manifest = cache
    motion = np.load(out / "motion-00000.npy", mmap_mode="r")
    audio = np.load(out / "audio-00000.npy", mmap_mode="r")
    assert motion.dtype == np.float32 and audio.dtype == np.float32
    takes = manifest["takes"]
    assert motion.shape == (sum(t["motion_frames"] for t in takes), 454)
    assert audio.shape == (sum(t["audio_frames"] for t in takes), 80)
    for take in takes:
        assert take["motion_frames"] == int(SECONDS * FPS)
        assert take["audio_frames"] == round(take["motion_frames"] * 50.0 / FPS)
        expected = motion_to_features(read_bvh(tiny_corpus / f"{take['name']}.bvh").to_motion().resample(FPS))
        got = motion[take["motion_start"] : take["motion_start"] + take["motion_frames"]]
        np.testing.assert_allclose(got, expected[: take["motion_frames"]], atol=1e-6)


def test_split_by_take_and_train_stats(cache):
    out, manifest = cache
    splits = [t["split"] for t in manifest["takes"]]
    assert splits.count("val") == 1 and splits.count("train") == 2
    motion = np.load(out / "motion-00000.npy")
    train = np.concatenate([motion[t["motion_start"] : t["motion_start"] + t["motion_frames"]]
                            for t in manifest["takes"] if t["split"] == "train"])
    stats = FeatureStats.load(out / "stats.npz")
    np.testing.assert_allclose(stats.mean, train.mean(0), atol=1e-4)
    np.testing.assert_allclose(stats.std, np.maximum(train.std(0), 1e-2), rtol=1e-3, atol=1e-5)


def test_split_is_deterministic_and_seeded():
    names = [f"t{i}" for i in range(20)]
    a = prepare.split_takes(names, 0.2, seed=0)
    assert a == prepare.split_takes(list(reversed(names)), 0.2, seed=0)
    assert sum(v == "val" for v in a.values()) == 4
    assert a != prepare.split_takes(names, 0.2, seed=1)
    assert set(prepare.split_takes(["only"], 0.5, 0).values()) == {"train"}


def _bad_folder(tiny_corpus, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(tiny_corpus, src)
    shutil.copy(src / "take_00000.wav", src / "lonely.wav")  # no BVH
    (src / "corrupt.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 zero\n")
    shutil.copy(src / "take_00000.wav", src / "corrupt.wav")
    shutil.copy(src / "take_00001.bvh", src / "short.bvh")  # 6 s of motion, 2 s of audio
    sf.write(src / "short.wav", np.zeros(32000, np.float32) + 0.01, 16000)
    text = (src / "take_00002.bvh").read_text().splitlines()
    text[-3] = " ".join(["nan"] + text[-3].split()[1:])
    (src / "broken.bvh").write_text("\n".join(text) + "\n")
    shutil.copy(src / "take_00002.wav", src / "broken.wav")
    return src


def test_device_goes_through_the_one_resolver(tiny_corpus, tmp_path, monkeypatch):
    """``--device auto`` is the default and a GPU that is not there stops with words, before any file is read."""
    import torch

    args = argparse.ArgumentParser()
    prepare.add_arguments(args)
    assert args.parse_args([str(tiny_corpus), str(tmp_path / "cache")]).device == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DimGestureError, match="no usable CUDA GPU"):
        prepare.run(args.parse_args([str(tiny_corpus), str(tmp_path / "cache"), "--device", "cuda:0", "--quiet"]))
    assert not (tmp_path / "cache").exists()


def test_bad_files_are_reported_by_name_and_skipped(tiny_corpus, tmp_path, capsys):
    src = _bad_folder(tiny_corpus, tmp_path)
    args = argparse.ArgumentParser()
    prepare.add_arguments(args)
    code = prepare.run(args.parse_args([str(src), str(tmp_path / "cache"), "--fps", "20", "--quiet"]))  # --device auto
    assert code == 0
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert sorted(t["name"] for t in manifest["takes"]) == ["take_00000", "take_00001", "take_00002"]
    reasons = {item["file"].rsplit("/", 1)[-1]: item["reason"] for item in manifest["skipped"]}
    assert set(reasons) == {"lonely.wav", "corrupt.bvh", "short.bvh", "broken.bvh"}
    assert "no matching .bvh" in reasons["lonely.wav"]
    assert "length mismatch" in reasons["short.bvh"] and "2.00 s" in reasons["short.bvh"]
    assert "corrupt.bvh" in reasons["corrupt.bvh"]
    assert "nan" in reasons["broken.bvh"].lower()
    printed = capsys.readouterr().out
    assert "skipped 4 file(s)" in printed
    for name in reasons:
        assert name in printed


def test_zeggs_and_beat_layouts(tiny_corpus, tmp_path):
    zeggs = tmp_path / "zeggs" / "clean"
    zeggs.mkdir(parents=True)
    for ext in (".bvh", ".wav"):
        shutil.copy(tiny_corpus / f"take_00000{ext}", zeggs / f"067_Speech_2_x_1_0{ext}")
    (tmp_path / "zeggs" / "notes.wav").write_bytes(b"")  # outside clean/: ignored
    pairs, skipped = prepare.find_pairs(tmp_path / "zeggs", "zeggs")
    assert [p.name for p in pairs] == ["067_Speech_2_x_1_0"] and skipped == []

    for speaker, take in (("1", "take_00000"), ("2", "take_00001")):
        (tmp_path / "beat" / speaker).mkdir(parents=True)
        for ext in (".bvh", ".wav"):
            shutil.copy(tiny_corpus / f"{take}{ext}", tmp_path / "beat" / speaker / f"{speaker}_wayne_0_1_1{ext}")
    (tmp_path / "beat" / "2" / "2_wayne_0_1_1.json").write_text("{}")
    pairs, skipped = prepare.find_pairs(tmp_path / "beat", "beat")
    assert [p.name for p in pairs] == ["1/1_wayne_0_1_1", "2/2_wayne_0_1_1"] and skipped == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no BVH"):
        prepare.find_pairs(tmp_path / "empty", "pairs")


def _toy_motion(names, parents, frames=61, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    skeleton = Skeleton(names, parents, np.array([[0, 90, 0]] + [[0, 10, 0]] * (len(names) - 1), float), quat.identity((len(names),)))
    t = np.arange(frames)[:, None, None] / fps
    rotvec = 0.3 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6, (1, len(names), 3)))
    return Motion(fps, skeleton, quat.from_axis_angle(rotvec), np.tile([0.0, 90.0, 0.0], (frames, 1)))


def test_own_skeleton_when_names_differ_and_other_skeletons_skipped(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    noise = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    write_bvh(src / "a.bvh", _toy_motion(["root", "mid", "tip"], [-1, 0, 1]))
    write_bvh(src / "b.bvh", _toy_motion(["root", "mid", "tip"], [-1, 0, 1], seed=1))
    write_bvh(src / "c.bvh", _toy_motion(["root", "left", "right"], [-1, 0, 0]))
    for name in "abc":
        sf.write(src / f"{name}.wav", noise, 16000)
    manifest = prepare.prepare(src, tmp_path / "cache", fps=20.0, frontend_chunk_seconds=2.0, progress=False)
    assert manifest["skeleton"]["names"] == ["root", "mid", "tip"]
    assert manifest["feature_dim"] == 6 * 3 + 4
    assert [t["name"] for t in manifest["takes"]] == ["a", "b"]
    assert manifest["skipped"][0]["file"].endswith("c.bvh") and "skeleton" in manifest["skipped"][0]["reason"]
    assert np.load(tmp_path / "cache" / "motion-00000.npy").shape == (2 * 40, 22)


def test_default_names_in_another_order_are_mapped_onto_the_default_layout(tiny_corpus, tmp_path):
    motion = read_bvh(tiny_corpus / "take_00000.bvh").to_motion()
    sk = motion.skeleton
    # swap the two arm chains: same names and hierarchy, different joint order
    n = sk.num_joints
    right = [i for i, name in enumerate(sk.names) if name.startswith("Right") and "Leg" not in name and "Foot" not in name and "Toe" not in name]
    left = [i for i, name in enumerate(sk.names) if name.startswith("Left") and "Leg" not in name and "Foot" not in name and "Toe" not in name]
    order = list(range(right[0])) + left + right + list(range(left[-1] + 1, n))
    assert sorted(order) == list(range(n))
    old_to_new = {old: new for new, old in enumerate(order)}
    parents = [-1 if sk.parents[o] < 0 else old_to_new[int(sk.parents[o])] for o in order]
    shuffled = Motion(motion.fps, Skeleton([sk.names[o] for o in order], parents, sk.offsets[order], sk.rest_rotations[order]),
                      motion.rotations[:, order], motion.root_positions)
    src = tmp_path / "src"
    src.mkdir()
    write_bvh(src / "x.bvh", shuffled)
    shutil.copy(tiny_corpus / "take_00000.wav", src / "x.wav")
    manifest = prepare.prepare(src, tmp_path / "cache", fps=FPS, frontend_chunk_seconds=4.0, progress=False)
    assert manifest["skeleton"]["names"] == default_skeleton().names
    expected = motion_to_features(motion.resample(FPS))[: manifest["takes"][0]["motion_frames"]]
    np.testing.assert_allclose(np.load(tmp_path / "cache" / "motion-00000.npy"), expected, atol=1e-5)


def test_extra_leaf_joints_are_dropped_onto_the_default_layout(tiny_corpus, tmp_path):
    motion = read_bvh(tiny_corpus / "take_00000.bvh").to_motion()
    sk = motion.skeleton
    at = sk.index("HeadEnd") + 1  # a rotating leaf "HeadTop" under HeadEnd, in file (depth-first) order
    parents = [p + (p >= at) for p in sk.parents]
    names = sk.names[:at] + ["HeadTop"] + sk.names[at:]
    parents = parents[:at] + [at - 1] + parents[at:]
    offsets = np.insert(sk.offsets, at, [0.0, 5.0, 0.0], axis=0)
    wiggle = quat.from_axis_angle(np.linspace(0, 1, motion.num_frames)[:, None] * np.array([[0.5, 0.0, 0.0]]))
    extra = Motion(motion.fps, Skeleton(names, parents, offsets, quat.identity((len(names),))),
                   np.insert(motion.rotations, at, wiggle, axis=1), motion.root_positions)
    src = tmp_path / "src"
    src.mkdir()
    write_bvh(src / "x.bvh", extra)
    shutil.copy(tiny_corpus / "take_00000.wav", src / "x.wav")
    manifest = prepare.prepare(src, tmp_path / "cache", fps=FPS, frontend_chunk_seconds=4.0, progress=False)
    assert manifest["skeleton"]["names"] == default_skeleton().names and manifest["skipped"] == []
    expected = motion_to_features(motion.resample(FPS))[: manifest["takes"][0]["motion_frames"]]
    np.testing.assert_allclose(np.load(tmp_path / "cache" / "motion-00000.npy"), expected, atol=1e-5)


def test_wavlm_frontend_from_a_local_folder(tiny_corpus, tmp_path):
    from transformers import WavLMConfig, WavLMModel

    folder = tmp_path / "wavlm"
    config = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    WavLMModel(config).save_pretrained(folder)
    src = tmp_path / "src"
    src.mkdir()
    for ext in (".bvh", ".wav"):
        shutil.copy(tiny_corpus / f"take_00000{ext}", src / f"one{ext}")
    args = argparse.ArgumentParser()
    prepare.add_arguments(args)
    out = tmp_path / "cache"
    assert prepare.run(args.parse_args([str(src), str(out), "--frontend", "wavlm", "--wavlm", str(folder),
                                        "--wavlm-layer", "1", "--frontend-chunk-seconds", "4", "--quiet", "--device", "cpu"])) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frontend"]["config"]["kind"] == "wavlm" and manifest["frontend"]["config"]["wavlm_dim"] == 32
    assert manifest["frontend"]["frame_rate"] == 50.0 and manifest["frontend"]["dim"] == 32
    assert manifest["frontend_chunk_seconds"] == 4.0
    assert args.parse_args(["a", "b", "--window-seconds", "3"]).frontend_chunk_seconds == 3.0  # the deprecated name
    take = manifest["takes"][0]
    assert take["audio_frames"] == round(take["motion_frames"] * 50.0 / FPS)
    audio = np.load(out / "audio-00000.npy")
    assert audio.shape == (take["audio_frames"], 32) and np.all(np.isfinite(audio))
    # WavLM yields one frame short per chunk: at most that one frame per 4 s chunk is a repeat
    repeats = np.sum(np.all(audio[1:] == audio[:-1], axis=1))
    assert repeats <= int(np.ceil(take["audio_frames"] / 200))
