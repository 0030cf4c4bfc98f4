"""The run loop: recording, exact step sums, divergence, vmap over seeds and grids."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from boundlab import algorithms, landscapes


def _quadratic():
  return landscapes.noisy_quadratic(landscapes.gaussian(3, 0.5), curvature=2.0)


def test_records_and_step_sums_match_a_python_loop():
  landscape = landscapes.mean_of_squares([-1.0, 2.0, 4.0], init=10.0)
  result = algorithms.run(
      landscape, algorithms.with_mean_gradient(optax.sgd(0.1)), [0], steps=40, record_every=10,
      batch_size=None, metrics=lambda p, s: {"x": p},
      step_metrics=lambda p, key: {"f": landscape.objective(p)})
  x, xs, fs = 10.0, [10.0], []
  for t in range(40):
    fs.append(0.5 * np.mean((x - np.array([-1.0, 2.0, 4.0]))**2))
    x -= 0.1 * (x - 5.0 / 3.0)
    if (t + 1) % 10 == 0:
      xs.append(x)
  np.testing.assert_array_equal(result.record_steps, [0, 10, 20, 30, 40])
  np.testing.assert_allclose(result.metrics["x"][0], xs, rtol=1e-13)
  np.testing.assert_allclose(result.step_sums["f"][0, -1], np.sum(fs),
                             rtol=1e-12)
  np.testing.assert_allclose(result.window_average("f", 20)[0],
                             np.mean(fs[20:]), rtol=1e-12)


def test_divergence_is_reported_with_its_step_not_raised():
  # GD on h = 2 with step 1.5: |1 - 3| = 2 > 1, overflow after ~1000 steps.
  landscape = landscapes.noisy_quadratic(landscapes.gaussian(1), curvature=2.0)
  result = algorithms.run(landscape, algorithms.with_mean_gradient(optax.sgd(1.5)), [0, 1], steps=4000,
                          record_every=100, batch_size=1)
  assert np.all(result.diverged)
  assert np.all((result.diverged_at > 500) & (result.diverged_at < 1500))
  stable = algorithms.run(landscape, algorithms.with_mean_gradient(optax.sgd(0.5)), [0], steps=200,
                          record_every=100, batch_size=1)
  assert stable.diverged_at.tolist() == [-1]


def test_vmapped_seeds_equal_separate_runs():
  landscape = _quadratic()
  opt = lambda key: algorithms.dp_sgd_gc(0.05, 1.0, 0.3, key)
  together = algorithms.run(landscape, opt, [3, 7], steps=50, record_every=25,
                            batch_size=4)
  for i, seed in enumerate([3, 7]):
    alone = algorithms.run(landscape, opt, [seed], steps=50, record_every=25,
                           batch_size=4)
    np.testing.assert_allclose(together.final_params[i], alone.final_params[0],
                               rtol=1e-12)


def test_hyperparameter_grid_equals_separate_runs():
  landscape = _quadratic()
  grid = {"lr": [0.01, 0.1], "c": [0.5, 2.0]}
  together = algorithms.run(
      landscape, lambda key, lr, c: algorithms.dp_sgd_gc(lr, c, 0.2, key),
      [1, 2], steps=30, record_every=10, batch_size=2, hyperparams=grid)
  assert together.final_params.shape == (2, 2, 3)
  for j, (lr, c) in enumerate(zip(grid["lr"], grid["c"])):
    alone = algorithms.run(
        landscape, lambda key: algorithms.dp_sgd_gc(lr, c, 0.2, key), [1, 2],
        steps=30, record_every=10, batch_size=2)
    np.testing.assert_allclose(together.final_params[j], alone.final_params,
                               rtol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    ({"steps": 0, "record_every": 1}, "steps"),
    ({"steps": 10, "record_every": 3}, "multiple of record_every"),
    ({"steps": 10, "record_every": 5, "batch_size": 0}, "batch_size"),
])
def test_bad_run_arguments_raise(kwargs, match):
  with pytest.raises(ValueError, match=match):
    algorithms.run(_quadratic(), algorithms.with_mean_gradient(optax.sgd(0.1)), [0], **kwargs)


def test_grid_points_are_validated_eagerly():
  with pytest.raises(ValueError, match="clip_norm"):
    algorithms.run(_quadratic(),
                   lambda key, c: algorithms.dp_sgd_gc(0.1, c, 0.0, key), [0],
                   steps=2, record_every=1, batch_size=1,
                   hyperparams={"c": [1.0, -1.0]})


def test_first_divergence():
  assert algorithms.first_divergence([-1, 7, 3, -1]) == 3
  assert algorithms.first_divergence([-1, -1]) == -1
  # A 32-bit array (a run without x64) once overflowed the sentinel.
  steps = np.array([[-1, 9], [4, -1]], dtype=np.int32)
  np.testing.assert_array_equal(algorithms.first_divergence(steps, axis=0),
                                [4, 9])


def test_unroll_does_not_change_results_and_programs_are_reused():
  from boundlab.algorithms import run_loop as run_module
  landscape = _quadratic()
  opt = lambda key: algorithms.dp_sgd_gc(0.05, 1.0, 0.3, key)
  kwargs = dict(steps=40, record_every=20, batch_size=3)
  plain = algorithms.run(landscape, opt, [5], **kwargs)
  before = len(run_module._PROGRAMS)
  again = algorithms.run(landscape, opt, [5], **kwargs)
  assert len(run_module._PROGRAMS) == before        # cache hit, no new program
  unrolled = algorithms.run(landscape, opt, [5], unroll=7, **kwargs)
  np.testing.assert_array_equal(plain.final_params, again.final_params)
  np.testing.assert_allclose(unrolled.final_params, plain.final_params,
                             rtol=1e-12)


def _one_hot_landscape(n):
  """Example i's gradient is e_i, so a batch's gradients name its members."""
  from boundlab.landscapes._landscape import finite_sum
  return finite_sum(name="one_hot", init=lambda key: jnp.zeros(n),
                    loss=lambda w, ex: jnp.dot(w, ex["e"]),
                    data={"e": jnp.eye(n)}, constants={})


def _step_gradients(land, batch_size, sampling):
  """``(params, key, t) -> per-example gradients`` of the run loop's step t."""
  from boundlab.algorithms.run_loop import (_per_example_grads,
                                            _shuffled_index, _step_batch)
  draw = _step_batch(land, batch_size, sampling)
  n = land.data["e"].shape[0]

  def grads(params, key, t):
    index = (_shuffled_index(key, t, n, batch_size) if sampling == "shuffle"
             else None)
    examples, _, mask = draw(key, t, index)
    return _per_example_grads(land, params, examples, mask)
  return grads


