"""Humanoid test rigs in the naming and structure of real conventions, as plain bone lists.

Each rig is built from one body (Z-up metres, facing -Y, the character's left towards +X) with
its convention's names, hierarchy quirks (a pelvis the legs hang from, split or twist segments,
metacarpals, helper and end bones, face bones) and rest pose (T- or A-pose). ``Rig.roles``
records which bone plays which part, so tests can check what the characterisation finds.
Shared by the numpy tests, the Blender tests and ``scripts/render_rig_gallery.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
FPS = 20
FRAMES = 40


@dataclass
class Rig:
    name: str
    description: str
    bones: list[tuple[str, str | None, np.ndarray, np.ndarray]] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # e.g. "left upper" → bone name
    object_rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # XYZ Euler of the armature object
    object_scale: float = 1.0
    # False: the object transform only changes the armature's own units and axes (the character
    # stands as built); True: it turns and scales the character in the world.
    turn_world: bool = False

    def add(self, name, parent, head, tail, role=None):
        if name is None:
            return parent
        self.bones.append((name, parent, np.asarray(head, float), np.asarray(tail, float)))
        if role:
            self.roles[role] = name
        return name

    @property
    def names(self):
        return [b[0] for b in self.bones]

    def object_matrix(self) -> np.ndarray:
        """The armature object's 4x4 world matrix (XYZ Euler rotation, uniform scale)."""
        x, y, z = self.object_rotation
        rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
        m = np.eye(4)
        m[:3, :3] = rz @ ry @ rx * self.object_scale
        return m

    def arrays(self):
        """(names, parent indices, heads, tails) in world space (as the character stands in the scene)."""
        names = self.names
        parents = [names.index(p) if p else -1 for _, p, _, _ in self.bones]
        heads, tails = np.array([b[2] for b in self.bones]), np.array([b[3] for b in self.bones])
        if self.turn_world:
            m = self.object_matrix()
            heads, tails = heads @ m[:3, :3].T, tails @ m[:3, :3].T
        return names, np.array(parents), heads, tails

    def armature_space(self):
        """Heads and tails as the armature data stores them (the object matrix undone)."""
        _, _, heads, tails = self.arrays()
        inv = np.linalg.inv(self.object_matrix())
        return heads @ inv[:3, :3].T + inv[:3, 3], tails @ inv[:3, :3].T + inv[:3, 3]


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def build(name, description, n, *, a_pose=0.0, spine=3, neck=1, root=None, pelvis=None, head_end=None,
          clavicle=True, upper_split=1, lower_split=1, twist=None, fingers=3, metacarpals=False,
          finger_end=False, toe=True, toe_end=None, extras=(), legs_from=None, object_rotation=(0, 0, 0),
          object_scale=1.0, turn_world=False):
    """One rig: ``n(role, side, index)`` gives the bone's name (None: the convention has no such bone).

    ``a_pose`` lowers the arms by that many degrees; ``upper_split``/``lower_split`` cut a limb
    segment into pieces (MakeHuman); ``twist`` adds twist helpers as children (Unreal, GENEA,
    Daz, where the next segment may hang from the twist bone: ``twist="chain"``).
    """
    rig = Rig(name, description, object_rotation=object_rotation, object_scale=object_scale, turn_world=turn_world)
    parent = None
    for r in root or ():
        parent = rig.add(n(r, None, 0), parent, (0, 0, 0), (0, 0.15, 0))
    hips = rig.add(n("hips", None, 0), parent, (0, 0, 0.95), (0, 0, 1.05), "hips")
    leg_parent = hips
    if pelvis:
        leg_parent = rig.add(n("pelvis", None, 0), hips, (0, 0, 0.95), (0, 0, 0.85))
    z = np.linspace(1.05 if spine else 0.95, 1.40, spine + 1) if spine else []
    p = hips
    for i in range(spine):
        p = rig.add(n("spine", None, i), p, (0, 0.0, z[i]), (0, 0.0, z[i + 1]), f"spine{i}")
    chest = p
    zn = np.linspace(1.42, 1.53, neck + 1)
    for i in range(neck):
        p = rig.add(n("neck", None, i), p, (0, -0.01, zn[i]), (0, -0.01, zn[i + 1]), f"neck{i}")
    head = rig.add(n("head", None, 0), p, (0, -0.01, 1.53), (0, -0.01, 1.72), "head")
    if head_end:
        rig.add(n("head_end", None, 0), head, (0, -0.01, 1.72), (0, -0.01, 1.80))
    for extra in extras:  # face and helper bones: short, so never mistaken for limbs
        if extra == "face":
            rig.add(n("jaw", None, 0), head, (0, -0.02, 1.58), (0, -0.10, 1.55))
            for side, x in (("left", 0.03), ("right", -0.03)):
                rig.add(n("eye", side, 0), head, (x, -0.08, 1.64), (x, -0.10, 1.64))
    for side, sx in (("left", 1.0), ("right", -1.0)):
        def m(v):
            v = np.array(v, float)
            v[0] *= sx
            return v
        shoulder = m((0.17, 0, 1.40))
        arm_parent = chest
        if clavicle:
            arm_parent = rig.add(n("clavicle", side, 0), chest, m((0.02, 0, 1.38)), shoulder, f"{side} clavicle")
        if "scapula" in extras:
            rig.add(n("scapula", side, 0), arm_parent, m((0.08, 0.05, 1.35)), m((0.12, 0.06, 1.30)))
        a = np.radians(a_pose)
        d = m((np.cos(a), 0.0, -np.sin(a)))
        elbow, wrist = shoulder + 0.28 * d, shoulder + 0.53 * d
        knuckles = wrist + 0.09 * d
        p = _segment(rig, n, side, "upper", arm_parent, shoulder, elbow, upper_split, twist)
        p = _segment(rig, n, side, "lower", p, elbow, wrist, lower_split, twist)
        hand = rig.add(n("hand", side, 0), p, wrist, knuckles, f"{side} hand")
        if fingers:
            fwd = np.array([0, -1.0, 0])
            for f, offset in zip(FINGERS[1:], (0.03, 0.01, -0.01, -0.03)):
                base = knuckles + offset * fwd
                fp = hand
                if metacarpals:
                    fp = rig.add(n(f, side, 0), hand, wrist + 0.01 * d + offset * fwd, base)
                fp = _finger(rig, n, side, f, fp, base, d, (0.045, 0.03, 0.025)[:fingers], finger_end)
            tdir = _unit(0.6 * d + 0.8 * fwd)
            _finger(rig, n, side, "thumb", hand, wrist + 0.025 * d + 0.03 * fwd, tdir, (0.04, 0.035, 0.03)[:fingers],
                    finger_end)
        hip = m((0.09, 0, 0.92))
        knee, ankle, ball, tip = m((0.09, -0.01, 0.50)), m((0.09, 0.0, 0.08)), m((0.09, -0.13, 0.02)), m((0.09, -0.19, 0.02))
        lp = legs_from(rig) if legs_from else leg_parent
        if n("hipjoint", side, 0):
            lp = rig.add(n("hipjoint", side, 0), lp, m((0.0, 0, 0.95)), hip)
        p = _segment(rig, n, side, "thigh", lp, hip, knee, upper_split, twist)
        p = _segment(rig, n, side, "shin", p, knee, ankle, lower_split, twist)
        foot = rig.add(n("foot", side, 0), p, ankle, ball, f"{side} foot")
        if toe:
            t = rig.add(n("toe", side, 0), foot, ball, tip, f"{side} toe")
            if toe_end:
                rig.add(n("toe_end", side, 0), t, tip, tip + (0, -0.03, 0))
    return rig


