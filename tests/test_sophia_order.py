"""Sophia's order of curvature estimate and step (algorithms.hessian_diagonal).

optax's order (precondition by the previous EMA, then refresh it) against
Liu et al.'s Algorithm 3 (refresh at the current point, then step), both
written out step by step in numpy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from boundlab import landscapes
from boundlab.algorithms.hessian_diagonal import (exact_hessian_diagonal,
                                                  sophia)


def _toy_gradient_and_curvature(theta):
  """The heterogeneous-curvature toy's gradient and diag(H), by hand."""
  t1, t2 = theta
  return (np.array([41.6 * t1**3 - 14.4 * t1**2 - 27.2 * t1, t2 - 4]),
          np.array([124.8 * t1**2 - 28.8 * t1 - 27.2, 1.0]))


def _toy_optimizer(order):
  landscape = landscapes.heterogeneous_curvature_toy()
  return landscape, sophia(
      0.5, b1=0.0, b2=0.0, eps=1e-12, weight_decay=0.0, gamma=1.0,
      clip_threshold=1.0, update_interval=1,
      hessian_diagonal_fn=exact_hessian_diagonal(landscape.objective),
      curvature_order=order)


def _run(landscape, opt, theta, steps):
  state, path = opt.init(theta), []
  for _ in range(steps):
    updates, state = opt.update(jax.grad(landscape.objective)(theta), state,
                                theta)
    theta = optax.apply_updates(theta, updates)
    path.append(np.asarray(theta))
  return np.array(path)


# (1.2, 3.8): positive curvature in both coordinates and unclipped ratios,
# so the paper's first step is diagonal Newton, optax's a sign step.
START = (1.2, 3.8)


def test_optax_order_is_optax_contrib_sophia():
  landscape, ours = _toy_optimizer("optax")
  reference = optax.contrib.sophia(
      0.5, b1=0.0, b2=0.0, eps=1e-12, weight_decay=0.0, gamma=1.0,
      clip_threshold=1.0, update_interval=1,
      hessian_diagonal_fn=exact_hessian_diagonal(landscape.objective))
  theta = jnp.array(START)
  np.testing.assert_array_equal(_run(landscape, ours, theta, 5),
                                _run(landscape, reference, theta, 5))


def test_paper_order_on_the_toy_is_the_written_out_update():
  # b1 = b2 = 0, update every step: theta <- theta - lr clip(g(theta) /
  # max(h(theta), eps), 1) with h at the *current* theta.
  landscape, opt = _toy_optimizer("paper")
  path = _run(landscape, opt, jnp.array(START), 3)
  reference, lagged_h = np.array(START), np.zeros(2)
  optax_reference = np.array(START)
  for step in range(3):
    g, h = _toy_gradient_and_curvature(reference)
    reference = reference - 0.5 * np.clip(g / np.maximum(h, 1e-12), -1, 1)
    np.testing.assert_allclose(path[step], reference, rtol=1e-12, atol=1e-14)
    g, h = _toy_gradient_and_curvature(optax_reference)
    optax_reference = optax_reference - 0.5 * np.clip(
        g / np.maximum(lagged_h, 1e-12), -1, 1)
    lagged_h = h
  # The two orders part from the first step (optax's is a sign step).
  optax_path = _run(landscape, _toy_optimizer("optax")[1], jnp.array(START), 1)
  np.testing.assert_allclose(optax_path[0], np.array(START) - 0.5 * np.sign(
      _toy_gradient_and_curvature(np.array(START))[0]), rtol=1e-14)
  assert np.abs(path[0] - optax_path[0]).max() > 0.1


def test_paper_order_with_momentum_decay_and_a_refresh_interval():
  # A 2-D quadratic with a non-diagonal Hessian (minimum (5, -14)); b1, b2,
  # weight decay and an update interval of 2 (refresh at steps 0 and 2, so
  # step 1 reuses step 0's EMA); clip 0.7 binds once.
  a = np.array([[3.0, 1.0], [1.0, 0.5]])
  c = np.array([1.0, -2.0])
  objective = lambda x: 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(c) @ x
  lr, b1, b2, eps, gamma, clip, wd = 0.3, 0.9, 0.5, 1e-12, 1.0, 0.7, 0.1
  opt = sophia(lr, b1=b1, b2=b2, eps=eps, weight_decay=wd, gamma=gamma,
               clip_threshold=clip, update_interval=2,
               hessian_diagonal_fn=exact_hessian_diagonal(objective),
               curvature_order="paper")
  theta = jnp.array([5.3, -14.2])
  state = opt.init(theta)
  x, mu, nu, clipped = np.array([5.3, -14.2]), np.zeros(2), np.zeros(2), 0
  for step in range(3):
    updates, state = opt.update(jax.grad(objective)(theta), state, theta)
    theta = optax.apply_updates(theta, updates)
    g = a @ x - c
    mu = b1 * mu + (1 - b1) * g
    mu_hat = mu / (1 - b1 ** (step + 1))
    if step % 2 == 0:          # refresh first, at the current point
      nu = b2 * nu + (1 - b2) * np.diag(a)
    ratio = mu_hat / np.maximum(gamma * nu, eps)
    clipped += int(np.sum(np.abs(ratio) > clip))
    x = x - lr * (np.clip(ratio, -clip, clip) + wd * x)
    np.testing.assert_allclose(np.asarray(theta), x, rtol=1e-12, atol=1e-14)
  assert 0 < clipped < 6      # both branches of the clip were exercised
  np.testing.assert_allclose(np.asarray(state[0].nu),
                             (b2 * (1 - b2) + (1 - b2)) * np.diag(a),
                             rtol=1e-14)


def test_bad_arguments_are_rejected():
  with pytest.raises(ValueError, match="curvature_order must be one of"):
    sophia(0.1, hessian_diagonal_fn=exact_hessian_diagonal(jnp.sum),
           curvature_order="levanter")
  with pytest.raises(ValueError, match="hessian_diagonal_fn must be"):
    sophia(0.1, curvature_order="paper")
  with pytest.raises(ValueError, match="update_interval must be"):
    sophia(0.1, hessian_diagonal_fn=exact_hessian_diagonal(jnp.sum),
           update_interval=0, curvature_order="paper")
