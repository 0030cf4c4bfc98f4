"""Two-sided checks of stochastic estimators and DP noise scales.

One-sided or loose checks (an interval covering the truth 28 times in 40, a
sample sd within 10%) let a 2% multiplicative bias in an estimator or a 0.95
factor on DP noise through. Each test here compares a Monte Carlo mean (or
standard deviation) with the exact value, at a tolerance of a few standard
errors, with enough samples that the bias to catch is several times the
tolerance. The tests assert that design (``_assert_resolves``) so a later
change of sizes cannot silently make them toothless. Seeds are fixed.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from boundlab import algorithms, theory
from boundlab.algorithms import private_step
from boundlab.algorithms.private_adaptive import (privatize_then_scale_adam,
                                                  scale_then_privatize_adam)
from boundlab.theory.gauss_newton import (gauss_newton_bartlett_diagonal,
                                          gauss_newton_diagonal)


def _assert_resolves(bias, tolerance, standard_error):
  """The tolerance is >= 4 SE and a bias of ``bias`` exceeds tolerance + 4 SE,
  so the true value passes except w.p. < 1e-4 and the biased one fails
  except w.p. < 1e-4 (normal tails at 4 sd)."""
  assert np.all(tolerance >= 4 * standard_error)
  assert np.all(bias >= tolerance + 4 * standard_error)


# --------------------------------------------------------------- Hutchinson --

def _test_matrix(seed, dim=40, offdiagonal=0.05, indefinite=False):
  """Diagonal in [1, 2] (or +-) plus small symmetric off-diagonal noise.

  A large diagonal makes the trace large relative to the probe variance
  2 (||H||_F^2 - sum_i H_ii^2), which only the off-diagonal part feeds.
  """
  rng = np.random.default_rng(seed)
  diag = rng.uniform(1.0, 2.0, dim)
  if indefinite:
    diag = diag * np.where(np.arange(dim) % 4 == 0, -1.0, 1.0)
  e = rng.standard_normal((dim, dim)) * offdiagonal
  return np.diag(diag) + np.triu(e, 1) + np.triu(e, 1).T


@pytest.mark.parametrize("indefinite", [False, True])
def test_hutchinson_trace_mean_is_within_a_few_standard_errors(indefinite):
  h = _test_matrix(0, offdiagonal=0.05, indefinite=indefinite)
  dim, num_probes = h.shape[0], 4000
  matrix = jnp.asarray(h)
  estimate = theory.hutchinson_trace(lambda z: matrix @ z, dim, num_probes,
                                     jax.random.key(1))
  exact = np.trace(h)
  # Exact variance of one Rademacher sample z^T H z (module docstring).
  sd = math.sqrt(2 * (np.sum(h**2) - np.sum(np.diag(h)**2)))
  se = sd / math.sqrt(num_probes)
  tolerance = 4 * se
  # With these sizes 2% of |Tr H| is ~13-27 SE: a 1.02 factor fails.
  _assert_resolves(0.02 * abs(exact), tolerance, se)
  assert abs(estimate.mean - exact) < tolerance
  assert estimate.mean == pytest.approx(np.mean(estimate.samples), rel=1e-12)
  # The interval is two-sided around the mean with half-width ~ t * sd /
  # sqrt(n): the sample sd of 4,000 probes has relative sd
  # sqrt((kurtosis - 1) / (4 n)) (~1-2% here, kurtosis from the samples);
  # 6% leaves >= 4 of those standard errors.
  samples = estimate.samples
  kurtosis = np.mean((samples - samples.mean())**4) / np.var(samples)**2
  rel_sd_of_sd = math.sqrt((kurtosis - 1) / (4 * num_probes))
  assert 0.06 >= 4 * rel_sd_of_sd
  half_width = (estimate.ci[1] - estimate.ci[0]) / 2
  assert estimate.ci[0] < estimate.mean < estimate.ci[1]
  assert half_width == pytest.approx(1.96 * se, rel=0.06)


def test_hutchinson_diagonal_each_coordinate_within_a_few_standard_errors():
  h = _test_matrix(2, offdiagonal=0.05)
  dim, num_probes = h.shape[0], 20_000
  matrix = jnp.asarray(h)
  estimate = theory.hutchinson_diagonal(lambda z: matrix @ z, dim, num_probes,
                                        jax.random.key(3), batch_size=4096)
  # z_i (Hz)_i = H_ii + sum_{j != i} z_i z_j H_ij: variance sum_{j!=i} H_ij^2.
  se = np.sqrt(np.sum(h**2, 1) - np.diag(h)**2) / math.sqrt(num_probes)
  # 4.5 SE per coordinate: all 40 pass w.p. > 1 - 40 * 7e-6; 2% of H_ii
  # (>= 0.02) is >= 9 SE for every coordinate.
  tolerance = 4.5 * se
  _assert_resolves(0.02 * np.abs(np.diag(h)), tolerance, se)
  assert np.all(np.abs(np.asarray(estimate.mean) - np.diag(h)) < tolerance)
  # The reported standard error: sample sd / sqrt(n), the sample sd of 20,000
  # probes within 5% (relative sd ~ 1/sqrt(2n) = 0.5% for these near-Gaussian
  # sums, so 5% is ~10 of its standard errors).
  np.testing.assert_allclose(np.asarray(estimate.standard_error), se,
                             rtol=0.05)


# ---------------------------------------------------- Gauss-Newton-Bartlett --

def test_gauss_newton_bartlett_sampled_labels_average_to_diag_g():
  # test_second_order checks the estimator for given labels exactly (by
  # enumeration); this checks the label sampling: the mean over many keys of
  # the sampled estimator must match the exact diag G, two-sided.
  rng = np.random.default_rng(4)
  inputs = jnp.asarray(rng.standard_normal((4, 3)))
  params = {"w": jnp.asarray(rng.standard_normal((3, 3))),
            "b": jnp.asarray(rng.standard_normal(3))}
  predict = lambda p, x: 2 * jnp.tanh(p["w"] @ x + p["b"])   # non-linear
  num_keys = 200_000
  keys = jax.random.split(jax.random.key(5), num_keys)
  estimates = np.asarray(jax.jit(jax.vmap(lambda k: ravel_pytree(
      gauss_newton_bartlett_diagonal(predict, params, inputs, k))[0]))(keys))
  exact = np.asarray(ravel_pytree(gauss_newton_diagonal(predict, params,
                                                        inputs))[0])
  # Per coordinate (12): 4.5 sample SE (sd estimated from 200,000 draws,
  # exact enough for the normal approximation).
  se = estimates.std(0, ddof=1) / math.sqrt(num_keys)
  assert np.all(np.abs(estimates.mean(0) - exact) < 4.5 * se)
  # The sum over coordinates (Tr G) resolves a 2% bias: its SE is ~0.2% of
  # the trace with these sizes.
  sums = estimates.sum(1)
  se_sum = sums.std(ddof=1) / math.sqrt(num_keys)
  _assert_resolves(0.02 * exact.sum(), 4 * se_sum, se_sum)
  assert abs(sums.mean() - exact.sum()) < 4 * se_sum


# ------------------------------------------------------------------- DP noise --

# Draws per checked array: the sample RMS of N i.i.d. N(0, s^2) has sd
# s / sqrt(2N); with N >= 120,000 the 1% tolerance is >= 4.9 of those
# standard errors, and a 0.95 factor (5% off) is >= 24 of them.
DRAWS = 120_000
REL_TOL = 0.01


def _check_noise(noise_leaves, expected_std):
  """Each leaf's RMS within 1% of the expected std; mean within 4 SE."""
  for leaf in noise_leaves:
    leaf = np.asarray(leaf).ravel()
    if leaf.size < DRAWS:
      continue
    se = expected_std / math.sqrt(2 * leaf.size)
    _assert_resolves(0.05 * expected_std, REL_TOL * expected_std, se)
    rms = math.sqrt(np.mean(leaf**2))
    assert abs(rms / expected_std - 1) < REL_TOL, (rms, expected_std)
    assert abs(np.mean(leaf)) < 4 * expected_std / math.sqrt(leaf.size)
  pooled = np.concatenate([np.asarray(x).ravel() for x in noise_leaves])
  assert pooled.size >= DRAWS
  assert abs(math.sqrt(np.mean(pooled**2)) / expected_std - 1) < REL_TOL


