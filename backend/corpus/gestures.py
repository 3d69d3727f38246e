"""Procedural co-speech motion on the default skeleton, modelled on how people gesture.

Everything is read from the audio (``prosody.analyse``) and follows published observations
(docs/gesture_model.md lists the sources rule by rule):

- gesture units (Kendon 1980, 2004): the hands leave a rest pose when a speech phrase starts,
  make one or more gesture phrases, and return to a rest pose only in longer pauses; each
  gesture phrase is preparation → stroke → post-stroke hold, the stroke's peak speed on a
  stressed syllable (McNeill 1992; Loehr 2004: strokes co-occur with pitch accents);
- strokes in the gesture space in front of the torso (McNeill 1992): centre-centre, centre,
  periphery, further out, higher and larger on the more prominent syllables;
- stroke kinds: beats (small flicks), open palm presenting, pointing, lateral sweeps, two hands
  framing; hand moves are straight-line minimum-jerk (Flash & Hogan 1985);
- handedness varies within a speaker (a preferred hand per gesture unit, two-handed strokes);
- rest poses differ between speakers (hands clasped in front, at the sides, one on the hip, loosely in front);
- weight shifts and hip sway with feet planted (leg IK), torso lean and twist with the gestures,
  head nods, tilts and gaze turns on accents, shoulder raises, breathing, finger shapes per stroke;
- a speaker ``Style`` (expansive vs restrained, fast vs slow, one- vs two-handed, sway, and the
  placement habits of an idiosyncratic gesture style: a home locus and favourite sector in the
  gesture space, favourite stroke kinds, rest pose, palm, beat direction, holds; Kendon 2004;
  Neff et al. 2008; Ginosar et al. 2019) that is a fixed function of the voice, its pitch and its
  rate, so style is audible and moves the motion more than the random draws do.

Arms are posed by two-bone IK to hand targets in the chest frame, and local rotations are solved
from bone directions, so the code only assumes a T-pose facing +Z.
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
KINDS = ("beat", "present", "sweep", "point", "frame")
# the syllable prominence each kind suits best: beats on the lesser accents, sweeps and framing on the main ones
KIND_PROMINENCE = np.array([0.2, 0.6, 0.9, 0.6, 0.8])
RESTS = ("sides", "clasped", "hip", "front")
SECTOR_LATERAL = (8.0, 28.0, 50.0)  # cm out from the midline of centre-centre, centre, periphery (average expanse)


@dataclass(frozen=True)
class Style:
    """How one synthetic speaker gestures."""

    dominant: str  # "Right" | "Left": the preferred hand
    dominance: float  # share of gesture units led by the preferred hand
    both_hands: float  # share of strokes made with both hands
    amplitude: float  # size of strokes (1 = average)
    expanse: float  # how far into the periphery strokes reach (1 = average)
    home: tuple[float, float, float]  # cm: (lateral, height, forward) offset of where this speaker's hands work
    sector: float  # favourite sector, 0 centre-centre .. 1 centre .. 2 periphery (prominent strokes reach further)
    palm: float  # radians: habitual forearm twist in strokes (+ palm up)
    wrist: float  # radians: habitual wrist flex in strokes
    hold: float  # seconds: habitual post-stroke hold
    beat_angle: float  # radians: direction of beats, 0 = up-down flicks, + = toward the listener (back and forth)
    min_interval: float  # seconds between two strokes of one hand (tempo)
    stroke_seconds: float  # duration of a stroke (its speed peak is at the middle)
    rest_pause: float  # seconds of pause after which the hands go back to rest
    rests: tuple[float, float, float, float]  # preference for the rest poses RESTS
    kinds: tuple[float, float, float, float, float]  # preference for the stroke kinds KINDS
    sway: float  # cm: size of weight shifts and hip sway
    sway_hz: float
    lean: float  # radians: torso lean and twist with the gestures
    nod: float  # head nod amplitude, radians
    gaze: float  # radians: how far the head turns to look around
    curl: float  # relaxed finger curl, 0 = flat

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _unit_numbers(key: str, count: int) -> np.ndarray:
    """Stable pseudo-random numbers in [0, 1) from a string (same on every machine)."""
    digest = hashlib.sha256(key.encode()).digest()
    return np.frombuffer(digest[: 2 * count], dtype=">u2").astype(np.float64) / 65536.0


def _favourites(base: np.ndarray, draws: np.ndarray, boosts: tuple[float, ...]) -> np.ndarray:
    """``base`` preferences (normalised) with ``boosts`` added to favourites picked by ``draws`` (weighted by ``base``).

    Why: a speaker keeps to one or two favourite forms and one home position, not a flat mix.
    """
    base = np.asarray(base, dtype=np.float64) / np.sum(base)
    weights, free = base.copy(), base.copy()
    for draw, boost in zip(draws, boosts):
        pick = int(np.searchsorted(np.cumsum(free), draw * free.sum(), side="right"))
        weights[pick] += boost
        free[pick] = 0.0
    return weights / weights.sum()


def style_for(voice: Voice) -> Style:
    """The speaker style is a deterministic function of what can be heard: timbre, pitch, rate.

    Energy (pitch + a per-voice draw) makes a speaker expansive or restrained; the speaking rate
    sets the tempo; the voice itself fixes handedness, two-handedness and the placement habits that
    make a speaker recognisable: a home locus in the gesture space, a favourite sector, one or two
    favourite stroke kinds, one rest pose, palm and wrist set, beat direction and hold length.
    """
    u = _unit_numbers(voice.name, 12)
    h = _unit_numbers(f"{voice.name}/habits", 11)
    pitch = float(np.clip(voice.pitch / 99.0, 0.0, 1.0))
    rate = float(np.clip((voice.rate - 120.0) / 100.0, 0.0, 1.0))
    energy = float(np.clip(0.55 * pitch + 0.45 * u[2], 0.0, 1.0))
    rests = _favourites(np.array([0.2 + u[6], 0.2 + u[7], 0.1 + 0.5 * u[8], 0.3 + u[9]]), h[0:1], (12.0,))
    beat_share = 0.25 + 0.4 * (1.0 - energy)
    kinds = _favourites(np.array([beat_share, 0.2 + 0.2 * u[10], 0.1 + 0.2 * energy, 0.06 + 0.1 * u[11], 0.1 + 0.25 * u[1]]),
                        h[1:3], (5.0, 1.2))
    return Style(
        dominant="Left" if u[0] < 0.3 else "Right",
        dominance=float(0.85 + 0.12 * h[4]),
        both_hands=float(0.08 + 0.5 * u[1]),
        amplitude=float(0.7 + 0.6 * energy),
        expanse=float(0.6 + 0.8 * energy),
        home=(float(-4.0 + 14.0 * h[5]), float(-9.0 + 18.0 * u[3]), float(-6.0 + 16.0 * h[6])),
        sector=float(2.0 * np.clip(0.6 * energy + 0.4 * h[3], 0.0, 1.0)),
        palm=float(np.radians(-20.0 + 45.0 * h[7])),
        wrist=float(np.radians(-15.0 + 30.0 * h[9])),
        hold=float(0.1 + 0.25 * h[8]),
        beat_angle=float(np.radians(-15.0 + 75.0 * h[10])),
        min_interval=float(0.75 - 0.35 * rate),
        stroke_seconds=float(0.32 - 0.11 * rate),
        rest_pause=float(0.9 + 1.2 * u[4]),
        rests=tuple(float(x) for x in rests),
        kinds=tuple(float(x) for x in kinds),
        sway=float(0.6 + 0.8 * u[5]),
        sway_hz=float(0.35 + 0.3 * u[5]),
        lean=float(np.radians(2.0 + 4.0 * energy)),
        nod=float(np.radians(5.0 + 8.0 * pitch)),
        gaze=float(np.radians(8.0 + 14.0 * u[4])),
        curl=float(0.25 + 0.4 * u[9]),
    )


@dataclass(frozen=True)
class Stroke:
    time: float  # seconds: the peak of hand speed
    hand: str  # "Right", "Left" or "both"
    amplitude: float  # 0..1, from the loudness of the stressed syllable
    kind: str = "beat"  # one of KINDS
    prominence: float = 0.5  # 0..1: the syllable's loudness rank among the take's stressed syllables


def _phrases(prosody: Prosody, join: float) -> list[tuple[float, float]]:
    """Speech phrases: voiced runs, with gaps shorter than ``join`` seconds bridged."""
    active = ndimage.binary_closing(prosody.speech, structure=np.ones(max(1, int(join / prosody.hop))))
    labels, count = ndimage.label(active | prosody.speech)
    spans = ndimage.find_objects(labels)
    return [(s[0].start * prosody.hop, s[0].stop * prosody.hop) for s in spans]


def plan_strokes(prosody: Prosody, style: Style, rng: np.random.Generator) -> list[Stroke]:
    """Stressed onsets become strokes at the speaker's tempo; hand per gesture unit, kind by habit and prominence.

    Prominence is the syllable's loudness rank within the take, so that a quietly spoken take still
    has its main accents; two-handed strokes and the bigger kinds go to the most prominent ones.
    """
    last = {"Right": -np.inf, "Left": -np.inf}
    other = {"Right": "Left", "Left": "Right"}
    units = _phrases(prosody, style.rest_pause)
    unit_hand, unit_of = style.dominant, -1
    strokes: list[Stroke] = []
    prep = 0.35 + style.stroke_seconds / 2
    stressed_levels = np.sort(prosody.onset_loudness_db[prosody.stressed])
    for t, level, is_stressed in zip(prosody.onsets, prosody.onset_loudness_db, prosody.stressed):
        if not is_stressed or t < prep:
            continue
        prominence = float(np.searchsorted(stressed_levels, level) / max(len(stressed_levels) - 1, 1))
        unit = next((k for k, (a, b) in enumerate(units) if a - 0.1 <= t <= b + 0.1), -1)
        if unit != unit_of:  # a new gesture unit: handedness is chosen again (it varies within a speaker)
            unit_of = unit
            unit_hand = style.dominant if rng.random() < style.dominance else other[style.dominant]
        amplitude = float(np.clip((level + 24.0) / 14.0, 0.25, 1.0))  # -20 dBFS: 0.3, -10 dBFS: 1
        ready = [h for h in SIDES if t - last[h] >= style.min_interval]
        if not ready or (strokes and t - strokes[-1].time < 0.6 * style.min_interval):
            continue
        suits = np.array(style.kinds) * np.exp(-0.5 * ((KIND_PROMINENCE - prominence) / 0.15) ** 2)
        kind = KINDS[int(rng.choice(len(KINDS), p=suits / suits.sum()))]
        if len(ready) == 2 and (kind == "frame" or prominence + rng.normal(0.0, 0.1) > 1.0 - style.both_hands):
            hand = "both"
        else:
            kind = "beat" if kind == "frame" else kind
            hand = unit_hand if unit_hand in ready else ready[0]
        for h in SIDES if hand == "both" else (hand,):
            last[h] = t
        strokes.append(Stroke(float(t), hand, amplitude, kind, prominence))
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


# ---- hand keyframes ---------------------------------------------------------------------------
# A hand pose is [lateral (cm, + outward), height (cm, chest joint = 0), forward (cm), wrist flex (rad),
# forearm twist (rad, + palm up), finger curl (0 flat .. 1), index pointing (0 .. 1), elbow out (0 .. 1)].
_REST_POSES = {
    "sides": np.array([19.0, -44.0, 4.0, 0.1, 0.0, 0.45, 0.0, 0.0]),
    "clasped": np.array([3.0, -26.0, 18.0, 0.2, 0.5, 0.7, 0.0, 0.2]),
    "hip": np.array([21.0, -31.0, -3.0, -0.4, -0.3, 0.5, 0.0, 1.0]),
    "front": np.array([11.0, -24.0, 17.0, 0.2, 0.6, 0.5, 0.0, 0.2]),
}


def _locus(style: Style, prominence: float, rng: np.random.Generator) -> np.ndarray:
    """A point of the gesture space around the speaker's home: in the favourite sector, further out, higher and
    nearer the listener on the more prominent syllables."""
    sector = style.sector + 3.0 * (prominence - 0.5)
    home_lateral, home_height, home_forward = style.home
    lateral = home_lateral + np.interp(sector, (0.0, 1.0, 2.0), SECTOR_LATERAL) * style.expanse + rng.normal(0.0, 4.5)
    height = home_height - 4.0 + 32.0 * prominence + rng.normal(0.0, 5.0)
    forward = max(12.0, home_forward + 22.0 + 10.0 * style.expanse + 44.0 * (prominence - 0.5) + rng.normal(0.0, 4.5))
    return np.array([lateral, height, forward])


def _stroke_poses(kind: str, amplitude: float, style: Style, rng: np.random.Generator, locus: np.ndarray):
    """(start, end) hand poses of one stroke of ``kind`` around the gesture-space point ``locus``."""
    size = style.amplitude * (0.5 + 0.5 * amplitude)
    lat, up, fwd = locus
    if kind == "beat":  # a short flick, palm half open, down or out at the speaker's angle (McNeill's beats)
        b = 8.0 + 12.0 * size
        down, out = b * np.cos(style.beat_angle), b * np.sin(style.beat_angle)
        start = [lat, up + down, fwd - out, -0.3, 0.6, style.curl, 0.0, 0.3]
        end = [lat + 0.2 * b, up - down, fwd + out, 0.35, 0.6, style.curl + 0.1, 0.0, 0.3]
    elif kind == "present":  # open palm moving out and up toward the listener
        start = [lat - 7.0, up - 8.0, fwd - 10.0, 0.0, 0.4, style.curl, 0.0, 0.2]
        end = [lat + 11.0 * size, up + 6.0 * size, fwd + 17.0 * size, -0.2, 1.3, 0.08, 0.0, 0.3]
    elif kind == "sweep":  # palm down, from the centre out to the periphery
        start = [3.0, up, fwd + 4.0, 0.0, -0.2, 0.15, 0.0, 0.4]
        end = [3.0 + 36.0 * size * style.expanse, up - 4.0, fwd - 2.0, 0.1, -0.3, 0.15, 0.0, 0.6]
    elif kind == "point":  # index extended toward a referent
        start = [lat - 4.0, up - 6.0, fwd - 8.0, 0.0, 0.2, style.curl, 0.3, 0.2]
        end = [lat + 6.0, up + 8.0 * size, 42.0, -0.1, 0.3, 0.9, 1.0, 0.3]
    else:  # frame: both hands, palms facing, moving apart
        start = [7.0, up, fwd + 2.0, 0.0, 0.9, 0.2, 0.0, 0.4]
        end = [10.0 + 19.0 * size * style.expanse, up + 2.0, fwd, 0.0, 0.9, 0.15, 0.0, 0.5]
    habit = np.array([0.0, 0.0, 0.0, style.wrist, style.palm, 0.0, 0.0, 0.0])
    return np.array(start, dtype=np.float64) + habit, np.array(end, dtype=np.float64) + habit


class _Keys:
    """Keyframes of one hand; keys that would go back in time are dropped."""

    def __init__(self, pose: np.ndarray):
        self.times, self.values = [0.0], [pose]

    def add(self, time: float, pose: np.ndarray) -> None:
        if time > self.times[-1] + 1e-3:
            self.times.append(float(time))
            self.values.append(np.asarray(pose, dtype=np.float64))

    @property
    def last(self) -> np.ndarray:
        return self.values[-1]


def _rest_for(style: Style, rng: np.random.Generator) -> str:
    return RESTS[int(rng.choice(len(RESTS), p=style.rests))]


def hand_keys(strokes: list[Stroke], style: Style, prosody: Prosody, rng: np.random.Generator, duration: float):
    """Keyframes {side: (times, poses)}: rest → preparation → stroke → hold → ... → retraction → rest."""
    rest = _rest_for(style, rng)
    keys = {side: _Keys(_REST_POSES[rest]) for side in SIDES}
    half = style.stroke_seconds / 2
    end_time = duration + 10.0
    by_side = {side: [s for s in strokes if s.hand in (side, "both")] for side in SIDES}
    loci: dict[float, np.ndarray] = {}
    for side in SIDES:
        mine = by_side[side]
        k = keys[side]
        for i, stroke in enumerate(mine):
            if stroke.time not in loci:  # both hands of a two-handed stroke share the locus
                loci[stroke.time] = _locus(style, stroke.prominence, rng)
            start, end = _stroke_poses(stroke.kind, stroke.amplitude, style, rng, loci[stroke.time])
            t0, t1 = stroke.time - half, stroke.time + half
            prep = float(rng.uniform(0.3, 0.55))
            k.add(max(k.times[-1] + 0.02, t0 - prep), k.last)  # hold (or rest) until the preparation
            k.add(t0, start)
            k.add(t1, end)
            next_t0 = mine[i + 1].time - half if i + 1 < len(mine) else end_time
            hold_end = min(t1 + style.hold * float(rng.uniform(0.75, 1.25)), next_t0 - 0.3)
            relaxed = end * 1.0
            relaxed[:3] += [-0.2 * end[0] + rng.normal(0, 2.0), -4.0, -3.0]
            k.add(hold_end, end + np.r_[rng.normal(0.0, 1.5, 3), np.zeros(5)])
            gap = next_t0 - hold_end
            silent = prosody.speech_at(np.arange(hold_end, hold_end + max(gap, 0.05), 0.05)).mean() < 0.5
            if gap > style.rest_pause + 0.8 and silent:  # end of the gesture unit: retract to a rest pose
                retract = float(rng.uniform(0.5, 0.9))
                pose = _REST_POSES[_rest_for(style, rng)]
                k.add(hold_end + retract, pose)
            elif gap > 1.0:  # stay in the gesture space, relaxed
                k.add(hold_end + min(0.6, gap - 0.45), relaxed)
    for side in SIDES:
        k = keys[side]
        k.add(max(duration, k.times[-1]) + 1.0, k.last)
    return {side: (np.array(k.times), np.array(k.values)) for side, k in keys.items()}


# ---- posing ------------------------------------------------------------------------------------

def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotation taking unit vectors ``a`` to ``b`` (never opposite here)."""
    q = np.concatenate([1.0 + np.sum(a * b, -1, keepdims=True), np.cross(a, b)], -1)
    return quat.normalize(q)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def two_bone_ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (upper, lower) of a two-bone limb from ``root`` reaching ``target``, bending toward ``pole``."""
    d_vec = target - root
    d = np.clip(np.linalg.norm(d_vec, axis=-1, keepdims=True), abs(l1 - l2) + 1e-3, 0.995 * (l1 + l2))
    u = _unit(d_vec)
    cos_a = np.clip((l1**2 + d**2 - l2**2) / (2 * l1 * d), -1.0, 1.0)
    v = _unit(pole - np.sum(pole * u, -1, keepdims=True) * u)
    elbow = root + l1 * (cos_a * u + np.sqrt(1.0 - cos_a**2) * v)
    reach = root + d * u
    return _unit(elbow - root), _unit(reach - elbow)


def _aim(parent_world: np.ndarray, bone: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(local, world) rotation of a joint whose child bone (rest vector ``bone``) points along ``direction``."""
    n = len(direction)
    current = quat.rotate(parent_world, np.broadcast_to(_unit(bone), (n, 3)))
    world = quat.multiply(_swing(current, direction), parent_world)
    return quat.multiply(quat.inverse(parent_world), world), world


