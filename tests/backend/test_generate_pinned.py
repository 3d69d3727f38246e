"""`dimgesture generate` on the bundled demo checkpoint gives what it gave before the config split.

The references were recorded on the first 3 s of the bundled demo speech, first by the code of commit 42d8b7a
(before the scheduler, the denoising loop and the configs were split apart), again when the demo model was
retrained on corpus version 4 (2026-12-05), and on corpus
version 5 with the speaker probe (2026-12-06). A refactor of the generation
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
                 [0.0, 92.91833964756553, 0.0, -2.4446400418696714, 92.04198608398437, -1.409722620049243, -3.8480546417039174, 91.72199685232978, 1.3820960582878883],
                 [0.999967, 0.002137, 0.000341, 0.00784, 0.999989, -0.004248, 0.001993, 8e-06, 0.901727, -0.002167, 0.069458, 0.426684, 0.519998, 0.02081, 0.776834, 0.354538, 0.603467, 0.015327, -0.566659, -0.560794, 0.953356, 0.301396, 0.012414, 0.010847, 0.999967, -0.00806, 0.000113, 0.001064, 0.999671, 0.012756, -0.022271, 0.000284, 0.90623, -0.001643, 0.388922, 0.165781, 0.878508, -0.014318, 0.432379, -0.20265, 0.855591, -0.002616, -0.459805, 0.237772, 0.973341, 0.218704, -0.0078, -0.068661, 0.999836, 0.000702, 4.8e-05, -0.01807, 0.999946, -0.006839, -0.007794, -5.3e-05, 0.91836, 0.007952, 0.32873, 0.220199, 0.775615, 0.001674, 0.593183, -0.215761, 0.734386, 0.003519, -0.627787, 0.25797, 0.957996, 0.27743, 0.028365, -0.066868]),
    # overlapping passes cross-faded, guidance, the stochastic DDPM sampler, another seed (and the old option name)
    "passes": (["--window-seconds", "1.2", "--guidance", "2.0", "--steps", "5", "--sampler", "ddpm", "--seed", "7"],
               [0.0, 92.87648533412387, 0.0, -2.9324877059364414, 92.48226122174944, -0.5597505062602711, -1.5677258279774704, 92.08336748395647, -0.7297689674275101],
               [0.999979, -0.001501, -0.003289, -0.005341, 0.999997, -0.000846, 0.002455, 2e-06, 0.910435, -0.002491, 0.404916, 0.084529, 0.769342, -0.010097, 0.563395, -0.300994, 0.721239, 0.00258, -0.540639, -0.433031, 0.84984, 0.52621, 0.020216, 0.021624, 0.999984, 0.004909, 3.4e-05, 0.002975, 0.99999, 0.001013, -0.004264, 4e-06, 0.946114, -0.013347, 0.255299, 0.198778, 0.869773, -0.009004, 0.472088, -0.143338, 0.954372, -0.014261, -0.250513, 0.161909, 0.9675, 0.247733, -0.038689, -0.032796, 0.999997, -0.002266, -0.000589, -4e-06, 0.999999, 0.001262, 0.000456, -1e-06, 0.880769, -0.031474, 0.20989, 0.423323, 0.843825, 0.020066, 0.411965, 0.343282, 0.870598, 0.026453, -0.373845, -0.318745, 0.969616, 0.234268, -0.056448, -0.042151]),
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
