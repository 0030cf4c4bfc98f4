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

The population losses are series truncated at ``max_degree`` = J. By
Parseval, :math:`E[\sigma(g)^2] = \sum_j c_j^2`, so the dropped mass, the
tail

.. math::
  T_J = E[\sigma(g)^2] - \sum_{j \le J} c_j^2 = \sum_{j > J} c_j^2,

is computable without the dropped coefficients (:func:`hermite_tail`;
:math:`E[\sigma^2]` exactly with sympy, for tanh by 30-digit quadrature),
and bounds the truncation error for every overlap :math:`|m| \le 1`
(:func:`truncation_error_bound`). The losses raise ``ValueError`` when that
bound exceeds their ``tolerance`` (default :data:`DEFAULT_TOLERANCE`,
absolute, in loss units). The tail is exactly 0 for ``he<k>`` once J >= k;
for the other links it decays slowly (at J = 12: sign 0.15, abs 3.9e-3,
relu 9.8e-4, tanh 7.1e-5), so they need a larger ``max_degree`` (tanh at
1e-8: J >= 41 for the correlation loss, J >= 43 for the square loss; relu's
:math:`T_J \sim J^{-3/2}` and sign's :math:`\sim J^{-1/2}` put 1e-8 out of
reach) or an explicitly larger ``tolerance`` (or ``None``, no check).
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

# Absolute tolerance (loss units) on the truncation error bound of the
# population losses; every link here has E[sigma^2] <= 1, so it is also a
# relative one. Small against every Monte Carlo or convergence tolerance in
# the package, yet reachable at moderate degree where the tail decays fast
# (tanh: J = 41 / 43); slowly decaying tails must be accepted explicitly.
DEFAULT_TOLERANCE = 1e-8
LOSSES = ("correlation", "square")


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


@functools.lru_cache(maxsize=None)
def _second_moment(link: str) -> sympy.Expr | mpmath.mpf:
  r""":math:`E[\sigma(g)^2]`, exact (sympy) except for tanh (30 digits)."""
  if link.startswith("he"):
    return sympy.Integer(1)          # h_k is orthonormal
  if link == "tanh":
    with mpmath.workdps(30):
      # tanh^2 is even: twice the half line.
      return 2 * mpmath.quad(lambda z: mpmath.tanh(z) ** 2
                             * mpmath.npdf(z), [0, mpmath.inf])
  return sum(sympy.integrate(piece**2 * _GAUSSIAN, (_Z, lo, hi))
             for lo, hi, piece in _PIECEWISE[link])


@functools.lru_cache(maxsize=None)
def hermite_tail(link: str, max_degree: int) -> float:
  r"""The Hermite mass beyond ``max_degree`` = J,

  .. math::
    T_J = \sum_{j > J} c_j^2 = E[\sigma(g)^2] - \sum_{j \le J} c_j^2
    \qquad (g \sim N(0, 1);\ \text{Parseval}),

  computed from :math:`E[\sigma^2]` (exact sympy integration; 30-digit
  quadrature for tanh) minus the kept coefficients, in exact arithmetic
  where the coefficients are exact and at 30 digits otherwise, so the
  cancellation of two nearly equal numbers costs no float64 accuracy.
  Exactly 0 for ``he<k>`` once J >= k.

  Args:
    link: one of :data:`LINKS`.
    max_degree: J >= 0.

  Returns:
    :math:`T_J >= 0` as a float.
  """
  if link not in LINKS:
    raise ValueError(f"link must be one of {LINKS}, got {link!r}")
  j_max = v.check_positive_int("max_degree", max_degree, minimum=0)
  coeffs = [hermite_coefficient(link, j) for j in range(j_max + 1)]
  moment = _second_moment(link)
  if isinstance(moment, sympy.Expr) and all(isinstance(c, sympy.Expr)
                                            for c in coeffs):
    tail = moment - sum(c**2 for c in coeffs)
    value = 0.0 if tail == 0 else float(sympy.N(tail, 30))
  else:
    with mpmath.workdps(30):
      value = float(mpmath.mpf(moment) - sum(mpmath.mpf(c) ** 2
                                             for c in coeffs))
  # Quadrature rounding (tanh, ~1e-30) can leave a tiny negative remainder.
  return max(value, 0.0)