def test_shuffle_visits_every_example_once_per_epoch():
  n, b = 12, 4
  grads = _step_gradients(_one_hot_landscape(n), b, "shuffle")
  key, w = jax.random.key(3), jnp.zeros(n)
  for epoch in range(2):
    seen = sum(np.asarray(grads(w, key, epoch * 3 + s)).sum(0) for s in range(3))
    np.testing.assert_array_equal(seen, np.ones(n))


def test_poisson_sampling_rate_and_dp_sgd_normalisation():
  n, b = 50, 10
  land = _one_hot_landscape(n)
  grads = _step_gradients(land, b, "poisson")
  key, w = jax.random.key(4), jnp.zeros(n)
  masks = np.array([np.asarray(grads(w, key, t)).sum(1) for t in range(400)])
  # 20,000 Bernoulli(0.2) draws: the frequency is within 4 sd (0.0113) of
  # 0.2 except with probability < 1e-4.
  assert abs(masks.mean() - 0.2) < 4 * np.sqrt(0.2 * 0.8 / masks.size)
  # One DP-SGD-GC step (z = 0, C = 0.5) divides the clipped sum by qN = 10.
  g = grads(w, key, 0)
  opt = algorithms.dp_sgd_gc(1.0, 0.5, sampling_rate=0.2)
  update, _ = opt.update(g, opt.init(w), w)
  np.testing.assert_allclose(update, -0.5 * np.asarray(g).sum(0) / 10.0)