def _per_example_grads(seed, batch):
  """Two leaves of DRAWS coordinates, rows of norms around the clip norm."""
  rng = np.random.default_rng(seed)
  scale = rng.uniform(0.2, 3.0, (batch, 1)) / math.sqrt(2 * DRAWS)
  return {"a": jnp.asarray(rng.standard_normal((batch, DRAWS)) * scale),
          "b": jnp.asarray(rng.standard_normal((batch, DRAWS)) * scale)}


def _noise(make, grads, noisy_value, clean_value=0.0):
  """One update with and without noise (same key): the difference is noise."""
  params = jax.tree.map(lambda g: jnp.zeros(g.shape[1:]), grads)
  noisy_opt, clean_opt = make(noisy_value), make(clean_value)
  noisy, _ = noisy_opt.update(grads, noisy_opt.init(params), params)
  clean, _ = clean_opt.update(grads, clean_opt.init(params), params)
  return jax.tree.leaves(jax.tree.map(jnp.subtract, noisy, clean))


@pytest.mark.parametrize("sampling_rate", [None, 0.5])
def test_dp_sgd_gc_noise_std_is_z_c_over_batch(sampling_rate):
  lr, c, z, batch = 0.5, 1.0, 1.3, 4
  grads = _per_example_grads(0, batch)
  make = lambda zz: algorithms.dp_sgd_gc(lr, c, zz, jax.random.key(6),
                                         sampling_rate=sampling_rate)
  q = 1.0 if sampling_rate is None else sampling_rate
  # update = -lr (sum_i clip(g_i, C) + z C zeta) / (q B)
  _check_noise(_noise(make, grads, z), lr * z * c / (q * batch))