def _segment(rig, n, side, part, parent, start, end, pieces, twist):
    """A limb segment, maybe cut into ``pieces`` bones, maybe with a twist helper."""
    points = [start + (end - start) * k / pieces for k in range(pieces + 1)]
    p = parent
    for k in range(pieces):
        p = rig.add(n(part, side, k), p, points[k], points[k + 1], f"{side} {part}" if k == 0 else None)
    if twist and n(f"{part}_twist", side, 0):
        mid = (start + end) / 2
        t = rig.add(n(f"{part}_twist", side, 0), p, mid, end)
        if twist == "chain":
            return t
    return p


def _finger(rig, n, side, finger, parent, base, direction, lengths, end):
    p, at = parent, base
    for k, length in enumerate(lengths):
        p = rig.add(n(finger, side, 1 + k), p, at, at + length * direction, f"{side} {finger}{k + 1}")
        at = at + length * direction
    if end and n(f"{finger}_end", side, 0):
        rig.add(n(f"{finger}_end", side, 0), p, at, at + 0.015 * direction)
    return p


def _names(table, sides, finger_words=None):
    """A naming function from a table: format strings with ``{s}`` side word, ``{k}`` index (spine,
    neck from 0; finger segments from 1, 0 the metacarpal), ``{i}`` = k + 1, ``{f}``/``{F}`` the
    finger word; or functions ``(side word, k) -> name``."""
    def n(role, side, index):
        key = role
        finger = role[:-4] if role.endswith("_end") else role
        if finger in FINGERS:
            key = "finger_end" if role.endswith("_end") else "finger"
        fmt = table.get(key)
        if fmt is None:
            return None
        if callable(fmt):
            return fmt(sides.get(side, ""), index) if key not in ("finger", "finger_end") else fmt(sides.get(side, ""), finger, index)
        word = (finger_words or {}).get(finger, finger)
        return fmt.format(s=sides.get(side, ""), k=index, i=index + 1, f=word, F=word[:1].upper() + word[1:])
    return n


