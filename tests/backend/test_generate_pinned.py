"""`dimgesture generate` on the bundled demo checkpoint gives exactly what it gave before the config split.

The references were produced by the code of commit 42d8b7a (before the scheduler, the denoising loop and
the configs were split apart) on the first 3 s of the bundled demo speech. A refactor of the generation
path must not change one bit of the demo's output; if a deliberate change does, regenerate them and say
why in the commit.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.cli import main

ROOT = Path(__file__).resolve().parents[2]

CASES = {
    # the checkpoint's defaults: DPM-Solver++ 20 steps, one pass, smoothing 0.25 s
    "defaults": ([], "9340cfb776e8f8f3c004b5b3897c10bee3ac7c4be64bd9bf31ae233c50814a31",
                 [0.0, 92.9946194240025, 0.0, -4.422486539544756, 91.99832371303012, -0.45628244304016163,
                  -7.523844386081496, 91.8559653145926, 2.9927010592647525]),
    # overlapping passes cross-faded, guidance, the stochastic DDPM sampler, another seed (and the old option name)
    "passes": (["--window-seconds", "1.2", "--guidance", "2.0", "--steps", "5", "--sampler", "ddpm", "--seed", "7"],
               "33e9c9ae3b2954fcf3c97949d40036e9a480833747279da7d929841e22201592",
               [0.0, 92.91183515276227, 0.0, -0.6456598925011707, 92.58900146484373, -0.1956776777620799,
                1.8047439850499647, 92.25126015799384, 0.2166018385092134]),
}


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    """The first 3 s of the demo speech, as 16-bit PCM like the original (so the samples are the same)."""
    data, rate = sf.read(ROOT / "assets" / "demo_speech.wav", dtype="int16")
    path = tmp_path_factory.mktemp("pinned") / "crop.wav"
    sf.write(path, data[: 3 * rate], rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_demo_generation_is_bit_identical_to_the_recorded_output(case, crop, tmp_path):
    options, digest, roots = CASES[case]
    out = tmp_path / "out.npz"
    assert main(["generate", str(crop), "-o", str(out), "--checkpoint", str(ROOT / "checkpoints" / "demo"),
                 "--device", "cpu", "--no-progress", *options]) == 0
    motion = np.load(out, allow_pickle=False)
    rotations, positions = motion["rotations"], motion["root_positions"]
    assert rotations.shape == (60, 75, 4) and float(motion["fps"]) == 20.0
    # first the values (a failure here means the output changed), then every bit
    np.testing.assert_allclose(positions[::20].reshape(-1), roots, rtol=0, atol=1e-6)
    sha = hashlib.sha256(np.ascontiguousarray(rotations).tobytes())
    sha.update(np.ascontiguousarray(positions).tobytes())
    assert sha.hexdigest() == digest
