"""Choosing the compute device and the per-device speed settings."""

from __future__ import annotations

import contextlib

import torch

from tinyvision.errors import TinyVisionError


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TinyVisionError("--device cuda: no CUDA GPU is available here")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TinyVisionError("--device mps: Apple's MPS backend is not available here")
    if name not in ("cpu", "cuda", "mps"):
        raise TinyVisionError(f"unknown device {name!r}; choose auto, cpu, cuda or mps")
    return torch.device(name)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 mixed precision on CUDA (no loss scaling needed); full fp32 elsewhere.

    On CPU, bf16 autocast is slower than fp32 for these small convolutions on
    machines without AMX, so it stays off there.
    """
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
