"""Run under ``accelerate launch`` by test_train_distributed: train from a config, then each process
writes its own copy of the weights (``rank<N>.safetensors``) and how many processes it saw."""

import json
import sys
from pathlib import Path

from backend.checkpoint import save_tensors
from backend.training.config import load_config
from backend.training.loop import Trainer

config, out = sys.argv[1], Path(sys.argv[2])
trainer = Trainer(load_config(config, {}), progress=False)
trainer.train()
acc = trainer.accelerator
save_tensors(out / f"rank{acc.process_index}.safetensors", acc.unwrap_model(trainer.model).state_dict())
(out / f"rank{acc.process_index}.json").write_text(json.dumps({"processes": acc.num_processes, "step": trainer.step}))
acc.end_training()
