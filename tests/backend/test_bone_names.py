"""Bone-name matching without Blender: normalised names, the bundled presets, the automatic choice."""

import pytest

from backend.motion.bone_names import auto_map, load_preset, missing_arm_chains, normalize_name, preset_named, presets
from backend.motion.skeleton import default_skeleton

SOURCE = default_skeleton().names


@pytest.mark.parametrize("name, key", [("mixamorig:LeftHandIndex1", "l:handindex1"), ("DEF-upper_arm.L.001", "l:upperarm001"),
                                       ("Bip01 R Forearm", "r:bip01forearm"), ("spine.003", ":spine003")])
def test_conventions_compare_equal_once_normalised(name, key):
    assert normalize_name(name) == key


def test_bundled_presets_load_and_a_mixamo_rig_picks_its_preset():
    assert {"Mixamo", "Blender human metarig", "Rigify deform bones", "Rigify FK controls"} <= {p.name for p in presets()}
    bones = ["mixamorig:" + b for b in ("Hips", "Spine", "Neck", "Head", "LeftArm", "LeftForeArm", "LeftHand",
                                        "RightArm", "RightForeArm", "RightHand")]
    name, mapping = auto_map(SOURCE, bones)
    assert name == "Mixamo" and mapping["LeftForeArm"] == "mixamorig:LeftForeArm" and missing_arm_chains(mapping) == []
    assert missing_arm_chains({j: b for j, b in mapping.items() if not j.startswith("Right")}) == ["right arm"]


def test_a_broken_preset_is_refused_naming_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "map": {"Hips": "a", "Spine": "a"}}')
    with pytest.raises(ValueError, match=r"broken\.json.*driven twice: a"):
        load_preset(broken)
    assert preset_named("Mixamo").mapping["Hips"] == "mixamorig:Hips"
