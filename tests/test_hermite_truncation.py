r"""Truncation of the Hermite population losses (boundlab.theory.hermite).

References are independent of the module: Hermite coefficients by mpmath
quadrature with the stable orthonormal recurrence (the module lambdifies
expanded polynomials), :math:`E[\sigma^2]` through other identities, and the
exact population losses from closed-form Gaussian kernels
:math:`\kappa(m) = E[\sigma(u)\sigma(v)]`, corr(u, v) = m (arc-cosine
kernels for relu, abs and sign; 2-D Gauss-Hermite quadrature for tanh).
"""

import functools

import jax
import mpmath
import numpy as np
import pytest

from boundlab.theory import hermite

NON_POLYNOMIAL = ("relu", "abs", "sign", "tanh")
OVERLAPS = np.linspace(-1.0, 1.0, 21)


def _orthonormal_hermite(j, z):
  """h_j(z) by h_{i+1} = (z h_i - sqrt(i) h_{i-1}) / sqrt(i + 1)."""
  previous, current = mpmath.mpf(0), mpmath.mpf(1)
  for i in range(j):
    previous, current = current, (z * current - mpmath.sqrt(i) * previous
                                  ) / mpmath.sqrt(i + 1)
  return current


_FUNCTIONS = {"relu": lambda z: max(z, 0), "abs": abs,
              "sign": mpmath.sign, "tanh": mpmath.tanh}


@functools.lru_cache(maxsize=None)
def _reference_coefficient(link, j):
  with mpmath.workdps(40):
    f = _FUNCTIONS[link]
    integrand = lambda z: f(z) * _orthonormal_hermite(j, z) * mpmath.npdf(z)
    if link == "tanh":   # odd: h_j has the parity of j (halves the cost)
      return 0 if j % 2 == 0 else 2 * mpmath.quad(integrand,
                                                  [0, 4, 8, mpmath.inf])
    # Breakpoints at the kink and where the Gaussian has decayed.
    return mpmath.quad(integrand, [-mpmath.inf, -8, -4, 0, 4, 8, mpmath.inf])


def _reference_second_moment(link):
  with mpmath.workdps(40):
    if link == "tanh":   # tanh^2 = 1 - sech^2: another integrand
      return 1 - mpmath.quad(lambda z: mpmath.sech(z) ** 2 * mpmath.npdf(z),
                             [-mpmath.inf, 0, mpmath.inf])
    return {"relu": mpmath.mpf(1) / 2, "abs": 1, "sign": 1}[link]


def _reference_tail(link, max_degree):
  with mpmath.workdps(40):
    return float(_reference_second_moment(link) - sum(
        _reference_coefficient(link, j) ** 2 for j in range(max_degree + 1)))


def _kernel(link, m):
  r""":math:`E[\sigma(u)\sigma(v)]`, standard Gaussians with correlation m."""
  m = np.asarray(m, dtype=float)
  root = np.sqrt(np.clip(1 - m * m, 0, None))
  if link == "relu":
    return (root + (np.pi - np.arccos(m)) * m) / (2 * np.pi)
  if link == "abs":
    return 2 / np.pi * (root + m * np.arcsin(m))
  if link == "sign":
    return 2 / np.pi * np.arcsin(m)
  nodes, weights = np.polynomial.hermite_e.hermegauss(160)
  weights = weights / np.sqrt(2 * np.pi)
  u, g = np.meshgrid(nodes, nodes, indexing="ij")
  w = np.outer(weights, weights)
  return np.array([np.sum(w * np.tanh(u) * np.tanh(mi * u + ri * g))
                   for mi, ri in zip(np.ravel(m), np.ravel(root))]
                  ).reshape(m.shape)


def _exact_losses(link, m, noise_std=0.0):
  """(correlation, square) population losses without truncation."""
  kappa = _kernel(link, m)
  moment = float(_reference_second_moment(link))
  return -kappa, moment - kappa + noise_std**2 / 2


def test_tanh_kernel_quadrature_is_accurate():
  # Self-check of the tanh reference: at m = +-1 it is +-E[tanh^2].
  moment = float(_reference_second_moment("tanh"))
  np.testing.assert_allclose(_kernel("tanh", [1.0, -1.0]),
                             [moment, -moment], rtol=1e-13)


@pytest.mark.parametrize("link,max_degree", [("tanh", 12), ("tanh", 41),
                                             ("relu", 12), ("sign", 7)])
