"""`accelerate launch` of training on 2 CPU processes: both end on the same weights, one checkpoint is written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from backend.corpus.takes import make_corpus, plan_takes
from backend.data.prepare import prepare
from backend.model.config import FrontendConfig
from backend.pipeline import GesturePipeline
from backend.training.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("accelerate_train_probe.py")


def test_two_processes_train_to_identical_weights(tmp_path):
    make_corpus(tmp_path / "corpus", plan_takes(seed=0, hours=0, take_seconds=(4.0, 5.0), fps=20.0, takes=3), progress=False)
    prepare(tmp_path / "corpus", tmp_path / "cache", fps=20.0, frontend=FrontendConfig(kind="mel", n_mels=32),
            val_fraction=0.34, frontend_chunk_seconds=5.0, progress=False)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({
        "model": {"preset": "tiny"},
        "data": {"cache": str(tmp_path / "cache"), "train_window_seconds": 1.0, "hop_seconds": 0.5},
        "train": {"steps": 4, "batch_size": 2, "lr": 5e-3, "warmup_steps": 1, "log_every": 1, "val_every": 2,
                  "val_batches": 1, "checkpoint_every": 4, "threads": 1, "out": str(tmp_path / "run")},
    }))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           str(PROBE), str(config), str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        assert json.loads((tmp_path / f"rank{rank}.json").read_text()) == {"processes": 2, "step": 4}
    first, second = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0, msg=name)
    assert [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.csv")] == [1, 2, 3, 4]  # the main process logged
    assert GesturePipeline.from_pretrained(tmp_path / "run" / "final").model.config.hidden == 64  # and wrote one checkpoint
