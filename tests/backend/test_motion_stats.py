"""motion-stats: known motions give known figures, in head heights per second at 20 fps."""

import json

import numpy as np
import pytest

from backend.cli import main
from backend.eval import motion_stats as ms
from backend.motion import quaternions as quat
from backend.motion.bvh import write_bvh
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton, rest_positions

SK = default_skeleton()
H = ms.head_height(SK)
REST = rest_positions(SK)


def _still(frames=61, fps=20.0) -> Motion:
    rot = quat.identity((frames, SK.num_joints))
    root = np.broadcast_to(REST[0], (frames, 3)).copy()
    return Motion(fps, SK, rot, root)


def _arm_swing(frames, fps, degrees_per_second):
    """Right arm turning about the shoulder's forward axis at a constant angular speed."""
    motion = _still(frames, fps)
    angle = np.radians(degrees_per_second) * np.arange(frames) / fps
    motion.rotations[:, SK.index("RightArm")] = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]) * angle[:, None])
    return motion


def test_head_height_is_head_above_the_feet():
    assert H == pytest.approx(REST[SK.index("Head"), 1] - REST[:, 1].min())
    assert 140 < H < 170


def test_still_t_pose_gives_zero_speeds_and_spreads_and_the_rest_hand_height():
    stats = ms.motion_statistics([_still()])
    hand_above_hips = (REST[SK.index("RightHand"), 1] - REST[0, 1]) / H
    assert stats["hand_height"] == pytest.approx(hand_above_hips)
    for key in ("hand_lateral_std", "hand_vertical_std", "hand_forward_std", "hand_speed_p90",
                "hand_speed_median", "head_speed_median", "hip_speed_median"):
        assert stats[key] == pytest.approx(0.0, abs=1e-9)


def test_walking_root_moves_every_joint_at_its_speed_but_not_the_spread():
    motion = _still(81, 30.0)
    speed = 25.0  # cm/s forward
    motion.root_positions[:, 2] += speed * np.arange(81) / 30.0
    stats = ms.motion_statistics([motion])
    for key in ("hand_speed_median", "hand_speed_p90", "head_speed_median", "hip_speed_median"):
        assert stats[key] == pytest.approx(speed / H, rel=1e-6)
    assert stats["hand_forward_std"] == pytest.approx(0.0, abs=1e-9), "spread is measured relative to the hips"


def test_a_hand_on_a_circle_moves_at_radius_times_angular_speed():
    deg_s = 60.0
    stats = ms.motion_statistics([_arm_swing(41, 20.0, deg_s)])
    radius = np.linalg.norm(REST[SK.index("RightHand")] - REST[SK.index("RightArm")])
    chord = 2 * radius * np.sin(np.radians(deg_s) / 20.0 / 2) * 20.0  # finite difference over one frame
    right = chord / H
    # median over both hands: the left hand is still, the right moves at ``right``
    assert stats["hand_speed_p90"] == pytest.approx(right, rel=1e-6)
    assert 0.0 < stats["hand_speed_median"] < right
    assert stats["hand_vertical_std"] > 0.0 and stats["hand_lateral_std"] > 0.0


def test_frame_rate_and_heading_do_not_change_the_figures():
    slow = _arm_swing(61, 20.0, 40.0)
    fast = slow.resample(60.0)
    turned = Motion(slow.fps, SK, slow.rotations.copy(), slow.root_positions.copy())
    turn = quat.about_y(np.full(slow.num_frames, np.radians(70.0)))
    turned.rotations[:, 0] = quat.multiply(turn, turned.rotations[:, 0])
    a, b, c = (ms.motion_statistics([m]) for m in (slow, fast, turned))
    for key in ms.ROWS:
        assert b[key] == pytest.approx(a[key], rel=0.02, abs=1e-6)
        assert c[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9)


def test_table_marks_rows_outside_tolerance():
    real = dict(ms.REAL)
    off = dict(real, hip_speed_median=0.0)
    assert all(ms.within_tolerance(real).values())
    assert ms.within_tolerance(off) == {k: k != "hip_speed_median" for k in ms.ROWS}
    table = ms.format_table({"x": off})
    row = next(line for line in table.splitlines() if "hip speed" in line)
    assert row.endswith("0.00 * |")


def test_cli_measures_a_folder_and_writes_json(tmp_path, capsys):
    write_bvh(tmp_path / "a.bvh", _arm_swing(41, 20.0, 60.0))
    _still().save_npz(tmp_path / "sub_b.npz")
    assert main(["motion-stats", str(tmp_path), "--json", str(tmp_path / "out.json")]) == 0
    printed = capsys.readouterr().out
    assert "| mean hand height above the hips | 0.21 |" in printed and "outside ±25 %" in printed
    figures = json.loads((tmp_path / "out.json").read_text())[tmp_path.name]
    assert figures["seconds"] == pytest.approx(2.0 + 3.0)


def test_bad_inputs_name_the_problem(tmp_path, capsys):
    assert main(["motion-stats", str(tmp_path / "missing")]) == 1
    assert "missing: no such file or folder" in capsys.readouterr().err
    assert main(["motion-stats", str(tmp_path)]) == 1
    assert "no .bvh or .npz files" in capsys.readouterr().err
    (tmp_path / "x.txt").write_text("hi")
    assert main(["motion-stats", str(tmp_path / "x.txt")]) == 1
    assert "not a .bvh or .npz" in capsys.readouterr().err


def test_style_effect_distance_is_the_mean_joint_offset():
    from backend.eval.style_effect import mean_joint_distance

    a = _still(30)
    b = _still(40)
    b.root_positions[:, 0] += 5.0
    assert mean_joint_distance(a, a) == 0.0
    assert mean_joint_distance(a, b) == pytest.approx(5.0)
