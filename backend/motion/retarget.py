"""Retargeting a source-skeleton ``Motion`` onto any Blender-style rig, in plain numpy.

The world-delta method (DESIGN.md §9): per frame, a source joint's world rotation relative to
its rest world rotation is applied to the mapped target bone's rest orientation (roll and
armature object rotation included), then expressed in the bone's local basis through its
*posed* parent. Rest poses must match in kind (T-pose onto T-pose), but bone rolls, rest
orientations, proportions, extra or missing bones do not matter. Source space is Y-up
centimetres; target space is Blender's: Z-up, armature units, bones along their local Y.
Kept free of bpy so it is tested without Blender and shared with the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quaternions as quat
from .motion import Motion
from .skeleton import forward_kinematics

# Y-up → Z-up (+90° about X): source (x, y, z) → Blender (x, -z, y), as Blender's BVH importer
# does with its default axes; a source character facing +Z ends up facing -Y, Blender's front.
Y_UP_TO_Z_UP = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])

# Left/right joint pairs of the source used to find which way the target character faces.
_LATERAL_PAIRS = (("LeftUpLeg", "RightUpLeg"), ("LeftArm", "RightArm"), ("LeftShoulder", "RightShoulder"))


@dataclass
class TargetRig:
    """The rest pose of a target armature, as Blender stores it.

    ``rest_matrices`` are the bones' armature-space rest matrices (``Bone.matrix_local``: head
    in the translation, the bone along local +Y), ``parents[b] < b`` (-1 for roots) and
    ``object_matrix`` the armature object's ``matrix_world`` (rotation and uniform or axis
    scale; no shear or mirroring).
    """

    names: list[str]
    parents: np.ndarray
    rest_matrices: np.ndarray
    object_matrix: np.ndarray

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        self.rest_matrices = np.asarray(self.rest_matrices, dtype=np.float64)
        self.object_matrix = np.asarray(self.object_matrix, dtype=np.float64)
        n = len(self.names)
        if n == 0 or len(set(self.names)) != n:
            raise ValueError("target rig needs at least one bone and unique bone names")
        if self.parents.shape != (n,) or any(not -1 <= p < b for b, p in enumerate(self.parents)):
            raise ValueError("target rig parents must have one entry per bone and come before their children")
        if self.rest_matrices.shape != (n, 4, 4) or self.object_matrix.shape != (4, 4):
            raise ValueError(f"target rig needs ({n}, 4, 4) rest matrices and a (4, 4) object matrix")
        rot = self.rest_matrices[:, :3, :3]
        if not np.allclose(rot @ np.swapaxes(rot, 1, 2), np.eye(3), atol=1e-4):
            raise ValueError("target rig rest matrices must be rotations plus translations (no bone scale)")
        if np.linalg.det(self.object_matrix[:3, :3]) <= 0:
            raise ValueError("the armature object's transform is mirrored or degenerate; apply its scale first")

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"the armature has no bone named {name!r}") from None

    @property
    def object_rotation(self) -> np.ndarray:
        """The object's rotation (wxyz), its scale divided out of the matrix columns."""
        m = self.object_matrix[:3, :3]
        return quat.from_matrix(m / np.linalg.norm(m, axis=0, keepdims=True))

    def relative_rest(self) -> tuple[np.ndarray, np.ndarray]:
        """Each bone's rest rotation (B, 4) and head (B, 3) in its parent's rest frame."""
        rot = quat.from_matrix(self.rest_matrices[:, :3, :3])
        head = self.rest_matrices[:, :3, 3]
        rel_rot = rot.copy()
        rel_head = head.copy()
        for b, p in enumerate(self.parents):
            if p >= 0:
                inv = quat.conjugate(rot[p])
                rel_rot[b] = quat.multiply(inv, rot[b])
                rel_head[b] = quat.rotate(inv, head[b] - head[p])
        return rel_rot, rel_head


@dataclass
class RetargetResult:
    """Pose-bone channels to key: ``rotations`` (T, K, 4) wxyz ``rotation_quaternion`` values of
    ``bones``; ``root_locations`` (T, 3) the ``location`` of ``root_bone`` (None if unmapped)."""

    bones: list[str]
    rotations: np.ndarray
    root_bone: str | None
    root_locations: np.ndarray | None


