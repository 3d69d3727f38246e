"""Torch FK (backend.model.kinematics) agrees with the numpy FK and features of backend.motion."""

import numpy as np
import torch
from motion_samples import smooth_motion

from backend.model.kinematics import TorchSkeleton, matrix_to_rotation_6d, quaternion_to_matrix, rotation_6d_to_matrix
from backend.motion import quaternions as quat
from backend.motion.features import align_to_origin, motion_to_features
from backend.motion.skeleton import default_skeleton, forward_kinematics


def test_rotation_conversions_match_numpy():
    q = quat.from_axis_angle(np.random.default_rng(0).normal(size=(10, 3)))
    m = quaternion_to_matrix(torch.tensor(q))
    assert torch.allclose(m, torch.tensor(quat.to_matrix(q)), atol=1e-12)
    d6 = matrix_to_rotation_6d(m)
    assert torch.allclose(d6, torch.tensor(quat.to_6d(q)), atol=1e-12)
    noisy = d6 * 2.0 + 0.01
    assert torch.allclose(rotation_6d_to_matrix(noisy), torch.tensor(quat.matrix_from_6d(noisy.numpy())), atol=1e-12)


def test_fk_parity_with_numpy():
    sk = default_skeleton()
    motion = smooth_motion(sk, frames=6, seed=5)
    ref_pos, ref_rot = forward_kinematics(sk, motion.rotations, motion.root_positions)
    tsk = TorchSkeleton(sk, dtype=torch.float64)
    pos, rot = tsk.forward_kinematics(quaternion_to_matrix(torch.tensor(motion.rotations)), torch.tensor(motion.root_positions))
    assert torch.allclose(pos, torch.tensor(ref_pos), atol=1e-9)
    assert torch.allclose(rot, torch.tensor(quat.to_matrix(ref_rot)), atol=1e-12)


def test_feature_positions_are_heading_frame_fk_and_differentiable():
    sk = default_skeleton()
    motion = smooth_motion(sk, frames=5, seed=6, turn=2.0)
    feats = torch.tensor(motion_to_features(motion))[None].requires_grad_(True)  # (1, T, F)
    pos = TorchSkeleton(sk).feature_positions(feats)
    assert pos.shape == (1, 5, 75, 3)
    # frame 0 in its heading frame equals FK of the motion aligned to the origin
    ref = align_to_origin(motion)
    ref_pos, _ = forward_kinematics(sk, ref.rotations[:1], ref.root_positions[:1])
    assert np.allclose(pos[0, 0].detach().numpy(), ref_pos[0], atol=1e-3)
    pos.square().mean().backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0
