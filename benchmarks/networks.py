"""D-SGD rounds per second on one device: dense vs sparse gossip vs a loop.

n clients with diagonal quadratics in d = 1e4 dimensions (float32), Gaussian
gradient noise, gossip on a ring every round. Compared in one process on one
device, per round (compile excluded):

* ``boundlab``: :func:`boundlab.algorithms.decentralized.run_dsgd` -- local
  steps under ``vmap``, gossip as the dense product ``W @ X`` (any W), and
  its parallel-SGD twin computed beside it (so a round does two gradient
  evaluations per client);
* ``boundlab_neighbours``: the same with ``gossip_format="neighbours"`` (a
  gather over W's padded neighbour lists; what ``"auto"`` picks for a ring
  of n >= 24);
* ``sparse_ring``: the same D-SGD round hand-written in plain JAX with the
  ring's gossip as two rolls (``(x_{i-1} + x_i + x_{i+1}) / 3``, O(n d)
  instead of O(n^2 d)), without the twin;
* ``full_round_rolls`` / ``full_round_gather`` /
  ``full_round_gather_by_column``: the whole ``run_dsgd`` round (noise, four
  metrics, twin) hand-written in plain JAX, gossip by the two rolls, by the
  neighbour-list gather as ``run_dsgd`` writes it, and by k row gathers:
  what the same output costs written by hand, and what the gather costs;
* ``python_loop``: clients updated one by one from Python (jitted client
  step), then gossip by the same rolls.

The roofline: a round must read the clients' data and iterates and write
the iterates (16 n d bytes in float32 for curvature, centre, read and write
x); the dense gossip adds 2 n^2 d FLOPs, at full float32 precision
(``run_dsgd`` asks for it: a GPU's default float32 product is TF32). Usage: ``python
benchmarks/networks.py --out FILE`` on the GPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from _timing import median_seconds
from boundlab.algorithms.decentralized import run_dsgd
from boundlab.landscapes.distributed import (DistributedFiniteSum,
                                             quadratic_client_loss)
from boundlab.provenance import provenance
from boundlab.theory import graphs

PEAK_BANDWIDTH = {"NVIDIA H200": 4.8e12}
PEAK_FP32_FLOPS = {"NVIDIA H200": 67e12}   # datasheet, dense float32


def _problem(n, d, key):
  a_key, b_key = jax.random.split(key)
  return DistributedFiniteSum(
      name="bench", client_loss=quadratic_client_loss,
      data={"curvature": jax.random.uniform(a_key, (n, d), minval=0.5,
                                            maxval=1.0),
            "centre": jax.random.normal(b_key, (n, d))},
      initial_point=np.zeros(d, np.float32), constants={})


def _rolls(half):
  """The ring's gossip (x_{i-1} + x_i + x_{i+1}) / 3 as two rolls."""
  return (jnp.roll(half, 1, 0) + half + jnp.roll(half, -1, 0)) / 3


def _sparse_ring(problem, eta, sigma, rounds):
  @jax.jit
  def run(x, curvature, centre, key):
    def body(i, x):
      noise = sigma * jax.random.normal(jax.random.fold_in(key, i), x.shape)
      return _rolls(x - eta * (curvature * (x - centre) + noise))
    return jax.lax.fori_loop(0, rounds, body, x)

  n, d = problem.num_clients, problem.dim
  args = (jnp.zeros((n, d)), problem.data["curvature"],
          problem.data["centre"], jax.random.key(0))
  return lambda: jax.block_until_ready(run(*args))


def _full_round(problem, eta, sigma, rounds, gossip):
  """The whole ``run_dsgd`` round hand-written in plain JAX (the noise, the
  four metrics, the parallel-SGD twin on the same noise), with ``gossip``
  as given: separates what the gossip costs from what the round's other
  work costs."""
  local_gradients = jax.vmap(jax.grad(problem.client_loss))

  @jax.jit
  def run(x, y, data, key):
    def body(i, carry):
      x, y, metrics = carry
      noise = sigma * jax.random.normal(jax.random.fold_in(key, i), x.shape)
      merged = x.mean(0)
      metrics = metrics + jnp.stack([
          problem.objective(merged, data), problem.objective(y, data),
          jnp.linalg.norm(merged - y),
          jnp.mean(jnp.sum((x - merged[None]) ** 2, -1))])
      half = x - eta * (local_gradients(x, data) + noise)
      y = y - eta * jnp.mean(problem.client_gradients(y, data) + noise, 0)
      return gossip(half), y, metrics
    return jax.lax.fori_loop(0, rounds, body, (x, y, jnp.zeros(4)))

  n, d = problem.num_clients, problem.dim
  args = (jnp.zeros((n, d)), jnp.zeros(d), problem.data, jax.random.key(0))
  return lambda: jax.block_until_ready(run(*args))


def _gather(indices, weights):
  """The neighbour-list gossip as ``run_dsgd`` writes it: one (n, k, d)
  gather, weighted and summed over k."""
  def gossip(half):
    return jnp.sum(weights[..., None] * half[indices], axis=1)
  return gossip


def _gather_by_column(indices, weights):
  """The same sum as k row gathers of shape (n, d)."""
  def gossip(half):
    out = weights[:, 0, None] * half[indices[:, 0]]
    for j in range(1, indices.shape[1]):
      out = out + weights[:, j, None] * half[indices[:, j]]
    return out
  return gossip


