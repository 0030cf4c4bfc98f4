"""The private step (per-example clipping + noise, all-layer) against the alternatives.

Model: MLP 784-1024-1024-10 (ReLU), softmax cross-entropy, synthetic inputs,
float32 with full-precision matmuls on both sides (no TF32), clip norm 1,
noise multiplier 1. For every batch size B in {256, 1024, 4096, 16384}:

* JAX, one process: the plain gradient of the mean loss (``jax.grad``);
  boundlab's private gradient
  (:func:`boundlab.algorithms.private_step.private_gradient`: ghost norms +
  book-keeping, one backward pass); the naive private gradient
  (``vmap(grad)`` + ``optax.contrib.differentially_private_aggregate``), and
  the same written out by hand (per-example norms, weighted sum, noise).
* PyTorch, another process: a plain forward + backward; Opacus
  ``make_private`` in ``hooks`` and ``ghost`` modes, timed over forward,
  backward and ``optimizer.step()`` (where Opacus clips and adds the noise).

Time is the median of repeated calls after a warm-up. Memory is the peak
allocated *beyond* the parameters and the batch: XLA's compiled memory
analysis (temporaries + outputs) for JAX, ``torch.cuda.max_memory_allocated``
minus what was allocated before the step for PyTorch. An out-of-memory is a
row with ``"oom": true``, not a crash.

Opacus is not a dependency: install it where the benchmark runs.
Usage: ``python benchmarks/private_step.py --out benchmarks/results/private_step.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from _timing import median_seconds

SIZES = (784, 1024, 1024, 10)
BATCHES = (256, 1024, 4096, 16384)
CLIP_NORM, NOISE_MULTIPLIER = 1.0, 1.0
PARTS = ("jax", "torch", "naive_written_out", "naive")


def _data(batch):
  rng = np.random.default_rng(batch)
  return (rng.standard_normal((batch, SIZES[0])).astype(np.float32),
          rng.integers(0, SIZES[-1], batch))


def _append(out, rows, row):
  """Adds a finished row and rewrites the part's file atomically."""
  rows.append(row)
  print(json.dumps(row), flush=True)
  tmp = out.with_suffix(".tmp")
  tmp.write_text(json.dumps(rows))
  tmp.replace(out)


def jax_rows(batches, repeats, out, part="jax"):
  import jax
  import jax.numpy as jnp
  import optax

  jax.config.update("jax_default_matmul_precision", "highest")
  from boundlab.algorithms import private_step

  params = private_step.dense_network_init(jax.random.key(0), SIZES)
  plain = jax.jit(jax.grad(private_step.dense_network_mean_loss))
  ours = jax.jit(lambda p, x, y, key: private_step.private_gradient(
      p, x, y, key, clip_norm=CLIP_NORM, noise_multiplier=NOISE_MULTIPLIER))
  aggregate = optax.contrib.differentially_private_aggregate(
      CLIP_NORM, NOISE_MULTIPLIER, jax.random.key(1))

  def naive_fn(p, x, y, key):
    del key                                    # optax holds its own key
    one = lambda p, xi, yi: private_step.dense_network_mean_loss(
        p, xi[None, :], yi[None])
    grads = jax.vmap(jax.grad(one), in_axes=(None, 0, 0))(p, x, y)
    return aggregate.update(grads, aggregate.init(p))[0]

  def naive_written_out(p, x, y, key):
    one = lambda p, xi, yi: private_step.dense_network_mean_loss(
        p, xi[None, :], yi[None])
    grads = jax.vmap(jax.grad(one), in_axes=(None, 0, 0))(p, x, y)
    leaves, treedef = jax.tree.flatten(grads)
    norms = jnp.sqrt(sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1)
                         for g in leaves))
    factors = CLIP_NORM / jnp.maximum(norms, CLIP_NORM)
    keys = jax.random.split(key, len(leaves))
    summed = [jnp.tensordot(factors, g, axes=1) + NOISE_MULTIPLIER * CLIP_NORM
              * jax.random.normal(k, g.shape[1:], g.dtype)
              for g, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, [g / x.shape[0] for g in summed])

  methods = {
      "jax": {"jax_plain_grad": plain, "ours_private": ours},
      "naive": {"naive_vmap_grad_private": jax.jit(naive_fn)},
      "naive_written_out": {
          "naive_vmap_grad_written_out": jax.jit(naive_written_out)},
  }[part]
  rows = []
  for batch in batches:
    x_np, y_np = _data(batch)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    key = jax.random.key(2)
    for name, fn in methods.items():
      row = {"method": name, "batch_size": batch}
      args = (params, x, y) if name == "jax_plain_grad" else (params, x, y, key)
      try:
        compiled = fn.lower(*args).compile()
        memory = compiled.memory_analysis()
        row["peak_extra_bytes"] = int(memory.temp_size_in_bytes +
                                      memory.output_size_in_bytes)
        run = lambda: jax.block_until_ready(compiled(*args))
        row["seconds"] = median_seconds(run, repeats, warmups=2)
        row["oom"] = False
      except Exception as error:               # XLA reports OOM as a runtime error
        if "RESOURCE_EXHAUSTED" not in str(error) and "out of memory" not in \
            str(error).lower():
          raise
        row.update(oom=True, error=str(error).splitlines()[0][:200])
      _append(out, rows, row)
  return rows


