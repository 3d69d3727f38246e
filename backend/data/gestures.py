"""Procedural co-speech motion on the default skeleton, driven by the prosody of the speech.

Rules, all read from the audio (``prosody.analyse``):
- silence: arms hang at rest, the chest breathes;
- beat gestures: each stroke is a minimum-jerk move of the forearm whose peak speed lands
  exactly on a stressed syllable onset, sized by that syllable's loudness, with a preparation
  before it and a hold or retraction after it;
- head nods on pitch accents; slow torso sway that grows while speaking;
- a speaker ``Style`` (dominant hand, two-handedness, size, tempo, sway, openness, finger curl)
  that is a fixed function of the voice, its pitch and its rate, so style is audible.

Arms are posed by direction: the upper arm and forearm point where the gesture parameters say
(in the chest frame), and local rotations are solved from those directions, so the code does
not depend on the axis conventions of the skeleton's rest pose beyond a T-pose facing +Z.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..motion import quaternions as quat
from ..motion.motion import Motion
from ..motion.skeleton import Skeleton, rest_positions
from .prosody import Prosody
from .speech import Voice

SIDES = ("Right", "Left")
_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")


@dataclass(frozen=True)
class Style:
    """How one synthetic speaker gestures."""

    dominant: str  # "Right" | "Left"
    both_hands: float  # share of strokes made with both hands
    amplitude: float  # size of beats (1 = average)
    min_interval: float  # seconds between two strokes of one hand
    stroke_seconds: float  # duration of a stroke (its speed peak is at the middle)
    sway: float  # torso sway amplitude, radians
    sway_hz: float
    nod: float  # head nod amplitude, radians
    openness: float  # 0 = hands toward the midline, 1 = open, outward
    curl: float  # finger curl, 0 = flat

    def to_dict(self) -> dict:
        return asdict(self)


def _unit_numbers(key: str, count: int) -> np.ndarray:
    """Stable pseudo-random numbers in [0, 1) from a string (same on every machine)."""
    digest = hashlib.sha256(key.encode()).digest()
    return np.frombuffer(digest[: 2 * count], dtype=">u2").astype(np.float64) / 65536.0


def style_for(voice: Voice) -> Style:
    """The speaker style is a deterministic function of what can be heard: timbre, pitch, rate."""
    u = _unit_numbers(voice.name, 6)
    pitch = np.clip(voice.pitch / 99.0, 0.0, 1.0)
    rate = np.clip((voice.rate - 120.0) / 100.0, 0.0, 1.0)
    return Style(
        dominant="Left" if u[0] < 0.3 else "Right",
        both_hands=float(0.1 + 0.35 * u[1]),
        amplitude=float(0.6 + 0.5 * pitch + 0.4 * u[2]),
        min_interval=float(0.95 - 0.45 * rate),
        stroke_seconds=float(0.32 - 0.1 * rate),
        sway=float(np.radians(1.0 + 3.0 * u[3])),
        sway_hz=float(0.15 + 0.25 * u[4]),
        nod=float(np.radians(4.0 + 6.0 * pitch)),
        openness=float(u[5]),
        curl=float(0.2 + 0.5 * (1.0 - u[5])),
    )


@dataclass(frozen=True)
class Stroke:
    time: float  # seconds: the peak of hand speed
    hand: str  # "Right", "Left" or "both"
    amplitude: float  # 0..1, from the loudness of the stressed syllable


def plan_strokes(prosody: Prosody, style: Style, rng: np.random.Generator) -> list[Stroke]:
    """Pick stressed onsets as strokes, respecting each hand's tempo; size from absolute loudness."""
    last = {"Right": -np.inf, "Left": -np.inf}
    other = {"Right": "Left", "Left": "Right"}
    strokes: list[Stroke] = []
    prep = 0.45 + style.stroke_seconds / 2
    for t, level, is_stressed in zip(prosody.onsets, prosody.onset_loudness_db, prosody.stressed):
        if not is_stressed or t < prep:
            continue
        amplitude = float(np.clip((level + 24.0) / 14.0, 0.25, 1.0))  # -20 dBFS: 0.3, -10 dBFS: 1
        ready = [h for h in ("Right", "Left") if t - last[h] >= style.min_interval]
        if not ready or (strokes and t - strokes[-1].time < 0.6 * style.min_interval):
            continue
        if len(ready) == 2 and (rng.random() < style.both_hands or amplitude > 0.92):
            hand = "both"
        else:
            hand = style.dominant if rng.random() < 0.75 else other[style.dominant]
            if hand not in ready:
                hand = ready[0]
        for h in ("Right", "Left") if hand == "both" else (hand,):
            last[h] = t
        strokes.append(Stroke(float(t), hand, amplitude))
    return strokes