def test_perturbed_clip_aggregate_dp_noise_std_is_z_c_over_batch():
  c, z, batch = 1.0, 0.8, 4
  grads = _per_example_grads(1, batch)
  # Same key: the pre-clipping perturbations are identical with and without
  # DP noise, so the difference is the DP noise alone.
  make = lambda zz: algorithms.perturbed_clip_aggregate(c, 0.5, zz,
                                                        jax.random.key(7))
  _check_noise(_noise(make, grads, z), z * c / batch)


def test_dice_noise_std_is_sigma_and_is_not_fed_back():
  c1, c2, sigma, batch = 1.0, 2.0, 0.3, 4
  grads = _per_example_grads(2, batch)
  make = lambda s: algorithms.dice_aggregate(c1, c2, s, jax.random.key(8))
  _check_noise(_noise(make, grads, sigma), sigma)
  # Algorithm 1: e^{t+1} = e^t + mean g - v^t, with v^t free of w^t, so the
  # error state after a step does not depend on the noise level.
  params = jax.tree.map(lambda g: jnp.zeros(g.shape[1:]), grads)
  states = [make(s).update(grads, make(s).init(params))[1] for s in (0, sigma)]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12,
                                                       atol=1e-15),
               states[0].error, states[1].error)


def _invert_first_adam_step(update, lr, eps):
  """Adam's first step is u -> -lr u / (|u| + eps) elementwise; invert it."""
  update = np.asarray(update)
  return -eps * update / (lr - np.abs(update))


@pytest.mark.parametrize("variant", ["privatize_then_scale",
                                     "scale_then_privatize"])
def test_private_adam_noise_std_is_z_c_over_batch(variant):
  # First step from m = v = 0: bias-corrected Adam returns -lr u/(|u| + eps)
  # for its input u, an invertible map, so the privatized gradient u is
  # recovered exactly. Privatize-then-scale: u's noise is z C / B.
  # Scale-then-privatize: gradients scaled by s = 1/eps (v = 0) before clipping
  # and noise, unscaled after, so u's noise is z C eps / B.
  lr, c, z, batch, eps = 1.0, 1.0, 1.1, 4, 0.5
  grads = _per_example_grads(3, batch)
  params = jax.tree.map(lambda g: jnp.zeros(g.shape[1:]), grads)
  build = (privatize_then_scale_adam if variant == "privatize_then_scale"
           else scale_then_privatize_adam)
  us = []
  for zz in (0.0, z):
    opt = build(lr, c, zz, jax.random.key(9), eps=eps)
    update, _ = opt.update(grads, opt.init(params), params)
    us.append(jax.tree.map(lambda u: _invert_first_adam_step(u, lr, eps),
                           update))
  noise = jax.tree.leaves(jax.tree.map(np.subtract, us[1], us[0]))
  expected = z * c / batch * (1.0 if variant == "privatize_then_scale"
                              else eps)
  _check_noise(noise, expected)


@pytest.mark.parametrize("style", ["all-layer", "layer-wise"])
def test_fast_private_gradient_noise_std_is_z_c_over_denominator(style):
  c, z, batch, denominator = 1.0, 1.7, 8, 5.0
  key = jax.random.key(10)
  params = private_step.dense_network_init(jax.random.key(11), [300, 400, 300],
                                           dtype=jnp.float64)
  x = jax.random.normal(jax.random.key(12), (batch, 300))
  y = jax.random.randint(jax.random.key(13), (batch,), 0, 300)
  # One compiled graph (z traced) instead of op-by-op dispatch: ~10x faster.
  grad = jax.jit(lambda zz: private_step.private_gradient(
      params, x, y, key, clip_norm=c, noise_multiplier=zz, style=style,
      denominator=denominator))
  noise = jax.tree.leaves(jax.tree.map(jnp.subtract, grad(z), grad(0.0)))
  # (sum_i c_i grad_i + z C zeta) / denominator, for both styles (the
  # sensitivity is C either way): two weight leaves of 120,000 draws each.
  _check_noise(noise, z * c / denominator)