def torch_rows(batches, repeats, out):
  import torch
  from torch import nn

  torch.backends.cuda.matmul.allow_tf32 = False
  torch.backends.cudnn.allow_tf32 = False
  device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

  def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                         nn.ReLU(), nn.Linear(1024, 10)).to(device)

  def measure(step):
    if device.type == "cuda":
      torch.cuda.synchronize()
      torch.cuda.reset_peak_memory_stats()
      before = torch.cuda.memory_allocated()
    def synced():
      step()
      if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = median_seconds(synced, repeats, warmups=2)
    extra = (torch.cuda.max_memory_allocated() - before
             if device.type == "cuda" else None)
    return {"seconds": seconds, "peak_extra_bytes": extra, "oom": False}

  rows = []
  for batch in batches:
    x_np, y_np = _data(batch)
    x = torch.from_numpy(x_np).to(device)
    y = torch.from_numpy(y_np).to(device)
    criterion = nn.CrossEntropyLoss()
    net = model()

    def plain_step():
      net.zero_grad(set_to_none=True)
      criterion(net(x), y).backward()

    cells = [("torch_plain_grad", plain_step)]
    try:
      from opacus import PrivacyEngine
      loader = torch.utils.data.DataLoader(
          torch.utils.data.TensorDataset(x.cpu(), y.cpu()), batch_size=batch)
      for mode in ("hooks", "ghost"):
        net_dp = model()
        made = PrivacyEngine().make_private(
            module=net_dp, optimizer=torch.optim.SGD(net_dp.parameters(), lr=0.1),
            data_loader=loader, noise_multiplier=NOISE_MULTIPLIER,
            max_grad_norm=CLIP_NORM, poisson_sampling=False,
            grad_sample_mode=mode, criterion=nn.CrossEntropyLoss())
        module, optimizer = made[0], made[1]
        loss_fn = made[2] if mode == "ghost" else nn.CrossEntropyLoss()

        def opacus_step(module=module, optimizer=optimizer, loss_fn=loss_fn):
          optimizer.zero_grad(set_to_none=True)
          loss_fn(module(x), y).backward()
          optimizer.step()

        cells.append((f"opacus_{mode}", opacus_step))
    except ImportError as error:
      print(f"opacus not available: {error}", flush=True)
    for name, step in cells:
      row = {"method": name, "batch_size": batch}
      try:
        row.update(measure(step))
      except torch.cuda.OutOfMemoryError as error:
        row.update(oom=True, error=str(error).splitlines()[0][:200])
      if device.type == "cuda":
        torch.cuda.empty_cache()
      _append(out, rows, row)
  return rows


