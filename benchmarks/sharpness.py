"""Curvature estimators: time to a 1% Hessian trace, HVP cost, PyHessian.

Model: MLP 784-1024-1024-10 (ReLU), mean softmax cross-entropy, synthetic
inputs and labels, one device, float32 storage; matmuls at full float32
("highest") unless a row says tf32 or bfloat16. For every batch size B in
{256, 1024, 4096}, measured side by side in one process:

* ``grad``: one jitted gradient (the unit of cost).
* ``hvp`` (one shot): forward-over-reverse ``theory.hvp``. Each program's
  FLOP floor is its matmul FLOPs (counted from the layer sizes,
  ``_mlp_matmul_flops``) over the float32 matmul rate measured here (an
  8192^3 product at "highest"), with the fraction of the datasheet's FP32
  peak beside it.
* ``hvp_repeated``: the matvec of ``theory.flat_hvp`` (linearized once, the
  residuals passed as arguments), applied to a new vector.
* Trace estimators, each returning an estimate, a 95% interval and its
  declared precision: ``exact_trace`` (tr H = tr GGN for a piecewise-linear
  net with cross-entropy: one forward pass and C = 10 backpropagated
  cotangents, no variance), ``hutchinson_trace`` with HVP probes in float32,
  tf32 and bfloat16, and ``ggn_hutchinson_trace`` (one JVP per probe) in
  float32 and bfloat16, 100 Rademacher probes each. The reference trace is
  ``exact_trace`` in float64.
* "Time to a 1% trace": for the exact trace, one call (its float32 error is
  reported); for a Monte Carlo estimator, the probes n_1% its 100-probe
  sample variance says are needed for a 95% half-width of 1% of the
  reference trace, times its measured per-probe cost (projected, not run at
  n_1%; a batched run's cost is linear in the probes). An estimator whose
  estimate is biased by more than 1% (a precision effect) is marked.
* PyHessian (PyTorch, the tool most users pick): ``hessian(...).trace(
  maxIter=100, tol=0)`` (100 sequential HVPs) and ``eigenvalues(maxIter=20,
  tol=0)``, same model, weights and data, TF32 off. Its time to a 1% trace
  is projected the same way from its own samples.

Estimators are timed through their public functions (validation, the
samples' transfer to the host and the interval included: what a user
pays); the exact trace's jitted core is timed beside it.
PyHessian is not a dependency and is not in this repository: point
``PYHESSIAN_PATH`` at a folder holding its ``pyhessian`` package.
Usage: ``python sharpness.py --out results/sharpness.json`` (from
``benchmarks/``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
import time
from pathlib import Path

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import scipy.stats
from _hardware import datasheet
from _timing import median_seconds

from boundlab import theory
from boundlab.provenance import provenance

SIZES = (784, 1024, 1024, 10)
PROBES = 100
ALPHA = 0.05


def _block(tree):
  return jax.tree.map(lambda a: a.block_until_ready()
                      if hasattr(a, "block_until_ready") else a, tree)


def _init(rng):
  params = []
  for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
    w = rng.standard_normal((fan_in, fan_out)).astype(np.float32)
    params.append({"w": w * np.sqrt(2.0 / fan_in).astype(np.float32),
                   "b": np.zeros(fan_out, np.float32)})
  return params


def _loss(params, x, y):
  return theory.mlp_loss(params, x, y, activation="relu",
                         loss="softmax_cross_entropy")


def _predict(params, x):
  return theory.mlp_outputs(params, x, activation="relu")


def _flops(jitted, *args):
  """XLA's FLOP count of the compiled program (None if not reported)."""
  analysis = jitted.lower(*args).compile().cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else {}
  flops = (analysis or {}).get("flops")
  return float(flops) if flops else None


