"""Shared helpers for the benchmark scripts: data subsets, machine facts, timing."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import torch

SHARED = Path(os.environ.get("GNNNAS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
OUT = Path(__file__).resolve().parent / "out"


def gowalla_subset(n_users: int = 6000) -> Path:
    """LightGCN-format folder with Gowalla's first ``n_users`` users, items renumbered densely.

    Item ids are renumbered in order of first appearance over the subset's
    train.txt then test.txt lines, so the folder is a self-contained dataset.
    """
    src = SHARED / "datasets" / "gowalla"
    dst = OUT / f"gowalla-{n_users}"
    if (dst / "test.txt").exists():
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    for name in ("train.txt", "test.txt"):
        lines = []
        with open(src / name) as f:
            for line in f:
                parts = line.split()
                if not parts or int(parts[0]) >= n_users:
                    continue
                items = [mapping.setdefault(i, str(len(mapping))) for i in parts[1:]]
                lines.append(" ".join([parts[0], *items]))
        tmp = dst / f".{name}.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(dst / name)
    return dst


def data_source(name: str) -> str:
    """A benchmark's dataset name as ``--data`` takes it: ``gowalla-N`` is :func:`gowalla_subset`'s folder."""
    if name.startswith("gowalla-"):
        return str(gowalla_subset(int(name.split("-", 1)[1])))
    return name


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    desc = f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, torch {torch.__version__} " \
           f"({torch.get_num_threads()} threads)"
    if torch.cuda.is_available():
        desc += f", GPU {torch.cuda.get_device_name(0)}"
    return desc


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return "unknown"


def median_ms(fn, repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
