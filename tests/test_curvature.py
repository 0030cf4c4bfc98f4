"""Curvature estimators against dense computations and scipy (small d)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from boundlab import theory


def _mlp_problem(seed, width=4, dim_in=3, n=10):
  """A tiny tanh MLP with square loss: non-convex, indefinite Hessians."""
  rng = np.random.default_rng(seed)
  params = {"w1": jnp.asarray(rng.standard_normal((dim_in, width))),
            "b1": jnp.asarray(rng.standard_normal(width)),
            "w2": jnp.asarray(rng.standard_normal(width))}
  x = jnp.asarray(rng.standard_normal((n, dim_in)))
  y = jnp.asarray(rng.standard_normal(n))

  def example_loss(p, example):
    xi, yi = example
    return 0.5 * (jnp.tanh(xi @ p["w1"] + p["b1"]) @ p["w2"] - yi) ** 2

  def loss(p, data):
    return jnp.mean(jax.vmap(example_loss, in_axes=(None, 0))(p, data))

  return loss, example_loss, params, (x, y)


@settings(max_examples=10)  # each example compiles a new problem
@given(seed=st.integers(0, 2**31 - 1))
def test_hvp_matches_dense_hessian_on_pytrees(seed):
  loss, _, params, data = _mlp_problem(seed)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  vector = jax.tree.map(lambda a: jnp.ones_like(a) * 0.3, params)
  flat_v = jax.flatten_util.ravel_pytree(vector)[0]
  got = jax.flatten_util.ravel_pytree(theory.hvp(loss, params, vector, data))[0]
  # Same derivatives by two AD paths: agreement to float64 rounding.
  np.testing.assert_allclose(got, hessian @ flat_v, rtol=1e-10, atol=1e-12)
  matvec, dim = theory.flat_hvp(loss, params, data)
  np.testing.assert_allclose(matvec(flat_v), hessian @ flat_v, rtol=1e-10,
                             atol=1e-12)
  assert dim == hessian.shape[0]


def test_per_example_hessians_average_to_the_hessian():
  loss, example_loss, params, data = _mlp_problem(0)
  per_example = theory.per_example_hessians(example_loss, params, data)
  np.testing.assert_allclose(per_example.mean(0),
                             theory.dense_hessian(loss, params, data),
                             rtol=1e-10, atol=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 3))
def test_lanczos_top_eigenvalues_match_scipy_eigsh(seed, k):
  loss, _, params, data = _mlp_problem(seed, width=6)
  matvec, dim = theory.flat_hvp(loss, params, data)
  ours = np.asarray(theory.top_eigenvalues(matvec, dim, k=k, num_iters=dim))
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  reference = scipy.sparse.linalg.eigsh(hessian, k=k, which="LA")[0][::-1]
  # Full Krylov space (num_iters = dim) with reorthogonalisation: exact up to
  # rounding, relative to the spectral radius.
  scale = np.abs(np.linalg.eigvalsh(hessian)).max()
  np.testing.assert_allclose(ours, reference, atol=1e-9 * scale)


def test_lanczos_converges_fast_on_a_separated_top_eigenvalue():
  rng = np.random.default_rng(1)
  q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
  eig = np.concatenate([[50.0, 20.0], rng.uniform(0, 1, 198)])
  matrix = jnp.asarray(q * eig @ q.T)
  top = theory.top_eigenvalues(lambda x: matrix @ x, 200, k=2, num_iters=20)
  # Gap ratio 50/20: 20 steps resolve both to ~1e-10 relative.
  np.testing.assert_allclose(top, [50.0, 20.0], rtol=1e-8)


def test_lanczos_breakdown_on_low_rank_operator():
  u = jnp.asarray(np.random.default_rng(2).standard_normal((30, 2)))
  matrix = u @ u.T                                   # rank 2
  top = theory.top_eigenvalues(lambda x: matrix @ x, 30, k=2, num_iters=10)
  np.testing.assert_allclose(top, np.linalg.eigvalsh(matrix)[::-1][:2],
                             rtol=1e-9)


def test_slq_moments_match_the_dense_spectrum():
  loss, _, params, data = _mlp_problem(3, width=8)
  matvec, dim = theory.flat_hvp(loss, params, data)
  nodes, weights = theory.spectral_density(matvec, dim, num_iters=dim,
                                           num_probes=64)
  eig = np.linalg.eigvalsh(np.asarray(theory.dense_hessian(loss, params,
                                                           data)))
  np.testing.assert_allclose(np.asarray(weights).sum(1), 1.0, rtol=1e-10)
  for power in (1, 2, 3):
    estimate = np.mean(np.sum(np.asarray(weights) * np.asarray(nodes)**power,
                              axis=1))
    exact = np.mean(eig**power)
    # Each probe's quadrature is exact for z^T H^p z / d; the Hutchinson part
    # has relative sd ~ sqrt(2/d) per probe, / sqrt(64) probes: 6 sd ~ 0.3.
    assert estimate == pytest.approx(exact, rel=0.3, abs=0.3 * np.mean(
        np.abs(eig)**power))


def test_hutchinson_trace_interval_covers_the_trace():
  loss, _, params, data = _mlp_problem(4, width=8)
  matvec, dim = theory.flat_hvp(loss, params, data)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  covered = 0
  for i in range(40):
    estimate = theory.hutchinson_trace(matvec, dim, 100, jax.random.key(i),
                                       alpha=0.1)
    covered += estimate.ci[0] <= np.trace(hessian) <= estimate.ci[1]
  # 90% intervals: misses ~ Binomial(40, 0.1) (t with 100 probes is near
  # exact); more than 12 misses happens w.p. < 1e-3.
  assert covered >= 28


def test_hutchinson_diagonal_is_unbiased():
  loss, _, params, data = _mlp_problem(5, width=4)
  matvec, dim = theory.flat_hvp(loss, params, data)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  n = 20_000
  estimate = theory.hutchinson_diagonal(matvec, dim, n, jax.random.key(0),
                                        batch_size=4096)
  diag = np.asarray(estimate.mean)
  # Per coordinate, z_i (Hz)_i = H_ii + sum_{j != i} z_i z_j H_ij has variance
  # sum_{j != i} H_ij^2; 6 sd of the mean of n probes bounds the error.
  sd = np.sqrt((hessian**2).sum(1) - np.diag(hessian)**2)
  assert np.all(np.abs(diag - np.diag(hessian)) <= 6 * sd / np.sqrt(n) + 1e-12)
  # The standard error is the sample sd of the probes over sqrt(n): within
  # 5% of the exact sd (relative sd of a sample sd of 20,000 ~ 1%).
  np.testing.assert_allclose(np.asarray(estimate.standard_error) * np.sqrt(n),
                             sd, rtol=0.05, atol=1e-12)
  unbatched = theory.hutchinson_diagonal(matvec, dim, n, jax.random.key(0))
  np.testing.assert_allclose(unbatched.mean, estimate.mean, rtol=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1))
def test_directional_sharpness_and_best_loss_change(seed):
  loss, _, params, data = _mlp_problem(seed)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  grad = jax.flatten_util.ravel_pytree(jax.grad(loss)(params, data))[0]
  direction = jax.tree.map(lambda a: jnp.sin(jnp.arange(a.size).reshape(
      a.shape) + 1.0), params)
  flat_v = np.asarray(jax.flatten_util.ravel_pytree(direction)[0])
  curvature = flat_v @ hessian @ flat_v
  np.testing.assert_allclose(
      theory.directional_sharpness(loss, params, direction, data),
      curvature / (flat_v @ flat_v), rtol=1e-10)
  expected = (-(grad @ flat_v)**2 / (2 * curvature) if curvature > 0
              else -np.inf)
  np.testing.assert_allclose(
      theory.best_local_loss_change(loss, params, direction, data), expected,
      rtol=1e-10)


def test_lanczos_rejects_bad_sizes():
  with pytest.raises(ValueError, match="num_iters must be in"):
    theory.lanczos_tridiagonal(lambda x: x, jnp.ones(3), 4)
  with pytest.raises(ValueError, match="k must be in"):
    theory.top_eigenvalues(lambda x: x, 5, k=6, num_iters=5)