def _ratio(rows, numerator, denominator, batch):
  pick = {r["method"]: r for r in rows if r.get("batch_size") == batch}
  top, bottom = pick.get(numerator), pick.get(denominator)
  if not top or not bottom or top.get("oom") or bottom.get("oom"):
    return None
  return top["seconds"] / bottom["seconds"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", type=Path, required=True)
  parser.add_argument("--part", choices=PARTS)
  parser.add_argument("--part-timeout", type=float, default=240.0,
                      help="seconds each part may run (compilation included)")
  parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
  parser.add_argument("--repeats", type=int, default=20)
  args = parser.parse_args()
  if args.part == "torch":
    torch_rows(args.batches, args.repeats, args.out)
  elif args.part:
    jax_rows(args.batches, args.repeats, args.out, part=args.part)
  if args.part:
    return
  # Each framework in its own process, so neither holds GPU memory the other
  # needs and each peak is measured alone.
  # The naive path gets its own process and time limit: XLA compiles its
  # per-example reduction very slowly on GPU, and that must not cost the
  # other rows.
  rows = []
  for part in PARTS:
    part_out = args.out.with_suffix(f".{part}.json")
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    try:
      code = subprocess.run(
          [sys.executable, __file__, "--part", part, "--out", str(part_out),
           "--repeats", str(args.repeats), "--batches",
           *map(str, args.batches)], env=env,
          timeout=args.part_timeout).returncode
    except subprocess.TimeoutExpired:
      code = f"timed out after {args.part_timeout:.0f} s"
    finished = (json.loads(part_out.read_text()) if part_out.exists() else [])
    rows += finished
    if code:                                   # say which cells never finished
      done = {r["batch_size"] for r in finished}
      rows += [{"method": f"{part} part", "batch_size": b, "unfinished": code}
               for b in args.batches if b not in done]
    part_out.unlink(missing_ok=True)
  import jax
  from boundlab.provenance import provenance
  result = {
      "device": jax.devices()[0].device_kind,
      "date": datetime.date.today().isoformat(),
      "model": "MLP 784-1024-1024-10, ReLU, float32 (no TF32)",
      "clip_norm": CLIP_NORM, "noise_multiplier": NOISE_MULTIPLIER,
      "ratios": {
          "private_over_plain_grad_B1024": _ratio(rows, "ours_private",
                                                  "jax_plain_grad", 1024),
          "private_over_plain_grad_B16384": _ratio(rows, "ours_private",
                                                   "jax_plain_grad", 16384),
          "opacus_ghost_over_ours_B1024": _ratio(rows, "opacus_ghost",
                                                 "ours_private", 1024),
          "naive_over_plain_grad_B1024": _ratio(
              rows, "naive_vmap_grad_private", "jax_plain_grad", 1024),
          "naive_written_out_over_plain_grad_B1024": _ratio(
              rows, "naive_vmap_grad_written_out", "jax_plain_grad", 1024),
          "naive_written_out_over_plain_grad_B16384": _ratio(
              rows, "naive_vmap_grad_written_out", "jax_plain_grad", 16384),
          "opacus_hooks_over_torch_plain_B1024": _ratio(
              rows, "opacus_hooks", "torch_plain_grad", 1024),
          "torch_plain_over_jax_plain_B1024": _ratio(
              rows, "torch_plain_grad", "jax_plain_grad", 1024),
      },
      "goals": {"private_over_plain_grad_B1024": "<= 1.5",
                "private_over_plain_grad_B16384": "<= 1.25",
                "opacus_ghost_over_ours_B1024": ">= 5"},
      "rows": rows, "provenance": provenance(),
  }
  args.out.parent.mkdir(parents=True, exist_ok=True)
  tmp = args.out.with_suffix(".tmp")
  tmp.write_text(json.dumps(result, indent=1))
  tmp.replace(args.out)
  print(json.dumps(result["ratios"], indent=1))


if __name__ == "__main__":
  main()