def _mlp_matmul_flops(batch: int) -> dict:
  """Matmul FLOPs of the model's gradient and HVPs (elementwise work
  ignored), counted from the layer sizes s_l = fan_in * fan_out:

  * gradient: forward (every layer), weight gradients (every layer), input
    gradients (every layer but the first): 2B(2 sum s_l + sum_{l>1} s_l);
  * repeated HVP (the linearised gradient's tangent pass): in every layer
    but the first, the forward tangent dh W + h dW, the weight-gradient
    tangent dh^T delta + h^T d(delta) and the input-gradient tangent
    d(delta) W^T + delta dW^T (six products); in the first, whose input has
    no tangent and needs no gradient, x dW and x^T d(delta) (two):
    2B(2 s_1 + 6 sum_{l>1} s_l);
  * one-shot HVP (forward over reverse): the gradient plus that tangent pass.

  XLA's own count (``cost_analysis``) is recorded beside it but not used: on
  the GPU it reported 1-26% of these products.
  """
  s = [a * b for a, b in zip(SIZES[:-1], SIZES[1:])]
  grad = 2 * batch * (2 * sum(s) + sum(s[1:]))
  tangent = 2 * batch * (2 * s[0] + 6 * sum(s[1:]))
  return {"grad": grad, "hvp_repeated": tangent, "hvp": grad + tangent}


def _matmul_rate(precision: str, n: int = 8192) -> float:
  """FLOP/s of a large square float32 product at this precision."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  f = jax.jit(lambda a: jnp.matmul(a, a, precision=precision))
  return 2 * n ** 3 / median_seconds(lambda: f(a).block_until_ready(), 5)


def _probes_for_1pct(samples, reference) -> int:
  """Probes for a Student-t 95% half-width of 1% of |reference|, from the
  sample standard deviation of ``samples`` (fixed point in n)."""
  sd = float(np.std(samples, ddof=1))
  target = 0.01 * abs(reference)
  n = 2
  for _ in range(50):
    t = scipy.stats.t.ppf(1 - ALPHA / 2, n - 1)
    new = max(2, math.ceil((t * sd / target) ** 2))
    if new == n:
      break
    n = new
  return n


def _exact_row(value, api_s, core_s, reference):
  """The exact trace's row: no variance, so its time to 1% is one call."""
  relative_error = abs(value - reference) / reference
  return {"estimator": "exact_trace", "precision": "float32",
          "estimate": value, "ci": [value, value], "api_s": api_s,
          "core_s": core_s, "relative_error": relative_error,
          "probes_for_1pct": None, "time_to_1pct_s": api_s,
          "within_1pct": relative_error <= 0.01}


def _estimator_row(name, estimate, api_s, core_s, reference):
  """A Monte Carlo estimator's row (a ``theory.TraceEstimate``): estimate,
  interval, and its projected time to a 1% trace."""
  mean = float(estimate.mean)
  n = _probes_for_1pct(estimate.samples, reference)
  per_probe_s = core_s / estimate.num_probes
  return {"estimator": name, "precision": estimate.precision,
          "estimate": mean, "ci": [float(c) for c in estimate.ci],
          "api_s": api_s, "core_s": core_s,
          "relative_error": abs(mean - reference) / reference,
          "probes": estimate.num_probes, "probes_for_1pct": n,
          "per_probe_s": per_probe_s, "time_to_1pct_s": per_probe_s * n,
          # Unbiased up to precision: the interval must cover the
          # reference (a 5% miss rate for a correct estimator).
          "ci_covers_reference": estimate.ci[0] <= reference
          <= estimate.ci[1]}


