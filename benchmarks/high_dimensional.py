"""Throughput of the high-dimensional simulations, all in one run on one device.

Measured (compile excluded; each timing is the best of 3 after a warm-up):

* Online sampler rows (``case: online_o_d_sampler``): spherical online SGD
  on order-3 tensor PCA with the exact O(d) tangent sampler
  (``tensor_pca_online_sgd``: one fused multi-output reduction per step,
  then a per-chain linear update), d = 512, chains in 256, 1024, 4096,
  8192, every chain running exactly ``steps`` steps in blocks of 50; each
  chain count with both PRNGs (``threefry2x32``, ``rbg``) at each of the
  same two scan unrolls (1 and 10), so that PRNG and unrolling are not
  confounded. ``chain_steps_per_s`` = chains * steps / seconds. At 1024
  chains the same grid is also timed for the literal step written out here
  (``implementation: literal``: x + eta * tangent_gradient_from_noise,
  then normalise; four serial row reductions per step), the
  implementation before the fused step. A row is ``valid`` when every final
  overlap is finite and in [-1, 1].
* ``online_chain_steps_per_s_d512_1024chains``: the fastest valid fused
  row at 1024 chains; which one is in ``online_best_at_1024chains``.
  (Replaces ``online_chain_steps_per_s_d512``, which was the rbg row with
  unroll 10 against a rolled threefry row.)
  ``online_chain_steps_per_s_d512_threefry_rolled``: the fused threefry row
  with unroll 1 at 1024 chains. ``online_fused_over_literal_1024chains``:
  best fused over best literal row at 1024 chains.
* ``overlap_chain_steps_per_s``: the exact O(1) overlap chain (unrolled
  blocks), many chains (chain-steps / s); ``overlap_chain_unrolled_over_
  rolled`` against the straightforward rolled ``lax.scan`` (one kernel
  launch per step) a user would write.
* ``langevin_k3_d1024_peak_bandwidth_fraction``: fixed-data spherical
  Langevin on a stored order-3 float32 tensor, d = 1024, 8 chains: bytes of
  the tensor read per step (its size; the step reads it once) / step time,
  divided by the DATASHEET peak HBM bandwidth of the device
  (``_hardware.datasheet``; None on devices without an entry, e.g. CPUs).
  Beside it, ``langevin_k3_d1024_stream_fraction``: the same read rate
  over the measured read-only stream rate of the device on the same array:
  tensor bytes / time of the fastest of ``jnp.sum(tensor)`` and the sums
  over the first and last axis of its (d, d^2) view (each in the row).
  This can exceed 1: XLA's reduction kernels are not the fastest reader of
  HBM. On one H200 they read 3.2e12 to 3.7e12 B/s (at most 0.77 of the
  datasheet 4.8e12) while the step's matrix product read 4.2e12 B/s
  (0.87), a stream fraction of 1.14 to 1.30; only the datasheet fraction
  is bounded by 1. The fraction reported
  before (``langevin_k3_d1024_bandwidth_fraction``, 1.05 on an H100) is
  gone: it divided the step's read-only bytes per second by a copy's
  (read + write bytes) per second, which are not the same kind of traffic,
  so it could exceed 1.
* ``phase_diagram_k3_minutes``: wall time of the full-mode claim
  ``benarous2021.tensor_pca_k3_exponent`` (d = 2^6 .. 2^12, 64 seeds, 12
  sample sizes per d), measured by the caller and passed with
  ``--phase-diagram-seconds`` (None without it).

Quick mode (``--quick``) shrinks every case (online: d = 64, 64 chains, 200
steps) so that it runs on a CPU; its numbers are not the goals' cases.

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

from _hardware import datasheet
from boundlab.provenance import provenance
from boundlab.algorithms.langevin import spherical_langevin, symmetrize
from boundlab.algorithms.spherical_sgd import (_first_passage,
                                               online_step_size,
                                               tensor_pca_online_sgd,
                                               tensor_pca_overlap_chain)
from boundlab.landscapes.tensor_pca import SpikedTensor, random_unit_vector

ONLINE_BLOCK = 50
PRNGS = ("threefry2x32", "rbg")
UNROLLS = (1, 10)


def _best_time(fn, *args, repeats=3):
  jax.block_until_ready(fn(*args))                 # compile + warm-up
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best


def literal_online_sgd(key, model, *, learning_rate, num_chains, max_steps,
                       threshold, block, unroll):
  """The step before the fused one, written out: same keys, same noise."""
  k_spike, k_start, k_run = jax.random.split(key, 3)
  spikes = jax.vmap(model.spike)(jax.random.split(k_spike, num_chains))
  x0 = jax.vmap(lambda k: random_unit_vector(k, model.dim))(
      jax.random.split(k_start, num_chains))
  x0 = x0 * jnp.sign(jnp.sum(x0 * spikes, axis=1, keepdims=True))
  block = min(block, max_steps)

  def step_block(key, x):
    noise = jax.random.normal(key, (block,) + x.shape, x.dtype)

    def step(x, xi):
      x = x + learning_rate * model.tangent_gradient_from_noise(x, spikes, xi)
      x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
      return x, jnp.sum(x * spikes, axis=1)

    x, path = jax.lax.scan(step, x, noise, unroll=unroll)
    return path, x

  tau, x = _first_passage(step_block, x0, k_run, num_chains=num_chains,
                          max_steps=max_steps, block=block,
                          threshold=threshold)
  return tau, jnp.sum(x * spikes, axis=1)


def online_sampler(d, chains, steps, impl, unroll, implementation="fused"):
  model = SpikedTensor(d, 3)
  eta = online_step_size(d, 3)
  run = {"fused": tensor_pca_online_sgd,
         "literal": literal_online_sgd}[implementation]
  # threshold 1.0 is never reached: every chain runs exactly `steps` steps.
  fn = jax.jit(lambda key: run(
      key, model, learning_rate=eta, num_chains=chains, max_steps=steps,
      threshold=1.0, block=ONLINE_BLOCK, unroll=unroll)[1])
  key = jax.random.key(0, impl=impl)
  seconds = _best_time(fn, key)
  m_final = fn(key)
  valid = bool(jnp.all(jnp.isfinite(m_final))
               & jnp.all(jnp.abs(m_final) <= 1 + 1e-5))
  return {"case": "online_o_d_sampler", "implementation": implementation,
          "d": d, "chains": chains, "steps": steps, "block": ONLINE_BLOCK,
          "prng": impl, "unroll": str(unroll), "seconds": seconds,
          "chain_steps_per_s": chains * steps / seconds, "valid": valid}


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
  # Read-only passes over the same array (outputs <= d^2 floats, under
  # 0.1% of the bytes read): the full sum, and sums over the first and the
  # last axis of its (d, d^2) view, which XLA emits as different kernels;
  # the fastest is the measured stream rate.
  flat = tensor.reshape(d, -1)
  streams = {"sum_all": jax.jit(jnp.sum),
             "sum_axis0": jax.jit(lambda t: jnp.sum(t, axis=0)),
             "sum_axis1": jax.jit(lambda t: jnp.sum(t, axis=1))}
  stream_times = {name: _best_time(fn, flat) for name, fn in streams.items()}
  stream_seconds = min(stream_times.values())
  nbytes = tensor.size * tensor.dtype.itemsize
  read_rate = nbytes / seconds
  stream_rate = nbytes / stream_seconds
  sheet = datasheet(jax.devices()[0].device_kind)
  peak = None if sheet is None else sheet["hbm_bytes_per_s"]
  return {"case": "langevin_fixed_data", "d": d, "k": 3, "chains": chains,
          "steps": steps, "dtype": str(tensor.dtype),
          "seconds_per_step": seconds, "tensor_bytes": nbytes,
          "read_bytes_per_s": read_rate,
          "stream_bytes_per_s_by_kernel": {
              name: nbytes / t for name, t in stream_times.items()},
          "stream_seconds": stream_seconds,
          "stream_bytes_per_s": stream_rate,
          "stream_fraction": read_rate / stream_rate,
          "datasheet": None if sheet is None else sheet["name"],
          "datasheet_hbm_bytes_per_s": peak,
          "stream_over_peak": None if peak is None else stream_rate / peak,
          "peak_bandwidth_fraction": None if peak is None
          else read_rate / peak}


def _best(rows):
  rows = [r for r in rows if r["valid"]]
  return max(rows, key=lambda r: r["chain_steps_per_s"]) if rows else None


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--out", type=Path, required=True)
  parser.add_argument("--phase-diagram-seconds", type=float, default=None)
  args = parser.parse_args()
  quick = args.quick
  d_online = 64 if quick else 512
  chain_counts = (64,) if quick else (256, 1024, 4096, 8192)
  reference_chains = 64 if quick else 1024
  steps_online = 200 if quick else 2000

  online = [online_sampler(d_online, chains, steps_online, impl, unroll)
            for chains in chain_counts for impl in PRNGS for unroll in UNROLLS]
  literal = [online_sampler(d_online, reference_chains, steps_online, impl,
                            unroll, implementation="literal")
             for impl in PRNGS for unroll in UNROLLS]
  overlap = [
      overlap_chain(4096, 256 if quick else 8192, 4096 if quick else 65536,
                    unroll=True, block=256),
      overlap_chain(4096, 256 if quick else 8192, 1024 if quick else 8192,
                    unroll=1, block=256),
  ]
  langevin = langevin_bandwidth(64 if quick else 1024, 8, 20 if quick else 50)
  rows = online + literal + overlap + [langevin]

  at_reference = [r for r in online if r["chains"] == reference_chains]
  best = _best(at_reference)
  best_literal = _best(literal)
  threefry_rolled = next(r for r in at_reference
                         if r["prng"] == "threefry2x32" and r["unroll"] == "1")
  unrolled = next(r for r in overlap if r["unroll"] == "True")
  rolled = next(r for r in overlap if r["unroll"] == "1")
  ratios = {
      "online_chain_steps_per_s_d512_1024chains":
          None if best is None else best["chain_steps_per_s"],
      "online_chain_steps_per_s_d512_threefry_rolled":
          threefry_rolled["chain_steps_per_s"],
      "online_fused_over_literal_1024chains":
          None if best is None or best_literal is None
          else best["chain_steps_per_s"] / best_literal["chain_steps_per_s"],
      "overlap_chain_steps_per_s": unrolled["chain_steps_per_s"],
      "overlap_chain_unrolled_over_rolled":
          unrolled["chain_steps_per_s"] / rolled["chain_steps_per_s"],
      "langevin_k3_d1024_peak_bandwidth_fraction":
          langevin["peak_bandwidth_fraction"],
      "langevin_k3_d1024_stream_fraction": langevin["stream_fraction"],
      "phase_diagram_k3_minutes": (None if args.phase_diagram_seconds is None
                                   else args.phase_diagram_seconds / 60),
  }
  info = provenance()
  describe = lambda r: None if r is None else {   # noqa: E731
      k: r[k] for k in ("implementation", "d", "chains", "prng", "unroll",
                        "chain_steps_per_s")}
  out = {"device": info["device"],
         "device_kind": jax.devices()[0].device_kind,
         "datasheet": datasheet(jax.devices()[0].device_kind),
         "date": datetime.date.today().isoformat(),
         "jax_version": jax.__version__, "quick": quick,
         "ratios": ratios,
         "online_best_at_1024chains": describe(best),
         "online_best_literal_at_1024chains": describe(best_literal),
         "rows": rows,
         "goals": {"online_chain_steps_per_s_d512_1024chains": 1e8,
                   "overlap_chain_steps_per_s": 1e9,
                   "langevin_k3_d1024_peak_bandwidth_fraction": 0.85,
                   "phase_diagram_k3_minutes": 10}}
  if quick:
    out["note"] = (f"quick mode: the online keys are at d = {d_online}, "
                   f"{reference_chains} chains, not d = 512, 1024 chains")
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(json.dumps(out, indent=1))
  print(json.dumps({"ratios": ratios,
                    "online_best_at_1024chains": describe(best)}, indent=1))
  for r in online + literal:
    print(f"{r['implementation']:8s} d={r['d']} chains={r['chains']:5d} "
          f"{r['prng']:12s} unroll={r['unroll']:>2s} "
          f"{r['chain_steps_per_s']:.3e} chain-steps/s"
          f"{'' if r['valid'] else ' INVALID'}")


if __name__ == "__main__":
  main()