def test_run_rejects_bad_sampling():
  land = _one_hot_landscape(5)
  opt = algorithms.with_mean_gradient(optax.sgd(0.1))
  with pytest.raises(ValueError, match="sampling"):
    algorithms.run(land, opt, [0], steps=2, record_every=1, batch_size=2,
                   sampling="stratified")
  with pytest.raises(ValueError, match="batch_size"):
    algorithms.run(land, opt, [0], steps=2, record_every=1, batch_size=9,
                   sampling="shuffle")


def test_shuffled_run_visits_every_example_once_per_epoch():
  """The run loop carries each epoch's permutation: after two epochs of SGD
  on one-hot gradients every coordinate moved by exactly 2 lr / b."""
  n, b, lr = 12, 4, 0.5
  result = algorithms.run(_one_hot_landscape(n),
                          algorithms.with_mean_gradient(optax.sgd(lr)),
                          [0, 1], steps=2 * n // b, record_every=n // b,
                          batch_size=b, sampling="shuffle",
                          metrics=lambda p, s: {"w": p})
  np.testing.assert_allclose(result.metrics["w"][:, 1], -lr / b, rtol=1e-15)
  np.testing.assert_allclose(result.final_params, -2 * lr / b, rtol=1e-15)


def test_carried_permutation_gives_the_per_step_batches():
  """The run loop's batches (seen through the batch_index extra argument)
  equal the stand-alone per-step permutation, for every seed and grid point,
  with a ragged last batch."""
  from boundlab.algorithms.run_loop import _shuffled_index
  n, b, steps = 10, 3, 8

  def recorder(key, lr):
    del key

    def update(updates, state, params=None, *, batch_index, **extra):
      return jax.tree.map(lambda g: -lr * jnp.mean(g, 0), updates), batch_index
    return optax.GradientTransformationExtraArgs(
        lambda params: jnp.zeros(b, jnp.arange(1).dtype), update)

  result = algorithms.run(
      _one_hot_landscape(n), recorder, [3, 4], steps=steps, record_every=1,
      batch_size=b, sampling="shuffle", extra_args=("batch_index",),
      hyperparams={"lr": [0.1, 0.2]}, metrics=lambda p, s: {"index": s})
  for i, seed in enumerate((3, 4)):
    k_data = jax.random.split(algorithms.seed_keys([seed])[0], 4)[2]
    for t in range(steps):
      expected = np.asarray(_shuffled_index(k_data, t, n, b))
      for point in range(2):
        np.testing.assert_array_equal(
            result.metrics["index"][point, i, t + 1], expected)


def test_per_seed_data_through_a_family_equal_separate_runs():
  """One compiled program for every seed's own data set gives each seed's
  separate run exactly (the seed keys do not depend on the data)."""
  lands = [landscapes.linear_regression(8, 3, seed=s) for s in (1, 2, 3)]
  opt = algorithms.with_mean_gradient(optax.sgd(0.1))
  kwargs = dict(steps=20, record_every=10, batch_size=2)
  family = lambda args: lands[0].with_data(args)
  together = algorithms.run(
      family, opt, [5, 6, 7], args=jax.tree.map(
          lambda *a: jnp.stack(a), *[l.data for l in lands]),
      metrics=lambda p, s, args: {"f": family(args).objective(p)}, **kwargs)
  for i, (seed, land) in enumerate(zip([5, 6, 7], lands)):
    alone = algorithms.run(land, opt, [seed],
                           metrics=lambda p, s, land=land: {
                               "f": land.objective(p)}, **kwargs)
    view = together.seed(i)
    np.testing.assert_allclose(view.final_params, alone.final_params[0],
                               rtol=1e-13)
    np.testing.assert_allclose(view.metrics["f"], alone.metrics["f"][0],
                               rtol=1e-13)
    assert view.diverged_at == -1 and view.first_diverged_at == -1