def test_tail_matches_independent_quadrature(link, max_degree):
  tail = hermite.hermite_tail(link, max_degree)
  assert tail > 0
  assert tail == pytest.approx(_reference_tail(link, max_degree), rel=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_polynomial_tail_is_exactly_zero_from_its_degree(k):
  link = f"he{k}"
  assert hermite.hermite_tail(link, k - 1) == 1.0
  for max_degree in (k, k + 1, 12):
    assert hermite.hermite_tail(link, max_degree) == 0.0
    assert hermite.truncation_error_bound(link, max_degree) == 0.0


@pytest.mark.parametrize("link,max_degree", [
    (link, j) for link in NON_POLYNOMIAL for j in (5, 12)] + [("tanh", 43)])
def test_truncated_losses_within_the_bound_of_the_exact_losses(
    link, max_degree):
  exact_corr, exact_square = _exact_losses(link, OVERLAPS, noise_std=0.3)
  corr = hermite.population_correlation_loss(link, OVERLAPS, max_degree,
                                             tolerance=None)
  square = hermite.population_square_loss(link, OVERLAPS, 0.3, max_degree,
                                          tolerance=None)
  corr_bound = hermite.truncation_error_bound(link, max_degree, "correlation")
  square_bound = hermite.truncation_error_bound(link, max_degree, "square")
  assert square_bound == 2 * corr_bound > 0
  slack = 1e-12   # float64 rounding of the sums and of the references
  assert np.all(np.abs(corr - exact_corr) <= corr_bound + slack)
  # One-sided: the dropped square-loss terms c_j^2 (1 - m^j) are >= 0.
  assert np.all(exact_square - square >= -slack)
  assert np.all(exact_square - square <= square_bound + slack)


@pytest.mark.parametrize("link", ["sign", "tanh"])
def test_the_square_loss_bound_is_attained_at_minus_one(link):
  # Odd links have only odd j, so 1 - (-1)^j = 2: the error is exactly 2 T_J
  # (a bound built on |1 - m^j| <= 1 fails here).
  max_degree = 12
  _, exact = _exact_losses(link, -1.0)
  error = exact - hermite.population_square_loss(link, -1.0,
                                                 max_degree=max_degree,
                                                 tolerance=None)
  bound = hermite.truncation_error_bound(link, max_degree, "square")
  assert error == pytest.approx(2 * hermite.hermite_tail(link, max_degree),
                                rel=1e-9)
  assert error <= bound * (1 + 1e-9)


@pytest.mark.parametrize("link", NON_POLYNOMIAL)
def test_the_correlation_loss_bound_is_attained_at_one(link):
  max_degree = 12
  exact, _ = _exact_losses(link, 1.0)
  error = hermite.population_correlation_loss(link, 1.0, max_degree,
                                              tolerance=None) - exact
  bound = hermite.truncation_error_bound(link, max_degree, "correlation")
  assert error == pytest.approx(bound, rel=1e-9)


@pytest.mark.parametrize("link", NON_POLYNOMIAL)
def test_default_degree_and_tolerance_raise_for_non_polynomial_links(link):
  tail = hermite.hermite_tail(link, 12)
  with pytest.raises(ValueError, match="max_degree") as info:
    hermite.population_correlation_loss(link, 0.5)
  assert f"{tail:.3e}" in str(info.value)
  assert "tolerance 1e-08" in str(info.value)
  with pytest.raises(ValueError, match="max_degree"):
    hermite.population_square_loss(link, 0.5, noise_std=0.1)


def test_tolerance_is_met_at_the_first_degree_that_does_not_raise():
  # tanh's tail reaches 1e-8 at J = 41 (correlation) and 5e-9 at J = 43
  # (square, bound 2 T_J): one degree less raises.
  m = np.array([-1.0, -0.3, 0.5, 1.0])
  exact_corr, exact_square = _exact_losses("tanh", m)
  with pytest.raises(ValueError, match="max_degree"):
    hermite.population_correlation_loss("tanh", m, max_degree=40)
  corr = hermite.population_correlation_loss("tanh", m, max_degree=41)
  assert np.max(np.abs(corr - exact_corr)) <= hermite.DEFAULT_TOLERANCE
  with pytest.raises(ValueError, match="max_degree"):
    hermite.population_square_loss("tanh", m, max_degree=42)
  square = hermite.population_square_loss("tanh", m, max_degree=43)
  assert np.max(np.abs(square - exact_square)) <= hermite.DEFAULT_TOLERANCE
  # A stated looser tolerance accepts the default degree.
  hermite.population_square_loss("tanh", m, tolerance=2e-4)


def test_polynomial_links_keep_their_results_and_check_the_degree():
  m = 0.4
  assert hermite.population_correlation_loss("he3", m) == -m**3
  assert hermite.population_square_loss("he3", m, 0.2) == \
      pytest.approx(1 - m**3 + 0.02, rel=1e-15)
  with pytest.raises(ValueError, match="max_degree"):
    hermite.population_correlation_loss("he3", m, max_degree=2)
  assert hermite.population_correlation_loss("he3", m, max_degree=3) == -m**3
  # The check is static: a traced overlap is fine.
  value = jax.jit(lambda x: hermite.population_square_loss("he4", x))(m)
  assert float(value) == pytest.approx(1 - m**4, rel=1e-14)


def test_bad_tolerance_and_loss_are_rejected():
  with pytest.raises(ValueError, match="tolerance must be in"):
    hermite.population_correlation_loss("he2", 0.1, tolerance=-1.0)
  with pytest.raises(ValueError, match="loss must be one of"):
    hermite.truncation_error_bound("he2", 3, loss="hinge")
  with pytest.raises(ValueError, match="link must be one of"):
    hermite.hermite_tail("gelu", 3)
  with pytest.raises(ValueError, match="max_degree must be"):
    hermite.hermite_tail("relu", -1)
