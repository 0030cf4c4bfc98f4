"""Issue 6: the feature-noise model, its CNN, and the large-step window."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, strategies as st

from boundlab import landscapes
from boundlab.landscapes.feature_noise import relu_squared


def _written_out_cnn(w, patches):
  """f(W, x) with explicit loops over signs, neurons and patches."""
  m = w.shape[1]
  total = 0.0
  for j, sign in enumerate((1.0, -1.0)):
    for r in range(m):
      for p in range(patches.shape[0]):
        z = float(np.dot(w[j, r], patches[p]))
        total += sign * max(z, 0.0) ** 2
  return total / m


@given(seed=st.integers(0, 2**31 - 1), width=st.integers(1, 5))
def test_cnn_matches_written_out_sum(seed, width):
  land = landscapes.feature_noise_classification(
      dim=7, num_examples=4, width=width, init_std=0.5, seed=seed % 1000)
  params = land.init(jax.random.key(seed))
  x = land.data["x"][0]
  # float64 throughout; the loop sums at most 2*5*3 terms.
  np.testing.assert_allclose(
      landscapes.two_layer_cnn(params, x),
      _written_out_cnn(np.asarray(params["w"]), np.asarray(x)), rtol=1e-12)


def test_data_model_layout():
  land = landscapes.feature_noise_classification(seed=3)
  c = land.constants
  x, y = np.asarray(land.data["x"]), np.asarray(land.data["y"])
  strong = np.asarray(c["strong_mask"])
  assert x.shape == (16, 3, 64) and set(np.unique(y)) <= {-1.0, 1.0}
  assert (~strong).sum() == 2  # weak fraction 1/8 of 16
  np.testing.assert_array_equal(x[:, 0, 0], np.where(strong, y, 0.0))
  np.testing.assert_array_equal(x[:, 1, 1], 0.1 * y)
  # Noise is orthogonal to u and v; signal patches hold nothing else.
  assert np.all(x[:, 2, :2] == 0) and np.all(x[:, :2, 2:] == 0)
  assert np.all(x[:, 0, 1] == 0) and np.all(x[:, 1, 0] == 0)
  test = c["test"]
  assert np.all(np.asarray(test["x"])[:, 0] == 0)  # weak-only test points


def test_window_is_bounded_oscillation_of_the_one_point_map():
  """The docstring's [D] argument: k = 4 eta |u|^2 / m maps the paper's window
  to [1, 1.6]; the map a -> a (1 - k (a^2 - 1)) converges below k = 1,
  oscillates without sign change inside, and kills the neuron beyond 1.6."""
  land = landscapes.feature_noise_classification(width=8, strong_norm=2.0)
  lo, hi = land.constants["learning_rate_window"]
  k = land.constants["oscillation_parameter"]
  np.testing.assert_allclose([lo * k, hi * k], [1.0, 1.6], rtol=1e-15)

  def orbit(k, a=0.3, steps=3000):
    values = []
    for _ in range(steps):
      a = max(a, 0.0) * (1 - k * (max(a, 0.0) ** 2 - 1))
      values.append(a)
    return np.array(values[-500:])

  assert np.all(np.abs(orbit(0.8) ** 2 - 1) < 1e-12)
  for inside in (1.1, 1.3, 1.5):
    tail = orbit(inside)
    assert np.all(tail > 0) and np.median(np.abs(tail ** 2 - 1)) > 0.2
  assert np.all(orbit(1.65) <= 0)  # dead neuron: ReLU^2 gradient is zero


def test_gradient_of_one_point_equals_the_map():
  """SGD on one strong point with identical neurons is the map above: the
  network really has the scaling the window argument assumes."""
  d, m, eta = 5, 4, 0.7
  land = landscapes.feature_noise_classification(
      dim=d, num_examples=2, width=m, weak_fraction=0.0, noise_std=0.0)
  example = jax.tree.map(lambda a: a[0], land.data)
  y = float(example["y"])
  a = 0.6
  w = np.zeros((2, m, d))
  w[0 if y > 0 else 1, :, 0] = a * y  # overlap a with y u for the rewarded sign
  grad = jax.grad(land.loss)({"w": jnp.asarray(w)}, example)["w"]
  new = w - eta * np.asarray(grad)
  k = 4 * eta / m
  expected = a * (1 - k * (a ** 2 - 1))
  row = 0 if y > 0 else 1
  np.testing.assert_allclose(new[row, :, 0] * y, expected, rtol=1e-12)


def test_relu_squared():
  np.testing.assert_array_equal(relu_squared(jnp.array([-2.0, 0.0, 3.0])),
                                [0.0, 0.0, 9.0])


@pytest.mark.parametrize("kwargs, name", [
    ({"dim": 2}, "dim"), ({"weak_fraction": 1.0}, "weak_fraction"),
    ({"weak_norm": 0.0}, "weak_norm"), ({"init_std": -1.0}, "init_std"),
    ({"noise_std": -0.1}, "noise_std")])
def test_bad_input_names_the_parameter(kwargs, name):
  with pytest.raises(ValueError, match=name):
    landscapes.feature_noise_classification(**kwargs)


# --- SAM and SAF -----------------------------------------------------------

from boundlab import algorithms  # noqa: E402
from boundlab.algorithms.sharpness_aware import (sam, saf,  # noqa: E402
                                                 trajectory_kl)


def test_sam_matches_the_written_out_update():
  land = landscapes.linear_regression(num_examples=12, dim=3, seed=1)
  eta, rho, steps = 0.1, 0.05, 7
  result = algorithms.run(land, sam(eta, rho), [0], steps=steps,
                          record_every=1, metrics=lambda p, s: {"w": p},
                          extra_args=("grad_fn",))
  # The run loop draws the initial point from the first of four split keys.
  w = np.asarray(land.init(jax.random.split(algorithms.seed_keys([0])[0],
                                            4)[0]))
  grad = jax.grad(land.objective)
  for t in range(steps):
    g = np.asarray(grad(jnp.asarray(w)))
    adversarial = w + rho * g / np.linalg.norm(g)
    w = w - eta * np.asarray(grad(jnp.asarray(adversarial)))
    np.testing.assert_allclose(result.metrics["w"][0, t + 1], w, rtol=1e-12)


def _classifier():
  return landscapes.mlp_classifier(num_examples=6, dim=3, width=4,
                                   num_classes=3, seed=2)


def test_saf_without_weight_is_sgd():
  land = _classifier()
  kw = dict(steps=12, record_every=12, batch_size=2, sampling="shuffle",
            metrics=lambda p, s: {"loss": land.objective(p)})
  plain = algorithms.run(land, algorithms.with_mean_gradient(optax.sgd(0.3)),
                         [4], **kw)
  free = algorithms.run(
      land, saf(optax.sgd(0.3), num_examples=6, num_outputs=3,
                steps_per_epoch=3, weight=0.0), [4],
      extra_args=("batch_index", "batch_loss_and_outputs"), **kw)
  np.testing.assert_allclose(free.final_params["w1"], plain.final_params["w1"],
                             rtol=1e-12)


def _kl_written_out(past, now, tau):
  p = jnp.exp(past / tau) / jnp.sum(jnp.exp(past / tau))
  q = jnp.exp(now / tau) / jnp.sum(jnp.exp(now / tau))
  return tau ** 2 * jnp.sum(p * jnp.log(p / q))


def test_saf_matches_the_written_out_trajectory_loss():
  """Full batches (one step per epoch): in epochs after `start`, the step is
  SGD on loss + weight * mean KL to the outputs of `lag` epochs before."""
  land = _classifier()
  eta, lag, start, tau, lam, steps = 0.5, 2, 3, 5.0, 0.7, 8
  result = algorithms.run(
      land, saf(optax.sgd(eta), num_examples=6, num_outputs=3,
                steps_per_epoch=1, lag_epochs=lag, start_epoch=start,
                temperature=tau, weight=lam), [0], steps=steps,
      record_every=1, metrics=lambda p, s: dict(p),
      extra_args=("batch_index", "batch_loss_and_outputs"))
  params = land.init(jax.random.split(algorithms.seed_keys([0])[0], 4)[0])
  x = land.data["x"]
  outputs_at = {}

  def objective(p, target):
    loss = land.objective(p)
    if target is None:
      return loss
    now = jax.vmap(land.predict, in_axes=(None, 0))(p, x)
    kl = jnp.mean(jnp.stack([_kl_written_out(target[i], now[i], tau)
                             for i in range(6)]))
    return loss + lam * kl

  for epoch in range(steps):
    outputs_at[epoch] = jax.vmap(land.predict, in_axes=(None, 0))(params, x)
    target = outputs_at[epoch - lag] if epoch > start else None
    grads = jax.grad(objective)(params, target)
    params = jax.tree.map(lambda p, g: p - eta * g, params, grads)
    for name in params:
      np.testing.assert_allclose(result.metrics[name][0, epoch + 1],
                                 params[name], rtol=1e-10, atol=1e-13)


def test_saf_skips_examples_without_a_target():
  """lag 1: in epoch 1 only examples also seen in epoch 0 are regularised."""
  tau, lam = 2.0, 1.0
  transform = saf(optax.sgd(1.0), num_examples=3, num_outputs=2,
                  steps_per_epoch=1, lag_epochs=1, start_epoch=0,
                  temperature=tau, weight=lam)
  params = jnp.array([[0.3, -0.2], [0.1, 0.5], [-0.4, 0.2]])

  def loss_and_outputs_of(index):
    def fn(p):
      out = p[index] * jnp.array([[1.0, 2.0]])
      return jnp.sum(p ** 2) * 0.0, out
    return fn

  state = transform.init(params)
  _, state = transform.update(None, state, params,
                              batch_index=jnp.array([0, 1]),
                              batch_loss_and_outputs=loss_and_outputs_of(
                                  jnp.array([0, 1])))
  moved = params + 0.1
  updates, _ = transform.update(None, state, moved,
                                batch_index=jnp.array([1, 2]),
                                batch_loss_and_outputs=loss_and_outputs_of(
                                    jnp.array([1, 2])))
  past1 = params[1] * jnp.array([1.0, 2.0])
  expected = -jax.grad(lambda p: lam * 0.5 * trajectory_kl(
      past1, p[1] * jnp.array([1.0, 2.0]), tau))(moved)
  np.testing.assert_allclose(updates, expected, rtol=1e-12, atol=1e-15)
  assert np.all(np.asarray(updates)[2] == 0)  # example 2: no target yet


def test_extra_args_bad_input():
  land = _classifier()
  with pytest.raises(ValueError, match="extra_args"):
    algorithms.run(land, sam(0.1, 0.1), [0], steps=1, record_every=1,
                   batch_size=2, extra_args=("gradient",))
  with pytest.raises(ValueError, match="batch_index"):
    algorithms.run(land, sam(0.1, 0.1), [0], steps=1, record_every=1,
                   batch_size=2, extra_args=("batch_index",))
  with pytest.raises(ValueError, match="start_epoch"):
    saf(optax.sgd(0.1), num_examples=4, num_outputs=2, steps_per_epoch=1,
        lag_epochs=3, start_epoch=1)
  with pytest.raises(ValueError, match="steps_per_epoch"):
    algorithms.run(land, saf(optax.sgd(0.1), num_examples=6, num_outputs=3,
                             steps_per_epoch=2), [0], steps=1, record_every=1,
                   batch_size=2, sampling="shuffle",
                   extra_args=("batch_index", "batch_loss_and_outputs"))
  with pytest.raises(ValueError, match="rho"):
    sam(0.1, 0.0)


# --- flatness toolkit -------------------------------------------------------

from boundlab import theory  # noqa: E402


def test_linear_probe_is_the_pseudoinverse_fit():
  rng = np.random.default_rng(0)
  h, y = rng.standard_normal((6, 9)), rng.choice([-1.0, 1.0], 6)
  h_test = rng.standard_normal((50, 9))
  coef = np.linalg.pinv(h) @ y  # minimum-norm interpolator, independent route
  y_test = np.sign(h_test @ coef)
  assert theory.linear_probe_accuracy(h, y, h_test, y_test) == 1.0
  assert theory.linear_probe_accuracy(h, y, h_test, -y_test) == 0.0
  with pytest.raises(ValueError, match="labels"):
    theory.linear_probe_accuracy(h, y * 2, h_test, y_test)
  with pytest.raises(ValueError, match="features"):
    theory.linear_probe_accuracy(h, y, h_test[:, :3], y_test)


def test_label_noise_keeps_clean_objective_and_adds_noise_of_its_std():
  base = landscapes.diagonal_linear_network(num_examples=5, dim=4, seed=1)
  noisy = landscapes.with_label_noise(base, 0.5)
  params = base.init(jax.random.key(0))
  assert noisy.objective(params) == base.objective(params)
  n = 200_000
  clean = noisy.sample(jax.random.key(7), n)
  np.testing.assert_array_equal(
      clean["y"], np.asarray(clean["x"]) @ base.constants["beta_star"])
  batch = noisy.perturb_batch(jax.random.key(8), clean)
  x, y = np.asarray(batch["x"]), np.asarray(batch["y"])
  # The clean label of a row is <beta*, x>; the residual is the added noise.
  residual = y - x @ base.constants["beta_star"]
  # z-test of the mean and a chi-square-scale check of the variance at
  # level 1e-4 each (fixed key: deterministic).
  assert abs(residual.mean()) < 3.9 * 0.5 / np.sqrt(n)
  assert abs(residual.var() / 0.25 - 1) < 3.9 * np.sqrt(2 / n)
  with pytest.raises(ValueError, match="std"):
    landscapes.with_label_noise(base, -1.0)


def test_sparse_sign_task_shares_the_support():
  task = landscapes.sparse_sign_task(12, 3, 8, 20, seed=4)
  assert np.all(task["gamma"][3:] == 0) and np.all(task["gamma"][:3] != 0)
  for part in ("train", "test"):
    np.testing.assert_array_equal(
        task[part]["y"], np.sign(task[part]["x"] @ task["gamma"]))


def test_batch_gradient_path_equals_per_example_mean():
  land = _classifier()
  kw = dict(steps=9, record_every=9, batch_size=2, sampling="shuffle")
  per_example = algorithms.run(
      land, algorithms.with_mean_gradient(optax.sgd(0.3)), [1, 2], **kw)
  batch = algorithms.run(
      land, algorithms.with_batch_gradient(optax.sgd(0.3)), [1, 2],
      extra_args=("grad_fn",), **kw)
  for name in ("w1", "w2"):
    # Same sums in a different order: float64 rounding only.
    np.testing.assert_allclose(batch.final_params[name],
                               per_example.final_params[name], rtol=1e-12)
  with pytest.raises(ValueError, match="grad_fn"):
    algorithms.run(land, algorithms.with_batch_gradient(optax.sgd(0.3)), [1],
                   **kw)


@pytest.mark.parametrize("land", [
    landscapes.mlp_classifier(num_examples=5, dim=3, width=4, seed=1),
    landscapes.feature_noise_classification(dim=6, num_examples=4, width=2,
                                            init_std=0.4, seed=1)],
    ids=["mlp_classifier", "feature_noise"])
def test_output_loss_composes_to_loss(land):
  params = land.init(jax.random.key(5))
  for i in range(4):
    example = jax.tree.map(lambda a: a[i], land.data)
    np.testing.assert_allclose(
        land.output_loss(land.predict(params, example["x"]), example),
        land.loss(params, example), rtol=1e-15)


def test_value_at_level_interpolates_log_log():
  from boundlab.experiments.equal_loss import first_crossing, value_at_level
  # Tr H = loss^0.5 exactly on a log-log line: interpolation is exact.
  np.testing.assert_allclose(
      value_at_level([0.2, 0.05], [0.2 ** 0.5, 0.05 ** 0.5], 0.1),
      0.1 ** 0.5, rtol=1e-14)
  assert first_crossing([1.0, 0.5, 0.2, 0.05], 0.1) == 3
  assert first_crossing([1.0, 0.5], 0.1) == -1
  assert first_crossing([0.05, 0.01], 0.1) == -1  # no bracketing record


def test_gradient_descent_limit_reaches_an_interpolating_minimum():
  from boundlab.paper_repro.liuxie2023 import gradient_descent_limit
  land = landscapes.diagonal_linear_network(num_examples=5, dim=8, seed=0,
                                            init_scale=0.5, v_init_scale=0.2)
  params = land.init(jax.random.key(0))
  assert not np.allclose(params["u"] / params["v"], 1.0)
  limit = gradient_descent_limit(land.objective, params, 0.05, 20_000)
  assert land.objective(limit) < 1e-20
  # Gradient flow conserves u^2 - v^2 per coordinate; GD nearly does.
  np.testing.assert_allclose(limit["u"] ** 2 - limit["v"] ** 2,
                             params["u"] ** 2 - params["v"] ** 2, atol=0.05)


@pytest.mark.parametrize("kwargs", [
    {"batch_size": 2}, {"batch_size": None},
    {"batch_size": 2, "sampling": "shuffle"},
    {"batch_size": 2, "sampling": "poisson"}],
    ids=["replacement", "full_batch", "shuffle", "poisson"])
def test_label_noise_reaches_every_sampling(kwargs):
  """The run loop applies the landscape's perturb_batch hook whatever the
  sampling. One SGD step from w = 0 on least squares moves w by lr x mean(y x)
  over the batch, so noisy labels move it elsewhere than clean ones, while
  the clean run is exactly the formula (full batch)."""
  base = landscapes.linear_regression(num_examples=6, dim=3, seed=2)
  opt = algorithms.with_mean_gradient(optax.sgd(0.1))
  clean, noisy = (algorithms.run(land, opt, [0, 1], steps=1, record_every=1,
                                 **kwargs).final_params
                  for land in (base, landscapes.with_label_noise(base, 3.0)))
  assert np.all(np.abs(noisy - clean) > 1e-6)
  if kwargs["batch_size"] is None:
    x, y = np.asarray(base.data["x"]), np.asarray(base.data["y"])
    np.testing.assert_allclose(clean, np.tile(0.1 * (y @ x) / 6, (2, 1)),
                               rtol=1e-13)