def test_data_are_an_argument_of_the_program():
  """Two finite sums with the same loss and shapes share one program; the
  second run's numbers are its own data's."""
  from boundlab.algorithms import run_loop as run_module
  first = landscapes.linear_regression(8, 3, seed=1)
  second = first.with_data(landscapes.linear_regression(8, 3, seed=2).data)
  assert second.takes_data and not np.allclose(second.data["x"],
                                                first.data["x"])
  opt = algorithms.with_mean_gradient(optax.sgd(0.1))
  kwargs = dict(steps=10, record_every=10, batch_size=None)
  a = algorithms.run(first, opt, [0], **kwargs)
  # Full-batch GD from 0: the first step is lr * mean(y x) of the data.
  x, y = (np.asarray(second.data[k]) for k in ("x", "y"))
  one = algorithms.run(second, opt, [0], steps=1, record_every=1,
                       batch_size=None)
  np.testing.assert_allclose(one.final_params[0], 0.1 * (y @ x) / 8,
                             rtol=1e-13)
  assert not np.allclose(a.final_params,
                         algorithms.run(second, opt, [0], **kwargs).final_params)
  with pytest.raises(ValueError, match="does not take other data"):
    _quadratic().with_data({"x": jnp.zeros(3)})
  assert run_module._takes_args(lambda p, s, args: 0, 2)
  assert not run_module._takes_args(lambda p, s, name="x": 0, 2)


def test_gridded_seed_views_keep_the_grid_axis():
  result = algorithms.run(
      _quadratic(), lambda key, lr: algorithms.with_mean_gradient(
          optax.sgd(lr)), [1, 2, 3], steps=10, record_every=5, batch_size=2,
      hyperparams={"lr": [0.1, 0.2]}, metrics=lambda p, s: {"x": p})
  view = result.seed(2)
  assert view.metrics["x"].shape == (2, 3, 3) and view.diverged_at.shape == (2,)
  np.testing.assert_array_equal(view.final_params, result.final_params[:, 2])
  assert [v.final_params.shape for v in result.seeds()] == [(2, 3)] * 3
  with pytest.raises(ValueError, match="already one seed"):
    algorithms.run(_quadratic(), algorithms.with_mean_gradient(optax.sgd(0.1)),
                   [0], steps=2, record_every=1, batch_size=1).seed(0).seed(0)


def test_bad_args_and_families_are_rejected():
  opt = algorithms.with_mean_gradient(optax.sgd(0.1))
  land = landscapes.linear_regression(8, 3)
  with pytest.raises(ValueError, match="leading seed axis of length 2"):
    algorithms.run(land, opt, [0, 1], steps=1, record_every=1, batch_size=1,
                   args={"x": jnp.zeros(3)})
  with pytest.raises(ValueError, match="landscape family"):
    algorithms.run(lambda a: land, opt, [0], steps=1, record_every=1,
                   batch_size=1)
  with pytest.raises(ValueError, match="not a Landscape"):
    algorithms.run(lambda a: 3, opt, [0], steps=1, record_every=1,
                   batch_size=1, args={"x": jnp.zeros((1, 2))})


def test_a_mean_gradient_optimizer_without_its_wrapper_is_named():
  with pytest.raises(ValueError, match="with_mean_gradient"):
    algorithms.run(_quadratic(), optax.sgd(0.1), [0], steps=2, record_every=1,
                   batch_size=2)
  with pytest.raises(ValueError, match="with_mean_gradient"):
    algorithms.run(_quadratic(), lambda key, lr: optax.adam(lr), [0], steps=2,
                   record_every=1, batch_size=2, hyperparams={"lr": [0.1]})


def test_divergence_step_is_exact():
  # GD on h = 2 with step 1.5 from x0 = 1 and no noise: x_t = (-2)^t exactly
  # in floating point (3x and x - 3x are exact at powers of two), so x_1023
  # = -2^1023 is finite and the 1024th step overflows (3 x 2^1023 = inf).
  landscape = dataclasses.replace(
      landscapes.noisy_quadratic(landscapes.zero_noise(1), curvature=2.0),
      init=lambda key: jnp.ones(1))
  result = algorithms.run(
      landscape, algorithms.with_mean_gradient(optax.sgd(1.5)), [0],
      steps=1100, record_every=100, batch_size=1)
  assert result.diverged_at.tolist() == [1024]
