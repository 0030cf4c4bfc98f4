"""Datasheet peaks of the accelerators the benchmarks ran on, by device kind.

Peaks are the vendor's published numbers, not measurements: a benchmark
divides what it measured by them to say how close to the hardware it came.
Tensor-core numbers here are DENSE (no structured sparsity); NVIDIA's
headline TF32/BF16 figures assume 2:4 sparsity and are twice these.

``datasheet(jax.devices()[0].device_kind)`` returns the entry, or None for a
device with no entry (CPUs, other GPUs): callers then report None rather
than a guess.
"""

from __future__ import annotations

# NVIDIA H100 SXM5 80GB. Source: NVIDIA H100 Tensor Core GPU datasheet
# (https://www.nvidia.com/en-us/data-center/h100/, "H100 SXM" column):
# GPU memory bandwidth 3.35 TB/s (HBM3); FP32 67 teraFLOPS; TF32 Tensor Core
# 989 teraFLOPS and BF16 Tensor Core 1,979 teraFLOPS, both footnoted "with
# sparsity", so dense = half: TF32 494.7e12 and BF16 989.5e12 (the dense
# TF32 figure as in NVIDIA's H100 architecture whitepaper).
_H100_SXM = {
    "name": "NVIDIA H100 SXM5 80GB",
    "hbm_bytes_per_s": 3.35e12,
    "fp32_flops_per_s": 67e12,
    "tf32_flops_per_s": 494.7e12,     # dense (989e12 with 2:4 sparsity)
    "bf16_flops_per_s": 989.5e12,     # dense (1979e12 with 2:4 sparsity)
    "source": "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column "
              "(https://www.nvidia.com/en-us/data-center/h100/); tensor-core "
              "numbers dense (datasheet's sparsity figures / 2)",
}

# NVIDIA H200 SXM 141GB. Source: NVIDIA H200 Tensor Core GPU datasheet
# (https://www.nvidia.com/en-us/data-center/h200/, "H200 SXM" column):
# GPU memory 141 GB HBM3e at 4.8 TB/s; FP32 67 teraFLOPS; TF32 Tensor Core
# 989 teraFLOPS and BF16 Tensor Core 1,979 teraFLOPS "with sparsity", so
# dense TF32 494.7e12 and BF16 989.5e12 (the same compute as the H100 SXM).
_H200_SXM = {
    **_H100_SXM,                      # the same compute figures
    "name": "NVIDIA H200 SXM 141GB",
    "hbm_bytes_per_s": 4.8e12,
    "source": "NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column "
              "(https://www.nvidia.com/en-us/data-center/h200/); tensor-core "
              "numbers dense (datasheet's sparsity figures / 2)",
}

# Other variants have other peaks (H100 PCIe: 2.0 TB/s HBM2e, 51 TFLOP/s
# FP32; H100 NVL and H200 NVL: lower clocks) and get no entry.
_OTHER_VARIANTS = ("PCIE", "NVL")


def datasheet(device_kind: str) -> dict | None:
  """Datasheet peaks for a ``jax.Device.device_kind`` string, or None.

  Matches "NVIDIA H100 80GB HBM3" (the SXM5 part's kind string) or any H100
  kind naming SXM, and "NVIDIA H200" (the SXM part); PCIe and NVL variants
  and everything else (e.g. "cpu") give None. Returns a new dict with keys
  ``name``, ``hbm_bytes_per_s``, ``fp32_flops_per_s``, ``tf32_flops_per_s``
  (dense), ``bf16_flops_per_s`` (dense) and ``source``.
  """
  kind = " ".join(str(device_kind).upper().split())
  if any(word in kind for word in _OTHER_VARIANTS):
    return None
  if "H200" in kind:
    return dict(_H200_SXM)
  if "H100" in kind and ("80GB HBM3" in kind or "SXM" in kind):
    return dict(_H100_SXM)
  return None
