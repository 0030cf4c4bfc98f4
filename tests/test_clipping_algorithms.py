"""Clipping, DP-SGD-GC, perturbed clipping and DiceSGD against independent oracles."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

from boundlab import algorithms, landscapes

finite = st.floats(-50, 50, allow_nan=False)


@given(grads=npst.arrays(np.float64, (6, 3), elements=finite),
       clip_norm=st.floats(1e-3, 100))
def test_clipped_sum_matches_optax_per_example_clip(grads, clip_norm):
  ours = np.asarray(algorithms.clip_per_example(jnp.asarray(grads),
                                                clip_norm)).sum(0)
  (theirs,), _ = optax.per_example_global_norm_clip([jnp.asarray(grads)],
                                                    clip_norm)
  # Same arithmetic up to association order: a few ulps of the largest sum.
  np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-12,
                             atol=1e-12 * (1 + np.abs(grads).sum()))


@given(grads=npst.arrays(np.float64, (4, 5), elements=finite),
       clip_norm=st.floats(1e-3, 100))
def test_clip_is_projection_formula_on_pytrees(grads, clip_norm):
  tree = {"w": jnp.asarray(grads[:, :3]), "b": jnp.asarray(grads[:, 3:])}
  clipped = algorithms.clip_per_example(tree, clip_norm)
  norms = np.linalg.norm(grads, axis=1, keepdims=True)
  expected = grads * np.minimum(1.0, clip_norm / np.maximum(norms, 1e-300))
  got = np.concatenate([np.asarray(clipped["w"]), np.asarray(clipped["b"])], 1)
  np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
  assert np.all(np.linalg.norm(got, axis=1) <= clip_norm * (1 + 1e-12))


def _dice_oracle(grads_per_step, eta, c1, c2, x0):
  """Algorithm 1 of arXiv 2311.14632 written out step by step in numpy."""
  def clip(g, c):
    n = np.linalg.norm(g)
    return g if n <= c else g * (c / n)
  x, e = np.array(x0, float), np.zeros_like(x0, dtype=float)
  xs, es = [], []
  for grads_fn in grads_per_step:
    g = grads_fn(x)                                   # (B, d) per-example
    v = np.mean([clip(gi, c1) for gi in g], axis=0) + clip(e, c2)
    x_next = x - eta * v
    e = e + g.mean(axis=0) - v
    x = x_next
    xs.append(x.copy())
    es.append(e.copy())
  return np.array(xs), np.array(es)


@pytest.mark.parametrize("c1,c2", [(0.5, 0.5), (1.0, 3.0), (10.0, 10.0)])
def test_dice_sgd_matches_step_by_step_algorithm_1(c1, c2):
  a = np.array([[-3.0, 1.0], [-3.0, 0.0], [9.0, -2.0]])
  steps, eta, x0 = 60, 0.2, np.array([5.0, 1.0])
  landscape = landscapes.mean_of_squares(a, init=x0)
  result = algorithms.run(
      landscape, algorithms.dice_sgd(eta, c1, c2), [0], steps=steps,
      record_every=1, metrics=lambda p, s: {"x": p, "e": s[0].error})
  oracle_x, oracle_e = _dice_oracle([lambda x: x[None, :] - a] * steps, eta,
                                    c1, c2, x0)
  np.testing.assert_allclose(result.metrics["x"][0, 1:], oracle_x, rtol=1e-12,
                             atol=1e-12)
  np.testing.assert_allclose(result.metrics["e"][0, 1:], oracle_e, rtol=1e-12,
                             atol=1e-12)


def test_dp_sgd_gc_matches_clipped_gradient_descent():
  a = np.array([-3.0, -3.0, 9.0])
  landscape = landscapes.mean_of_squares(a, init=5.0)
  result = algorithms.run(landscape, algorithms.dp_sgd_gc(0.1, 1.0), [0],
                          steps=50, record_every=1,
                          metrics=lambda p, s: {"x": p})
  x, xs = 5.0, []
  for _ in range(50):
    x = x - 0.1 * np.mean(np.clip(x - a, -1.0, 1.0))
    xs.append(x)
  np.testing.assert_allclose(result.metrics["x"][0, 1:], xs, rtol=1e-13)


def test_dp_noise_has_the_stated_standard_deviation():
  # Updates of DP-SGD-GC on zero gradients are pure noise: -lr * z C / B * N(0,1).
  lr, c, z, batch = 1.0, 2.0, 0.5, 4
  opt = algorithms.dp_sgd_gc(lr, c, z, jax.random.key(3))
  state = opt.init(jnp.zeros(2000))
  updates, _ = opt.update(jnp.zeros((batch, 2000)), state)
  # 2000 draws: the sample sd is within 10% of the truth except w.p. < 1e-5.
  assert abs(np.std(np.asarray(updates)) / (lr * z * c / batch) - 1) < 0.1


def _expected_perturbed_clip_1d(g, k, c):
  integrand = lambda z: np.clip(g + k * z, -c, c) * scipy.stats.norm.pdf(z)
  # Integrate piecewise between the kinks of clip, where quad is accurate.
  kinks = sorted({-12.0, (-c - g) / k, (c - g) / k, 12.0})
  kinks = [z for z in kinks if -12.0 <= z <= 12.0]
  return sum(scipy.integrate.quad(integrand, lo, hi, epsabs=1e-13,
                                  epsrel=1e-13, limit=200)[0]
             for lo, hi in zip(kinks[:-1], kinks[1:]))


@pytest.mark.parametrize("k", [0.5, 3.0, 30.0])
def test_perturbed_clip_mean_matches_quadrature(k):
  g, c, n = 0.7, 1.0, 200_000
  opt = algorithms.perturbed_clip_aggregate(c, k, key=jax.random.key(11))
  state = opt.init(jnp.zeros(()))
  # Each of n examples gets its own perturbation; the aggregate is their mean.
  update, _ = opt.update(jnp.full((n,), g), state)
  expected = _expected_perturbed_clip_1d(g, k, c)
  # |clip| <= c, so the mean of n draws is within 5 c / sqrt(n) w.p. > 1 - 1e-6.
  assert abs(float(update) - expected) < 5 * c / math.sqrt(n)


@pytest.mark.parametrize("k", [0.3, 1.0, 10.0])
def test_perturbation_gain_is_the_slope_at_zero(k):
  h = 1e-4
  slope = (_expected_perturbed_clip_1d(h, k, 1.0) -
           _expected_perturbed_clip_1d(-h, k, 1.0)) / (2 * h)
  # Central difference of a smooth function: error O(h^2) plus quadrature 1e-10.
  assert algorithms.perturbation_gain_1d(1.0, k) == pytest.approx(slope,
                                                                  rel=1e-6)


def test_dice_poisson_normalisation_equals_the_present_rows():
  # Rows 1 and 3 are unsampled (zeroed); with q = 0.5 the expected batch size
  # qN = 2 equals the number present, so both forms must agree exactly.
  present = jnp.array([[3.0, -1.0], [2.0, 5.0]])
  masked = jnp.array([[3.0, -1.0], [0.0, 0.0], [2.0, 5.0], [0.0, 0.0]])
  params = jnp.zeros(2)
  a = algorithms.dice_aggregate(1.0, 1.5, sampling_rate=0.5)
  b = algorithms.dice_aggregate(1.0, 1.5)
  sa, sb = a.init(params), b.init(params)
  for _ in range(3):
    ua, sa = a.update(masked, sa)
    ub, sb = b.update(present, sb)
    np.testing.assert_allclose(ua, ub, rtol=1e-14)
    np.testing.assert_allclose(sa.error, sb.error, rtol=1e-14)


@given(g=npst.arrays(np.float64, 4, elements=st.floats(-1e3, 1e3)),
       c=st.floats(1e-3, 1e3))
def test_clip_factor_is_the_projection_scale(g, c):
  """The ghost-norm path clips by clip_factor(||g||, c): the same projection
  as theory.clip, up to rounding."""
  from boundlab import theory
  np.testing.assert_allclose(
      theory.clip_factor(np.linalg.norm(g), c) * g,
      np.asarray(theory.clip(jnp.asarray(g), c)), rtol=1e-12, atol=1e-300)
