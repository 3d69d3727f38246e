"""Skeletons as data (names, parents, rest offsets, rest rotations) and forward kinematics.

The skeleton travels with every checkpoint and motion file, so it must round-trip through JSON
and be checked on load; ``default_skeleton()`` is the ZEGGS joint layout (DESIGN.md §5) used by
the procedural corpus so that a model trained later on real ZEGGS needs no new bone map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import quaternions as quat


@dataclass
class Skeleton:
    """A joint hierarchy in Y-up centimetres; ``parents[j] < j`` and joint 0 is the only root."""

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    rest_rotations: np.ndarray

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        self.rest_rotations = np.asarray(self.rest_rotations, dtype=np.float64)
        self.validate()

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistency."""
        n = len(self.names)
        if n == 0:
            raise ValueError("skeleton has no joints")
        if any(not name for name in self.names):
            raise ValueError("skeleton joint names must be non-empty")
        if len(set(self.names)) != n:
            dupes = sorted({x for x in self.names if self.names.count(x) > 1})
            raise ValueError(f"skeleton joint names are not unique: {dupes}")
        if self.parents.shape != (n,):
            raise ValueError(f"skeleton has {n} names but {self.parents.shape[0]} parents")
        if self.parents[0] != -1:
            raise ValueError(f"joint 0 ({self.names[0]}) must be the root (parent -1)")
        for j in range(1, n):
            if not 0 <= self.parents[j] < j:
                raise ValueError(
                    f"joint {j} ({self.names[j]}) has parent {self.parents[j]}; "
                    "parents must come before their children and only joint 0 is a root"
                )
        if self.offsets.shape != (n, 3) or not np.all(np.isfinite(self.offsets)):
            raise ValueError(f"skeleton offsets must be finite with shape ({n}, 3), got {self.offsets.shape}")
        if self.rest_rotations.shape != (n, 4) or not np.all(np.isfinite(self.rest_rotations)):
            raise ValueError(
                f"skeleton rest rotations must be finite with shape ({n}, 4), got {self.rest_rotations.shape}"
            )
        if not np.allclose(np.linalg.norm(self.rest_rotations, axis=-1), 1.0, atol=1e-6):
            raise ValueError("skeleton rest rotations must be unit quaternions (w, x, y, z)")

    def index(self, name: str) -> int:
        """Index of the joint called ``name`` (KeyError listing a few names if absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint named {name!r} in skeleton (joints: {', '.join(self.names[:8])}, ...)") from None

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.nonzero(self.parents == j)[0]]

    def mirror_map(self) -> np.ndarray:
        """For each joint, the index of its left/right counterpart (itself when unpaired).

        Pairs names that differ by Left↔Right (any case) or an L/R prefix before a capital
        (CMU's ``LHipJoint``/``RHipJoint``).
        """
        lookup = {name: i for i, name in enumerate(self.names)}
        result = np.arange(self.num_joints)
        for i, name in enumerate(self.names):
            other = _swap_side(name)
            if other is not None and other in lookup:
                result[i] = lookup[other]
        return result

    def to_dict(self) -> dict:
        """JSON-safe dict (lists of floats and ints)."""
        return {
            "names": list(self.names),
            "parents": [int(p) for p in self.parents],
            "offsets": self.offsets.tolist(),
            "rest_rotations": self.rest_rotations.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Skeleton:
        missing = {"names", "parents", "offsets", "rest_rotations"} - set(d)
        if missing:
            raise ValueError(f"skeleton dict lacks {sorted(missing)}")
        return cls(d["names"], d["parents"], d["offsets"], d["rest_rotations"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Skeleton):
            return NotImplemented
        return (
            self.names == other.names
            and np.array_equal(self.parents, other.parents)
            and np.array_equal(self.offsets, other.offsets)
            and np.array_equal(self.rest_rotations, other.rest_rotations)
        )


_SIDE_WORDS = [("Left", "Right"), ("left", "right"), ("LEFT", "RIGHT")]


def _swap_side(name: str) -> str | None:
    for a, b in _SIDE_WORDS:
        if a in name:
            return name.replace(a, b, 1)
        if b in name:
            return name.replace(b, a, 1)
    m = re.match(r"^([LR])(?=[A-Z_])", name)
    if m:
        return ("R" if m.group(1) == "L" else "L") + name[1:]
    return None


def forward_kinematics(
    skeleton: Skeleton,
    rotations: np.ndarray,
    root_positions: np.ndarray,
    offsets: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """World joint positions (T, J, 3) and rotations (T, J, 4) from local rotations.

    ``world_rot[j] = world_rot[parent] * local[j]``; ``world_pos[j] = world_pos[parent] +
    world_rot[parent] @ offset[j]``; the root sits at ``root_positions``. ``offsets`` (T, J, 3)
    overrides the rest offsets per frame (BVH joints with position channels).
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    root_positions = np.asarray(root_positions, dtype=np.float64)
    off = skeleton.offsets if offsets is None else np.asarray(offsets, dtype=np.float64)
    n = skeleton.num_joints
    if rotations.ndim != 3 or rotations.shape[1:] != (n, 4):
        raise ValueError(f"rotations must have shape (T, {n}, 4), got {rotations.shape}")
    if root_positions.shape != (rotations.shape[0], 3):
        raise ValueError(f"root positions must have shape ({rotations.shape[0]}, 3), got {root_positions.shape}")
    world_rot = np.empty_like(rotations)
    world_pos = np.empty(rotations.shape[:2] + (3,))
    world_rot[:, 0] = rotations[:, 0]
    world_pos[:, 0] = root_positions
    for j in range(1, n):
        p = skeleton.parents[j]
        world_rot[:, j] = quat.multiply(world_rot[:, p], rotations[:, j])
        world_pos[:, j] = world_pos[:, p] + quat.rotate(world_rot[:, p], off[..., j, :])
    return world_pos, world_rot


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """World joint positions (J, 3) of the rest pose, root at its rest offset."""
    pos, _ = forward_kinematics(skeleton, skeleton.rest_rotations[None], skeleton.offsets[:1])
    return pos[0]


# --- the default ZEGGS-layout skeleton -------------------------------------------------------

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")

# Right-hand finger offsets (cm) relative to the parent, in the T-pose: the hand points along -X,
# the palm faces down, the character faces +Z. Left side mirrors x.
_FINGER_OFFSETS = {
    "Thumb": [(-2.5, -1.0, 3.0), (-3.0, -0.3, 1.5), (-2.5, 0.0, 0.5), (-2.0, 0.0, 0.0)],
    "Index": [(-9.0, 0.0, 2.5), (-4.0, 0.0, 0.0), (-2.5, 0.0, 0.0), (-2.0, 0.0, 0.0)],
    "Middle": [(-9.5, 0.0, 0.8), (-4.5, 0.0, 0.0), (-3.0, 0.0, 0.0), (-2.2, 0.0, 0.0)],
    "Ring": [(-9.0, 0.0, -0.9), (-4.0, 0.0, 0.0), (-2.7, 0.0, 0.0), (-2.0, 0.0, 0.0)],
    "Pinky": [(-8.0, -0.3, -2.5), (-3.0, 0.0, 0.0), (-2.0, 0.0, 0.0), (-1.8, 0.0, 0.0)],
}


def _default_layout() -> list[tuple[str, str | None, tuple[float, float, float]]]:
    """(name, parent name, offset) in ZEGGS order: spine, right arm, left arm, right leg, left leg."""
    joints: list[tuple[str, str | None, tuple[float, float, float]]] = [
        ("Hips", None, (0.0, 95.0, 0.0)),
        ("Spine", "Hips", (0.0, 7.0, -1.0)),
        ("Spine1", "Spine", (0.0, 9.0, 0.0)),
        ("Spine2", "Spine1", (0.0, 9.0, 0.5)),
        ("Spine3", "Spine2", (0.0, 9.0, 0.5)),
        ("Neck", "Spine3", (0.0, 14.0, 1.0)),
        ("Neck1", "Neck", (0.0, 5.0, 0.5)),
        ("Head", "Neck1", (0.0, 5.0, 0.5)),
        ("HeadEnd", "Head", (0.0, 20.0, 1.0)),
    ]

    def arm(side: str, sx: float) -> None:
        def o(x: float, y: float, z: float) -> tuple[float, float, float]:
            return (sx * x, y, z)

        joints.append((f"{side}Shoulder", "Spine3", o(-3.0, 11.0, 0.0)))
        joints.append((f"{side}Arm", f"{side}Shoulder", o(-14.5, 0.0, 0.0)))
        joints.append((f"{side}ForeArm", f"{side}Arm", o(-28.0, 0.0, 0.0)))
        joints.append((f"{side}Hand", f"{side}ForeArm", o(-25.0, 0.0, 0.0)))
        for finger in _FINGERS:
            parent = f"{side}Hand"
            for k, (x, y, z) in enumerate(_FINGER_OFFSETS[finger], start=1):
                name = f"{side}Hand{finger}{k}"
                joints.append((name, parent, o(x, y, z)))
                parent = name
        joints.append((f"{side}ForeArmEnd", f"{side}Hand", o(-6.0, 0.0, 0.0)))
        joints.append((f"{side}ArmEnd", f"{side}ForeArm", o(-12.5, 0.0, 0.0)))

    def leg(side: str, sx: float) -> None:
        def o(x: float, y: float, z: float) -> tuple[float, float, float]:
            return (sx * x, y, z)

        joints.append((f"{side}UpLeg", "Hips", o(-9.0, -3.0, 0.0)))
        joints.append((f"{side}Leg", f"{side}UpLeg", o(0.0, -43.0, 0.5)))
        joints.append((f"{side}Foot", f"{side}Leg", o(0.0, -42.0, -1.5)))
        joints.append((f"{side}ToeBase", f"{side}Foot", o(0.0, -6.0, 13.0)))
        joints.append((f"{side}ToeBaseEnd", f"{side}ToeBase", o(0.0, 0.0, 6.0)))
        joints.append((f"{side}LegEnd", f"{side}Foot", o(0.0, -6.0, -4.0)))
        joints.append((f"{side}UpLegEnd", f"{side}Leg", o(0.0, -10.0, 0.0)))

    arm("Right", 1.0)
    arm("Left", -1.0)
    leg("Right", 1.0)
    leg("Left", -1.0)
    return joints


def default_skeleton() -> Skeleton:
    """The 75-joint ZEGGS layout in a T-pose: Y up, facing +Z, left arm along +X, hips at 95 cm."""
    layout = _default_layout()
    names = [name for name, _, _ in layout]
    parents = [-1 if parent is None else names.index(parent) for _, parent, _ in layout]
    offsets = np.array([offset for _, _, offset in layout])
    return Skeleton(names, parents, offsets, quat.identity((len(names),)))