def _smooth_noise(rng: np.random.Generator, times: np.ndarray, hz: float, count: int = 3) -> np.ndarray:
    """Sum of a few sines with random phases: slow, smooth, roughly unit amplitude."""
    freqs = hz * np.array([1.0, 1.73, 0.61])[:count] * rng.uniform(0.85, 1.15, count)
    phases = rng.uniform(0, 2 * np.pi, count)
    return np.sum(np.sin(2 * np.pi * freqs[:, None] * times[None] + phases[:, None]), 0) / np.sqrt(count / 2)


def _nod_curve(times: np.ndarray, accents: np.ndarray, strengths: np.ndarray) -> np.ndarray:
    """Head dips: down in 0.15 s around the accent, back up in 0.35 s."""
    out = np.zeros_like(times)
    for t0, a in zip(accents, strengths):
        u = times - t0
        out += a * (_min_jerk(np.clip((u + 0.05) / 0.15, 0, 1)) - _min_jerk(np.clip((u - 0.1) / 0.35, 0, 1)))
    return np.clip(out, 0.0, 1.5)


def _shift_keys(rng: np.random.Generator, duration: float, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Weight shifts: the hips move over one foot and stay there for a few seconds."""
    times, values, t, side = [0.0], [0.0], 0.0, float(rng.choice([-1.0, 1.0]))
    while t < duration:
        t += float(rng.uniform(1.5, 5.0))
        move = float(rng.uniform(0.6, 1.2))
        side = -side if rng.random() < 0.8 else side
        times += [t, t + move]
        values += [values[-1], side * size * float(rng.uniform(1.5, 4.5))]
        t += move
    return np.array(times), np.array(values)[:, None]


def synthesize_motion(
    skeleton: Skeleton, prosody: Prosody, style: Style, strokes: list[Stroke],
    duration: float, fps: float, rng: np.random.Generator,
) -> Motion:
    """Full-body motion for a clip of ``duration`` seconds at ``fps``."""
    n = int(np.floor(duration * fps)) + 1
    t = np.arange(n) / fps
    J = skeleton.num_joints
    idx = {name: i for i, name in enumerate(skeleton.names)}
    rest = rest_positions(skeleton)
    local = quat.identity((n, J))
    x_axis, y_axis, z_axis = np.eye(3)

    def axis_angle(axis, angle):
        return quat.from_axis_angle(np.asarray(axis)[None] * np.asarray(angle)[:, None])

    speaking = ndimage.gaussian_filter1d(prosody.speech_at(t).astype(np.float64), 0.4 * fps)
    emphasis = np.zeros(n)
    for s in strokes:
        emphasis[min(n - 1, int(round(s.time * fps)))] += s.amplitude
    emphasis = np.clip(ndimage.gaussian_filter1d(emphasis, 0.35 * fps) * 2.0, 0.0, 1.0)

    hands = {}
    keys = hand_keys(strokes, style, prosody, rng, duration)
    for side in SIDES:
        hands[side] = minimum_jerk(keys[side][0], keys[side][1], t)
        drift = np.stack([_smooth_noise(rng, t, 0.7) for _ in range(3)], -1) * np.array([3.5, 4.0, 4.0])
        active = (np.clip((hands[side][:, 1] + 30.0) / 15.0, 0.3, 1.0) * (0.25 + 0.75 * speaking))[:, None]
        hands[side][:, :3] += drift * active

    # hips: weight shifts and sway, the pelvis tilting over the standing leg, a little twist
    shift_t, shift_v = _shift_keys(rng, duration, style.sway)
    hip_x = minimum_jerk(shift_t, shift_v, t)[:, 0] + 1.9 * style.sway * _smooth_noise(rng, t, style.sway_hz)
    hip_z = 1.9 * style.sway * _smooth_noise(rng, t, style.sway_hz * 0.8) + 1.5 * emphasis * style.lean / np.radians(4)
    hip_y = -1.8 - 0.8 * np.abs(_smooth_noise(rng, t, 0.5))
    root = rest[0] + np.stack([hip_x, hip_y, hip_z], -1)
    hand_lateral = (hands["Left"][:, 0] * (hands["Left"][:, 1] > -30) - hands["Right"][:, 0] * (hands["Right"][:, 1] > -30))
    twist = style.lean * np.clip(hand_lateral / 30.0, -1.0, 1.0)
    hips_rot = quat.multiply(axis_angle(y_axis, 0.4 * twist + np.radians(2.0) * _smooth_noise(rng, t, 0.12)),
                             axis_angle(z_axis, np.radians(0.6) * hip_x))
    local[:, 0] = hips_rot

    # torso: counter-lean over the hips, lean in on emphasis, twist toward the gesturing hand, breathing
    breath = np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi)) * np.radians(1.2)
    lean_fwd = style.lean * (0.8 * emphasis + 0.3 * speaking) + np.radians(4.5) * _smooth_noise(rng, t, 0.45) * (0.4 + 0.6 * speaking)
    roll = -np.radians(0.9) * hip_x + np.radians(3.0) * _smooth_noise(rng, t, 0.4)
    spine = ["Spine", "Spine1", "Spine2", "Spine3"]
    for k, name in enumerate(spine):
        rot = quat.multiply(axis_angle(y_axis, 0.6 * twist / 4), axis_angle(z_axis, roll / 4))
        rot = quat.multiply(rot, axis_angle(x_axis, lean_fwd / 4 + (breath / 2 if k >= 2 else 0)))
        local[:, idx[name]] = rot
    chest = hips_rot
    for name in spine:
        chest = quat.multiply(chest, local[:, idx[name]])

    # head: nods on pitch accents, tilts on some, gaze turns toward the audience, against the torso twist
    nods = _nod_curve(t, prosody.accents, np.clip(prosody.accent_strength / 4.0, 0.3, 1.0)) * style.nod
    tilt_sign = rng.choice([-1.0, 1.0], size=len(prosody.accents))
    tilts = np.zeros(n)
    for t0, sgn in zip(prosody.accents, tilt_sign):
        tilts += sgn * np.exp(-0.5 * ((t - t0 - 0.15) / 0.25) ** 2)
    gaze_t, gaze_v = [0.0], [0.0]
    while gaze_t[-1] < duration:
        gaze_t += [gaze_t[-1] + float(rng.uniform(1.0, 4.0)), 0.0]
        gaze_t[-1] = gaze_t[-2] + float(rng.uniform(0.35, 0.7))
        gaze_v += [gaze_v[-1], float(rng.normal(0.0, 1.0)) * style.gaze]
    look = minimum_jerk(np.array(gaze_t), np.array(gaze_v)[:, None], t)[:, 0] * (0.5 + 0.5 * speaking)
    head_yaw = look - 0.8 * twist
    head_roll = np.radians(3.0) * np.clip(tilts, -1.5, 1.5) - 0.5 * roll
    head_pitch = nods - 0.5 * lean_fwd + np.radians(2.5) * _smooth_noise(rng, t, 0.5)
    local[:, idx["Neck"]] = quat.multiply(axis_angle(y_axis, 0.3 * head_yaw), axis_angle(x_axis, 0.3 * head_pitch))
    local[:, idx["Head"]] = quat.multiply(quat.multiply(axis_angle(y_axis, 0.7 * head_yaw), axis_angle(z_axis, head_roll)),
                                          axis_angle(x_axis, 0.7 * head_pitch))

    # arms: two-bone IK to the hand targets in the chest frame
    chest_pos = rest[idx["Spine3"]]
    for side in SIDES:
        out = -1.0 if side == "Right" else 1.0
        pose = hands[side]
        lateral, height, forward, flex, twist_f, curl, point, elbow_out = pose.T
        shoulder, arm, fore, hand = (idx[f"{side}{p}"] for p in ("Shoulder", "Arm", "ForeArm", "Hand"))
        raise_ = np.clip((height + 10.0) / 30.0, 0.0, 1.0)
        shrug = axis_angle(z_axis, -out * (breath * 0.4 + np.radians(4.0) * (0.5 * raise_ + emphasis * raise_)))
        local[:, shoulder] = shrug
        w_shoulder = quat.multiply(chest, shrug)
        arm_pos = rest[shoulder] - chest_pos + quat.rotate(shrug, np.broadcast_to(rest[arm] - rest[shoulder], (n, 3)))
        target = np.stack([out * lateral, height, forward], -1)
        pole = np.stack([out * (0.6 + 1.2 * elbow_out), -1.0 + 0.7 * elbow_out, np.full(n, -0.1)], -1)
        l1 = np.linalg.norm(rest[fore] - rest[arm])
        l2 = np.linalg.norm(rest[hand] - rest[fore])
        dir_u, dir_f = two_bone_ik(arm_pos, target, l1, l2, pole)
        local[:, arm], w_arm = _aim(w_shoulder, rest[fore] - rest[arm], quat.rotate(chest, dir_u))
        local[:, fore], w_fore = _aim(w_arm, rest[hand] - rest[fore], quat.rotate(chest, dir_f))
        along = quat.rotate(w_fore, np.broadcast_to(_unit(rest[hand] - rest[fore]), (n, 3)))
        lateral_axis = quat.rotate(chest, np.broadcast_to(x_axis, (n, 3)))
        w_hand = quat.multiply(quat.from_axis_angle(along * (out * twist_f)[:, None]), w_fore)
        w_hand = quat.multiply(quat.from_axis_angle(lateral_axis * flex[:, None]), w_hand)
        local[:, hand] = quat.multiply(quat.inverse(w_fore), w_hand)

        # fingers: the shape of the stroke (open palm, pointing index, relaxed curl)
        curl = np.clip(curl + 0.06 * _smooth_noise(rng, t, 0.3), 0.0, 1.1)
        for f_i, finger in enumerate(_FINGERS):
            if finger == "Index":
                amount = curl * (1.0 - point)
            elif finger == "Thumb":
                amount = 0.45 * curl + 0.3 * point
            else:
                amount = (curl + point * (0.95 - curl)) * (0.8 + 0.1 * f_i)
            for k in (1, 2, 3):
                j = idx[f"{side}Hand{finger}{k}"]
                child = idx[f"{side}Hand{finger}{k + 1}"]
                bone = rest[child] - rest[j]
                axis = np.cross(bone / np.linalg.norm(bone), -y_axis)
                axis /= np.linalg.norm(axis)
                local[:, j] = axis_angle(axis, amount * np.radians((50.0, 65.0, 45.0)[k - 1]))

    # legs: feet planted where they stand at rest, knees forward (two-bone IK from the moving hips)
    for side in SIDES:
        up, leg, foot = (idx[f"{side}{p}"] for p in ("UpLeg", "Leg", "Foot"))
        hip_pos = root + quat.rotate(hips_rot, np.broadcast_to(rest[up] - rest[0], (n, 3)))
        target = np.broadcast_to(rest[foot], (n, 3))
        l1 = np.linalg.norm(rest[leg] - rest[up])
        l2 = np.linalg.norm(rest[foot] - rest[leg])
        dir_u, dir_l = two_bone_ik(hip_pos, target, l1, l2, np.broadcast_to(z_axis, (n, 3)))
        local[:, up], w_up = _aim(hips_rot, rest[leg] - rest[up], dir_u)
        local[:, leg], w_leg = _aim(w_up, rest[foot] - rest[leg], dir_l)
        local[:, foot] = quat.inverse(w_leg)  # the foot stays flat on the floor

    return Motion(fps, skeleton, quat.make_continuous(quat.normalize(local)), root)
