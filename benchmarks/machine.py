"""The machine a benchmark ran on: CPU, cores, memory, GPU, library versions and load.

Timings mean little without the load: on a shared 2-core machine another process's tests
can halve a figure, so the 1/5/15-minute load averages are recorded next to every result.
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def gpu() -> dict | None:
    import torch
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
            "count": torch.cuda.device_count(), "cuda": torch.version.cuda}


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """HEAD's short hash, with "+ uncommitted changes" when the working tree differs from it."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=here).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=30, cwd=here).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + (" + uncommitted changes" if dirty else "")) or None


def describe() -> dict:
    import torch
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(), "logical_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "memory_gib": memory_gib(), "gpu": gpu(), "load_avg_1_5_15": load(),
        "python": sys.version.split()[0], "platform": platform.platform(),
        "versions": {p: version(p) for p in ("torch", "sympy", "numpy", "scipy", "mpmath", "math-verify")},
        "commit": git_commit(),
    }


def summary(m: dict) -> str:
    """One line for a results header."""
    g = m["gpu"]
    gpu_text = f"{g['name']} ({g['memory_gib']} GiB)" if g else "no GPU"
    v = m["versions"]
    return (f"{m['cpu']}, {m['logical_cores']} logical cores (torch threads {m['torch_threads']}), "
            f"{m['memory_gib']} GiB, {gpu_text}; Python {m['python']}, torch {v['torch']}, sympy {v['sympy']}, "
            f"numpy {v['numpy']}; commit {m['commit']}")