def truncation_error_bound(link: str, max_degree: int,
                           loss: str = "square") -> float:
  r"""Bound on the error of the population loss truncated at degree J.

  With the tail :math:`T_J` of :func:`hermite_tail` and any overlap
  :math:`|m| \le 1` (unit w, w*),

  .. math::
    \Big|\sum_{j > J} c_j^2 m^j\Big| \le T_J \quad\text{(correlation)},
    \qquad
    0 \le \sum_{j > J} c_j^2 (1 - m^j) \le 2\,T_J \quad\text{(square)},

  since :math:`|m^j| \le 1` and :math:`0 \le 1 - m^j \le 2`. Both are sharp:
  the correlation bound is attained at m = 1, the square one at m = -1 for
  odd links (sign, tanh: only odd j, so :math:`1 - (-1)^j = 2`). For
  :math:`0 \le m \le 1` the square-loss error is at most :math:`T_J`. The
  truncated square loss never overestimates the exact one.

  Args:
    link: one of :data:`LINKS`.
    max_degree: J >= 0.
    loss: ``"correlation"`` (bound :math:`T_J`) or ``"square"`` (bound
      :math:`2T_J`, the default: it bounds both losses).

  Returns:
    The bound as a float.
  """
  if loss not in LOSSES:
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
  return (1.0 if loss == "correlation" else 2.0) * hermite_tail(link,
                                                                max_degree)


def _check_truncation(link: str, max_degree: int, loss: str,
                      tolerance: float | None) -> None:
  """Raises when the truncation error bound exceeds ``tolerance``."""
  if tolerance is None:
    return
  tol = v.check_nonnegative("tolerance", tolerance)
  bound = truncation_error_bound(link, max_degree, loss)
  if bound > tol:
    raise ValueError(
        f"max_degree must make the truncation error bound <= tolerance, got "
        f"max_degree={max_degree}: the {loss} loss of link {link!r} drops a "
        f"Hermite tail T_J = {hermite_tail(link, max_degree):.3e} (error "
        f"bound {bound:.3e}) > tolerance {tol:g}; raise max_degree, or pass "
        f"a larger tolerance (None: no check) to accept that error")


def population_correlation_loss(link: str, overlap, max_degree: int = 12,
                                tolerance: float | None = DEFAULT_TOLERANCE):
  r"""Correlation loss :math:`-E[y\sigma(w\cdot x)] = -\sum_j c_j^2 m^j`
  (matched link, label noise drops out), truncated at ``max_degree`` = J.

  The dropped terms change the loss by at most the tail :math:`T_J`
  (:func:`truncation_error_bound`, ``loss="correlation"``) for
  :math:`|m| \le 1`.

  Args:
    link: one of :data:`LINKS`.
    overlap: m = <w, w*> (|m| <= 1); scalar or array, may be traced.
    max_degree: truncation degree J >= 0.
    tolerance: largest accepted truncation error bound (absolute, loss
      units); ``None`` skips the check.

  Returns:
    The truncated loss, shaped like ``overlap``.

  Raises:
    ValueError: when :math:`T_J` > ``tolerance`` (e.g. relu, abs, sign and
      tanh at the default J = 12 and tolerance).
  """
  coeffs = hermite_coefficients(link, max_degree)
  _check_truncation(link, max_degree, "correlation", tolerance)
  return -sum(c * c * overlap**j for j, c in enumerate(coeffs))


def population_square_loss(link: str, overlap, noise_std: float = 0.0,
                           max_degree: int = 12,
                           tolerance: float | None = DEFAULT_TOLERANCE):
  r"""Square loss :math:`\tfrac12 E(\sigma(w\cdot x) - y)^2 = \sum_j
  c_j^2(1 - m^j) + s^2/2` (matched link), truncated at ``max_degree`` = J.

  The dropped terms add between 0 and :math:`2T_J`
  (:func:`truncation_error_bound`, ``loss="square"``) for :math:`|m| \le 1`.

  Args:
    link: one of :data:`LINKS`.
    overlap: m = <w, w*> (|m| <= 1); scalar or array, may be traced.
    noise_std: label noise s >= 0.
    max_degree: truncation degree J >= 0.
    tolerance: largest accepted truncation error bound :math:`2T_J`
      (absolute, loss units); ``None`` skips the check.

  Returns:
    The truncated loss, shaped like ``overlap``.

  Raises:
    ValueError: when :math:`2T_J` > ``tolerance``.
  """
  coeffs = hermite_coefficients(link, max_degree)
  s = v.check_nonnegative("noise_std", noise_std)
  _check_truncation(link, max_degree, "square", tolerance)
  return sum(c * c * (1 - overlap**j) for j, c in enumerate(coeffs)) \
      + s * s / 2