def _jax_rows(params_np, x_np, y_np):
  params = jax.tree.map(jnp.asarray, params_np)
  x, y = jnp.asarray(x_np), jnp.asarray(y_np)
  out = {}
  grad = jax.jit(jax.grad(_loss))
  out["grad_s"] = median_seconds(lambda: _block(grad(params, x, y)), 20)
  out["grad_flops_xla"] = _flops(grad, params, x, y)

  hvp = jax.jit(lambda p, v, x, y: theory.hvp(_loss, p, v, x, y))
  v = jax.tree.map(jnp.ones_like, params)
  out["hvp_s"] = median_seconds(lambda: _block(hvp(params, v, x, y)), 20)
  out["hvp_flops_xla"] = _flops(hvp, params, v, x, y)

  matvec, dim = theory.flat_hvp(_loss, params, x, y)
  u = jax.random.normal(jax.random.key(5), (dim,), jnp.float32)
  out["hvp_repeated_s"] = median_seconds(
      lambda: matvec(u).block_until_ready(), 20)
  out["dim"] = int(dim)

  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params_np)
    reference = float(theory.exact_trace(p64, jnp.asarray(x_np, jnp.float64),
                                         jnp.asarray(y_np)))
  out["reference_trace_float64"] = reference

  estimators = []
  exact_core = jax.jit(lambda p, x, y: theory.exact_trace(p, x, y))
  exact_api_s = median_seconds(
      lambda: float(theory.exact_trace(params, x, y)), 20)
  exact_core_s = median_seconds(
      lambda: exact_core(params, x, y).block_until_ready(), 20)
  value = float(theory.exact_trace(params, x, y))
  estimators.append(_exact_row(value, exact_api_s, exact_core_s, reference))

  flat, unravel = jax.flatten_util.ravel_pytree(params)

  def flat_hvp_of(w, p, x, y):
    return jax.flatten_util.ravel_pytree(
        theory.hvp(_loss, p, unravel(w), x, y))[0]

  key = jax.random.key(0)
  for precision in ("float32", "tf32", "bfloat16"):
    call = lambda: theory.hutchinson_trace(
        flat_hvp_of, dim, PROBES, key, args=(params, x, y),
        probe_dtype=precision)
    estimate = call()
    api_s = median_seconds(call, 5)
    # Per-probe cost from the public call (probes drawn, one batched HVP,
    # the samples to the host, the interval): what a user pays.
    estimators.append(_estimator_row("hutchinson_hvp", estimate,
                                     api_s, api_s, reference))
  for precision in ("float32", "bfloat16"):
    call = lambda: theory.ggn_hutchinson_trace(
        _predict, params, x, y, loss="softmax_cross_entropy",
        num_probes=PROBES, key=key, probe_dtype=precision)
    estimate = call()
    api_s = median_seconds(call, 5)
    estimators.append(_estimator_row("ggn_hutchinson", estimate,
                                     api_s, api_s, reference))
  out["estimators"] = estimators

  lanczos = jax.jit(lambda s, p, x, y: jnp.linalg.eigvalsh(
      theory.lanczos_tridiagonal(flat_hvp_of, s, 20, args=(p, x, y))[0])[-1])
  start = jax.random.normal(jax.random.key(1), (dim,), jnp.float32)
  out["lanczos20_s"] = median_seconds(
      lambda: lanczos(start, params, x, y).block_until_ready(), 3)
  out["top_eigenvalue"] = float(lanczos(start, params, x, y))
  return out


