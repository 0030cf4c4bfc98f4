"""Sophia's curvature estimators, Newton's method and optax's Sophia update."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from hypothesis import given, strategies as st
from jax.flatten_util import ravel_pytree

from boundlab import algorithms, landscapes
from boundlab.algorithms.hessian_diagonal import (exact_hessian_diagonal,
                                                  gauss_newton_bartlett)
from boundlab.algorithms.newton import newton
from boundlab.theory.gauss_newton import (gauss_newton_bartlett_diagonal,
                                          gauss_newton_bartlett_from_labels,
                                          gauss_newton_diagonal)


def _linear_softmax(seed, n=3, d=2, k=3):
  rng = np.random.default_rng(seed)
  inputs = jnp.asarray(rng.standard_normal((n, d)))
  params = {"w": jnp.asarray(rng.standard_normal((k, d))),
            "b": jnp.asarray(rng.standard_normal(k))}
  predict = lambda p, x: p["w"] @ x + p["b"]
  return predict, params, inputs


@given(seed=st.integers(0, 10_000))
def test_gauss_newton_equals_hessian_for_linear_logits(seed):
  # Logits linear in the parameters: the Hessian of the mean cross-entropy is
  # exactly the Gauss-Newton matrix, whatever the labels.
  predict, params, inputs = _linear_softmax(seed)
  labels = jnp.array([0, 2, 1])
  flat, unravel = ravel_pytree(params)

  def loss(p):
    out = jax.vmap(predict, in_axes=(None, 0))(unravel(p), inputs)
    return jnp.mean(jax.nn.logsumexp(out, axis=1)
                    - out[jnp.arange(3), labels])

  exact = jnp.diag(jax.hessian(loss)(flat))
  ours = ravel_pytree(gauss_newton_diagonal(predict, params, inputs))[0]
  np.testing.assert_allclose(ours, exact, rtol=1e-10, atol=1e-12)


@given(seed=st.integers(0, 10_000))
def test_gnb_expectation_by_enumerating_every_label_draw(seed):
  # E over sampled labels, computed exactly by summing all k^B label vectors
  # weighted by their model probabilities: it must equal diag(G).
  predict, params, inputs = _linear_softmax(seed, n=2, k=3)
  probs = jax.nn.softmax(jax.vmap(predict, in_axes=(None, 0))(params, inputs))
  expectation = 0.0
  for labels in itertools.product(range(3), repeat=2):
    weight = probs[0, labels[0]] * probs[1, labels[1]]
    estimate = ravel_pytree(gauss_newton_bartlett_from_labels(
        predict, params, inputs, jnp.array(labels)))[0]
    expectation = expectation + weight * estimate
  exact = ravel_pytree(gauss_newton_diagonal(predict, params, inputs))[0]
  np.testing.assert_allclose(expectation, exact, rtol=1e-10, atol=1e-13)


def test_gnb_is_nonnegative_and_keyed():
  predict, params, inputs = _linear_softmax(0)
  a = gauss_newton_bartlett_diagonal(predict, params, inputs, jax.random.key(1))
  b = gauss_newton_bartlett_diagonal(predict, params, inputs, jax.random.key(1))
  assert all(bool(jnp.all(x >= 0)) for x in jax.tree.leaves(a))
  jax.tree.map(np.testing.assert_array_equal, a, b)


def test_newton_solves_a_quadratic_in_one_step():
  rng = np.random.default_rng(0)
  a = rng.standard_normal((4, 4))
  h, c = jnp.asarray(a @ a.T + np.eye(4)), jnp.asarray(rng.standard_normal(4))
  objective = lambda x: 0.5 * x @ h @ x - c @ x
  opt = newton(objective)
  x = jnp.zeros(4)
  updates, _ = opt.update(jax.grad(objective)(x), opt.init(x), x)
  np.testing.assert_allclose(x + updates, np.linalg.solve(h, c), rtol=1e-12)


def test_optax_sophia_with_exact_diagonal_is_the_written_out_update():
  # optax.contrib.sophia with b1 = b2 = 0 and update_interval 1: the step at t
  # uses the curvature measured at t - 1 (zero at t = 0, so the first step is
  # a sign step), theta <- theta - lr clip(g / max(gamma h, eps), 1).
  landscape = landscapes.heterogeneous_curvature_toy()
  lr, eps, steps = 0.5, 1e-12, 12
  opt = optax.contrib.sophia(
      lr, b1=0.0, b2=0.0, eps=eps, weight_decay=0.0, gamma=1.0,
      clip_threshold=1.0, update_interval=1,
      hessian_diagonal_fn=exact_hessian_diagonal(landscape.objective))
  theta = jnp.array([0.3, -0.5])
  state = opt.init(theta)
  grad = jax.grad(landscape.objective)
  reference, lagged_h = np.array([0.3, -0.5]), np.zeros(2)
  for _ in range(steps):
    updates, state = opt.update(grad(theta), state, theta)
    theta = optax.apply_updates(theta, updates)
    t1 = reference[0]
    g = np.array([41.6 * t1**3 - 14.4 * t1**2 - 27.2 * t1, reference[1] - 4])
    h = np.array([124.8 * t1**2 - 28.8 * t1 - 27.2, 1.0])
    reference = reference - lr * np.clip(g / np.maximum(lagged_h, eps), -1, 1)
    lagged_h = h
    np.testing.assert_allclose(np.asarray(theta), reference, rtol=1e-12,
                               atol=1e-14)


def test_sophia_g_runs_in_the_run_loop():
  landscape = landscapes.mlp_classifier(num_examples=32)
  opt = optax.contrib.sophia(
      0.05, gamma=0.1, update_interval=2, weight_decay=0.0,
      hessian_diagonal_fn=gauss_newton_bartlett(
          landscape.predict, landscape.data["x"], jax.random.key(0)))
  result = algorithms.run(
      landscape, algorithms.with_mean_gradient(opt), [0, 1], steps=60,
      record_every=60, metrics=lambda p, s: {"loss": landscape.objective(p)})
  loss = result.metrics["loss"]
  assert np.all(result.diverged_at == -1)
  assert np.all(loss[:, -1] < loss[:, 0])   # it trains