def _pick(options):
    return lambda s, k: options[k]


LR = {"left": "L", "right": "R"}
lr = {"left": "l", "right": "r"}


def conventions() -> list[Rig]:
    """The test rigs, one per convention (names from DESIGN.md §12 and the public conventions)."""
    biped_finger = lambda s, f, k: f"Bip01 {s} Finger{FINGERS.index(f)}{'' if k == 1 else k - 1}"
    return [
        build("Mixamo", "Mixamo FBX (mixamorig:LeftArm; centimetres, Y-up data turned upright by the object; "
              "mapped by its preset)", _names({
            "hips": "mixamorig:Hips", "spine": lambda s, k: "mixamorig:Spine" + ("", "1", "2")[k],
            "neck": "mixamorig:Neck", "head": "mixamorig:Head", "head_end": "mixamorig:HeadTop_End",
            "clavicle": "mixamorig:{s}Shoulder", "upper": "mixamorig:{s}Arm", "lower": "mixamorig:{s}ForeArm",
            "hand": "mixamorig:{s}Hand", "finger": "mixamorig:{s}Hand{F}{k}", "thigh": "mixamorig:{s}UpLeg",
            "shin": "mixamorig:{s}Leg", "foot": "mixamorig:{s}Foot", "toe": "mixamorig:{s}ToeBase",
            "toe_end": "mixamorig:{s}Toe_End"}, {"left": "Left", "right": "Right"}),
            spine=3, head_end=True, toe_end=True, object_rotation=(np.pi / 2, 0, 0), object_scale=0.01),
        build("Quaternius", "Quaternius glTF characters (UpperArm.L, LowerArm.L; T-pose)", _names({
            "root": "Root", "hips": "Hips", "spine": _pick(("Abdomen", "Torso", "Chest")), "neck": "Neck",
            "head": "Head", "clavicle": "Shoulder.{s}", "upper": "UpperArm.{s}", "lower": "LowerArm.{s}",
            "hand": "Hand.{s}", "finger": "{F}{k}.{s}", "thigh": "UpperLeg.{s}", "shin": "LowerLeg.{s}",
            "foot": "Foot.{s}"}, LR), root=["root"], spine=3, toe=False),
        build("GENEA", "GENEA / Talking With Hands avatar (b_l_arm; twist and p_ helpers; face bones)", _names({
            "root": "body_world", "hips": "b_root", "spine": "b_spine{k}", "neck": "b_neck{k}", "head": "b_head",
            "jaw": "b_jaw", "eye": "b_{s}_eye", "clavicle": "b_{s}_shoulder", "scapula": "p_{s}_scap",
            "upper": "b_{s}_arm", "upper_twist": "b_{s}_arm_twist", "lower": "b_{s}_forearm",
            "lower_twist": "b_{s}_wrist_twist", "hand": "b_{s}_wrist", "finger": "b_{s}_{f}{k}",
            "thigh": "b_{s}_upleg", "shin": "b_{s}_leg", "shin_twist": "b_{s}_foot_twist", "foot": "b_{s}_foot",
            "toe": "b_{s}_toe", "toe_end": "b_{s}_foot_End"}, lr),
            root=["root"], spine=4, twist="child", toe_end=True, extras=("face", "scapula")),
        build("Unreal", "Unreal mannequin (upperarm_l, spine_01, twist bones, metacarpals; A-pose 45°; "
              "centimetres, Y-up data turned upright by the object)", _names({
            "root": "root", "hips": "pelvis", "spine": "spine_{i:02d}", "neck": "neck_{i:02d}", "head": "head",
            "clavicle": "clavicle_{s}", "upper": "upperarm_{s}", "upper_twist": "upperarm_twist_01_{s}",
            "lower": "lowerarm_{s}", "lower_twist": "lowerarm_twist_01_{s}", "hand": "hand_{s}",
            "finger": lambda s, f, k: f"{f}_metacarpal_{s}" if k == 0 else f"{f}_{k:02d}_{s}",
            "thigh": "thigh_{s}", "thigh_twist": "thigh_twist_01_{s}", "shin": "calf_{s}",
            "shin_twist": "calf_twist_01_{s}", "foot": "foot_{s}", "toe": "ball_{s}"}, lr),
            root=["root"], spine=5, neck=2, a_pose=45, twist="child", metacarpals=True,
            object_rotation=(np.pi / 2, 0, 0), object_scale=0.01),
        build("CharacterCreator", "Character Creator (CC_Base_L_Upperarm; legs on CC_Base_Pelvis; A-pose)", _names({
            "root": "CC_Base_BoneRoot", "hips": "CC_Base_Hip", "pelvis": "CC_Base_Pelvis",
            "spine": _pick(("CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02")),
            "neck": "CC_Base_NeckTwist{i:02d}", "head": "CC_Base_Head", "clavicle": "CC_Base_{s}_Clavicle",
            "upper": "CC_Base_{s}_Upperarm", "upper_twist": "CC_Base_{s}_UpperarmTwist01",
            "lower": "CC_Base_{s}_Forearm", "lower_twist": "CC_Base_{s}_ForearmTwist01", "hand": "CC_Base_{s}_Hand",
            "finger": "CC_Base_{s}_{F}{k}", "thigh": "CC_Base_{s}_Thigh", "shin": "CC_Base_{s}_Calf",
            "foot": "CC_Base_{s}_Foot", "toe": "CC_Base_{s}_ToeBase"}, LR, {"middle": "mid"}),
            root=["root"], pelvis=True, spine=3, neck=2, a_pose=35, twist="child"),
        build("Daz", "Daz Genesis (lShldrBend, lForearmBend; twist bones inside the chain; carpals; A-pose)", _names({
            "hips": "hip", "pelvis": "pelvis", "spine": _pick(("abdomenLower", "abdomenUpper", "chestLower", "chestUpper")),
            "neck": _pick(("neckLower", "neckUpper")), "head": "head", "clavicle": "{s}Collar",
            "upper": "{s}ShldrBend", "upper_twist": "{s}ShldrTwist", "lower": "{s}ForearmBend",
            "lower_twist": "{s}ForearmTwist", "hand": "{s}Hand",
            "finger": lambda s, f, k: f"{s}Carpal{FINGERS.index(f)}" if k == 0 else
            f"{s}{dict(middle='Mid').get(f, f.capitalize())}{k}",
            "thigh": "{s}ThighBend", "thigh_twist": "{s}ThighTwist", "shin": "{s}Shin", "foot": "{s}Foot",
            "toe": "{s}Toe"}, lr), pelvis=True, spine=4, neck=2, a_pose=40, twist="chain", metacarpals=True),
        build("VRM", "VRM / VRoid (J_Bip_L_UpperArm; T-pose)", _names({
            "root": "Root", "hips": "J_Bip_C_Hips", "spine": _pick(("J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest")),
            "neck": "J_Bip_C_Neck", "head": "J_Bip_C_Head", "clavicle": "J_Bip_{s}_Shoulder",
            "upper": "J_Bip_{s}_UpperArm", "lower": "J_Bip_{s}_LowerArm", "hand": "J_Bip_{s}_Hand",
            "finger": "J_Bip_{s}_{F}{k}", "thigh": "J_Bip_{s}_UpperLeg", "shin": "J_Bip_{s}_LowerLeg",
            "foot": "J_Bip_{s}_Foot", "toe": "J_Bip_{s}_ToeBase"}, LR, {"pinky": "little"}), root=["root"], spine=3),
        build("Biped", "3ds Max Biped (Bip01 L UpperArm; fingers Finger0..4 with no finger words; thighs on the "
              "spine; Nub ends; in inches)", _names({
            "root": "Bip01", "hips": "Bip01 Pelvis", "spine": _pick(("Bip01 Spine", "Bip01 Spine1", "Bip01 Spine2")),
            "neck": "Bip01 Neck", "head": "Bip01 Head", "head_end": "Bip01 HeadNub",
            "clavicle": "Bip01 {s} Clavicle", "upper": "Bip01 {s} UpperArm", "lower": "Bip01 {s} Forearm",
            "hand": "Bip01 {s} Hand", "finger": biped_finger,
            "finger_end": lambda s, f, k: f"Bip01 {s} Finger{FINGERS.index(f)}Nub", "thigh": "Bip01 {s} Thigh",
            "shin": "Bip01 {s} Calf", "foot": "Bip01 {s} Foot", "toe": "Bip01 {s} Toe0",
            "toe_end": "Bip01 {s} Toe0Nub"}, LR), root=["root"], spine=3, head_end=True, finger_end=True,
            toe_end=True, legs_from=lambda rig: "Bip01 Spine", object_scale=0.0254),
        build("SMPL-X", "SMPL-X (left_shoulder is the upper arm, left_wrist the hand; face bones)", _names({
            "root": "root", "hips": "pelvis", "spine": "spine{i}", "neck": "neck", "head": "head", "jaw": "jaw",
            "eye": "{s}_eye_smplhf", "clavicle": "{s}_collar", "upper": "{s}_shoulder", "lower": "{s}_elbow",
            "hand": "{s}_wrist", "finger": "{s}_{f}{k}", "thigh": "{s}_hip", "shin": "{s}_knee", "foot": "{s}_ankle",
            "toe": "{s}_foot"}, {"left": "left", "right": "right"}), root=["root"], spine=3, extras=("face",)),
        build("CMU-ASF", "CMU motion capture, ASF names (lhumerus, lradius, lfemur; hip joints; no fingers)", _names({
            "hips": "root", "hipjoint": "{s}hipjoint", "spine": _pick(("lowerback", "upperback", "thorax")),
            "neck": _pick(("lowerneck", "upperneck")), "head": "head", "clavicle": "{s}clavicle",
            "upper": "{s}humerus", "lower": "{s}radius", "hand": "{s}wrist", "thigh": "{s}femur",
            "shin": "{s}tibia", "foot": "{s}foot", "toe": "{s}toes"}, lr), spine=3, neck=2, fingers=0),
        build("BandaiNamco", "Bandai Namco Research motion dataset (UpperArm_L; no fingers)", _names({
            "root": "joint_Root", "hips": "Hips", "spine": _pick(("Spine", "Chest")), "neck": "Neck", "head": "Head",
            "clavicle": "Shoulder_{s}", "upper": "UpperArm_{s}", "lower": "LowerArm_{s}", "hand": "Hand_{s}",
            "thigh": "UpperLeg_{s}", "shin": "LowerLeg_{s}", "foot": "Foot_{s}", "toe": "Toes_{s}"}, LR),
            root=["root"], spine=2, fingers=0),
        build("MakeHuman", "MakeHuman / MPFB default skeleton (upperarm01/02 split segments; 6 spine, 3 neck bones)",
              _names({
            "hips": "root", "hipjoint": "pelvis.{s}", "spine": lambda s, k: f"spine0{6 - k}", "neck": "neck0{i}",
            "head": "head", "clavicle": "clavicle.{s}", "upper": "upperarm0{i}.{s}", "lower": "lowerarm0{i}.{s}",
            "hand": "wrist.{s}",
            "finger": lambda s, f, k: f"metacarpal{FINGERS.index(f)}.{s}" if k == 0 else f"finger{FINGERS.index(f) + 1}-{k}.{s}",
            "thigh": "upperleg0{i}.{s}", "shin": "lowerleg0{i}.{s}", "foot": "foot.{s}", "toe": "toe1-1.{s}"}, LR),
            spine=6, neck=3, upper_split=2, lower_split=2, metacarpals=True),
        build("German", "German names (Oberarm.links); A-pose; 6 spine bones; object turned 90° and scaled 2x",
              _names({
            "hips": "Hüfte", "spine": "Wirbel{i}", "neck": "Hals", "head": "Kopf", "clavicle": "Schlüsselbein.{s}",
            "upper": "Oberarm.{s}", "lower": "Unterarm.{s}", "hand": "Hand.{s}", "finger": "{F}{k}.{s}",
            "thigh": "Oberschenkel.{s}", "shin": "Unterschenkel.{s}", "foot": "Fuß.{s}", "toe": "Zehen.{s}"},
            {"left": "links", "right": "rechts"}, {"thumb": "Daumen", "index": "Zeigefinger", "middle": "Mittelfinger",
                                                   "ring": "Ringfinger", "pinky": "Kleinfinger"}),
            spine=6, a_pose=30, object_rotation=(0, 0, np.pi / 2), object_scale=2.0, turn_world=True),
        build("Japanese", "Japanese (MMD-style) names: 左腕, 左ひじ, 左手首; legs on 下半身; 捩 twist bones; A-pose",
              _names({
            "root": "センター", "hips": "グルーブ", "pelvis": "下半身", "spine": _pick(("上半身", "上半身2")), "neck": "首",
            "head": "頭", "clavicle": "{s}肩", "upper": "{s}腕", "upper_twist": "{s}腕捩", "lower": "{s}ひじ",
            "lower_twist": "{s}手捩", "hand": "{s}手首", "finger": "{s}{f}{k}", "thigh": "{s}足", "shin": "{s}ひざ",
            "foot": "{s}足首", "toe": "{s}つま先"}, {"left": "左", "right": "右"},
            {"thumb": "親指", "index": "人指", "middle": "中指", "ring": "薬指", "pinky": "小指"}),
            root=["root"], pelvis=True, spine=2, a_pose=35, twist="child"),
        build("Minimal", "Generic names; one spine bone, no neck, no clavicles, no fingers, no toes", _names({
            "hips": "pelvis", "spine": "torso", "head": "head", "upper": "arm_{s}", "lower": "forearm_{s}",
            "hand": "hand_{s}", "thigh": "leg_upper_{s}", "shin": "leg_lower_{s}", "foot": "foot_{s}"},
            {"left": "left", "right": "right"}), spine=1, neck=0, clavicle=False, fingers=0, toe=False),
    ]


