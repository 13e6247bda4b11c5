"""What a notebook or benchmark ran on: library versions, the machine, the data source; printed at the top."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from helpers import config

# The libraries whose versions change the numbers a notebook or benchmark prints.
LIBRARIES = ("torch", "transformers", "datasets", "tokenizers", "scikit-learn", "numpy")


def versions() -> dict[str, str]:
    """Python and the installed version of each library in LIBRARIES ('not installed' when absent)."""

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), **{name: version(name) for name in LIBRARIES}}


def machine_description() -> str:
    """One line naming the processor or GPU, for benchmark tables."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def git_commit() -> str:
    """The commit the course code comes from ('+dirty' with uncommitted changes), or 'unknown' outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], cwd=here,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def report(seed: int | None = 42) -> dict[str, str]:
    """Seed everything, then print and return versions, device, precision, profile and data source."""
    from helpers import data, hub, training

    if seed is not None:
        config.seed_everything(seed)
    profile, device = config.get_profile(), config.get_device()
    info = {
        **{k: v for k, v in versions().items()
           if k in ("python", "torch", "transformers", "datasets", "tokenizers")},
        "device": f"{device} ({machine_description()})",
        "precision": f"{training.choose_precision(device)} (what training chooses here: fp16 or bf16 "
                     "autocast on a GPU, by its generation)",
        "profile": f"{profile.name}: {profile.description}",
        "hugging face hub": "reachable" if hub.hub_reachable() else "unreachable (offline fallbacks in use)",
        "imdb source": data.describe_source(),
        "seed": str(seed),
    }
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:>{width}} : {value}")
    return info