def _pyhessian_rows(params_np, x, y, reference):
  path = os.environ.get("PYHESSIAN_PATH")
  if not path:
    return None
  sys.path.insert(0, path)
  import torch
  from pyhessian import hessian
  torch.backends.cuda.matmul.allow_tf32 = False
  torch.backends.cudnn.allow_tf32 = False
  device = "cuda" if torch.cuda.is_available() else "cpu"
  layers = []
  for i, layer in enumerate(params_np):
    linear = torch.nn.Linear(*layer["w"].shape)
    with torch.no_grad():
      linear.weight.copy_(torch.from_numpy(layer["w"].T.copy()))
      linear.bias.copy_(torch.from_numpy(layer["b"]))
    layers.append(linear)
    if i < len(params_np) - 1:
      layers.append(torch.nn.ReLU())
  model = torch.nn.Sequential(*layers).to(device)
  data = (torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
  comp = hessian(model, torch.nn.CrossEntropyLoss(), data=data,
                 cuda=device == "cuda")

  def timed(fn):
    fn()
    if device == "cuda":
      torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if device == "cuda":
      torch.cuda.synchronize()
    return time.perf_counter() - start, result

  t_trace, samples = timed(lambda: comp.trace(maxIter=PROBES, tol=0.0))
  samples = np.asarray(samples, dtype=np.float64)
  t_eig, (eigs, _) = timed(lambda: comp.eigenvalues(maxIter=20, tol=0.0,
                                                    top_n=1))
  n = _probes_for_1pct(samples, reference)
  return {"pyhessian_trace100_s": t_trace,
          "pyhessian_trace_estimate": float(np.mean(samples)),
          "pyhessian_probes_for_1pct": n,
          "pyhessian_time_to_1pct_s": t_trace / len(samples) * n,
          "pyhessian_topeig20_s": t_eig,
          "pyhessian_top_eigenvalue": float(eigs[0])}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", type=Path, default=None)
  parser.add_argument("--batches", default="256,1024,4096")
  args = parser.parse_args()
  jax.config.update("jax_default_matmul_precision", "highest")
  kind = jax.devices()[0].device_kind
  sheet = datasheet(kind)
  matmul_fp32 = _matmul_rate("highest")
  rng = np.random.default_rng(0)
  params_np = _init(rng)
  rows = []
  for batch in map(int, args.batches.split(",")):
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch).astype(np.int32)
    row = {"batch": batch, **_jax_rows(params_np, x, y)}
    row["hvp_over_grad"] = row["hvp_s"] / row["grad_s"]
    row["hvp_repeated_over_grad"] = row["hvp_repeated_s"] / row["grad_s"]
    flops = _mlp_matmul_flops(batch)
    row["matmul_flops"] = flops
    for name in ("grad", "hvp", "hvp_repeated"):
      seconds = row[f"{name}_s"]
      row[f"{name}_flop_floor_s"] = flops[name] / matmul_fp32
      row[f"{name}_over_flop_floor"] = seconds / row[f"{name}_flop_floor_s"]
      if sheet:
        row[f"{name}_fraction_of_datasheet_fp32"] = (
            flops[name] / seconds / sheet["fp32_flops_per_s"])
    row["hvp_flops_over_grad_flops"] = flops["hvp"] / flops["grad"]
    row["hvp_repeated_flops_over_grad_flops"] = (flops["hvp_repeated"]
                                                 / flops["grad"])
    valid = [e for e in row["estimators"]
             if e["estimator"] == "exact_trace" and e["within_1pct"]
             or e["estimator"] != "exact_trace" and e["ci_covers_reference"]]
    best = min(valid, key=lambda e: e["time_to_1pct_s"])
    row["fastest_to_1pct"] = {"estimator": best["estimator"],
                              "precision": best["precision"],
                              "time_to_1pct_s": best["time_to_1pct_s"]}
    row["trace_1pct_over_grad"] = best["time_to_1pct_s"] / row["grad_s"]
    theirs = _pyhessian_rows(params_np, x, y, row["reference_trace_float64"])
    if theirs:
      row.update(theirs)
      row["pyhessian_over_ours_trace_1pct"] = (
          theirs["pyhessian_time_to_1pct_s"] / best["time_to_1pct_s"])
      row["pyhessian_trace100_over_ours_trace_1pct"] = (
          theirs["pyhessian_trace100_s"] / best["time_to_1pct_s"])
      row["pyhessian_topeig_over_ours"] = (
          theirs["pyhessian_topeig20_s"] / row["lanczos20_s"])
    rows.append(row)
    print(json.dumps(row), flush=True)
  by_batch = {r["batch"]: r for r in rows}
  ratios = {}
  if 1024 in by_batch:
    ratios["trace_1pct_over_grad_B1024"] = by_batch[1024][
        "trace_1pct_over_grad"]
  for b, r in by_batch.items():
    if "pyhessian_over_ours_trace_1pct" in r:
      ratios[f"pyhessian_over_ours_trace_1pct_B{b}"] = r[
          "pyhessian_over_ours_trace_1pct"]
      ratios[f"pyhessian_trace100_over_ours_trace_1pct_B{b}"] = r[
          "pyhessian_trace100_over_ours_trace_1pct"]
  if 4096 in by_batch:
    r = by_batch[4096]
    ratios["one_shot_hvp_over_flop_floor_B4096"] = r.get(
        "hvp_over_flop_floor")
    ratios["repeated_hvp_over_grad_B4096"] = r["hvp_repeated_over_grad"]
    ratios["repeated_hvp_flops_over_grad_flops"] = r[
        "hvp_repeated_flops_over_grad_flops"]
    ratios["hvp_over_grad_B4096"] = r["hvp_over_grad"]
  result = {"device": provenance()["device"], "device_kind": kind,
            "date": datetime.date.today().isoformat(),
            "jax_version": jax.__version__, "model": "MLP 784-1024-1024-10",
            "matmul_precision": "float32 (highest) unless a row says so",
            "measured_fp32_matmul_flops_per_s": matmul_fp32,
            "datasheet": sheet,
            "goals": {"trace_1pct_over_grad_B1024": 5,
                      "pyhessian_trace100_over_ours_trace_1pct": 50,
                      "one_shot_hvp_over_flop_floor_B4096": 1.10,
                      "repeated_hvp_over_grad_B4096": 1.25},
            "ratios": ratios, "rows": rows}
  if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
  main()