def by_name(name: str) -> Rig:
    return next(r for r in conventions() if r.name == name)


# --- in Blender, and a motion to pose them with --------------------------------------------------------


def build_armature(bpy, rig: Rig):
    """The rig as a Blender armature (active, object mode), its data in the convention's own space."""
    from mathutils import Matrix

    arm = bpy.data.armatures.new(rig.name)
    obj = bpy.data.objects.new(rig.name, arm)
    bpy.context.scene.collection.objects.link(obj)
    obj.matrix_world = Matrix(rig.object_matrix().tolist())
    bpy.context.view_layer.objects.active = obj
    heads, tails = rig.armature_space()
    bpy.ops.object.mode_set(mode="EDIT")
    for (name, parent, _, _), head, tail in zip(rig.bones, heads, tails):
        eb = arm.edit_bones.new(name)
        eb.head, eb.tail = head.tolist(), tail.tolist()
        if parent:
            eb.parent = arm.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def swinging_motion(frames: int = FRAMES) -> Motion:
    """Large arm swings (about every axis, out of phase left and right), elbows bending, a swaying spine."""
    skel = default_skeleton()
    t = np.arange(frames) / FPS
    rot = np.tile(skel.rest_rotations, (frames, 1, 1))
    w = 2 * np.pi * 0.6
    for side, phase in (("Left", 0.0), ("Right", 1.3)):
        swing = np.stack([0.9 * np.sin(w * t + phase), 0.6 * np.cos(w * t + phase), 0.8 * np.sin(0.5 * w * t + phase)], -1)
        rot[:, skel.index(f"{side}Arm")] = quat.from_axis_angle(swing)
        bend = (0.4 + 0.6 * (1 + np.sin(1.7 * w * t + phase)))[:, None] * np.array([0.0, 1.0 if side == "Left" else -1.0, 0.0])
        rot[:, skel.index(f"{side}ForeArm")] = quat.from_axis_angle(bend)
    rot[:, skel.index("Spine1")] = quat.from_axis_angle(np.stack([0.2 * np.sin(w * t), 0.15 * np.cos(w * t), 0 * t], -1))
    return Motion(FPS, skel, rot, np.tile(skel.offsets[0], (frames, 1)))
