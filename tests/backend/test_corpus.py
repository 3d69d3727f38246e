"""The procedural corpus: files, determinism, and motion that follows the speech."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from scipy import ndimage

from backend.corpus import gestures, prosody, speech, takes
from backend.errors import DimGestureError
from backend.eval import corpus_style_effect
from backend.motion import quaternions as quat
from backend.motion.bvh import read_bvh
from backend.motion.skeleton import default_skeleton, forward_kinematics

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

SECONDS = 8.0
FPS = 30.0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    plans = takes.plan_takes(seed=3, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=3)
    takes.make_corpus(out, plans, workers=1, progress=False)
    return out, plans


def _load(out, name):
    wave, sr = sf.read(out / f"{name}.wav", dtype="float32")
    motion = read_bvh(out / f"{name}.bvh").to_motion()
    meta = json.loads((out / f"{name}.json").read_text())
    return wave, sr, motion, meta


def test_pairs_exist_with_matching_durations(tiny):
    out, plans = tiny
    assert sorted(p.name for p in out.glob("*.wav")) == ["take_00000.wav", "take_00001.wav", "take_00002.wav"]
    for plan in plans:
        wave, sr, motion, meta = _load(out, plan.name)
        assert sr == 16000
        assert len(wave) == round(SECONDS * sr)
        assert motion.fps == FPS
        assert motion.num_frames == int(SECONDS * FPS) + 1
        assert motion.skeleton.names == default_skeleton().names
        assert meta["duration"] == SECONDS and meta["sentences"], "every take speaks"
        assert np.abs(wave).max() > 0.1
    summary = json.loads((out / "corpus.json").read_text())
    assert summary["takes"] == [p.name for p in plans] and summary["seed"] == 3


def test_same_seed_same_bytes_other_seed_differs(tiny, tmp_path):
    out, plans = tiny
    takes.make_corpus(tmp_path / "again", plans[1:2], workers=1, progress=False)
    for ext in (".wav", ".bvh", ".json"):
        assert (tmp_path / "again" / f"take_00001{ext}").read_bytes() == (out / f"take_00001{ext}").read_bytes()
    other = takes.plan_takes(seed=4, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=1)
    takes.make_corpus(tmp_path / "other", other, progress=False)
    assert (tmp_path / "other" / "take_00000.wav").read_bytes() != (out / "take_00000.wav").read_bytes()


def _wrist_speeds(motion, relative_to_chest=False):
    pos, rot = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    if relative_to_chest:  # in the chest's frame: without the body's sway, weight shifts and lean
        chest = motion.skeleton.index("Spine3")
        pos = quat.rotate(quat.inverse(rot[:, chest, None]), pos - pos[:, chest, None])
    return {
        side: np.linalg.norm(np.gradient(pos[:, motion.skeleton.index(f"{side}Hand")], axis=0), axis=1) * motion.fps
        for side in ("Right", "Left")
    }


def test_hands_move_while_speaking_and_rest_in_silence(tiny):
    out, plans = tiny
    moving, resting = [], []
    for plan in plans:
        wave, sr, motion, _ = _load(out, plan.name)
        speaking = prosody.analyse(wave, sr).speech_at(np.arange(motion.num_frames) / motion.fps)
        far_from_speech = ~ndimage.binary_dilation(speaking, iterations=int(0.8 * motion.fps))
        for v in _wrist_speeds(motion, relative_to_chest=True).values():
            moving.append(v[speaking])
            resting.append(v[far_from_speech])
    moving, resting = np.concatenate(moving), np.concatenate(resting)
    assert len(resting) > FPS, "the takes contain pauses"
    assert moving.mean() > 4.0 * resting.mean()
    assert resting.mean() < 5.0  # cm/s relative to the chest: breathing and idle drift only


def test_strokes_land_on_stressed_onsets_at_peak_hand_speed(tiny):
    out, plans = tiny
    checked = 0
    for plan in plans:
        wave, sr, motion, meta = _load(out, plan.name)
        # strokes follow the clean speech's stressed onsets (the saved audio may be augmented)
        stressed = np.array(meta["stressed_onsets"])
        speeds = _wrist_speeds(motion)
        for stroke in meta["strokes"]:
            assert np.min(np.abs(stressed - stroke["time"])) <= prosody.HOP_SECONDS + 1e-6
            f = int(round(stroke["time"] * motion.fps))
            # a two-handed stroke peaks in at least one hand: the other may still be arriving,
            # faster, from a previous gesture's far end
            sides = ("Right", "Left") if stroke["hand"] == "both" else (stroke["hand"],)
            peaks = [abs(int(np.argmax(speeds[side][f - 4 : f + 5])) - 4) <= 1 for side in sides]
            assert any(peaks), f"hand speed peaks at the {stroke['hand']} stroke at {stroke['time']} s"
            checked += 1
    assert checked >= 3


def test_style_is_a_function_of_the_voice(tiny):
    out, plans = tiny
    swapped = 0
    for plan in plans:  # the habits are those of the style speaker's voice: the speaker's own, or in swapped takes another's
        meta = _load(out, plan.name)[3]
        assert gestures.style_for(speech.Voice(**meta["style_voice"])).to_dict() == meta["style"]
        own = meta["style_speaker"] == meta["speaker"]
        assert (meta["style_voice"] == meta["voice"]) == own
        swapped += not own
    assert swapped, "the default corpus has style-swapped takes"
    slow_low = gestures.style_for(speech.Voice("en-us", "", 130, 20))
    fast_high = gestures.style_for(speech.Voice("en-us", "", 210, 80))
    assert fast_high.min_interval < slow_low.min_interval and fast_high.amplitude > slow_low.amplitude


def test_speakers_take_turns_and_each_is_heard_in_several_takes(tiny):
    out, plans = tiny
    assert [_load(out, p.name)[3]["speaker"] for p in plans] == [0, 1, 2]
    plans = takes.plan_takes(seed=3, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=7, speakers=3)
    voices = [takes.speak_take(p)[1] for p in (plans[0], plans[3], plans[6], plans[1])]
    assert len({v.name for v in voices[:3]}) == 1 and voices[3].name != voices[0].name, "take i is speaker i mod 3"
    assert len({(v.rate, v.pitch) for v in voices[:3]}) > 1, "one speaker's rate and pitch vary a little between takes"
    assert all(abs(v.rate - voices[0].rate) <= 16 for v in voices[:3])
    habits = [gestures.style_for(v) for v in voices[:3]]
    assert len({(s.home, s.rests, s.kinds, s.dominant) for s in habits}) == 1, "the speaker's habits come with the voice"


def test_roster_is_distinct_voices_fixed_by_the_seed_and_refuses_too_many():
    engines = ("espeak-ng",)
    roster = takes.speaker_roster(0, 24, engines)
    assert len({v.name for v in roster}) == 24 and roster == takes.speaker_roster(0, 24, engines)
    assert roster != takes.speaker_roster(1, 24, engines)
    with pytest.raises(DimGestureError, match="--speakers 500: only 128 distinct voices"):
        takes.speaker_roster(0, 500, engines)
    with pytest.raises(DimGestureError, match="at least one speaker"):
        takes.plan_takes(seed=0, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=2, speakers=0)
    with pytest.raises(DimGestureError, match="--style-swap is a share"):
        takes.plan_takes(seed=0, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=2, style_swap=1.5)
    plans = takes.plan_takes(seed=0, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=200, speakers=4)
    swapped = [p for p in plans if p.style_speaker != p.speaker]
    assert 0.4 < len(swapped) / len(plans) < 0.6 and all(0 <= p.style_speaker < 4 for p in swapped)
    assert not any(p.style_speaker != p.speaker for p in takes.plan_takes(
        seed=0, hours=0, take_seconds=(SECONDS, SECONDS), fps=FPS, takes=50, speakers=4, style_swap=0.0))


def test_style_habits_are_fixed_by_the_voice_and_differ_between_voices():
    voice = speech.Voice("en-gb", "f3", 150, 40)
    style = gestures.style_for(voice)
    assert style == gestures.style_for(speech.Voice("en-gb", "f3", 150, 40))
    faster = gestures.style_for(speech.Voice("en-gb", "f3", 200, 40))
    assert (faster.home, faster.rests, faster.kinds, faster.palm) == (style.home, style.rests, style.kinds, style.palm)
    styles = [gestures.style_for(speech.Voice(v, variant, 170, 50)) for v in ("en-us", "en-gb", "en-029")
              for variant in ("", "m2", "f3")]
    assert len({s.home for s in styles}) == len(styles), "every voice has its own home in the gesture space"
    for s in styles:  # one home position and one or two favourite stroke kinds, not a flat mix
        assert max(s.rests) > 0.8 and sum(sorted(s.kinds)[-2:]) > 0.75
        assert 0.0 <= s.sector <= 2.0 and 0.85 <= s.dominance <= 0.97


def test_prominent_syllables_reach_further_out_higher_and_nearer_the_listener():
    style = gestures.style_for(speech.Voice("en-us", "", 170, 50))
    quiet = np.mean([gestures._locus(style, 0.0, np.random.default_rng(s)) for s in range(20)], axis=0)
    loud = np.mean([gestures._locus(style, 1.0, np.random.default_rng(s)) for s in range(20)], axis=0)
    assert np.all(loud > quiet + 5.0)


def test_speaker_style_moves_the_corpus_motion_more_than_the_seed(capsys):
    assert corpus_style_effect.main(["--tracks", "3", "--seconds", "6", "--seed", "0"]) == 0
    effect = json.loads(capsys.readouterr().out)
    assert effect["tracks"] == 3 and effect["pairs"] == 3
    assert effect["style_cm"] > effect["seed_cm"] > 0.0 and effect["ratio"] > 1.0


def test_minimum_jerk_peaks_mid_segment():
    t = np.linspace(0.0, 1.0, 1001)
    x = gestures.minimum_jerk(np.array([0.0, 1.0]), np.array([[0.0], [2.0]]), t)[:, 0]
    assert x[0] == 0.0 and x[-1] == pytest.approx(2.0)
    assert abs(t[np.argmax(np.gradient(x))] - 0.5) < 2e-3


def test_plan_covers_the_hours_and_checks_lengths():
    plans = takes.plan_takes(seed=0, hours=0.1, take_seconds=(20, 60), fps=30)
    total = sum(p.duration for p in plans)
    assert 360 <= total < 360 + 60 and all(20 <= p.duration <= 60 for p in plans)
    assert plans == takes.plan_takes(seed=0, hours=0.1, take_seconds=(20, 60), fps=30)
    with pytest.raises(DimGestureError, match="take length"):
        takes.plan_takes(seed=0, hours=1, take_seconds=(30, 20), fps=30)


def test_a_folder_of_another_corpus_version_is_refused_and_left_as_it_was(tiny, tmp_path):
    made, plans = tiny
    out = tmp_path / "old"
    shutil.copytree(made, out)
    meta = out / f"{plans[1].name}.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": takes.VERSION - 1}))
    (out / f"{plans[2].name}.wav").unlink()  # an unfinished take: the one that would be written
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(takes.CorpusVersionError, match=rf"{meta.name}.*version {takes.VERSION - 1}.*version {takes.VERSION}"):
        takes.make_corpus(out, plans, workers=1, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
