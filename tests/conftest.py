"""Suite-wide settings, loaded before any test module imports torch.

One intra-op thread per process: the tests use tiny tensors, where extra threads only add
overhead, and the backend processes some tests start run beside the test process itself.
Subprocesses inherit the setting through the environment.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
