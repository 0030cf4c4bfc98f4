"""Throughput of the high-dimensional simulations, all in one run on one device.

Measured (compile excluded; each timing is the best of 3 after a warm-up):

* ``online_chain_steps_per_s_d512``: spherical online SGD on order-3 tensor
  PCA with the exact O(d) tangent sampler, d = 512, many chains in one scan
  (chain-steps / s), with the ``rbg`` PRNG and ``unroll=10``; the row with
  the default threefry PRNG and a rolled scan is reported beside it.
* ``overlap_chain_steps_per_s``: the exact O(1) overlap chain (unrolled
  blocks), many chains (chain-steps / s).
* ``langevin_k3_d1024_bandwidth_fraction``: fixed-data spherical Langevin on a
  stored order-3 tensor, d = 1024: bytes of the tensor read per step / step
  time, divided by the bandwidth of a device-to-device copy of the same
  array measured here (read + write bytes / time).
* ``phase_diagram_k3_minutes``: wall time of the full-mode claim
  ``benarous2021.tensor_pca_k3_exponent`` (d = 2^6 .. 2^12, 64 seeds, 12
  sample sizes per d), measured by the caller and passed with
  ``--phase-diagram-seconds``.

Also a row for the straightforward alternative a user would write: the O(1)
chain with a rolled ``lax.scan`` (one kernel launch per step).

Usage: ``python benchmarks/high_dimensional.py [--quick] --out FILE``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from boundlab.provenance import provenance
from boundlab.algorithms.langevin import spherical_langevin, symmetrize
from boundlab.algorithms.spherical_sgd import (online_step_size,
                                               tensor_pca_online_sgd,
                                               tensor_pca_overlap_chain)
from boundlab.landscapes.tensor_pca import SpikedTensor


def _best_time(fn, *args, repeats=3):
  jax.block_until_ready(fn(*args))                 # compile + warm-up
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best


def online_sampler(d, chains, steps, impl, unroll):
  model = SpikedTensor(d, 3)
  eta = online_step_size(d, 3)
  # threshold 1.0 is never reached: every chain runs exactly `steps` steps.
  fn = jax.jit(lambda key: tensor_pca_online_sgd(
      key, model, learning_rate=eta, num_chains=chains, max_steps=steps,
      threshold=1.0, block=50, unroll=unroll)[1])
  seconds = _best_time(fn, jax.random.key(0, impl=impl))
  return {"case": "online_o_d_sampler", "d": d, "chains": chains,
          "steps": steps, "prng": impl, "unroll": str(unroll),
          "seconds": seconds, "chain_steps_per_s": chains * steps / seconds}


def overlap_chain(d, chains, steps, unroll, block):
  eta = online_step_size(d, 3)
  fn = jax.jit(lambda key: tensor_pca_overlap_chain(
      key, dim=d, order=3, snr=1.0, learning_rate=eta, num_chains=chains,
      max_steps=steps, threshold=1.0, block=block, unroll=unroll)[1])
  seconds = _best_time(fn, jax.random.key(0))
  return {"case": "overlap_chain", "d": d, "chains": chains, "steps": steps,
          "block": block, "unroll": str(unroll), "seconds": seconds,
          "chain_steps_per_s": chains * steps / seconds}


def langevin_bandwidth(d, chains, steps):
  model = SpikedTensor(d, 3)
  spike = model.spike(jax.random.key(0))
  tensor = symmetrize(model.averaged_tensor(jax.random.key(1), spike,
                                            d ** 2)).astype(jnp.float32)
  x0 = jax.random.normal(jax.random.key(2), (chains, d), jnp.float32)
  x0 = x0 / jnp.linalg.norm(x0, axis=1, keepdims=True)
  run = jax.jit(lambda t, x, key: spherical_langevin(
      t, x, key, learning_rate=1e-3, inverse_temperature=float(d),
      steps=steps, average_from=steps // 2)[0])
  seconds = _best_time(run, tensor, x0, jax.random.key(3)) / steps
  copy = jax.jit(lambda t: t * 1.0 + 0.0)      # one read + one write pass
  copy_seconds = _best_time(copy, tensor)
  nbytes = tensor.size * tensor.dtype.itemsize
  read_bandwidth = nbytes / seconds
  copy_bandwidth = 2 * nbytes / copy_seconds
  return {"case": "langevin_fixed_data", "d": d, "k": 3, "chains": chains,
          "steps": steps, "seconds_per_step": seconds,
          "tensor_bytes": nbytes, "read_bytes_per_s": read_bandwidth,
          "copy_bytes_per_s": copy_bandwidth,
          "bandwidth_fraction": read_bandwidth / copy_bandwidth}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--out", type=Path, required=True)
  parser.add_argument("--phase-diagram-seconds", type=float, default=None)
  args = parser.parse_args()
  quick = args.quick
  d_online, chains_online = (64, 64) if quick else (512, 1024)
  rows = [
      online_sampler(d_online, chains_online, 200 if quick else 2000,
                     "threefry2x32", 1),
      online_sampler(d_online, chains_online, 200 if quick else 2000,
                     "rbg", 10),
      overlap_chain(4096, 256 if quick else 8192, 4096 if quick else 65536,
                    unroll=True, block=256),
      overlap_chain(4096, 256 if quick else 8192, 1024 if quick else 8192,
                    unroll=1, block=256),
      langevin_bandwidth(64 if quick else 1024, 8, 20 if quick else 50),
  ]
  by_case = {(r["case"], r.get("unroll")): r for r in rows}
  ratios = {
      "online_chain_steps_per_s_d512":
          by_case[("online_o_d_sampler", "10")]["chain_steps_per_s"],
      "online_chain_steps_per_s_d512_threefry_rolled":
          by_case[("online_o_d_sampler", "1")]["chain_steps_per_s"],
      "overlap_chain_steps_per_s":
          by_case[("overlap_chain", "True")]["chain_steps_per_s"],
      "overlap_chain_unrolled_over_rolled":
          by_case[("overlap_chain", "True")]["chain_steps_per_s"]
          / by_case[("overlap_chain", "1")]["chain_steps_per_s"],
      "langevin_k3_d1024_bandwidth_fraction":
          by_case[("langevin_fixed_data", None)]["bandwidth_fraction"],
      "phase_diagram_k3_minutes": (None if args.phase_diagram_seconds is None
                                   else args.phase_diagram_seconds / 60),
  }
  info = provenance()
  out = {"device": info["device"],
         "date": datetime.date.today().isoformat(),
         "jax_version": jax.__version__, "quick": quick,
         "ratios": ratios, "rows": rows,
         "goals": {"online_chain_steps_per_s_d512": 1e8,
                   "overlap_chain_steps_per_s": 1e9,
                   "langevin_k3_d1024_bandwidth_fraction": 0.85,
                   "phase_diagram_k3_minutes": 10}}
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(json.dumps(out, indent=1))
  print(json.dumps(ratios, indent=1))


if __name__ == "__main__":
  main()
