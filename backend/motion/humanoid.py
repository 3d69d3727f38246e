"""Finding the humanoid chains of any skeleton from its structure, and mapping one humanoid onto another.

Bone names differ by convention and language, so the chains are found from the hierarchy and the
rest geometry (positions in a Z-up space, any unit): the hips are where the legs branch off, the
spine climbs from there to the highest point, the arms are the two long branches off the spine,
the elbow and knee are chosen so that the two limb segments have human proportions, and left is
told from right by the character's facing (its toes point forward). Names only drop helper bones
(twist, roll, IK targets, ends), break ties and name fingers; those hints are data
(``humanoid_hints.json``). Plain numpy, shared by the add-on and its tests.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import quaternions as quat
from .skeleton import Skeleton, rest_positions

HINTS_PATH = Path(__file__).with_name("humanoid_hints.json")
SIDES = ("left", "right")
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
ARM_ROLES = ("clavicle", "upper", "lower", "hand")
LEG_ROLES = ("thigh", "shin", "foot", "toe")
# Y-up → Z-up, the same turn as retarget.Y_UP_TO_Z_UP (kept here to avoid a circular import).
_Y_UP_TO_Z_UP = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])


@dataclass(frozen=True)
class Hints:
    """Compiled name hints (see ``humanoid_hints.json``)."""

    helpers: tuple[re.Pattern, ...]
    root_tokens: tuple[str, ...]
    left: tuple[re.Pattern, ...]
    right: tuple[re.Pattern, ...]
    tokens: dict[str, tuple[str, ...]]
    fingers: dict[str, tuple[str, ...]]

    def is_helper(self, name: str) -> bool:
        return any(p.search(name) for p in self.helpers)

    def side(self, name: str) -> str | None:
        left = any(p.search(name) for p in self.left)
        right = any(p.search(name) for p in self.right)
        return "left" if left and not right else "right" if right and not left else None

    def matches(self, name: str, role: str) -> bool:
        key = _squash(name)
        return any(t in key for t in self.tokens.get(role, ()))

    def finger(self, name: str) -> str | None:
        key = _squash(name)
        found = [f for f, tokens in self.fingers.items() if any(t in key for t in tokens)]
        return found[0] if len(found) == 1 else None


def _squash(name: str) -> str:
    return re.sub(r"[\s\-_.:|]", "", name.lower())


def load_hints(path: str | Path = HINTS_PATH) -> Hints:
    """Read a hints file (ValueError naming the file when it is not usable)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Hints(
            helpers=tuple(re.compile(p) for p in data["helper_patterns"]),
            root_tokens=tuple(data["root_tokens"]),
            left=tuple(re.compile(p) for p in data["left_patterns"]),
            right=tuple(re.compile(p) for p in data["right_patterns"]),
            tokens={k[: -len("_tokens")]: tuple(v) for k, v in data.items() if k.endswith("_tokens")},
            fingers={k: tuple(v) for k, v in data["fingers"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, re.error) as err:
        raise ValueError(f"humanoid name hints {path}: not usable ({err})") from err


@functools.cache
def default_hints() -> Hints:
    return load_hints()


@dataclass
class Limb:
    """One arm or leg: role → bone index (roles in ``ARM_ROLES`` / ``LEG_ROLES``, absent when
    the rig has no such bone) and, for arms, finger name → bone indices from the knuckle out."""

    bones: dict[str, int] = field(default_factory=dict)
    fingers: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Humanoid:
    """The chains of one skeleton, as bone indices into ``names``."""

    names: list[str]
    hips: int | None = None
    spine: list[int] = field(default_factory=list)  # above the hips, up to the bone the arms hang from
    neck: list[int] = field(default_factory=list)
    head: int | None = None
    arms: dict[str, Limb] = field(default_factory=dict)  # "left" / "right"
    legs: dict[str, Limb] = field(default_factory=dict)
    helpers: list[int] = field(default_factory=list)  # bones skipped as twist/helper/end bones

    def chains(self) -> dict[str, list[str]]:
        """Chain name → bone names (empty chains left out), for people to read."""
        n = self.names
        out = {"hips": [n[self.hips]] if self.hips is not None else [], "spine": [n[b] for b in self.spine],
               "neck and head": [n[b] for b in self.neck] + ([n[self.head]] if self.head is not None else [])}
        for side in SIDES:
            if side in self.arms:
                limb = self.arms[side]
                out[f"{side} arm"] = [n[limb.bones[r]] for r in ARM_ROLES if r in limb.bones]
                out[f"{side} fingers"] = [n[b] for f in FINGERS for b in limb.fingers.get(f, [])]
            if side in self.legs:
                out[f"{side} leg"] = [n[self.legs[side].bones[r]] for r in LEG_ROLES if r in self.legs[side].bones]
        return {k: v for k, v in out.items() if v}


class _Tree:
    """The hierarchy with helper bones spliced out, plus subtree extents."""

    def __init__(self, parents: np.ndarray, points: np.ndarray, keep: np.ndarray) -> None:
        n = len(parents)
        self.parent = np.full(n, -1)
        for b in range(n):
            p = parents[b]
            while p >= 0 and not keep[p]:
                p = parents[p]
            self.parent[b] = p
        self.keep = keep
        self.children: list[list[int]] = [[] for _ in range(n)]
        order = _topological(parents)
        for b in order:
            if keep[b] and self.parent[b] >= 0:
                self.children[self.parent[b]].append(b)
        self.points = points  # (n, 2, 3): head and tail
        self.top = np.array([points[b, :, 2].max() for b in range(n)])
        self.bottom = np.array([points[b, :, 2].min() for b in range(n)])
        self.members: list[list[int]] = [[b] for b in range(n)]
        for b in reversed(order):
            if keep[b] and self.parent[b] >= 0:
                p = self.parent[b]
                self.top[p] = max(self.top[p], self.top[b])
                self.bottom[p] = min(self.bottom[p], self.bottom[b])
                self.members[p] = self.members[p] + self.members[b]

    def reach(self, b: int, origin: np.ndarray) -> float:
        """Farthest distance from ``origin`` to any head or tail in ``b``'s subtree."""
        pts = self.points[self.members[b]].reshape(-1, 3)
        return float(np.linalg.norm(pts - origin, axis=1).max())

    def path_to_farthest(self, b: int, origin: np.ndarray) -> list[int]:
        """From ``b`` down, always into the child whose subtree reaches farthest from ``origin``."""
        chain = [b]
        while self.children[chain[-1]]:
            chain.append(max(self.children[chain[-1]], key=lambda c: self.reach(c, origin)))
        return chain


def _topological(parents: np.ndarray) -> list[int]:
    """Bones with every parent before its children (input order need not be)."""
    n = len(parents)
    depth = np.zeros(n, dtype=int)
    for b in range(n):
        p, d = parents[b], 0
        while p >= 0 and d <= n:
            p, d = parents[p], d + 1
        if d > n:
            raise ValueError("bone parents form a cycle")
        depth[b] = d
    return [int(b) for b in np.argsort(depth, kind="stable")]


def characterise(names, parents, heads, tails=None, *, hints: Hints | None = None,
                 exclude=()) -> Humanoid:
    """The humanoid chains of a skeleton.

    ``heads``/``tails`` are (B, 3) rest positions in one Z-up space (world space for a Blender
    armature: its object transform applied); ``tails`` may be None (joint skeletons). Bones in
    ``exclude`` (names) are treated like helpers: skipped, their children attached to their parent.
    Chains that cannot be found are left empty; nothing raises for a non-humanoid.
    """
    hints = hints or default_hints()
    names = [str(n) for n in names]
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    heads = np.asarray(heads, dtype=np.float64).reshape(-1, 3)
    tails = _joint_tails(parents, heads) if tails is None else np.asarray(tails, dtype=np.float64).reshape(-1, 3)
    n = len(names)
    if parents.shape != (n,) or heads.shape != (n, 3) or tails.shape != (n, 3):
        raise ValueError(f"need one parent, head and tail per bone ({n} names)")
    excluded = set(exclude)
    keep = np.array([not hints.is_helper(name) and name not in excluded for name in names], dtype=bool)
    result = Humanoid(names, helpers=[b for b in range(n) if not keep[b]])
    if keep.sum() < 3:
        return result
    tree = _Tree(parents, np.stack([heads, tails], axis=1), keep)
    kept = np.nonzero(keep)[0]
    ground = float(tree.points[kept, :, 2].min())
    height = float(tree.points[kept, :, 2].max()) - ground
    if height <= 0:
        return result
    top = ground + height

    hips, leg_roots = _find_hips(tree, kept, names, hints, ground, height)
    if hips is None:
        return result
    result.hips = hips
    spine_chain = _spine_chain(tree, hips, set(leg_roots), top, height)
    arm_roots, chest_pos = _arm_roots(tree, hips, spine_chain, set(leg_roots), height)
    # The head: the highest bone of the chain that starts clearly below the top (above it: end bones).
    below_top = [b for b in spine_chain if heads[b, 2] < top - 0.05 * height]
    if chest_pos is None:  # no arms: all of it is spine but the head
        result.head = below_top[-1] if below_top else None
        result.spine = spine_chain[:spine_chain.index(result.head)] if below_top else spine_chain
    else:
        result.spine = spine_chain[:chest_pos + 1]
        upper = [b for b in spine_chain[chest_pos + 1:] if b in below_top]
        if upper:
            result.head = upper[-1]
            result.neck = upper[:-1]

    legs = {root: _limb(tree, root, "leg", names, hints, height, None) for root in leg_roots}
    forward = _forward(tree, [leg for leg in legs.values() if leg is not None], height)
    up = np.array([0.0, 0.0, 1.0])
    for kind, roots in (("arm", arm_roots), ("leg", leg_roots)):
        if len(roots) != 2:
            continue
        sides = _assign_sides(tree, roots, names, hints, forward, up)
        for root, side in zip(roots, sides):
            limb = legs[root] if kind == "leg" else _limb(tree, root, kind, names, hints, height, forward)
            if limb is not None:
                (result.arms if kind == "arm" else result.legs)[side] = limb
    return result


def _joint_tails(parents: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """Tails for a joint skeleton: the mean of the children's positions (leaves: the joint itself)."""
    tails = heads.copy()
    for b in range(len(parents)):
        children = np.nonzero(parents == b)[0]
        if len(children):
            tails[b] = heads[children].mean(axis=0)
    return tails


def _find_hips(tree: _Tree, kept, names, hints: Hints, ground: float, height: float):
    """(hips, [leg roots]): the common ancestor of the legs and the spine; no legs: the lowest
    bone on the way to the top that is not a world/root bone."""
    z = tree.points[:, 0, 2]
    best = None
    for b in kept:
        if z[b] < ground + 0.3 * height:
            continue
        legs = [c for c in tree.children[b]
                if tree.bottom[c] < ground + 0.2 * height and tree.top[c] < z[b] + 0.15 * height]
        if len(legs) >= 2:
            depth = _depth(tree, b)
            if best is None or depth > best[0]:
                best = (depth, b, legs)
    if best is not None:
        _, pelvis, legs = best
        if len(legs) > 2:  # keep the two that sit farthest apart
            pairs = [(np.linalg.norm(tree.points[a, 0] - tree.points[c, 0]), a, c) for a in legs for c in legs if a < c]
            _, a, c = max(pairs)
            legs = [a, c]
        hips = pelvis  # legs may hang off a pelvis bone below the one the spine starts from
        while hips >= 0 and not any(c not in legs and tree.top[c] > z[pelvis] + 0.3 * height
                                    for c in tree.children[hips]):
            hips = tree.parent[hips]
        return (hips if hips >= 0 else pelvis), legs
    roots = [b for b in kept if tree.parent[b] < 0]
    if not roots:
        return None, []
    root = max(roots, key=lambda b: len(tree.members[b]))
    chain = tree.path_to_farthest(root, tree.points[root, 0] + [0, 0, -1e6])[:-1]  # towards the top
    chain = [b for b in chain if not any(t in _squash(names[b]) for t in hints.root_tokens)
             and np.linalg.norm(tree.points[b, 1] - tree.points[b, 0]) > 1e-9]
    return (chain[0] if chain else None), []


def _depth(tree: _Tree, b: int) -> int:
    d = 0
    while tree.parent[b] >= 0:
        b, d = tree.parent[b], d + 1
    return d


def _spine_chain(tree: _Tree, hips: int, legs: set[int], top: float, height: float) -> list[int]:
    """From the hips up: always the child whose subtree climbs highest, while it climbs."""
    chain: list[int] = []
    current = hips
    while True:
        options = [c for c in tree.children[current] if c not in legs]
        if not options:
            break
        nxt = max(options, key=lambda c: tree.top[c])
        here = max(tree.points[current, :, 2])
        if tree.top[nxt] < here - 0.02 * height and chain:
            break
        if not chain and tree.top[nxt] < top - 0.1 * height:
            break
        chain.append(nxt)
        current = nxt
    return chain


def _arm_roots(tree: _Tree, hips: int, spine: list[int], legs: set[int], height: float):
    """The two long side branches off the spine (reach ≥ 0.2 of the height, opposite sides) and
    the position in ``spine`` of the bone they hang from (the chest)."""
    spine_set = set(spine)
    axis_points = tree.points[[hips] + spine, 0]
    candidates = []
    for pos, s in enumerate(spine):
        for c in tree.children[s]:
            if c in spine_set or c in legs:
                continue
            origin = tree.points[c, 0]
            reach = tree.reach(c, origin)
            if reach < 0.2 * height:
                continue
            pts = tree.points[tree.members[c]].reshape(-1, 3)
            nearest = axis_points[np.argmin(np.linalg.norm(axis_points - origin, axis=1))]
            side = pts.mean(axis=0) - nearest
            side[2] = 0.0
            candidates.append((reach, pos, c, side))
    best = None
    for i, (ra, pa, a, sa) in enumerate(candidates):
        for rb, pb, b, sb in candidates[i + 1:]:
            if sa @ sb < 0 and (best is None or ra + rb > best[0]):
                best = (ra + rb, max(pa, pb), [a, b])
    if best is None:
        return [], None
    return best[2], best[1]


def _forward(tree: _Tree, legs: list[Limb], height: float) -> np.ndarray | None:
    """The facing direction on the ground plane from the feet (toes point forward), or None:
    ankle to ball (the toe bone's head), or along the foot bone when there is no toe bone."""
    total = np.zeros(3)
    for leg in legs:
        foot = leg.bones["foot"]
        end = tree.points[leg.bones["toe"], 0] if "toe" in leg.bones else tree.points[foot, 1]
        total += end - tree.points[foot, 0]
    total[2] = 0.0
    norm = np.linalg.norm(total)
    return total / norm if norm > 0.02 * height else None


def _assign_sides(tree: _Tree, roots, names, hints: Hints, forward, up) -> tuple[str, str]:
    """Which of two mirrored branches is the character's left: by facing when the feet tell it,
    else by the side written in the names, else the one towards +X (Blender's convention)."""
    a, b = roots
    lateral = tree.points[tree.members[a]].reshape(-1, 3).mean(0) - tree.points[tree.members[b]].reshape(-1, 3).mean(0)
    if forward is not None:
        left_dir = np.cross(up, forward)
        if abs(lateral @ left_dir) > 1e-9:
            return ("left", "right") if lateral @ left_dir > 0 else ("right", "left")
    votes = 0
    for root, sign in ((a, 1), (b, -1)):
        for m in tree.members[root]:
            side = hints.side(names[m])
            votes += sign * (1 if side == "left" else -1 if side == "right" else 0)
    if votes != 0:
        return ("left", "right") if votes > 0 else ("right", "left")
    return ("left", "right") if lateral[0] >= 0 else ("right", "left")


def _split(chain: list[int], heads: np.ndarray, ratio: float, span: float, height: float, max_lead: int,
           names, hints: Hints, roles: tuple[str, str]) -> tuple[int, int, int] | None:
    """Positions (u, f, e) in ``chain``: the upper limb starts at ``chain[u]``, the lower at
    ``chain[f]`` and the extremity (hand, foot) at ``chain[e]``. Each segment may span several
    bones (split or twist bones); the two segments' length ratio should be near ``ratio`` and
    their sum near ``span`` of the body's height (human proportions); at most ``max_lead`` bones
    (clavicle, hip joint) come before the upper one. Fewer lead and inner bones are preferred."""
    min_len = 0.25 * span * height
    best = None
    for u in range(min(max_lead + 1, len(chain) - 2)):
        for f in range(u + 1, min(u + 4, len(chain) - 1)):
            for e in range(f + 1, min(f + 4, len(chain))):
                upper = np.linalg.norm(heads[chain[f]] - heads[chain[u]])
                lower = np.linalg.norm(heads[chain[e]] - heads[chain[f]])
                if upper < min_len or lower < min_len:
                    continue
                cost = (abs(np.log(upper / lower / ratio)) + 0.5 * abs(np.log((upper + lower) / (span * height)))
                        + 0.05 * u + 0.05 * (e - f - 1) + 0.05 * (f - u - 1))
                cost -= 0.1 * (hints.matches(names[chain[u]], roles[0]) + hints.matches(names[chain[f]], roles[1]))
                if best is None or cost < best[0]:
                    best = (cost, u, f, e)
    return None if best is None else best[1:]


# Per limb kind: upper/lower length ratio, their sum as a share of the body's height, the most
# bones before the upper one, name hints for the two segments, and the roles of the three bones.
_LIMBS = {"arm": (1.15, 0.31, 2, ("upper_arm", "forearm"), ("upper", "lower", "hand")),
          "leg": (1.0, 0.47, 1, ("thigh", "shin"), ("thigh", "shin", "foot"))}


def _limb(tree: _Tree, root: int, kind: str, names, hints: Hints, height: float, forward) -> Limb | None:
    """An arm (with clavicle and fingers) or leg (with toe) from the branch starting at ``root``."""
    ratio, span, lead, hint_roles, roles = _LIMBS[kind]
    heads = tree.points[:, 0]
    chain = tree.path_to_farthest(root, heads[root])
    split = _split(chain, heads, ratio, span, height, lead, names, hints, hint_roles)
    if split is None:
        return None
    limb = Limb({role: chain[i] for role, i in zip(roles, split)})
    u, _, e = split
    if kind == "arm":
        if u > 0:
            limb.bones["clavicle"] = chain[0]
        limb.fingers = _fingers(tree, chain[e], names, hints, forward)
    elif e + 1 < len(chain):
        limb.bones["toe"] = chain[e + 1]
    return limb


def _finger_chains(tree: _Tree, hand: int) -> list[list[int]]:
    """Every branch of the hand's subtree as a chain; a side branch starts its own chain."""
    wrist = tree.points[hand, 0]
    chains, stack = [], list(tree.children[hand])
    while stack:
        chain = tree.path_to_farthest(stack.pop(), wrist)
        chains.append(chain)
        for i, b in enumerate(chain[:-1]):
            stack.extend(c for c in tree.children[b] if c != chain[i + 1])
    return chains


def _fingers(tree: _Tree, hand: int, names, hints: Hints, forward) -> dict[str, list[int]]:
    """Finger name → bones from the knuckle out. Names decide when each chain names one finger;
    otherwise the thumb is the chain reaching farthest forward and the others follow from it."""
    wrist = tree.points[hand, 0]
    chains = _finger_chains(tree, hand)
    if not chains:
        return {}
    reach = [tree.reach(c[0], wrist) for c in chains]
    chains = [c for c, r in zip(chains, reach) if r >= 0.4 * max(reach)]
    named = [hints.finger(names[c[-1]]) or hints.finger(names[c[0]]) for c in chains]
    if all(named) and len(set(named)) == len(named):
        result = dict(zip(named, chains))
    elif forward is not None and len(chains) >= 2:
        ahead = [float((tree.points[c, 1].mean(0) - wrist) @ forward) for c in chains]
        thumb = int(np.argmax(ahead))
        others = sorted((i for i in range(len(chains)) if i != thumb),
                        key=lambda i: -float((tree.points[chains[i][0], 0] - wrist) @ forward))
        result = {"thumb": chains[thumb]}
        result.update(zip(FINGERS[1:], (chains[i] for i in others)))
    else:
        return {}
    for name, chain in result.items():  # a metacarpal starting at the wrist is not a finger joint
        tip = tree.reach(chain[0], wrist)
        if name != "thumb" and len(chain) >= 4 and np.linalg.norm(tree.points[chain[0], 0] - wrist) < 0.25 * tip:
            result[name] = chain[1:]
    return result


# --- mapping one humanoid onto another -----------------------------------------------------------


def _resample(source: list[int], target: list[int], single: int) -> list[tuple[int, int]]:
    """Pairs (source, target) for chains of different lengths: ends to ends, the rest spread
    evenly, each bone used once; a one-bone target takes ``source[single]``."""
    n, m = len(source), len(target)
    if n == 0 or m == 0:
        return []
    if m == 1:
        return [(source[single], target[0])]
    if n == 1:
        return [(source[0], target[-1 if single == -1 else 0])]
    if m <= n:
        return [(source[_nearest(i * (n - 1) / (m - 1))], target[i]) for i in range(m)]
    return [(source[j], target[_nearest(j * (m - 1) / (n - 1))]) for j in range(n)]


def _nearest(x: float) -> int:
    return int(np.floor(x + 0.5))  # halves round up (round() would go to even)


def map_humanoid(source: Humanoid, target: Humanoid) -> dict[str, str]:
    """Source joint name → target bone name for every chain both have.

    The spine's top (the chest the arms hang from) goes to the target's top; Neck+Neck1 onto one
    neck takes the lower one; bones left out inherit their parent's motion when retargeted.
    """
    pairs: list[tuple[int, int]] = []
    if source.hips is not None and target.hips is not None:
        pairs.append((source.hips, target.hips))
    pairs += _resample(source.spine, target.spine, -1)
    pairs += _resample(source.neck, target.neck, 0)
    if source.head is not None and target.head is not None:
        pairs.append((source.head, target.head))
    for side in SIDES:
        for limbs, roles in (("arms", ARM_ROLES), ("legs", LEG_ROLES)):
            src, dst = getattr(source, limbs).get(side), getattr(target, limbs).get(side)
            if src is None or dst is None:
                continue
            pairs += [(src.bones[r], dst.bones[r]) for r in roles if r in src.bones and r in dst.bones]
            for finger in FINGERS:
                a, b = src.fingers.get(finger, []), dst.fingers.get(finger, [])
                pairs += list(zip(a, b))
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for s, t in pairs:
        joint, bone = source.names[s], target.names[t]
        if joint not in mapping and bone not in used:
            mapping[joint] = bone
            used.add(bone)
    return mapping


def skeleton_humanoid(skeleton: Skeleton, hints: Hints | None = None) -> Humanoid:
    """The chains of a source skeleton (Y-up joints turned Z-up; joints have no tails)."""
    heads = quat.rotate(_Y_UP_TO_Z_UP, rest_positions(skeleton))
    return characterise(skeleton.names, skeleton.parents, heads, None, hints=hints)