def minimum_jerk(key_times: np.ndarray, key_values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Piecewise minimum-jerk interpolation: zero velocity at every key, peak speed mid-segment."""
    key_times = np.asarray(key_times, dtype=np.float64)
    key_values = np.asarray(key_values, dtype=np.float64)
    k = np.clip(np.searchsorted(key_times, times, side="right") - 1, 0, len(key_times) - 1)
    k1 = np.minimum(k + 1, len(key_times) - 1)
    span = np.maximum(key_times[k1] - key_times[k], 1e-9)
    tau = np.clip((times - key_times[k]) / span, 0.0, 1.0)
    return key_values[k] + (key_values[k1] - key_values[k]) * _min_jerk(tau)[:, None]


def _min_jerk(tau: np.ndarray) -> np.ndarray:
    """The minimum-jerk profile from 0 to 1 over tau in [0, 1]: zero velocity and acceleration at both ends."""
    return tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)


# arm parameters: [raise r (0 rest .. 1 gesture space), beat b (rad, forearm lift), spread, wrist flex (rad)]
_REST = np.zeros(4)
_PREP_SECONDS = 0.8  # longest preparation: slower than the stroke it prepares


def arm_keys(strokes: list[Stroke], side: str, style: Style, prosody: Prosody, rng: np.random.Generator, duration: float):
    """Keyframes (times, params) of one arm: prepare → stroke → hold → next or retract to rest."""
    times, values = [0.0], [_REST]
    half = style.stroke_seconds / 2
    mine = [s for s in strokes if s.hand in (side, "both")]
    beat = 0.75 * style.amplitude
    for i, stroke in enumerate(mine):
        raise_ = 0.65 + 0.35 * stroke.amplitude
        spread = float(np.clip(style.openness + rng.normal(0, 0.2), 0.0, 1.0))
        top = np.array([raise_, 0.5 * beat * stroke.amplitude, spread, -0.35 * stroke.amplitude])
        bottom = np.array([raise_, -0.5 * beat * stroke.amplitude, spread, 0.25 * stroke.amplitude])
        start = stroke.time - half
        prep = min(_PREP_SECONDS, start - times[-1])
        if prep > _PREP_SECONDS - 1e-9 or np.array_equal(values[-1], _REST):
            times.append(start - prep)
            values.append(values[-1])  # hold (or rest) until the preparation starts
        times += [start, stroke.time + half]
        values += [top, bottom]
        hold_end = stroke.time + half + float(rng.uniform(0.12, 0.3))
        next_start = mine[i + 1].time - half if i + 1 < len(mine) else duration + 10.0
        gap = prosody.speech_at(np.arange(hold_end, max(next_start, hold_end + 0.01), 0.05))
        silent = next_start - hold_end > 1.6 or (next_start - hold_end > 0.9 and gap.mean() < 0.4)
        if silent:  # retract to rest
            relax = min(0.7, next_start - hold_end - 0.6)
            times += [hold_end, hold_end + max(relax, 0.4)]
            values += [bottom, _REST]
        elif next_start - hold_end > 0.8:  # stay in gesture space, relaxed
            times += [hold_end, hold_end + 0.4]
            values += [bottom, np.array([raise_ * 0.85, 0.0, spread, 0.0])]
    times.append(max(duration, times[-1]) + 1.0)
    values.append(values[-1])
    t = np.array(times)
    keep = np.concatenate([[True], np.diff(t) > 1e-6])
    return t[keep], np.array(values)[keep]


def _direction(polar: np.ndarray, azimuth: np.ndarray, outward: float) -> np.ndarray:
    """Unit vectors in the body frame: ``polar`` from straight down, ``azimuth`` from forward to outward."""
    return np.stack([outward * np.sin(polar) * np.sin(azimuth), -np.cos(polar), np.sin(polar) * np.cos(azimuth)], -1)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotation taking unit vectors ``a`` to ``b`` (never opposite here)."""
    q = np.concatenate([1.0 + np.sum(a * b, -1, keepdims=True), np.cross(a, b)], -1)
    return quat.normalize(q)


def _smooth_noise(rng: np.random.Generator, times: np.ndarray, hz: float, count: int = 3) -> np.ndarray:
    """Sum of a few sines with random phases: slow, smooth, roughly unit amplitude."""
    freqs = hz * np.array([1.0, 1.73, 0.61])[:count]
    phases = rng.uniform(0, 2 * np.pi, count)
    return np.sum(np.sin(2 * np.pi * freqs[:, None] * times[None] + phases[:, None]), 0) / np.sqrt(count)


def _nod_curve(times: np.ndarray, accents: np.ndarray, strengths: np.ndarray) -> np.ndarray:
    """Head dips: down in 0.15 s around the accent, back up in 0.35 s."""
    out = np.zeros_like(times)
    for t0, a in zip(accents, strengths):
        u = times - t0
        out += a * (_min_jerk(np.clip((u + 0.05) / 0.15, 0, 1)) - _min_jerk(np.clip((u - 0.1) / 0.35, 0, 1)))
    return np.clip(out, 0.0, 1.5)


def synthesize_motion(
    skeleton: Skeleton, prosody: Prosody, style: Style, strokes: list[Stroke],
    duration: float, fps: float, rng: np.random.Generator,
) -> Motion:
    """Full-body motion for a clip of ``duration`` seconds at ``fps``."""
    n = int(np.floor(duration * fps)) + 1
    t = np.arange(n) / fps
    J = skeleton.num_joints
    idx = {name: i for i, name in enumerate(skeleton.names)}
    local = quat.identity((n, J))

    speaking = ndimage.gaussian_filter1d(prosody.speech_at(t).astype(np.float64), 0.4 * fps)
    x_axis, y_axis, z_axis = np.eye(3)

    def axis_angle(axis, angle):
        return quat.from_axis_angle(np.asarray(axis)[None] * np.asarray(angle)[:, None])

    # torso: sway (grows with speech) + breathing (slow chest pitch)
    amp = style.sway * (0.35 + 0.65 * speaking)
    yaw, lean, pitch = (_smooth_noise(rng, t, style.sway_hz) * amp for _ in range(3))
    breath = np.sin(2 * np.pi * 0.23 * t + rng.uniform(0, 2 * np.pi)) * np.radians(1.2)
    spine = ["Spine", "Spine1", "Spine2", "Spine3"]
    for k, name in enumerate(spine):
        rot = quat.multiply(axis_angle(y_axis, yaw / 4), axis_angle(z_axis, lean / 4))
        rot = quat.multiply(rot, axis_angle(x_axis, pitch / 6 + (breath / 2 if k >= 2 else 0)))
        local[:, idx[name]] = rot
    world_rot = quat.identity((n,))
    for name in spine:
        world_rot = quat.multiply(world_rot, local[:, idx[name]])
    chest = world_rot

    # head: nods on pitch accents, counter the torso sway a little, look around slowly
    nods = _nod_curve(t, prosody.accents, np.clip(prosody.accent_strength / 4.0, 0.3, 1.0)) * style.nod
    look = _smooth_noise(rng, t, 0.1) * np.radians(4.0) * (0.5 + 0.5 * speaking)
    head = quat.multiply(axis_angle(y_axis, look - 0.5 * yaw), axis_angle(x_axis, nods - 0.3 * pitch))
    local[:, idx["Neck"]] = axis_angle(x_axis, 0.3 * nods)
    local[:, idx["Head"]] = head

    # arms: directions in the chest frame → local rotations
    rest = rest_positions(skeleton)
    for side in SIDES:
        outward = -1.0 if side == "Right" else 1.0
        keys_t, keys_v = arm_keys(strokes, side, style, prosody, rng, duration)
        params = minimum_jerk(keys_t, keys_v, t)
        r, b, spread, flex = params.T
        idle = 0.04 * _smooth_noise(rng, t, 0.2)
        r = r + np.abs(idle)
        polar_u = np.radians(8.0 + 28.0 * r)
        azim_u = np.radians(75.0 - 45.0 * r + 15.0 * spread)
        polar_f = np.radians(18.0 + 72.0 * r) + b
        azim_f = np.radians(-10.0 - 30.0 * r + 55.0 * spread * r)
        dir_u = quat.rotate(chest, _direction(polar_u, azim_u, outward))
        dir_f = quat.rotate(chest, _direction(polar_f, azim_f, outward))
        shoulder, arm, fore, hand = (idx[f"{side}{p}"] for p in ("Shoulder", "Arm", "ForeArm", "Hand"))
        shrug = axis_angle(z_axis, -outward * (breath * 0.5 + 0.04 * r))
        local[:, shoulder] = shrug
        w_shoulder = quat.multiply(chest, shrug)
        bone_u = rest[fore] - rest[arm]
        bone_f = rest[hand] - rest[fore]
        cur_u = quat.rotate(w_shoulder, np.broadcast_to(bone_u / np.linalg.norm(bone_u), (n, 3)))
        w_arm = quat.multiply(_swing(cur_u, dir_u), w_shoulder)
        cur_f = quat.rotate(w_arm, np.broadcast_to(bone_f / np.linalg.norm(bone_f), (n, 3)))
        w_fore = quat.multiply(_swing(cur_f, dir_f), w_arm)
        lateral = quat.rotate(chest, np.broadcast_to(x_axis, (n, 3)))
        w_hand = quat.multiply(quat.from_axis_angle(lateral * flex[:, None]), w_fore)  # + flex: tip down
        local[:, arm] = quat.multiply(quat.inverse(w_shoulder), w_arm)
        local[:, fore] = quat.multiply(quat.inverse(w_arm), w_fore)
        local[:, hand] = quat.multiply(quat.inverse(w_fore), w_hand)

        # fingers: curl toward the palm (palm faces -Y in the T-pose), relaxing during beats
        curl = style.curl + 0.1 * _smooth_noise(rng, t, 0.3) - 0.15 * np.clip(r, 0, 1) * style.openness
        for f_i, finger in enumerate(_FINGERS):
            scale = (0.45 if finger == "Thumb" else 0.8 + 0.1 * f_i)
            for k in (1, 2, 3):
                j = idx[f"{side}Hand{finger}{k}"]
                child = idx[f"{side}Hand{finger}{k + 1}"]
                bone = rest[child] - rest[j]
                axis = np.cross(bone / np.linalg.norm(bone), -y_axis)
                axis /= np.linalg.norm(axis)
                local[:, j] = axis_angle(axis, np.clip(curl, 0.0, 1.2) * scale * np.radians((50.0, 65.0, 45.0)[k - 1]))

    root = np.broadcast_to(rest[0] - np.array([0.0, rest[:, 1].min(), 0.0]), (n, 3)).copy()
    return Motion(fps, skeleton, quat.make_continuous(quat.normalize(local)), root)
