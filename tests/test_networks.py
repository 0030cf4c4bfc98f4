"""Simulated networks: graphs and gossip against closed forms, federated
quadratics' heterogeneity, and D-SGD against its update written out."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from boundlab.algorithms.decentralized import (communication_schedule,
                                               run_dsgd)
from boundlab.landscapes.distributed import federated_quadratics
from boundlab.theory import graphs

jax.config.update("jax_enable_x64", True)


# --- graphs: closed forms -----------------------------------------------------

@pytest.mark.parametrize("n", [5, 8, 13])
def test_ring_and_path_spectra_and_resistances_have_closed_forms(n):
  ring = graphs.adjacency("ring", n)
  # Ring Laplacian eigenvalues 2 - 2 cos(2 pi k / n); resistance of k hops
  # k (n - k) / n (series-parallel).
  assert math.isclose(graphs.chi_1(graphs.laplacian(ring)),
                      1 / (2 - 2 * math.cos(2 * math.pi / n)), rel_tol=1e-10)
  r = graphs.effective_resistances(graphs.laplacian(ring))
  for k in range(1, n):
    assert math.isclose(r[0, k], k * (n - k) / n, rel_tol=1e-10)
  path = graphs.adjacency("line", n)
  r = graphs.effective_resistances(graphs.laplacian(path))
  np.testing.assert_allclose(r, np.abs(np.subtract.outer(range(n), range(n))),
                             atol=1e-10)
  # Complete graph: every resistance 2/n; star: hub-leaf 1, leaf-leaf 2.
  r = graphs.effective_resistances(graphs.laplacian(
      graphs.adjacency("complete", n)))
  np.testing.assert_allclose(r[~np.eye(n, dtype=bool)], 2 / n, rtol=1e-10)
  r = graphs.effective_resistances(graphs.laplacian(
      graphs.adjacency("star", n)))
  assert math.isclose(r[0, 1], 1.0) and math.isclose(r[1, 2], 2.0)


@pytest.mark.parametrize("topology,n", [("ring", 9), ("torus", 16),
                                        ("star", 7), ("complete", 6),
                                        ("erdos_renyi", 12), ("line", 5)])
def test_gossip_matrices_are_doubly_stochastic_on_the_edges(topology, n):
  a = graphs.adjacency(topology, n, probability=0.3, seed=1)
  assert graphs.is_connected(a) and np.allclose(a, a.T)
  for w in (graphs.metropolis_hastings(a), graphs.uniform_gossip(a)):
    graphs.check_mixing_matrix(w)
    assert np.allclose(w, w.T)
    assert np.all(w[(a == 0) & ~np.eye(n, dtype=bool)] == 0)
    gap = graphs.spectral_gap(w)
    assert 0 < gap <= 1 + 1e-12
  lap = graphs.edge_sampling_laplacian(a)
  # chi_2 <= chi_1; Foster: the edges' resistances sum to n - 1, so with
  # uniform edge rates chi_2 >= (n - 1) / 2 (the mean edge's half).
  assert graphs.chi_2(lap) <= graphs.chi_1(lap) + 1e-9
  assert graphs.chi_2(lap) >= (n - 1) / 2 - 1e-9
  assert math.isclose(
      graphs.effective_resistances(graphs.laplacian(a))[a > 0].sum() / 2,
      n - 1, rel_tol=1e-9)


def test_complete_graph_mixes_in_one_round():
  w = graphs.metropolis_hastings(graphs.adjacency("complete", 6))
  np.testing.assert_allclose(w, np.full((6, 6), 1 / 6))
  assert math.isclose(graphs.spectral_gap(w), 1.0)


def test_graphs_reject_bad_input():
  with pytest.raises(ValueError, match="topology"):
    graphs.adjacency("hypercube", 8)
  with pytest.raises(ValueError, match="torus"):
    graphs.adjacency("torus", 10)
  with pytest.raises(ValueError, match="num_nodes"):
    graphs.adjacency("ring", 1)
  with pytest.raises(ValueError, match="connected"):
    graphs.chi_1(graphs.laplacian(np.zeros((3, 3))))
  with pytest.raises(ValueError, match="doubly stochastic"):
    graphs.check_mixing_matrix(np.array([[0.5, 0.6], [0.5, 0.4]]))
  # Doubly stochastic but not symmetric: D-SGD's W must be both.
  with pytest.raises(ValueError, match="symmetric"):
    graphs.check_mixing_matrix(np.array([[0.5, 0.5, 0.0], [0.2, 0.5, 0.3],
                                         [0.3, 0.0, 0.7]]))


# --- federated quadratics -----------------------------------------------------

@pytest.mark.parametrize("shared", [True, False])
def test_federated_quadratics_have_the_requested_heterogeneity(shared):
  p = federated_quadratics(8, 5, heterogeneity=2.0, shared_hessian=shared,
                           condition_number=20.0, seed=1)
  c = p.constants
  grads = np.asarray(p.client_gradients(jnp.asarray(c["optimum"])))
  np.testing.assert_allclose(grads.mean(0), 0, atol=1e-12)
  assert math.isclose(np.mean(np.sum(grads**2, 1)), 4.0, rel_tol=1e-10)
  assert math.isclose(c["gradient_heterogeneity"], 4.0, rel_tol=1e-10)
  hessians = np.asarray(p.data["curvature"])
  spectra = np.linalg.eigvalsh(hessians)
  assert np.allclose(spectra[:, -1], 1.0) and np.allclose(spectra[:, 0],
                                                           1 / 20)
  assert np.allclose(hessians, hessians[0]) == shared
  with pytest.raises(ValueError, match="heterogeneity"):
    federated_quadratics(1, 3, heterogeneity=1.0)


# --- D-SGD ----------------------------------------------------------------------

def _written_out(p, w, eta, steps, sigma, x0, gossip, noises):
  n = p.num_clients
  x = np.tile(x0, (n, 1))
  y = np.array(x0, dtype=float)
  grads = lambda z: np.asarray(p.client_gradients(jnp.asarray(z)))
  f = lambda z: float(p.objective(jnp.asarray(z)))
  trace = {"merged_objective": [], "parallel_objective": [],
           "consensus_distance": [], "merged_gap": []}

  def record():
    merged = x.mean(0)
    trace["merged_objective"].append(f(merged))
    trace["parallel_objective"].append(f(y))
    trace["consensus_distance"].append(np.mean(np.sum((x - merged)**2, 1)))
    trace["merged_gap"].append(np.linalg.norm(merged - y))

  for t in range(steps):
    record()
    local = np.array([np.asarray(p.client_gradients(jnp.asarray(x[i])))[i]
                      for i in range(n)])
    half = x - eta * (local + sigma * noises[t])
    x = w @ half if gossip[t] else half
    y = y - eta * np.mean(grads(y) + sigma * noises[t], 0)
  record()
  return x.mean(0), y, trace


def test_dsgd_matches_the_update_written_out():
  p = federated_quadratics(4, 3, heterogeneity=1.0, seed=2)
  w = graphs.metropolis_hastings(graphs.adjacency("ring", 4))
  gossip = communication_schedule(12, 5, "uniform")
  key = jax.random.key(3)
  run = run_dsgd(p, w, 0.2, 12, gossip=gossip, noise_std=0.3, key=key,
                 params=np.ones(3))
  noises = [np.asarray(jax.random.normal(k, (4, 3)))
            for k in jax.random.split(key, 12)]
  merged, parallel, trace = _written_out(p, w, 0.2, 12, 0.3, np.ones(3),
                                         gossip, noises)
  np.testing.assert_allclose(run.merged, merged, rtol=1e-12)
  np.testing.assert_allclose(run.parallel, parallel, rtol=1e-12)
  for name, values in trace.items():     # every per-step record the claims read
    np.testing.assert_allclose(getattr(run, name), values, rtol=1e-10,
                               atol=1e-14)


def test_merged_dsgd_is_parallel_sgd_with_a_shared_hessian_only():
  w = graphs.metropolis_hastings(graphs.adjacency("ring", 8))
  shared = federated_quadratics(8, 5, heterogeneity=3.0, shared_hessian=True)
  run = run_dsgd(shared, w, 0.1, 300, noise_std=0.5, params=np.ones(5),
                 gossip=communication_schedule(300, 30, "early"))
  assert run.merged_gap.max() <= 1e-12
  assert run.consensus_distance[-1] > 1e-2      # yet the clients disagree
  # The planted difference: client-specific Hessians break the identity.
  own = federated_quadratics(8, 5, heterogeneity=3.0, shared_hessian=False)
  run = run_dsgd(own, w, 0.1, 300, noise_std=0.5, params=np.ones(5))
  assert run.merged_gap.max() > 1e-3


@pytest.mark.gpu
@pytest.mark.parametrize("gossip_format", ["dense", "neighbours"])
def test_float32_gossip_on_a_gpu_is_float32_not_tf32(gossip_format):
  """On a GPU a float32 matrix product defaults to TF32 (10 mantissa bits):
  a dense gossip round would then err by about 1e-3 relative. run_dsgd asks
  for full precision; 20 noiseless rounds of 256 clients must match float64
  to float32 accuracy (slack 1e-5: about 20 rounds x float32's 6e-8, with
  room; TF32 misses it by two orders)."""
  from boundlab.landscapes.distributed import (DistributedFiniteSum,
                                               quadratic_client_loss)
  n, d, eta, steps = 256, 512, 0.1, 20
  rng = np.random.default_rng(0)
  curvature = rng.uniform(0.5, 1.0, (n, d))
  centre = rng.normal(size=(n, d))
  problem = DistributedFiniteSum(
      name="f32", client_loss=quadratic_client_loss,
      data={"curvature": curvature.astype(np.float32),
            "centre": centre.astype(np.float32)},
      initial_point=np.zeros(d, np.float32), constants={})
  w = graphs.metropolis_hastings(graphs.adjacency("erdos_renyi", n,
                                                  probability=0.1))
  with jax.enable_x64(False):        # the suite runs in float64 otherwise
    run = run_dsgd(problem, w, eta, steps, params=np.zeros(d, np.float32),
                   gossip_format=gossip_format)
  assert run.merged.dtype == np.float32
  x = np.zeros((n, d))
  for _ in range(steps):
    x = w @ (x - eta * curvature * (x - centre))
  scale = np.abs(x.mean(0)).max()
  assert np.abs(run.merged - x.mean(0)).max() <= 1e-5 * scale


@pytest.mark.parametrize("topology,n", [("ring", 9), ("torus", 16),
                                        ("star", 7), ("complete", 5),
                                        ("erdos_renyi", 12)])
def test_neighbour_lists_rebuild_the_mixing_matrix(topology, n):
  w = graphs.metropolis_hastings(graphs.adjacency(topology, n))
  indices, weights = graphs.neighbour_lists(w)
  assert indices.shape == weights.shape
  assert indices.shape[1] == (w != 0).sum(1).max()
  rebuilt = np.zeros_like(w)
  np.add.at(rebuilt, (np.repeat(np.arange(n), indices.shape[1]),
                      indices.ravel()), weights.ravel())
  np.testing.assert_array_equal(rebuilt, w)


def test_neighbour_lists_order_and_padding():
  # Row 0 of a star has n non-zeros, the leaves two (centre, self): the
  # leaves' lists are padded with their own index and weight 0.
  w = graphs.metropolis_hastings(graphs.adjacency("star", 4))
  indices, weights = graphs.neighbour_lists(w)
  np.testing.assert_array_equal(indices, [[0, 1, 2, 3], [0, 1, 1, 1],
                                          [0, 2, 2, 2], [0, 3, 3, 3]])
  np.testing.assert_array_equal(weights[1:, 2:], 0)
  np.testing.assert_array_equal(weights[:, :2], w[np.arange(4)[:, None],
                                                  indices[:, :2]])


def test_neighbour_gossip_is_the_dense_product():
  # 64 clients on a ring: "auto" picks neighbour lists (3 <= 64/8).
  p = federated_quadratics(64, 4, heterogeneity=2.0, seed=1)
  w = graphs.metropolis_hastings(graphs.adjacency("ring", 64))
  runs = {fmt: run_dsgd(p, w, 0.1, 40, noise_std=0.3, params=np.ones(4),
                        gossip_format=fmt)
          for fmt in ("dense", "neighbours", "auto")}
  for fmt in ("neighbours", "auto"):
    np.testing.assert_allclose(runs[fmt].merged, runs["dense"].merged,
                               rtol=1e-12)
    np.testing.assert_allclose(runs[fmt].consensus_distance,
                               runs["dense"].consensus_distance, rtol=1e-10)
  assert runs["dense"].consensus_distance[-1] > 1e-3   # gossip mattered
  with pytest.raises(ValueError, match="gossip_format"):
    run_dsgd(p, w, 0.1, 4, gossip_format="sparse")


def test_communication_schedules():
  np.testing.assert_array_equal(communication_schedule(5, 2, "early"),
                                [1, 1, 0, 0, 0])
  np.testing.assert_array_equal(communication_schedule(5, 2, "late"),
                                [0, 0, 0, 1, 1])
  assert communication_schedule(9, 3, "uniform").sum() == 3
  with pytest.raises(ValueError, match="budget"):
    communication_schedule(5, 6, "late")
  with pytest.raises(ValueError, match="placement"):
    communication_schedule(5, 2, "middle")


def test_dsgd_rejects_bad_input_and_reports_divergence():
  p = federated_quadratics(4, 3)
  w = graphs.metropolis_hastings(graphs.adjacency("ring", 4))
  with pytest.raises(ValueError, match="mixing"):
    run_dsgd(p, np.eye(3), 0.1, 10)
  with pytest.raises(ValueError, match="step_size"):
    run_dsgd(p, w, -0.1, 10)
  run = run_dsgd(p, w, 5.0, 400, params=np.ones(3))
  assert run.diverged_at > 0


def test_label_skewed_logistic_regression_constants_and_skew():
  from boundlab.landscapes.distributed import label_skewed_logistic_regression
  skewed = label_skewed_logistic_regression(8, 40, 4, label_concentration=0.1,
                                            seed=3)
  balanced = label_skewed_logistic_regression(8, 40, 4,
                                              label_concentration=50.0,
                                              seed=3)
  # Small concentrations give one-class clients, large ones balanced ones.
  spread = lambda p: np.mean(np.abs(p.constants["label_fractions"] - 0.5))
  assert spread(skewed) > 0.3 > 0.1 > spread(balanced)
  c = skewed.constants
  for i in range(8):
    data = jax.tree.map(lambda a: a[i], skewed.data)
    h = np.asarray(jax.hessian(skewed.client_loss)(jnp.zeros(4), data))
    assert math.isclose(np.linalg.eigvalsh(h)[-1], c["client_smoothness"][i],
                        rel_tol=1e-12)
  np.testing.assert_allclose(skewed.gradient(jnp.asarray(c["optimum"])), 0,
                             atol=1e-10)
  with pytest.raises(ValueError, match="label_concentration"):
    label_skewed_logistic_regression(label_concentration=0.0)


def test_first_nonfinite_finds_the_first_bad_step_of_any_array():
  from boundlab.algorithms.run_loop import first_nonfinite
  a = np.ones(6)
  b = np.ones((6, 3))
  assert first_nonfinite(a, b) == -1
  b[4, 2] = np.inf
  a[5] = np.nan
  assert first_nonfinite(a, b) == 4 and first_nonfinite(a) == 5
