"""Choosing the torch device from a user-facing name."""

from __future__ import annotations

import torch

from gnnnas.errors import GnnnasError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cpu``/``cuda``/``cuda:N`` are taken as given."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GnnnasError(f"--device {name}: CUDA is not available on this machine; expected auto or cpu")
        return torch.device(name)
    raise GnnnasError(f"--device {name!r}: unknown device; expected auto, cpu, cuda or cuda:N")


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so wall-clock timings are honest on GPUs."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
