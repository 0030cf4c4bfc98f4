"""EF21 rounds per second on one device, and PEPit's solve time by size.

(Not named ``compression.py``: a module of that name on the path shadows
one that jax imports.)

Part ``ef21`` (a GPU): n clients with diagonal quadratics in d dimensions,
Top-K with K = d/100, float32. Compared in one process on one device, per
round (compile excluded):

* ``boundlab``: :func:`boundlab.algorithms.error_feedback.ef21_step`
  (clients under ``vmap``, the server step an optax transformation), rounds
  in a ``lax.fori_loop``;
* ``plain_jax``: the same round written by hand in plain JAX (no optax, no
  problem or compressor records; Top-K by ``lax.top_k`` under ``vmap``), the
  fused program a user would write;
* ``python_loop``: the client loop in Python, one jitted client update per
  client and round (what a simulator written client by client does).

The bandwidth roofline: a round must read the clients' data (curvature and
centre) and read and write their estimates, 16 n d bytes in float32; the
fraction is those bytes over the round's time, against the device's peak
(4.8 TB/s for an H200, its datasheet). Top-K's own traffic (a selection over
every row) comes on top, so the fraction is a lower bound on the bandwidth
used; ``boundlab_identity`` (the identity compressor) times the round
without it. Sizes with n d > 1e9 (arrays over 4 GB each, about 24 GB in all) are
skipped.

Part ``pep`` (a CPU): PEPit's formulation + solve time (Clarabel) for
gradient descent on smooth nonconvex functions by horizon N, and for EF21's
one-step inequality by number of clients n, until a solve exceeds
``--pep-limit`` seconds.

Usage: ``python benchmarks/ef21_rounds.py --part ef21 --out FILE`` on the
GPU, ``--part pep --merge FILE`` here (adds the CPU section to that file).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from _timing import median_seconds
from boundlab.algorithms import compressors
from boundlab.algorithms.error_feedback import (EF21State, client_weights,
                                                ef21_step)
from boundlab.landscapes.distributed import (DistributedFiniteSum,
                                             quadratic_client_loss)
from boundlab.provenance import provenance

PEAK_BANDWIDTH = {"NVIDIA H200": 4.8e12, "NVIDIA H100 80GB HBM3": 3.35e12}


def _problem(n, d, key):
  a_key, b_key = jax.random.split(key)
  curvature = jax.random.uniform(a_key, (n, d), minval=0.5, maxval=1.0)
  centre = jax.random.normal(b_key, (n, d))
  smooth = np.asarray(curvature.max(1), dtype=np.float64)
  return DistributedFiniteSum(
      name="bench", client_loss=quadratic_client_loss,
      data={"curvature": curvature, "centre": centre},
      initial_point=np.zeros(d, np.float32),
      constants={"client_smoothness": smooth})


def _state(problem, n, d):
  return EF21State(params=jnp.zeros(d), estimates=jnp.zeros((n, d)),
                   server_estimate=jnp.zeros(d), server_state=())


def _boundlab(problem, compressor, gamma, rounds):
  weights = client_weights(problem, weighted=False)
  optimizer = optax.sgd(gamma)

  @jax.jit
  def run(state, data, key):
    def body(i, state):
      return ef21_step(problem, compressor, optimizer, weights, state,
                       jax.random.fold_in(key, i), data)[0]
    return jax.lax.fori_loop(0, rounds, body, state)

  state = _state(problem, problem.num_clients, problem.dim)._replace(
      server_state=optimizer.init(jnp.zeros(problem.dim)))
  return lambda: jax.block_until_ready(run(state, problem.data,
                                           jax.random.key(0)))


def _plain_jax(problem, k, gamma, rounds):
  def top(v):
    _, index = jax.lax.top_k(jnp.abs(v), k)
    return jnp.zeros_like(v).at[index].set(v[index])

  @jax.jit
  def run(x, estimates, server, curvature, centre):
    def body(i, carry):
      x, estimates, server = carry
      x = x - gamma * server
      delta = curvature * (x - centre) - estimates
      message = jax.vmap(top)(delta)
      return x, estimates + message, server + message.mean(0)
    return jax.lax.fori_loop(0, rounds, body, (x, estimates, server))

  n, d = problem.num_clients, problem.dim
  data = problem.data
  args = (jnp.zeros(d), jnp.zeros((n, d)), jnp.zeros(d),
          data["curvature"], data["centre"])
  return lambda: jax.block_until_ready(run(*args))


def _python_loop(problem, compressor, gamma, rounds):
  @jax.jit
  def client(x, estimate, curvature, centre):
    delta = curvature * (x - centre) - estimate
    message = compressor.compress(None, delta)
    return estimate + message, message

  server_step = jax.jit(lambda x, server: x - gamma * server)
  n, d = problem.num_clients, problem.dim
  curvature = list(problem.data["curvature"])
  centre = list(problem.data["centre"])
  estimates = [jnp.zeros(d) for _ in range(n)]

  def run():
    x, server = jnp.zeros(d), jnp.zeros(d)
    for _ in range(rounds):
      x = server_step(x, server)
      total = jnp.zeros(d)
      for i in range(n):
        estimates[i], message = client(x, estimates[i], curvature[i],
                                       centre[i])
        total = total + message
      server = server + total / n
    jax.block_until_ready(server)
  return run


def ef21_part(quick: bool) -> dict:
  clients = (10, 100) if quick else (10, 1000, 10000)
  dims = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
  rounds, gamma = 10, 0.1
  device = jax.devices()[0].device_kind
  peak = PEAK_BANDWIDTH.get(device)
  rows = []
  for n in clients:
    for d in dims:
      if n * d > 1e9:
        continue
      k = max(1, d // 100)
      problem = _problem(n, d, jax.random.key(n + d))
      compressor = compressors.top_k(k, d)
      row = {"clients": n, "dim": d, "k": k, "rounds_timed": rounds}
      timings = {"boundlab": _boundlab(problem, compressor, gamma, rounds),
                 "plain_jax": _plain_jax(problem, k, gamma, rounds),
                 # The same round with the identity compressor: what the
                 # round costs without Top-K's selection.
                 "boundlab_identity": _boundlab(
                     problem, compressors.identity(d), gamma, rounds)}
      loop_rounds = 1 if n * d > 1e7 else 3
      timings["python_loop"] = _python_loop(problem, compressor, gamma,
                                            loop_rounds)
      for name, fn in timings.items():
        per = loop_rounds if name == "python_loop" else rounds
        seconds = median_seconds(fn, repeats=3) / per
        row[f"{name}_rounds_per_s"] = 1.0 / seconds
        if name != "python_loop":
          row[f"{name}_client_rounds_per_s"] = n / seconds
          if peak:
            row[f"{name}_bandwidth_fraction"] = 16 * n * d / seconds / peak
      row["boundlab_over_plain_jax"] = (row["boundlab_rounds_per_s"]
                                        / row["plain_jax_rounds_per_s"])
      row["boundlab_over_python_loop"] = (row["boundlab_rounds_per_s"]
                                          / row["python_loop_rounds_per_s"])
      print(json.dumps(row), flush=True)
      rows.append(row)
      del problem
  return {"device": device, "precision": "float32", "peak_bandwidth": peak,
          "rows": rows,
          "ratios": {"boundlab_over_plain_jax_min": min(
              r["boundlab_over_plain_jax"] for r in rows),
              "boundlab_over_python_loop_at_largest_n": max(
              (r["clients"], r["boundlab_over_python_loop"]) for r in rows)[1]}}


def pep_part(limit: float) -> dict:
  from boundlab.theory import error_feedback as ef
  from boundlab.theory import pep
  gd, ef21 = [], []
  for horizon in (1, 2, 4, 8, 16, 32, 64):
    start = time.perf_counter()
    result = pep.gradient_descent_smooth_nonconvex(1.0, 1.0, horizon)
    seconds = time.perf_counter() - start
    gd.append({"horizon": horizon, "seconds": seconds, "value": result.value,
               "theory": 4 / (3 * horizon), "solver": result.solver})
    print(gd[-1], flush=True)
    if seconds > limit:
      break
  for n in (2, 4, 8, 16, 32, 64):
    smooth = list(np.geomspace(1, 100, n))
    am = float(np.mean(smooth))
    gamma = ef.theoretical_step_size(
        {"smoothness": am, "smoothness_am": am,
         "smoothness_qm": float(np.sqrt(np.mean(np.square(smooth))))},
        0.25, "weighted")
    start = time.perf_counter()
    result = pep.ef21_one_step(smooth, 0.25, gamma, lyapunov="weighted")
    seconds = time.perf_counter() - start
    ef21.append({"clients": n, "seconds": seconds, "value": result.value,
                 "solver": result.solver})
    print(ef21[-1], flush=True)
    if seconds > limit:
      break
  return {"device": f"cpu ({jax.devices('cpu')[0].device_kind}, 2 cores), "
          "shared with other work",
          "gradient_descent_by_horizon": gd, "ef21_one_step_by_clients": ef21}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--part", choices=("ef21", "pep"), required=True)
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--out", type=Path)
  parser.add_argument("--merge", type=Path)
  parser.add_argument("--pep-limit", type=float, default=60.0)
  args = parser.parse_args()
  if args.part == "ef21":
    result = {"ef21": ef21_part(args.quick), "provenance": provenance()}
    if args.out:
      args.out.write_text(json.dumps(result, indent=1))
  else:
    section = pep_part(args.pep_limit)
    target = args.merge or args.out
    result = json.loads(target.read_text()) if (
        args.merge and target.exists()) else {}
    result["pep"] = section
    target.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
  main()
