"""Differentiable forward kinematics in torch, matching ``backend.motion`` (numpy) exactly.

Used for joint-position losses and metrics on model features: the 6D layout, Gram-Schmidt and
FK conventions are those of ``backend.motion.quaternions`` / ``skeleton`` / ``features``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..motion.skeleton import Skeleton


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) wxyz unit quaternions → (..., 3, 3) rotation matrices."""
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        dim=-2,
    )


def rotation_6d_to_matrix(d6: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(..., 6) = [column 0, column 1] → (..., 3, 3) by Gram-Schmidt (columns c0, c1, c0 × c1)."""
    a, b = d6[..., :3], d6[..., 3:]
    c0 = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b = b - (c0 * b).sum(-1, keepdim=True) * c0
    c1 = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    c2 = torch.cross(c0, c1, dim=-1)
    return torch.stack([c0, c1, c2], dim=-1)


def matrix_to_rotation_6d(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (..., 6): the first two columns."""
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


class TorchSkeleton(torch.nn.Module):
    """A skeleton's parents and offsets as a module (offsets follow ``.to(device)``)."""

    def __init__(self, skeleton: Skeleton, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.parents = [int(p) for p in skeleton.parents]
        self.register_buffer("offsets", torch.as_tensor(np.asarray(skeleton.offsets), dtype=dtype), persistent=False)

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def forward_kinematics(self, local: torch.Tensor, root_positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World positions (..., J, 3) and rotation matrices (..., J, 3, 3).

        ``local`` (..., J, 3, 3) local rotation matrices; ``root_positions`` (..., 3).
        """
        offsets = self.offsets.to(local.dtype)
        rots = [local[..., 0, :, :]]
        pos = [root_positions]
        for j in range(1, self.num_joints):
            p = self.parents[j]
            pos.append(pos[p] + (rots[p] @ offsets[j].unsqueeze(-1)).squeeze(-1))
            rots.append(rots[p] @ local[..., j, :, :])
        return torch.stack(pos, dim=-2), torch.stack(rots, dim=-3)

    def feature_positions(self, features: torch.Tensor) -> torch.Tensor:
        """Joint positions (..., T, J, 3) of model features in each frame's heading frame.

        The root sits at (0, height, 0) with its heading removed, as the features store it, so no
        integration of velocities is needed: what a per-frame position loss wants.
        """
        j = self.num_joints
        local = rotation_6d_to_matrix(features[..., : 6 * j].unflatten(-1, (j, 6)))
        height = features[..., 6 * j + 2]
        root = torch.stack([torch.zeros_like(height), height, torch.zeros_like(height)], dim=-1)
        return self.forward_kinematics(local, root)[0]
