"""Humanoid characterisation from structure (no Blender): every test convention's chains, sides
from geometry, chains of different lengths, and the refusal data for rigs without arms."""

import sys
from pathlib import Path

import numpy as np
import pytest

from backend.motion import humanoid
from backend.motion.humanoid import characterise, map_humanoid, skeleton_humanoid
from backend.motion.skeleton import default_skeleton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import humanoid_rigs  # noqa: E402

RIGS = humanoid_rigs.conventions()
SOURCE = skeleton_humanoid(default_skeleton())


def _missing_arms(h) -> list[str]:
    """The arm chains the characterisation did not find (each needs an upper arm, a forearm and a hand)."""
    return [f"{side} arm" for side in humanoid.SIDES
            if not {"upper", "lower", "hand"} <= set(h.arms[side].bones if side in h.arms else ())]


def _found_roles(h):
    """The characterisation as ``humanoid_rigs`` role names → bone names."""
    n = h.names
    roles = {"hips": n[h.hips]} if h.hips is not None else {}
    roles.update({f"spine{i}": n[b] for i, b in enumerate(h.spine)})
    roles.update({f"neck{i}": n[b] for i, b in enumerate(h.neck)})
    if h.head is not None:
        roles["head"] = n[h.head]
    parts = {"clavicle": "clavicle", "upper": "upper", "lower": "lower", "hand": "hand",
             "thigh": "thigh", "shin": "shin", "foot": "foot", "toe": "toe"}
    for side in humanoid.SIDES:
        for limb in (h.arms.get(side), h.legs.get(side)):
            if limb is None:
                continue
            roles.update({f"{side} {parts[r]}": n[b] for r, b in limb.bones.items()})
            for finger, bones in limb.fingers.items():
                roles.update({f"{side} {finger}{k + 1}": n[b] for k, b in enumerate(bones)})
    return roles


@pytest.mark.parametrize("rig", RIGS, ids=[r.name for r in RIGS])
def test_every_convention_is_characterised_from_its_structure(rig):
    h = characterise(*rig.arrays())
    hints = humanoid.default_hints()
    expected = {role: bone for role, bone in rig.roles.items() if not hints.is_helper(bone)}
    if rig.name == "Biped":  # its thighs hang from the first spine bone: that is where the legs branch
        expected["hips"] = expected.pop("spine0")
        expected = {(f"spine{int(r[5:]) - 1}" if r.startswith("spine") else r): b for r, b in expected.items()}
    assert _found_roles(h) == expected
    assert _missing_arms(h) == []


@pytest.mark.parametrize("rig", RIGS, ids=[r.name for r in RIGS])
def test_source_arms_map_onto_every_convention(rig):
    h = characterise(*rig.arrays())
    mapping = map_humanoid(SOURCE, h)
    for side, src in (("left", "Left"), ("right", "Right")):
        assert mapping[f"{src}Arm"] == rig.roles[f"{side} upper"]
        assert mapping[f"{src}ForeArm"] == rig.roles[f"{side} lower"]
        assert mapping[f"{src}Hand"] == rig.roles[f"{side} hand"]
    assert len(set(mapping.values())) == len(mapping)


def test_sides_come_from_the_feet_not_the_names():
    """Names saying the opposite side, or no side at all, do not fool it: the toes show the facing."""
    rig = humanoid_rigs.by_name("Quaternius")
    names, parents, heads, tails = rig.arrays()
    swapped = [n.replace(".L", ".tmp").replace(".R", ".L").replace(".tmp", ".R") for n in names]
    h = characterise(swapped, parents, heads, tails)
    assert swapped[h.arms["left"].bones["upper"]] == "UpperArm.R"  # the bone on the character's left
    # Turned to face +Y (left now towards -X) with side-less names: still the geometric left.
    turned = heads * [-1, -1, 1], tails * [-1, -1, 1]
    anonymous = [f"bone{i}" for i in range(len(names))]
    h = characterise(anonymous, parents, *turned)
    assert names[h.arms["left"].bones["upper"]] == "UpperArm.L"
    assert names[h.legs["right"].bones["foot"]] == "Foot.R"