def _python_loop(problem, eta, sigma, rounds):
  @jax.jit
  def client(x, curvature, centre, key):
    return x - eta * (curvature * (x - centre)
                      + sigma * jax.random.normal(key, x.shape))

  gossip = jax.jit(_rolls)
  n, d = problem.num_clients, problem.dim
  curvature = list(problem.data["curvature"])
  centre = list(problem.data["centre"])
  keys = list(jax.random.split(jax.random.key(0), n))

  def run():
    x = jnp.zeros((n, d))
    for _ in range(rounds):
      rows = [client(x[i], curvature[i], centre[i], keys[i])
              for i in range(n)]
      x = gossip(jnp.stack(rows))
    jax.block_until_ready(x)
  return run


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", type=Path)
  parser.add_argument("--quick", action="store_true")
  args = parser.parse_args()
  d = 1000 if args.quick else 10_000
  clients = (16, 64) if args.quick else (16, 256, 4096)
  rounds, eta, sigma = 200, 0.1, 0.1
  device = jax.devices()[0].device_kind
  rows = []
  for n in clients:
    problem = _problem(n, d, jax.random.key(n))
    w = graphs.metropolis_hastings(graphs.adjacency("ring", n))
    indices, weights = map(jnp.asarray, graphs.neighbour_lists(w))
    formats = {"boundlab": "dense", "boundlab_neighbours": "neighbours"}
    timings = {
        "boundlab": lambda: run_dsgd(problem, w, eta, rounds,
                                     noise_std=sigma, gossip_format="dense"),
        "boundlab_neighbours": lambda: run_dsgd(
            problem, w, eta, rounds, noise_std=sigma,
            gossip_format="neighbours"),
        "sparse_ring": _sparse_ring(problem, eta, sigma, rounds),
        "full_round_rolls": _full_round(problem, eta, sigma, rounds, _rolls),
        "full_round_gather": _full_round(problem, eta, sigma, rounds,
                                         _gather(indices, weights)),
        "full_round_gather_by_column": _full_round(
            problem, eta, sigma, rounds,
            _gather_by_column(indices, weights)),
        "python_loop": _python_loop(problem, eta, sigma,
                                    1 if n > 256 else 3)}
    row = {"clients": n, "dim": d, "rounds_timed": rounds}
    for name, fn in timings.items():
      per = (1 if n > 256 else 3) if name == "python_loop" else rounds
      seconds = median_seconds(fn, repeats=3) / per
      if name.startswith("boundlab"):
        # A call also checks W and builds its neighbour lists on the host
        # (O(n^2)) and copies them in: the per-round cost is the slope
        # between calls of `rounds` and 5 x `rounds` rounds, the rest of a
        # call its setup.
        longer = median_seconds(lambda: run_dsgd(
            problem, w, eta, 5 * rounds, noise_std=sigma,
            gossip_format=formats[name]), repeats=3)
        per_round = (longer - seconds * rounds) / (4 * rounds)
        row[f"{name}_call_rounds_per_s"] = 1.0 / seconds
        row[f"{name}_setup_s"] = seconds * rounds - per_round * rounds
        seconds = per_round
      row[f"{name}_rounds_per_s"] = 1.0 / seconds
      if name != "python_loop" and device in PEAK_BANDWIDTH:
        row[f"{name}_bandwidth_fraction"] = (16 * n * d / seconds
                                             / PEAK_BANDWIDTH[device])
    if device in PEAK_FP32_FLOPS:
      row["boundlab_dense_gossip_flop_fraction"] = (
          2 * n * n * d * row["boundlab_rounds_per_s"]
          / PEAK_FP32_FLOPS[device])
    row["boundlab_over_python_loop"] = (row["boundlab_rounds_per_s"]
                                        / row["python_loop_rounds_per_s"])
    row["sparse_over_boundlab"] = (row["sparse_ring_rounds_per_s"]
                                   / row["boundlab_rounds_per_s"])
    row["neighbours_over_dense"] = (row["boundlab_neighbours_rounds_per_s"]
                                    / row["boundlab_rounds_per_s"])
    for name in ("full_round_rolls", "full_round_gather",
                 "full_round_gather_by_column"):
      row[f"{name}_over_neighbours"] = (
          row[f"{name}_rounds_per_s"]
          / row["boundlab_neighbours_rounds_per_s"])
    row["sparse_ring_over_neighbours"] = (
        row["sparse_ring_rounds_per_s"]
        / row["boundlab_neighbours_rounds_per_s"])
    print(json.dumps(row), flush=True)
    rows.append(row)
  largest = rows[-1]
  ratios = {f"{key}_n{largest['clients']}": largest[key] for key in (
      "boundlab_over_python_loop", "neighbours_over_dense",
      "sparse_ring_over_neighbours", "full_round_rolls_over_neighbours",
      "full_round_gather_over_neighbours",
      "full_round_gather_by_column_over_neighbours")}
  result = {"device": device, "ratios": ratios, "precision": "float32; boundlab's dense gossip at "
            "precision='highest' (not TF32); its twin and metrics are "
            "included in its round", "rows": rows,
            "provenance": provenance()}
  if args.out:
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
  main()