def retarget(
    motion: Motion,
    rig: TargetRig,
    bone_map: dict[str, str],
    *,
    root_motion: bool = True,
    translation_scale: float | None = None,
    smoothing: float = 0.0,
    match_rest_pose: bool = True,
) -> RetargetResult:
    """Basis channels that make ``rig`` follow ``motion`` (see the module docstring).

    ``bone_map`` maps source joint names to bone names; unmapped bones keep an identity basis
    and inherit their parent's motion. The root translation is scaled by ``translation_scale``
    (world units per source centimetre) or, by default, by the ratio of hip heights; with
    ``root_motion=False`` the character stays in place (vertical motion kept). ``smoothing``
    is a Gaussian sigma in frames applied to the keyed channels. ``match_rest_pose`` first
    turns each mapped bone so that it points at its mapped children the way the source's
    rest pose does (an A-pose rig then follows a T-pose source); off, the rig's own rest pose
    is the source's rest pose (right for control rigs whose bones don't sit on the joints).
    """
    skeleton = motion.skeleton
    pairs = _resolve_map(skeleton.names, rig, bone_map)
    source_of = {b: j for j, b in pairs}

    rest_pos, rest_world = forward_kinematics(skeleton, skeleton.rest_rotations[None], skeleton.offsets[:1])
    rest_pos, rest_world = rest_pos[0], rest_world[0]
    _, world = forward_kinematics(skeleton, motion.rotations, motion.root_positions)
    delta = quat.multiply(world, quat.conjugate(rest_world))  # (T, J, 4), source world frame

    obj_rot = rig.object_rotation
    facing = _facing_alignment(skeleton.names, rest_pos, rig, source_of)
    to_world = quat.multiply(facing, Y_UP_TO_Z_UP)  # source frame → Blender world
    to_armature = quat.multiply(quat.conjugate(obj_rot), to_world)
    delta = quat.multiply(quat.multiply(to_armature, delta), quat.conjugate(to_armature))

    rest_rot = quat.from_matrix(rig.rest_matrices[:, :3, :3])
    rel_rot, _ = rig.relative_rest()
    frames = motion.num_frames
    keyed = sorted(source_of)
    # Armature-space poses: mapped bones from their world delta (whole arrays at once),
    # unmapped ones inherit through their parent in hierarchy order.
    posed = np.empty((frames, len(rig.names), 4))
    if match_rest_pose:
        rest_rot[keyed] = quat.multiply(_rest_alignment(skeleton, rest_pos, rig, source_of, to_armature, keyed),
                                        rest_rot[keyed])
    posed[:, keyed] = quat.multiply(delta[:, [source_of[b] for b in keyed]], rest_rot[keyed])
    for b, p in enumerate(rig.parents):
        if b not in source_of:
            posed[:, b] = rel_rot[b] if p < 0 else quat.multiply(posed[:, p], rel_rot[b])
    parents = rig.parents[keyed]
    inherited = np.where(
        (parents >= 0)[None, :, None],
        quat.multiply(posed[:, np.maximum(parents, 0)], rel_rot[keyed]),
        rel_rot[keyed],
    )
    basis = quat.multiply(quat.conjugate(inherited), posed[:, keyed])

    rotations = quat.make_continuous(basis, axis=0)
    rotations *= np.where(rotations[:1, :, :1] < 0, -1.0, 1.0)
    rotations = quat.normalize(_gaussian(rotations, smoothing))

    root_bone = None
    locations = None
    root = next((b for j, b in pairs if j == 0), None)
    if root is not None:
        root_bone = rig.names[root]
        scale = translation_scale if translation_scale is not None else _hip_scale(rest_pos, rig, root)
        shift = motion.root_positions - rest_pos[0]
        if not root_motion:
            shift[:, [0, 2]] = 0.0
        shift_armature = (scale * quat.rotate(to_world, shift)) @ np.linalg.inv(rig.object_matrix[:3, :3]).T
        p = rig.parents[root]
        frame = rel_rot[root] if p < 0 else quat.multiply(posed[:, p], rel_rot[root])
        locations = _gaussian(quat.rotate(quat.conjugate(frame), shift_armature), smoothing)

    return RetargetResult([rig.names[b] for b in keyed], rotations, root_bone, locations)


def _resolve_map(source_names: list[str], rig: TargetRig, bone_map: dict[str, str]) -> list[tuple[int, int]]:
    """(source joint, target bone) index pairs; unknown or doubly used names raise ValueError."""
    items = [(s, t) for s, t in bone_map.items() if t]
    unknown_src = sorted(s for s, _ in items if s not in source_names)
    unknown_dst = sorted(t for _, t in items if t not in rig.names)
    if unknown_src:
        raise ValueError(f"bone map names source joints the skeleton lacks: {', '.join(unknown_src)}")
    if unknown_dst:
        raise ValueError(f"bone map names bones the armature lacks: {', '.join(unknown_dst)}")
    targets = [t for _, t in items]
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise ValueError(f"bone map drives these bones from more than one joint: {', '.join(doubled)}")
    if not items:
        raise ValueError("bone map matches no bone of the armature")
    return [(source_names.index(s), rig.names.index(t)) for s, t in items]


