"""Which source joints a body-part mask lets the gestures drive (pure Python, no bpy).

Animators often keep their own legs, walk or lip-sync and want speech gestures only on the
upper body, the arms or the head. Parts are found in the skeleton's hierarchy from joint
names (ZEGGS/BVH/Mixamo-style spellings): the chain from the root to the first neck joint is
the spine, its side branches that lead to a hand are the arms, the branch of the neck is the
head, and the fingers are the joints below a hand; everything else (hips, legs) is "lower".
"""

from __future__ import annotations

import re

from .skeleton import Skeleton

MASKS = ("FULL", "UPPER", "ARMS", "HEAD")
_NECK = re.compile(r"neck|head", re.IGNORECASE)
_HAND = re.compile(r"hand|wrist", re.IGNORECASE)


def _descendants(skeleton: Skeleton, joint: int) -> set[int]:
    out, stack = set(), [joint]
    while stack:
        j = stack.pop()
        out.add(j)
        stack.extend(skeleton.children(j))
    return out


def body_parts(skeleton: Skeleton) -> dict[str, set[int]]:
    """Joint indices per part: ``spine`` (root excluded), ``head``, ``arms`` (shoulder to hand),
    ``fingers`` and ``lower`` (root, hips, legs: whatever is in no other part)."""
    names = skeleton.names
    neck = next((j for j, n in enumerate(names) if _NECK.search(n)), None)
    if neck is None:
        raise ValueError("the source skeleton has no neck or head joint, so body parts cannot be told apart")
    spine, j = set(), skeleton.parents[neck]
    while j > 0:  # the chain from the neck down to (not including) the root
        spine.add(int(j))
        j = skeleton.parents[j]
    head = _descendants(skeleton, neck)
    hands = [j for j, n in enumerate(names) if _HAND.search(n) and not any(_HAND.search(names[a]) for a in _ancestors(skeleton, j))]
    fingers = set().union(*(_descendants(skeleton, h) - {h} for h in hands)) if hands else set()
    arms = set()
    for s in spine:
        for child in skeleton.children(s):
            if child not in spine and child not in head and any(h in _descendants(skeleton, child) for h in hands):
                arms |= _descendants(skeleton, child)
    arms -= fingers
    lower = set(range(len(names))) - spine - head - arms - fingers
    return {"spine": spine, "head": head, "arms": arms, "fingers": fingers, "lower": lower}


def _ancestors(skeleton: Skeleton, joint: int) -> list[int]:
    out, j = [], skeleton.parents[joint]
    while j >= 0:
        out.append(int(j))
        j = skeleton.parents[j]
    return out


def masked_joints(skeleton: Skeleton, mask: str, fingers: bool = True) -> set[str]:
    """The names of the joints ``mask`` (one of :data:`MASKS`) lets the gestures drive."""
    if mask not in MASKS:
        raise ValueError(f"unknown body-part mask {mask!r} (known: {', '.join(MASKS)})")
    parts = body_parts(skeleton)
    chosen = {
        "FULL": parts["lower"] | parts["spine"] | parts["head"] | parts["arms"],
        "UPPER": parts["spine"] | parts["head"] | parts["arms"],
        "ARMS": parts["arms"],
        "HEAD": parts["head"],
    }[mask]
    if fingers and mask in ("FULL", "UPPER", "ARMS"):
        chosen |= parts["fingers"]
    return {skeleton.names[j] for j in chosen}


def mask_bone_map(bone_map: dict[str, str], skeleton: Skeleton, mask: str, fingers: bool = True) -> dict[str, str]:
    """``bone_map`` (source joint → bone) limited to the joints ``mask`` drives."""
    keep = masked_joints(skeleton, mask, fingers)
    return {joint: bone for joint, bone in bone_map.items() if joint in keep}