def test_source_skeleton_maps_onto_itself():
    assert SOURCE.chains()["spine"] == ["Spine", "Spine1", "Spine2", "Spine3"]
    assert SOURCE.chains()["neck and head"] == ["Neck", "Neck1", "Head"]
    mapping = map_humanoid(SOURCE, SOURCE)
    assert all(k == v for k, v in mapping.items()) and len(mapping) == 64
    assert not {"HeadEnd", "LeftForeArmEnd", "LeftArmEnd", "LeftToeBaseEnd"} & set(mapping)


@pytest.mark.parametrize("target_len, expected", [
    (1, ["Spine3"]), (2, ["Spine", "Spine3"]), (3, ["Spine", "Spine2", "Spine3"]),
    (6, ["Spine", None, "Spine1", "Spine2", None, "Spine3"])])
def test_spine_chains_of_other_lengths(target_len, expected):
    """Source Spine..Spine3 onto 1, 2, 3 or 6 spine bones: ends to ends, the chest on the chest."""
    rig = humanoid_rigs.build("s", "", humanoid_rigs._names(
        {"hips": "hips", "spine": "s{k}", "neck": "neck", "head": "head", "upper": "arm_{s}", "lower": "fore_{s}",
         "hand": "hand_{s}", "thigh": "thigh_{s}", "shin": "shin_{s}", "foot": "foot_{s}"},
        {"left": "l", "right": "r"}), spine=target_len, fingers=0, clavicle=False, toe=False)
    mapping = map_humanoid(SOURCE, characterise(*rig.arrays()))
    got = [next((j for j, b in mapping.items() if b == f"s{k}"), None) for k in range(target_len)]
    assert got == expected
    assert mapping["Neck"] == "neck" and "Neck1" not in mapping  # Neck+Neck1 onto one neck: the lower


def test_rigs_without_arms_report_the_missing_chains():
    rig = humanoid_rigs.by_name("Minimal")
    keep = [i for i, n in enumerate(rig.names) if not n.startswith(("arm_", "forearm_", "hand_"))]
    names, parents, heads, tails = rig.arrays()
    index = {old: new for new, old in enumerate(keep)}
    h = characterise([names[i] for i in keep], [index.get(parents[i], -1) for i in keep], heads[keep], tails[keep])
    assert _missing_arms(h) == ["left arm", "right arm"]
    assert h.legs and h.head is not None
    crane = characterise(["boom", "jib", "hook"], [-1, 0, 1], [[0, 0, 0], [0, 0, 1], [0, 0, 2]],
                         [[0, 0, 1], [0, 0, 2], [0, 0, 3]])
    assert _missing_arms(crane) == ["left arm", "right arm"] and not crane.legs


def test_bad_hints_file_names_the_file(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text('{"helper_patterns": ["("]}')
    with pytest.raises(ValueError, match="hints.json"):
        humanoid.load_hints(path)


def test_mismatched_inputs_raise():
    with pytest.raises(ValueError, match="one parent, head and tail per bone"):
        characterise(["a", "b"], [-1], np.zeros((2, 3)))


def test_upper_body_rig_without_feet_takes_sides_from_names_then_plus_x():
    """No legs, so no toes to tell the facing: the names decide, and without side names +X is left."""
    rig = humanoid_rigs.by_name("VRM")
    keep = [i for i, n in enumerate(rig.names) if not any(w in n for w in ("Leg", "Foot", "Toe"))]
    names, parents, heads, tails = rig.arrays()
    index = {old: new for new, old in enumerate(keep)}
    sub = ([names[i] for i in keep], [index.get(parents[i], -1) for i in keep], heads[keep] * [-1, 1, 1], tails[keep] * [-1, 1, 1])
    h = characterise(*sub)  # mirrored in x: the names (J_Bip_L_…) now sit at -X, and they win
    assert not h.legs and sub[0][h.arms["left"].bones["upper"]] == "J_Bip_L_UpperArm"
    anonymous = [f"b{i}" for i in range(len(keep))]
    h = characterise(anonymous, *sub[1:])
    assert sub[2][h.arms["left"].bones["upper"], 0] > 0  # Blender's convention: left towards +X