def _rest_alignment(skeleton, rest_pos: np.ndarray, rig: TargetRig, source_of: dict[int, int],
                    to_armature: np.ndarray, keyed: list[int]) -> np.ndarray:
    """Per keyed bone (K, 4): the armature-space rotation that turns the rig's rest directions
    towards its nearest mapped descendants into the source's rest directions to the same joints.

    Two or more non-collinear directions fix the rotation (least squares, Kabsch); a single one
    fixes only the swing (shortest arc); none (leaves) gives identity.
    """
    bone_of = {j: b for b, j in source_of.items()}
    heads = rig.rest_matrices[:, :3, 3]
    src_pos = quat.rotate(to_armature, rest_pos)
    result = quat.identity((len(keyed),))
    for k, b in enumerate(keyed):
        j = source_of[b]
        pairs = []
        stack = skeleton.children(j)
        while stack:
            c = stack.pop()
            if c in bone_of and _is_descendant(rig.parents, bone_of[c], b):
                pairs.append((src_pos[c] - src_pos[j], heads[bone_of[c]] - heads[b]))
            elif c not in bone_of:
                stack.extend(skeleton.children(c))
        pairs = [(s / np.linalg.norm(s), d / np.linalg.norm(d)) for s, d in pairs
                 if np.linalg.norm(s) > 1e-9 and np.linalg.norm(d) > 1e-9]
        if not pairs:
            continue
        src = np.array([s for s, _ in pairs])
        dst = np.array([d for _, d in pairs])
        if np.linalg.matrix_rank(dst, tol=1e-3) >= 2 and np.linalg.matrix_rank(src, tol=1e-3) >= 2:
            u, _, vt = np.linalg.svd(dst.T @ src)
            fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))])
            result[k] = quat.from_matrix(vt.T @ fix @ u.T)
        else:
            result[k] = _shortest_arc(dst.mean(axis=0), src.mean(axis=0))
    return result


def _is_descendant(parents: np.ndarray, bone: int, ancestor: int) -> bool:
    while bone >= 0:
        bone = parents[bone]
        if bone == ancestor:
            return True
    return False


def _shortest_arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    dot = float(a @ b)
    if dot < -1.0 + 1e-9:  # opposite: half a turn about any perpendicular axis
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return np.concatenate([[0.0], axis / np.linalg.norm(axis)])
    return quat.normalize(np.concatenate([[1.0 + dot], np.cross(a, b)]))


def _facing_alignment(names: list[str], rest_pos: np.ndarray, rig: TargetRig, source_of: dict[int, int]) -> np.ndarray:
    """Rotation about world Z turning the source's facing into the target character's.

    Compares a mapped left/right joint pair (hips, then arms) on the ground plane, so a rig
    turned by its object rotation (or built facing another way) gets motion in its own frame.
    Identity when no pair is mapped.
    """
    bone_of = {names[j]: b for b, j in source_of.items()}
    heads = rig.rest_matrices[:, :3, 3] @ rig.object_matrix[:3, :3].T
    for left, right in _LATERAL_PAIRS:
        if left in bone_of and right in bone_of:
            src = quat.rotate(Y_UP_TO_Z_UP, rest_pos[names.index(left)] - rest_pos[names.index(right)])
            dst = heads[bone_of[left]] - heads[bone_of[right]]
            if np.hypot(*src[:2]) > 1e-9 and np.hypot(*dst[:2]) > 1e-9:
                yaw = np.arctan2(dst[1], dst[0]) - np.arctan2(src[1], src[0])
                return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    return quat.identity()


def _hip_scale(rest_pos: np.ndarray, rig: TargetRig, root: int) -> float:
    """World units per source centimetre: target hip height over source hip height.

    Heights are measured above the lowest joint (bone head) of each rest pose; when either
    is degenerate, fall back to centimetres → the armature's metres-like units (0.01).
    """
    src = rest_pos[0, 1] - rest_pos[:, 1].min()
    heads = rig.rest_matrices[:, :3, 3] @ rig.object_matrix[:3, :3].T
    dst = heads[root, 2] - heads[:, 2].min()
    if src <= 1e-6 or dst <= 1e-9:
        return 0.01
    return float(dst / src)


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0, mirrored at the ends (identity for sigma <= 0)."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    radius = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, [(radius, radius)] + [(0, 0)] * (x.ndim - 1), mode="reflect")
    out = np.zeros_like(x)
    for i, w in enumerate(k):
        out += w * padded[i : i + x.shape[0]]
    return out
