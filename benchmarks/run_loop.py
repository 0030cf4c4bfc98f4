"""Throughput of boundlab's run loop against what a user would write instead.

Task: DP-SGD-GC (per-example clipping + Gaussian noise) on a noisy quadratic in
d dimensions, batch B, many seeds. Compared, in one process on one device:

* ``boundlab``: :func:`boundlab.algorithms.run` -- one compiled program,
  ``lax.scan`` over steps, ``vmap`` over seeds, metrics on device; also with
  ``unroll=10`` (ten steps per loop iteration).
* ``python_loop``: the common hand-written alternative -- a jitted step
  (``optax.contrib.dpsgd``-style aggregate + sgd) called from a Python loop
  over steps, seeds vmapped inside the step.

Reported: chain-steps per second (seeds x steps / wall time, compile excluded)
and the ratio. Usage: ``python benchmarks/run_loop.py [--quick] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import jax
import optax

from boundlab import algorithms, landscapes
from boundlab.provenance import provenance


def _python_loop(landscape, steps, seeds, batch, lr, clip, noise):
  keys = algorithms.seed_keys(seeds)
  grads_fn = jax.vmap(jax.grad(landscape.loss), in_axes=(None, 0))

  def init(key):
    opt = algorithms.dp_sgd_gc(lr, clip, noise, key)
    params = landscape.init(key)
    return params, opt.init(params)

  @jax.jit
  def step(params, states, keys, t):
    def one(p, s, k):
      opt = algorithms.dp_sgd_gc(lr, clip, noise, k)
      batch_data = landscape.sample(jax.random.fold_in(k, t), batch)
      updates, s = opt.update(grads_fn(p, batch_data), s, p)
      return optax.apply_updates(p, updates), s
    return jax.vmap(one)(params, states, keys)

  params, states = jax.vmap(init)(keys)
  step(params, states, keys, 0)[0].block_until_ready()     # compile
  start = time.perf_counter()
  for t in range(steps):
    params, states = step(params, states, keys, t)
  params.block_until_ready()
  return time.perf_counter() - start


def _boundlab(landscape, steps, seeds, batch, lr, clip, noise, unroll=1):
  opt = lambda key: algorithms.dp_sgd_gc(lr, clip, noise, key)
  kwargs = dict(steps=steps, record_every=steps // 10, batch_size=batch,
                unroll=unroll)
  algorithms.run(landscape, opt, seeds, **kwargs)           # compile
  start = time.perf_counter()
  algorithms.run(landscape, opt, seeds, **kwargs)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--out", type=Path, default=None)
  args = parser.parse_args()
  jax.config.update("jax_enable_x64", False)    # float32, as users would run
  rows = []
  # (dim, batch, seeds). The largest size is for accelerators: on a 2-core
  # CPU it takes most of an hour and says nothing new.
  if args.quick:
    configs, steps = [(8, 16, 64)], 500
  elif jax.default_backend() == "cpu":
    configs, steps = [(8, 16, 64), (64, 32, 256)], 1000
  else:
    configs, steps = [(8, 16, 64), (64, 32, 256), (512, 32, 1024)], 2000
  for dim, batch, num_seeds in configs:
    landscape = landscapes.noisy_quadratic(landscapes.skewed_mixture(dim))
    seeds = list(range(num_seeds))
    t_loop = _python_loop(landscape, steps, seeds, batch, 0.05, 1.0, 0.5)
    t_ours = _boundlab(landscape, steps, seeds, batch, 0.05, 1.0, 0.5)
    t_unrolled = _boundlab(landscape, steps, seeds, batch, 0.05, 1.0, 0.5,
                           unroll=10)
    rows.append({"dim": dim, "batch": batch, "seeds": num_seeds,
                 "steps": steps,
                 "boundlab_chain_steps_per_s": num_seeds * steps / t_ours,
                 "boundlab_unroll10_chain_steps_per_s":
                     num_seeds * steps / t_unrolled,
                 "python_loop_chain_steps_per_s": num_seeds * steps / t_loop,
                 "speedup": t_loop / t_ours,
                 "speedup_unroll10": t_loop / t_unrolled})
    print(json.dumps(rows[-1]))
  result = {"device": provenance()["device"],
            "date": datetime.date.today().isoformat(),
            "jax_version": jax.__version__,
            "ratios": {**{f"speedup_d{r['dim']}": r["speedup"] for r in rows},
                       **{f"speedup_unroll10_d{r['dim']}": r["speedup_unroll10"]
                          for r in rows}},
            "rows": rows}
  if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
  main()
