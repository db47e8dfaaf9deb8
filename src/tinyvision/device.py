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
        raise TinyVisionError("--device=cuda: no CUDA GPU is available here")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TinyVisionError("--device=mps: Apple's MPS backend is not available here")
    if name not in ("cpu", "cuda", "mps"):
        raise TinyVisionError(f"unknown device {name!r}; choose auto, cpu, cuda or mps")
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Inference's precision: fp32 on every device. A run trained on CUDA was calibrated and tested under
    bf16 autocast, while predict and serve answer in fp32 on the CPU (2 of 10,000 MNIST answers differed,
    by a CPU emulation): the figures a run reports are measured at the precision that answers users. (TF32,
    which training turns on for CUDA's matmuls, is left as it is: a process-wide setting, not one to flip
    per call from threads serving requests.)"""
    return contextlib.nullcontext()


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 in hardware (a CPU with AVX512-BF16 or AMX, a recent GPU).

    Elsewhere bf16 is emulated and slower than fp32, so `auto` keeps fp32 there.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)  # the checks are private: absent in some builds, then False
        return any(getattr(cpu, check, lambda: False)() for check in ("_is_avx512_bf16_supported",
                                                                       "_is_amx_tile_supported"))
    return False


def training_precision(device: torch.device, requested: str = "auto") -> str:
    """The precision of training steps: `fp32`, or `bf16` (autocast; weights, optimizer and the
    loss stay fp32). `auto` takes bf16 where the hardware has it: chosen on validation, where it
    matched fp32's accuracy in less time (docs/performance.md, table precision-choice)."""
    if requested not in PRECISIONS:
        raise TinyVisionError(f"unknown precision {requested!r}; choose {', '.join(PRECISIONS)}")
    if requested == "auto":
        return "bf16" if device.type in ("cpu", "cuda") and native_bf16(device) else "fp32"
    if requested == "bf16" and device.type not in ("cpu", "cuda"):
        raise TinyVisionError(f"--precision=bf16 needs a CPU or CUDA device, not {device.type}")
    return requested


def training_autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
