"""`dimgesture generate` on the bundled demo checkpoint gives what it gave before the config split.

The references were recorded on the first 3 s of the bundled demo speech, first by the code of commit 42d8b7a
(before the scheduler, the denoising loop and the configs were split apart), again when the demo model was
retrained on corpus version 4 (2026-12-05). A refactor of the generation
path must not change the demo's output; if a deliberate change does, regenerate them and say why in the
commit. Compared within 1e-4, not bit for bit: the bits differ between CPUs (an AMD EPYC gave root
positions 3e-6 cm away from the Intel machine that recorded them: the BLAS kernels sum in another
order), while any change of the computation moves these values by far more.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.cli import main
from backend.motion.skeleton import default_skeleton

ROOT = Path(__file__).resolve().parents[2]

# Per case: options, root positions at frames 0/20/40 and the rotations at those frames of ARM_JOINTS.
ARM_JOINTS = ("Spine2", "Neck", "RightArm", "RightForeArm", "LeftForeArm", "RightHand")
CASES = {
    # the checkpoint's defaults: DPM-Solver++ 20 steps, one pass, smoothing 0.25 s
    "defaults": ([],
                 [0.0, 92.91435056413921, 0.0, -3.0197155888702096, 92.19897635323659, -1.4484085460276406, -3.7959719218152173, 91.82438681466238, 0.5610047842424016],
                 [0.999919, 0.007352, 0.00092, 0.010368, 0.999911, -0.006014, -0.011877, -7.1e-05, 0.858305, 0.000666, 0.289855, 0.423434, 0.67528, -0.000647, 0.734082, 0.071549, 0.758735, -0.004238, -0.640212, 0.120135, 0.935491, 0.352104, -0.006672, 0.028901, 0.999952, -0.009323, 0.000212, 0.002987, 0.999518, 0.020739, -0.023107, 0.000479, 0.895295, 0.001433, 0.426955, -0.127098, 0.976358, -0.005694, 0.147197, -0.158197, 0.954679, -0.008452, -0.192731, 0.226652, 0.988485, 0.105525, -0.05388, -0.09412, 0.999884, 0.000484, 0.00199, -0.015086, 0.999867, -0.009791, -0.013036, -0.000128, 0.924837, 0.010675, 0.357876, 0.128402, 0.541989, -0.00304, 0.696306, -0.470527, 0.837649, -0.013931, -0.498586, 0.222625, 0.898, 0.426291, 0.011653, -0.108331]),
    # overlapping passes cross-faded, guidance, the stochastic DDPM sampler, another seed (and the old option name)
    "passes": (["--window-seconds", "1.2", "--guidance", "2.0", "--steps", "5", "--sampler", "ddpm", "--seed", "7"],
               [0.0, 92.78361042567661, 0.0, -1.7545659605460193, 92.49426007952007, -0.9324534395482772, 2.1557526901566106, 92.23861541748045, -1.6576133396273807],
               [0.999976, 0.004715, -0.001975, -0.00472, 0.999932, -0.000453, 0.011691, 5e-06, 0.806814, -0.000334, 0.590558, 0.017071, 0.969258, 0.000452, 0.243083, -0.038078, 0.761766, -0.002223, -0.551597, -0.339777, 0.922553, 0.380787, -0.022833, -0.058099, 0.999991, 0.004325, -0.000498, 0.000173, 0.999969, 0.000472, 0.007864, -4e-06, 0.910048, 0.007101, 0.405966, 0.083389, 0.963687, -0.007822, 0.238799, -0.119254, 0.983858, -0.003677, -0.133974, 0.118578, 0.946007, 0.322682, -0.013967, -0.027409, 0.999997, 0.000811, -0.000137, -0.002194, 0.999997, -0.002153, 0.000717, 2e-06, 0.921736, -0.018912, 0.28383, 0.263602, 0.718753, -0.00823, 0.684652, -0.120735, 0.738138, -0.017792, -0.627733, 0.246551, 0.967509, 0.252471, -0.012495, 0.005282]),
}


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    """The first 3 s of the demo speech, as 16-bit PCM like the original (so the samples are the same)."""
    data, rate = sf.read(ROOT / "assets" / "demo_speech.wav", dtype="int16")
    path = tmp_path_factory.mktemp("pinned") / "crop.wav"
    sf.write(path, data[: 3 * rate], rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_demo_generation_matches_the_recorded_output(case, crop, tmp_path):
    options, roots, arm_rotations = CASES[case]
    out = tmp_path / "out.npz"
    assert main(["generate", str(crop), "-o", str(out), "--checkpoint", str(ROOT / "checkpoints" / "demo"),
                 "--device", "cpu", "--no-progress", *options]) == 0
    motion = np.load(out, allow_pickle=False)
    rotations, positions = motion["rotations"], motion["root_positions"]
    assert rotations.shape == (60, 75, 4) and float(motion["fps"]) == 20.0
    np.testing.assert_allclose(positions[::20].reshape(-1), roots, rtol=0, atol=1e-4)
    joints = [default_skeleton().names.index(name) for name in ARM_JOINTS]
    np.testing.assert_allclose(rotations[::20][:, joints].reshape(-1), arm_rotations, rtol=0, atol=1e-4)
