"""Curvature estimators: cost relative to a gradient, and against PyHessian.

Model: MLP 784-1024-1024-10 (ReLU), cross-entropy, synthetic inputs, float32
with full-precision matmuls on both sides (no TF32). Measured in one process
on one device:

* boundlab/JAX: gradient; Hessian-vector product (forward-over-reverse); a
  100-probe Hutchinson trace with the probes batched by ``vmap`` (one batched
  HVP); Lanczos top eigenvalue with 20 iterations.
* PyHessian (PyTorch, the tool most users pick): ``hessian(...).trace(maxIter=
  100, tol=0)`` (100 sequential HVPs) and ``eigenvalues(maxIter=20, tol=0)``
  (20 power iterations), on the same model, weights and data.

PyHessian is not a dependency and is not in this repository: point
``PYHESSIAN_PATH`` at a folder holding its ``pyhessian`` package.
Usage: ``python benchmarks/sharpness.py --out benchmarks/results/sharpness.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from _timing import median_seconds

from boundlab import theory
from boundlab.provenance import provenance

SIZES = (784, 1024, 1024, 10)


def _block(tree):
  return jax.tree.map(lambda a: a.block_until_ready(), tree)


def _init(rng):
  params = []
  for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
    w = rng.standard_normal((fan_in, fan_out)).astype(np.float32)
    params.append({"w": w * np.sqrt(2.0 / fan_in).astype(np.float32),
                   "b": np.zeros(fan_out, np.float32)})
  return params


def _loss(params, x, y):
  h = x
  for layer in params[:-1]:
    h = jax.nn.relu(h @ layer["w"] + layer["b"])
  logits = h @ params[-1]["w"] + params[-1]["b"]
  return jnp.mean(jax.nn.logsumexp(logits, axis=1) -
                  jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0])


def _jax_rows(params_np, x, y, probes):
  params = jax.tree.map(jnp.asarray, params_np)
  x, y = jnp.asarray(x), jnp.asarray(y)
  grad = jax.jit(jax.grad(_loss))
  hvp = jax.jit(lambda p, v: theory.hvp(_loss, p, v, x, y))
  flat, unravel = jax.flatten_util.ravel_pytree(params)
  dim = flat.shape[0]
  flat_mv = lambda v: jax.flatten_util.ravel_pytree(
      theory.hvp(_loss, params, unravel(v), x, y))[0]
  z = jax.random.rademacher(jax.random.key(0), (probes, dim)).astype(
      jnp.float32)
  hutchinson = jax.jit(lambda z: jnp.mean(jnp.sum(z * jax.vmap(flat_mv)(z),
                                                  axis=1)))
  lanczos = jax.jit(lambda s: jnp.linalg.eigvalsh(
      theory.lanczos_tridiagonal(flat_mv, s, 20)[0])[-1])
  start = jax.random.normal(jax.random.key(1), (dim,))
  v = jax.tree.map(jnp.ones_like, params)
  out = {
      "grad_s": median_seconds(lambda: _block(grad(params, x, y)), 10),
      "hvp_s": median_seconds(lambda: _block(hvp(params, v)), 10),
      f"hutchinson{probes}_s": median_seconds(lambda: _block(hutchinson(z)),
                                              3),
      "lanczos20_s": median_seconds(lambda: _block(lanczos(start)), 3),
      "trace_estimate": float(hutchinson(z)),
      "top_eigenvalue": float(lanczos(start)),
  }
  return out


def _pyhessian_rows(params_np, x, y, probes):
  path = os.environ.get("PYHESSIAN_PATH")
  if not path:
    return None
  sys.path.insert(0, path)
  import torch
  from pyhessian import hessian
  tf32 = os.environ.get("BOUNDLAB_BENCH_TF32") == "1"
  torch.backends.cuda.matmul.allow_tf32 = tf32
  torch.backends.cudnn.allow_tf32 = tf32
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

  t_trace, samples = timed(lambda: comp.trace(maxIter=probes, tol=0.0))
  t_eig, (eigs, _) = timed(lambda: comp.eigenvalues(maxIter=20, tol=0.0,
                                                    top_n=1))
  return {"pyhessian_trace_s": t_trace,
          "pyhessian_trace_estimate": float(np.mean(samples)),
          "pyhessian_topeig20_s": t_eig,
          "pyhessian_top_eigenvalue": float(eigs[0])}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", type=Path, default=None)
  parser.add_argument("--batches", default="256,1024,4096")
  parser.add_argument("--probes", type=int, default=100)
  parser.add_argument("--tf32", action="store_true",
                      help="allow TF32 matmuls on both sides (each library's "
                      "GPU default is then used: JAX 'default' precision, "
                      "torch allow_tf32=True)")
  args = parser.parse_args()
  os.environ["BOUNDLAB_BENCH_TF32"] = "1" if args.tf32 else "0"
  jax.config.update("jax_default_matmul_precision",
                    "default" if args.tf32 else "highest")
  rng = np.random.default_rng(0)
  params_np = _init(rng)
  rows = []
  for batch in map(int, args.batches.split(",")):
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch).astype(np.int32)
    row = {"batch": batch, **_jax_rows(params_np, x, y, args.probes)}
    row["hvp_over_grad"] = row["hvp_s"] / row["grad_s"]
    row[f"hutchinson{args.probes}_over_grad"] = (
        row[f"hutchinson{args.probes}_s"] / row["grad_s"])
    theirs = _pyhessian_rows(params_np, x, y, args.probes)
    if theirs:
      row.update(theirs)
      row["pyhessian_trace_over_ours"] = (
          theirs["pyhessian_trace_s"] / row[f"hutchinson{args.probes}_s"])
      row["pyhessian_topeig_over_ours"] = (
          theirs["pyhessian_topeig20_s"] / row["lanczos20_s"])
    rows.append(row)
    print(json.dumps(row))
  by_batch = {r["batch"]: r for r in rows}
  ratios = {}
  if 4096 in by_batch:
    ratios["hvp_over_grad_B4096"] = by_batch[4096]["hvp_over_grad"]
  if 1024 in by_batch:
    b = by_batch[1024]
    ratios["hutchinson100_over_grad_B1024"] = b.get("hutchinson100_over_grad")
    ratios["pyhessian_trace_over_ours_B1024"] = b.get(
        "pyhessian_trace_over_ours")
    ratios["pyhessian_topeig_over_ours_B1024"] = b.get(
        "pyhessian_topeig_over_ours")
  result = {"device": provenance()["device"],
            "date": datetime.date.today().isoformat(),
            "jax_version": jax.__version__, "model": "MLP 784-1024-1024-10",
            "matmul_precision": "tf32" if args.tf32 else "float32",
            "ratios": ratios, "rows": rows}
  if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
  main()
