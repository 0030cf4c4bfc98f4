"""Landscapes: their stated constants are true, their noise laws are what they say."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from boundlab import landscapes

ALL_NOISE = [
    landscapes.gaussian(3, 0.7), landscapes.laplace(3, 0.5),
    landscapes.symmetric_mixture(3), landscapes.skewed_mixture(3),
    landscapes.one_sided_heavy_tail(3),
    landscapes.symmetrize(landscapes.skewed_mixture(3)),
]


@pytest.mark.parametrize("dist", ALL_NOISE, ids=lambda d: d.name)
def test_noise_laws_are_zero_mean(dist):
  n = 2**18
  xi = np.asarray(dist.sample(jax.random.key(0), n))
  assert xi.shape == (n, dist.dim)
  # Per coordinate z-test at level 1e-4, Bonferroni over 3 coordinates and 6
  # laws: false-fail rate <= 1.8e-3 (fixed seed: deterministic in CI).
  z = xi.mean(0) / (xi.std(0, ddof=1) / np.sqrt(n))
  assert np.all(np.abs(z) < scipy.stats.norm.isf(1e-4 / 2))


@pytest.mark.parametrize("dist", ALL_NOISE, ids=lambda d: d.name)
def test_symmetric_flag_matches_the_law(dist):
  xi = np.asarray(dist.sample(jax.random.key(1), 20_000))[:, 0]
  # Two-sample KS of xi vs -xi at level 1e-3 for the symmetric laws; the
  # asymmetric ones differ by far more than the KS critical value (~0.02).
  p = scipy.stats.ks_2samp(xi, -xi).pvalue
  if dist.symmetric:
    assert p > 1e-3
  else:
    assert p < 1e-6


def test_mean_of_squares_constants():
  a = np.array([[-3.0, 1.0], [-3.0, 2.0], [9.0, 0.0]])
  ls = landscapes.mean_of_squares(a, init=[1.0, 1.0])
  x_star = jnp.asarray(ls.constants["optimum"])
  np.testing.assert_allclose(ls.grad(x_star), 0.0, atol=1e-14)
  assert float(ls.objective(x_star)) == pytest.approx(
      ls.constants["optimal_value"], rel=1e-14)
  hessian = jax.hessian(ls.objective)(x_star)
  assert np.linalg.eigvalsh(hessian).max() == pytest.approx(
      ls.constants["smoothness"])


def test_noisy_quadratic_gradient_is_grad_f_plus_noise():
  dist = landscapes.skewed_mixture(2)
  ls = landscapes.noisy_quadratic(dist, curvature=[1.0, 4.0], optimum=[1.0, 2.0])
  x = jnp.array([0.3, -0.4])
  xi = dist.sample(jax.random.key(0), 5)
  per_example = ls.per_example_grads(x, xi)
  np.testing.assert_allclose(per_example, ls.grad(x)[None, :] + xi, rtol=1e-14)
  assert ls.constants["smoothness"] == 4.0
  assert ls.constants["initial_gap"] == pytest.approx(
      float(ls.objective(ls.init(None))))


def test_logistic_optimum_and_smoothness():
  ls = landscapes.skewed_logistic_regression(120, 4, seed=3)
  w = jnp.asarray(ls.constants["optimum"])
  # Newton's method in float64: gradient at round-off level.
  assert float(jnp.linalg.norm(ls.grad(w))) < 1e-12
  hessian_max = max(np.linalg.eigvalsh(jax.hessian(ls.objective)(
      jnp.asarray(p))).max() for p in (w, jnp.zeros(4), 3 * w))
  assert hessian_max <= ls.constants["smoothness"] * (1 + 1e-12)
  assert float(ls.objective(w)) == pytest.approx(ls.constants["optimal_value"],
                                                 rel=1e-12)


def test_logistic_per_example_gradients_are_asymmetric():
  ls = landscapes.skewed_logistic_regression(400, 3, seed=0)
  w = jnp.asarray(ls.constants["optimum"])
  g = np.asarray(ls.per_example_grads(w, ls.data))[:, 0]
  assert abs(scipy.stats.skew(g)) > 1.0


@pytest.mark.parametrize("make,kwargs,name", [
    (landscapes.gaussian, {"dim": 0}, "dim"),
    (landscapes.gaussian, {"dim": 2, "scale": -1.0}, "scale"),
    (landscapes.skewed_mixture, {"dim": 2, "weight": 1.0}, "weight"),
    (landscapes.mean_of_squares, {"points": [1.0, np.nan]}, "points"),
    (landscapes.mean_of_squares, {"points": [[1.0, 2.0]], "init": [1.0, 2.0, 3.0]},
     "init"),
    (landscapes.skewed_logistic_regression, {"minority_fraction": 0.9},
     "minority_fraction"),
    (landscapes.diagonal_quadratic_sum, {"points": [[1.0]], "curvatures":
                                         [[1.0, 2.0]]}, "curvatures"),
    (landscapes.diagonal_quadratic_sum, {"points": [[1.0], [2.0]],
                                         "curvatures": [[0.0], [0.0]]},
     "curvatures"),
    (landscapes.diagonal_gaussian, {"scales": [1.0, -0.5]}, "scales"),
])
def test_bad_landscape_arguments_name_the_parameter(make, kwargs, name):
  with pytest.raises(ValueError, match=name):
    make(**kwargs)


def test_product_toy_sharpness_along_the_minimum_set():
  from boundlab import theory
  ls = landscapes.product_toy()
  for x in (0.5, 1.0, 3.0):
    point = jnp.array([x, 1.0 / x])
    assert float(ls.objective(point)) == pytest.approx(0.0, abs=1e-30)
    top = float(theory.top_eigenvalue_dense(theory.dense_hessian(
        ls.objective, point)))
    assert top == pytest.approx(x**2 + 1 / x**2, rel=1e-12)


def test_chebyshev_regression_data_and_parameters():
  ls = landscapes.chebyshev_regression(degree=4, num_points=20, width=100)
  x = np.asarray(ls.data["x"])
  # T_4(x) = 8x^4 - 8x^2 + 1 written out.
  np.testing.assert_allclose(ls.data["y"], 8 * x**4 - 8 * x**2 + 1, atol=1e-12)
  params = ls.init(jax.random.key(0))
  assert sum(p.size for p in jax.tree.leaves(params)) == 301
  # Xavier normal, gain 1.9, fan (1, 100): std = 1.9 * sqrt(2/101).
  assert np.std(np.asarray(params["w1"])) == pytest.approx(
      1.9 * np.sqrt(2 / 101), rel=0.25)


def test_linear_regression_optimum_is_stationary():
  land = landscapes.linear_regression(30, 3, noise=0.2, seed=1)
  grad = jax.grad(land.objective)(jnp.asarray(land.constants["optimum"]))
  # float64 least squares: the normal equations hold to rounding.
  np.testing.assert_allclose(grad, 0.0, atol=1e-12)


def test_gradient_canary_adds_one_orthogonal_gradient():
  base = landscapes.linear_regression(5, 2, seed=2)
  land = landscapes.with_gradient_canary(base, 7.0)
  w = jnp.array([0.3, -0.2, 0.5])
  grads = land.per_example_grads(w, land.data)
  np.testing.assert_allclose(grads[-1], [0.0, 0.0, 7.0])
  np.testing.assert_allclose(grads[:-1, 2], 0.0)
  np.testing.assert_allclose(grads[:-1, :2],
                             base.per_example_grads(w[:2], base.data))
  absent = land.per_example_grads(w, landscapes.canary_absent(land.data))
  np.testing.assert_allclose(absent[-1], 0.0)


def test_ill_conditioned_quadratic_scales():
  land = landscapes.ill_conditioned_quadratic(dim=5, condition_number=1e4,
                                              noise_scale_spread=1e2)
  np.testing.assert_allclose(land.constants["curvatures"],
                             [1, 1e-1, 1e-2, 1e-3, 1e-4])
  xi = land.sample(jax.random.key(0), 20_000)
  # Sample std of 20,000 Gaussians: relative error ~0.5%, 3% is > 6 sd.
  np.testing.assert_allclose(xi.std(0), [1, 10**-0.5, 1e-1, 10**-1.5, 1e-2],
                             rtol=0.03)


def test_mlp_classifier_minority_class_is_rare_and_far():
  land = landscapes.mlp_classifier(4000, dim=3, num_classes=3,
                                   minority_fraction=0.05,
                                   minority_separation=8.0)
  labels = np.asarray(land.data["label"])
  # 4000 draws with p = 0.05: sd 0.0034, so 0.02 is ~6 sd.
  assert abs((labels == 2).mean() - 0.05) < 0.02
  x = np.asarray(land.data["x"])
  assert x[labels == 2, 0].mean() - x[labels != 2, 0].mean() > 5.0
  with pytest.raises(ValueError, match="minority_fraction"):
    landscapes.mlp_classifier(10, minority_fraction=0.6)


def test_noise_free_laws_are_exactly_zero():
  for law in (landscapes.zero_noise(3), landscapes.gaussian(3, 0.0),
              landscapes.laplace(3, 0.0), landscapes.diagonal_gaussian(
                  [0.0, 0.0, 0.0])):
    assert law.variance == 0.0 and law.symmetric
    np.testing.assert_array_equal(law.sample(jax.random.key(0), 5), 0.0)


def test_diagonal_gaussian_variance_by_monte_carlo():
  # 2^18 draws; 6 standard errors (false-fail probability ~1e-9).
  law = landscapes.diagonal_gaussian([0.1, 1.0, 3.0])
  sq = np.sum(np.asarray(law.sample(jax.random.key(1), 2**18))**2, axis=1)
  assert law.variance == pytest.approx(0.01 + 1.0 + 9.0, rel=1e-12)
  assert abs(sq.mean() - law.variance) <= 6 * sq.std() / np.sqrt(len(sq))


def test_diagonal_quadratic_sum_optimum_against_a_dense_solve():
  rng = np.random.default_rng(0)
  a, h = rng.normal(size=(5, 3)), rng.uniform(0.1, 2.0, (5, 3))
  land = landscapes.diagonal_quadratic_sum(a, h)
  # The mean Hessian diag(mean h) and the normal equations, solved densely.
  expected = np.linalg.solve(np.diag(h.mean(0)), (h * a).mean(0))
  np.testing.assert_allclose(land.constants["optimum"], expected, rtol=1e-12)
  x = jnp.asarray(expected)
  assert float(land.objective(x)) == pytest.approx(
      land.constants["optimal_value"], rel=1e-12)
