r"""Implicit bias of diagonal linear networks: the hyperbolic-entropy potential.

For :math:`\beta = w_+^2 - w_-^2` trained by gradient flow from
:math:`w_\pm = \alpha`, the limit is the interpolator minimising

.. math::
  Q_\alpha(\beta) = \sum_i 2\alpha_i^2 - \sqrt{4\alpha_i^4 + \beta_i^2}
  + \beta_i \operatorname{arcsinh}\!\big(\beta_i / (2\alpha_i^2)\big),
  \qquad \nabla Q_\alpha(\beta) = \operatorname{arcsinh}(\beta/(2\alpha^2)),

(Woodworth et al., arXiv 2002.09277, as recalled in the shared references
[R], cross-checked there against the Azulay et al. code). For discrete (S)GD
the same potential appears with a per-coordinate *effective* scale
:math:`\alpha_\infty^2 = w_+^\infty \odot w_-^\infty` (Even et al., arXiv
2302.08982 [R]). Here the scale may differ per coordinate.

The constrained problem is solved through its smooth, unconstrained dual:
with :math:`Q_\alpha^*(\theta) = \sum_i 2\alpha_i^2(\cosh\theta_i - 1)`,

.. math::
  \min_\nu\ Q_\alpha^*(X^\top\nu) - \langle\nu, y\rangle, \qquad
  \beta = \nabla Q_\alpha^*(X^\top\nu) = 2\alpha^2\sinh(X^\top\nu),

which is strictly convex in :math:`\nu` when X has full row rank; Newton's
method with a backtracking line search converges quadratically. Below
:math:`\alpha \approx 10^{-6}` (deep in the l1 regime) the dual is too
ill-conditioned for float64 and the solver raises instead of returning an
inaccurate point.
"""

from __future__ import annotations

import numpy as np

from boundlab import _validation as v


def hyperbolic_entropy(beta, scale) -> float:
  r"""The potential :math:`Q_\alpha(\beta)` (per-coordinate scale allowed).

  Args:
    beta: (d,) linear predictor.
    scale: :math:`\alpha`, a positive scalar or (d,) array.
  """
  beta = v.check_finite_array("beta", beta, ndim=1)
  alpha2 = _scale_squared(scale, beta.shape[0])
  return float(np.sum(2 * alpha2 - np.sqrt(4 * alpha2**2 + beta**2)
                      + beta * np.arcsinh(beta / (2 * alpha2))))


def hyperbolic_entropy_interpolator(x, y, scale, *, tol: float = 1e-12,
                                    max_iter: int = 200) -> np.ndarray:
  r""":math:`\arg\min_{X\beta = y} Q_\alpha(\beta)` by Newton on the dual.

  Args:
    x: (n, d) design with full row rank (n <= d).
    y: (n,) targets.
    scale: :math:`\alpha > 0`, scalar or (d,).
    tol: stop when the interpolation residual :math:`\|X\beta - y\|_\infty`
      is below ``tol`` times :math:`\max(1, \|y\|_\infty)`.
    max_iter: Newton iterations before giving up.

  Returns:
    The minimiser :math:`\beta` (float64).

  Raises:
    ValueError: on bad shapes, a non-positive scale, or if Newton does not
      reach ``tol`` (e.g. X rank-deficient).
  """
  x = v.check_finite_array("x", x, ndim=2)
  y = v.check_finite_array("y", y, ndim=1)
  n, d = x.shape
  if y.shape != (n,):
    raise ValueError(f"y must have shape ({n},), got {y.shape}")
  if n > d:
    raise ValueError(f"x must have at most as many rows as columns (n <= d), "
                     f"got {x.shape}")
  alpha2 = _scale_squared(scale, d)
  tol = v.check_positive("tol", tol)
  max_iter = v.check_positive_int("max_iter", max_iter)

  def dual(nu):
    # A trial step may overflow cosh; inf then just fails the line search.
    with np.errstate(over="ignore"):
      return float(np.sum(2 * alpha2 * (np.cosh(x.T @ nu) - 1)) - nu @ y)

  nu = np.zeros(n)
  target = tol * max(1.0, float(np.abs(y).max()))
  for _ in range(max_iter):
    theta = x.T @ nu
    beta = 2 * alpha2 * np.sinh(theta)
    residual = x @ beta - y                     # gradient of the dual
    if np.abs(residual).max() <= target:
      return beta
    hessian = (x * (2 * alpha2 * np.cosh(theta))) @ x.T
    step = np.linalg.solve(hessian, -residual)
    value, slope, t = dual(nu), float(residual @ step), 1.0
    # Near the optimum the decrease is below the dual's rounding error; the
    # slack keeps the full Newton step there instead of halving it to zero.
    rounding = 1e-13 * (1.0 + abs(value))
    while (dual(nu + t * step) > value + 1e-4 * t * slope + rounding
           and t > 1e-12):
      t *= 0.5
    nu = nu + t * step
  raise ValueError(f"Newton on the dual did not reach residual {target:g} in "
                   f"max_iter={max_iter} iterations (is x full row rank?)")


def effective_scale(w_plus, w_minus) -> np.ndarray:
  r"""Per-coordinate :math:`\alpha_\infty = \sqrt{w_+ \odot w_-}` (both > 0)."""
  w_plus = v.check_finite_array("w_plus", w_plus, ndim=1)
  w_minus = v.check_finite_array("w_minus", w_minus, ndim=1)
  product = w_plus * w_minus
  if np.any(product <= 0):
    raise ValueError("w_plus * w_minus must be positive in every coordinate "
                     "(a step with |2 eta g| >= 1 flipped a sign)")
  return np.sqrt(product)


def _scale_squared(scale, d: int) -> np.ndarray:
  alpha = np.broadcast_to(np.asarray(scale, dtype=float), (d,))
  if not np.all(np.isfinite(alpha)) or np.any(alpha <= 0):
    raise ValueError("scale must be positive and finite in every coordinate, "
                     "range (0, inf)")
  return alpha**2
