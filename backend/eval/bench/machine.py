"""What a measurement ran on: CPU, cores, threads, software versions and the machine's load.

Why recorded per section: on a shared machine the load changes within minutes, and a figure
means little without the load it was measured under.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def machine_info(threads: int) -> dict:
    """The machine and software now, with the load average at the start of a section."""
    import torch

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cpu_vector_extensions": sorted(f for f in flags if f.startswith(("avx", "amx"))),
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
