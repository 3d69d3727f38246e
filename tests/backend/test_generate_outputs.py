"""`dimgesture generate -o`: exactly the path asked for (dots, spaces, non-ASCII kept), never an existing
file replaced without --overwrite, and an output that cannot be written refused before any model time."""

import numpy as np
import pytest
import soundfile as sf

from backend.cli import main
from backend.fileio import unwritable_reason
from backend.model.config import preset, scheduler_preset
from backend.motion.bvh import read_bvh
from backend.motion.motion import Motion
from backend.pipeline import GesturePipeline

NAMES = ["talk.v2", "take 3.final.mix", "Zoë — réplique.2"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    GesturePipeline.from_config(preset("tiny"), seed=0, scheduler=scheduler_preset("tiny")).save_pretrained(folder)
    return folder


@pytest.fixture
def no_model(monkeypatch):
    """Refusals must come before the model is loaded."""
    def load(*args, **kwargs):
        raise AssertionError("the model must not be loaded for a refused request")

    monkeypatch.setattr(GesturePipeline, "from_pretrained", load)


def clip(folder, name: str = "speech", seconds: float = 0.5):
    path = folder / f"{name}.wav"
    t = np.arange(int(seconds * 16000)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)
    return path


def run(*args) -> int:
    return main(["generate", *map(str, args), "--steps", "1", "--no-progress", "--device", "cpu"])


def files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", NAMES)
def test_output_file_is_written_exactly_where_asked(tmp_path, checkpoint, capsys, name):
    source = clip(tmp_path, name)
    out = tmp_path / "out" / f"{name}.bvh"
    assert run(source, "-o", out, "--checkpoint", checkpoint) == 0
    assert capsys.readouterr().out.split("\n")[0] == str(out)
    assert files(tmp_path / "out") == [f"{name}.bvh"]
    assert read_bvh(out).num_frames == 10  # 0.5 s at 20 fps


@pytest.mark.parametrize("name", NAMES)
def test_both_formats_keep_every_dotted_part(tmp_path, checkpoint, name):
    out = tmp_path / "out" / f"{name}.npz"
    assert run(clip(tmp_path), "-o", out, "--format", "both", "--checkpoint", checkpoint) == 0
    assert files(tmp_path / "out") == sorted([f"{name}.bvh", f"{name}.npz"])
    assert Motion.load_npz(out).num_frames == read_bvh(out.with_suffix(".bvh")).num_frames == 10


def test_clips_with_dotted_names_go_to_a_folder_under_their_full_names(tmp_path, checkpoint):
    clips = [clip(tmp_path, name) for name in NAMES]
    assert run(*clips, "-o", tmp_path / "out.d", "--checkpoint", checkpoint) == 0
    assert files(tmp_path / "out.d") == sorted(f"{name}.bvh" for name in NAMES)


def test_upper_case_extension_writes_that_format(tmp_path, checkpoint):
    out = tmp_path / "Talk.V2.BVH"
    assert run(clip(tmp_path), "-o", out, "--checkpoint", checkpoint) == 0
    assert out.read_text().startswith("HIERARCHY") and files(tmp_path) == ["Talk.V2.BVH", "speech.wav"]


@pytest.mark.parametrize("name", ["talk.v2.bvh", "take 3.final.npz", "Zoë.réplique.bvh"])
def test_existing_output_is_refused_untouched_without_overwrite(tmp_path, capsys, no_model, name):
    out = tmp_path / name
    out.write_bytes(b"the user's own take")
    assert run(clip(tmp_path), "-o", out) == 1
    err = capsys.readouterr().err
    assert err.startswith("dimgesture generate: error: ") and str(out) in err and "already exists" in err
    assert "--overwrite" in err
    assert out.read_bytes() == b"the user's own take"


def test_one_existing_output_of_several_refuses_them_all(tmp_path, capsys, no_model):
    clips = [clip(tmp_path, "one"), clip(tmp_path, "two.v2")]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "two.v2.npz").write_bytes(b"keep me")
    assert run(*clips, "-o", tmp_path / "out", "--format", "both") == 1
    assert "two.v2.npz: already exists" in capsys.readouterr().err
    assert files(tmp_path / "out") == ["two.v2.npz"] and (tmp_path / "out" / "two.v2.npz").read_bytes() == b"keep me"


def test_existing_preview_is_refused_too(tmp_path, capsys, no_model):
    preview = tmp_path / "look.v2.gif"
    preview.write_bytes(b"GIF89a")
    assert run(clip(tmp_path), "-o", tmp_path / "out", "--preview", preview) == 1
    assert f"{preview}: already exists" in capsys.readouterr().err and preview.read_bytes() == b"GIF89a"


def test_overwrite_replaces_an_existing_output(tmp_path, checkpoint):
    out = tmp_path / "talk.v2.bvh"
    out.write_bytes(b"old")
    assert run(clip(tmp_path), "-o", out, "--checkpoint", checkpoint, "--overwrite") == 0
    assert read_bvh(out).num_frames == 10 and files(tmp_path) == ["speech.wav", "talk.v2.bvh"]


def test_format_that_contradicts_the_file_name_is_refused(tmp_path, capsys, no_model):
    assert run(clip(tmp_path), "-o", tmp_path / "talk.v2.bvh", "--format", "npz") == 1
    assert "ends in .bvh but --format npz" in capsys.readouterr().err
    assert files(tmp_path) == ["speech.wav"]


def test_output_under_a_file_is_refused_before_any_work(tmp_path, capsys, no_model):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder would have to be")
    assert run(clip(tmp_path), "-o", blocker / "take.v2.bvh") == 1
    err = capsys.readouterr().err
    assert f"{blocker / 'take.v2.bvh'}: cannot be created, because {blocker} is a file" in err


def test_output_that_is_a_folder_name_with_a_motion_suffix_is_refused(tmp_path, capsys, no_model):
    (tmp_path / "odd.bvh").mkdir()
    assert run(clip(tmp_path), "-o", tmp_path / "odd.bvh") == 1
    assert "odd.bvh: is a folder, not a file name" in capsys.readouterr().err


def test_unwritable_reason_accepts_missing_folders_and_leaves_nothing_behind(tmp_path):
    assert unwritable_reason(tmp_path / "new" / "deeper" / "a.b.bvh") is None
    assert unwritable_reason(tmp_path / "a.b.bvh") is None
    assert list(tmp_path.iterdir()) == []  # the probe is removed, no folder is created


def test_unwritable_reason_for_a_read_only_place():
    """/proc takes no new files, even for root (permission bits would not tell)."""
    reason = unwritable_reason("/proc/dimgesture-out.bvh")
    assert reason is not None and reason.startswith("/proc/dimgesture-out.bvh: the folder /proc cannot be written to")
