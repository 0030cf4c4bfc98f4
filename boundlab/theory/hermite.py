r"""Hermite coefficients and information exponents of single-index links.

With probabilists' Hermite polynomials :math:`He_j` and the orthonormal
:math:`h_j = He_j/\sqrt{j!}` under :math:`g \sim N(0, 1)`,

.. math::
  \sigma = \sum_j c_j h_j, \qquad c_j = E[\sigma(g) h_j(g)], \qquad
  k^\star = \min\{j \ge 1 : c_j \ne 0\},

and for unit w, w*, :math:`E_x[h_i(w\cdot x) h_j(w^\star\cdot x)] =
\delta_{ij} m^j` (shared references, section 5 [R]; checked numerically in
the tests), which gives the population losses of
:mod:`boundlab.landscapes.single_index`.

Coefficients are exact (sympy integration) for polynomial and piecewise
linear links; tanh has no closed form, so its odd coefficients come from
mpmath quadrature at 30 digits while its even ones are exactly 0 by symmetry.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mpmath
import sympy

from boundlab import _validation as v

_Z = sympy.Symbol("z", real=True)
_GAUSSIAN = sympy.exp(-_Z**2 / 2) / sympy.sqrt(2 * sympy.pi)

# Piecewise-polynomial links as {interval: polynomial} (exact integration).
_PIECEWISE = {
    "relu": ((0, sympy.oo, _Z),),
    "abs": ((-sympy.oo, 0, -_Z), (0, sympy.oo, _Z)),
    "sign": ((-sympy.oo, 0, -sympy.Integer(1)), (0, sympy.oo, sympy.Integer(1))),
}
LINKS = ("relu", "abs", "sign", "tanh", "he1", "he2", "he3", "he4")


def _probabilists_hermite(j: int):
  return sympy.hermite_prob(j, _Z)


@functools.lru_cache(maxsize=None)
def hermite_coefficient(link: str, degree: int) -> sympy.Expr | mpmath.mpf:
  r""":math:`c_j = E[\sigma(g)\,He_j(g)]/\sqrt{j!}`, exact where possible.

  Args:
    link: one of :data:`LINKS` (``he<k>`` is :math:`h_k` itself).
    degree: j >= 0.

  Returns:
    A sympy number (exact), or an mpmath float for tanh's odd coefficients.
  """
  j = v.check_positive_int("degree", degree, minimum=0)
  if link not in LINKS:
    raise ValueError(f"link must be one of {LINKS}, got {link!r}")
  if link.startswith("he"):
    return sympy.Integer(1 if int(link[2:]) == j else 0)
  norm = sympy.sqrt(sympy.factorial(j))
  if link == "tanh":
    if j % 2 == 0:
      return sympy.Integer(0)     # tanh is odd, He_j is even
    integrand = sympy.lambdify(_Z, sympy.tanh(_Z) * _probabilists_hermite(j)
                               * _GAUSSIAN, "mpmath")
    with mpmath.workdps(30):
      value = 2 * mpmath.quad(integrand, [0, mpmath.inf])
      return value / mpmath.sqrt(mpmath.factorial(j))
  total = sum(sympy.integrate(piece * _probabilists_hermite(j) * _GAUSSIAN,
                              (_Z, lo, hi)) for lo, hi, piece in
              _PIECEWISE[link])
  return sympy.nsimplify(sympy.simplify(total / norm))


def information_exponent(link: str, max_degree: int = 8) -> int:
  """The first j >= 1 with a non-zero Hermite coefficient."""
  for j in range(1, v.check_positive_int("max_degree", max_degree) + 1):
    c = hermite_coefficient(link, j)
    if (c != 0) if isinstance(c, sympy.Expr) else abs(c) > 1e-25:
      return j
  raise ValueError(f"no non-zero coefficient up to degree {max_degree}")


def hermite_coefficients(link: str, max_degree: int) -> list[float]:
  """c_0 .. c_max_degree as floats."""
  return [float(hermite_coefficient(link, j))
          for j in range(v.check_positive_int("max_degree", max_degree,
                                              minimum=0) + 1)]


def link_functions(link: str):
  r"""(sigma, sigma') as jnp-callables; ``he<k>`` is :math:`He_k/\sqrt{k!}`."""
  if link not in LINKS:
    raise ValueError(f"link must be one of {LINKS}, got {link!r}")
  if link.startswith("he"):
    coeffs = polynomial_coefficients(link)
    return _polynomial(coeffs), _polynomial(
        [c * (len(coeffs) - 1 - i) for i, c in enumerate(coeffs[:-1])])
  table = {
      "relu": (jax.nn.relu, lambda z: (z > 0).astype(z.dtype)),
      "abs": (jnp.abs, jnp.sign),
      "sign": (jnp.sign, jnp.zeros_like),
      "tanh": (jnp.tanh, lambda z: 1 - jnp.tanh(z) ** 2),
  }
  return table[link]


def polynomial_coefficients(link: str) -> list[float]:
  r"""Power-basis coefficients (highest degree first) of a polynomial link
  ``he<k>`` = :math:`He_k/\sqrt{k!}`."""
  if link not in LINKS or not link.startswith("he"):
    raise ValueError(f"link must be one of the polynomial links he1..he4, "
                     f"got {link!r}")
  k = int(link[2:])
  return [float(c) for c in sympy.Poly(
      _probabilists_hermite(k) / sympy.sqrt(sympy.factorial(k)), _Z
  ).all_coeffs()]


def _polynomial(coeffs):
  """Highest degree first, as numpy.polyval; [] is the zero polynomial."""
  coeffs = coeffs or [0.0]
  return lambda z: jnp.polyval(jnp.asarray(coeffs, z.dtype), z)


def population_correlation_loss(link: str, overlap, max_degree: int = 12):
  r"""Correlation loss :math:`-E[y\sigma(w\cdot x)] = -\sum_j c_j^2 m^j`
  (matched link, label noise drops out), truncated at ``max_degree``."""
  coeffs = hermite_coefficients(link, max_degree)
  return -sum(c * c * overlap**j for j, c in enumerate(coeffs))


def population_square_loss(link: str, overlap, noise_std: float = 0.0,
                           max_degree: int = 12):
  r"""Square loss :math:`\tfrac12 E(\sigma(w\cdot x) - y)^2 = \sum_j
  c_j^2(1 - m^j) + s^2/2` (matched link), truncated at ``max_degree``."""
  coeffs = hermite_coefficients(link, max_degree)
  s = v.check_nonnegative("noise_std", noise_std)
  return sum(c * c * (1 - overlap**j) for j, c in enumerate(coeffs)) \
      + s * s / 2

