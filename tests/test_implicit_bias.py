"""Hyperbolic-entropy interpolator against independent oracles."""

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, strategies as st

from boundlab import landscapes
from boundlab.theory.implicit_bias import (effective_scale,
                                           hyperbolic_entropy,
                                           hyperbolic_entropy_interpolator)


def _problem(seed, n=4, d=9):
  rng = np.random.default_rng(seed)
  return rng.standard_normal((n, d)), rng.standard_normal(n)


@given(seed=st.integers(0, 10_000),
       scale=st.floats(0.05, 3.0))
def test_interpolator_matches_slsqp_on_the_primal(seed, scale):
  x, y = _problem(seed)
  beta = hyperbolic_entropy_interpolator(x, y, scale)
  start = np.linalg.lstsq(x, y, rcond=None)[0]
  oracle = scipy.optimize.minimize(
      lambda b: hyperbolic_entropy(b, scale), start, method="SLSQP",
      jac=lambda b: np.arcsinh(b / (2 * scale**2)),
      constraints={"type": "eq", "fun": lambda b: x @ b - y,
                   "jac": lambda b: x},
      options={"ftol": 1e-14, "maxiter": 1000})
  assert oracle.success
  np.testing.assert_allclose(x @ beta, y, atol=1e-10)
  # Both are minimisers of a strictly convex problem; SLSQP's own stopping
  # rule (ftol 1e-14 on the objective) limits its accuracy to ~1e-6 in beta.
  np.testing.assert_allclose(beta, oracle.x, atol=1e-5)
  assert hyperbolic_entropy(beta, scale) <= hyperbolic_entropy(oracle.x, scale) + 1e-10


def test_small_scale_gives_min_l1_and_large_scale_min_l2():
  x, y = _problem(3, n=5, d=12)
  d = x.shape[1]
  # min ||b||_1 s.t. x b = y as a linear program in (b+, b-).
  lp = scipy.optimize.linprog(np.ones(2 * d), A_eq=np.hstack([x, -x]),
                              b_eq=y, bounds=(0, None), method="highs")
  l1_min = lp.fun
  scales = [1e-2, 1e-3, 1e-5, 1e-6]
  gaps = np.array([np.abs(hyperbolic_entropy_interpolator(x, y, a)).sum()
                   - l1_min for a in scales])
  # Q_alpha / (alpha^2 log(1/alpha^2)) -> l1 (Woodworth et al.): the l1 gap
  # of the minimiser closes like 1/log(1/alpha^2), never below the LP value.
  assert np.all(gaps > -1e-9) and np.all(np.diff(gaps) < 0)
  scaled = gaps * np.log(1 / np.asarray(scales)**2)
  assert scaled.max() < 1.5 * scaled[0]
  large = hyperbolic_entropy_interpolator(x, y, 1e3)
  min_l2 = np.linalg.lstsq(x, y, rcond=None)[0]
  # Q_alpha ~ ||b||^2 / (4 alpha^2) for alpha -> inf: the min-l2 solution.
  np.testing.assert_allclose(large, min_l2, rtol=1e-6, atol=1e-9)


def test_per_coordinate_scale_is_stationary_for_the_weighted_potential():
  x, y = _problem(7)
  scale = np.linspace(0.05, 1.0, x.shape[1])
  beta = hyperbolic_entropy_interpolator(x, y, scale)
  gradient = np.arcsinh(beta / (2 * scale**2))
  # KKT: the potential's gradient lies in the row space of x.
  in_span = x.T @ np.linalg.lstsq(x.T, gradient, rcond=None)[0]
  np.testing.assert_allclose(gradient, in_span, atol=1e-9)


def test_gd_step_multiplies_product_by_one_minus_4eta2g2():
  landscape = landscapes.signed_square_diagonal_network(5, 8, 2, 0.3, seed=1)
  params = landscape.init(None)
  eta = 0.05
  grads = landscape.grad(params)
  new = {k: params[k] - eta * grads[k] for k in params}
  x, y = np.asarray(landscape.data["x"]), np.asarray(landscape.data["y"])
  beta = np.asarray(params["w_plus"]**2 - params["w_minus"]**2)
  g = x.T @ (x @ beta - y) / len(y)
  np.testing.assert_allclose(
      np.asarray(new["w_plus"] * new["w_minus"]),
      np.asarray(params["w_plus"] * params["w_minus"]) * (1 - 4 * eta**2 * g**2),
      rtol=1e-13)


def test_bad_inputs_name_the_parameter():
  x, y = _problem(0)
  with pytest.raises(ValueError, match="scale"):
    hyperbolic_entropy_interpolator(x, y, 0.0)
  with pytest.raises(ValueError, match="n <= d"):
    hyperbolic_entropy_interpolator(x.T, np.ones(9), 1.0)
  with pytest.raises(ValueError, match="w_plus \\* w_minus"):
    effective_scale(np.array([1.0, -1.0]), np.array([1.0, 1.0]))
