r"""Wasserstein distances between empirical samples, by exact couplings.

For two samples of equal size n with uniform weights, an optimal coupling is a
permutation (Birkhoff--von Neumann), so :math:`W_1` is an assignment problem,
solved exactly by :func:`scipy.optimize.linear_sum_assignment`.

Chen, Wu & Hong's clipping-aware distance uses the cost
:math:`|\langle \hat v, \mathrm{clip}(v+\xi, c) - \mathrm{clip}(v+\xi', c)\rangle|
= |h(\xi) - h(\xi')|` with the *scalar* map
:math:`h(\xi) = \langle \hat v, \mathrm{clip}(v+\xi, c)\rangle`, so
:math:`W_{v,c}(p, p') = W_1(h_\# p, h_\# p')`, a one-dimensional transport
solved exactly by sorting (:func:`scipy.stats.wasserstein_distance`); the
tests check this against the assignment solution.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.spatial.distance
import scipy.stats

from boundlab import _validation as validation
from boundlab.theory.clipping_bias import clipped_inner_products


def _samples(name, x):
  x = validation.check_finite_array(name, x, ndim=(1, 2), min_len=1)
  return x[:, None] if x.ndim == 1 else x


def assignment_transport_cost(cost: np.ndarray) -> tuple[float, np.ndarray]:
  """Mean cost of the optimal permutation for a square cost matrix.

  Returns:
    ``(mean matched cost, permutation)`` with ``permutation[i]`` the column
    matched to row ``i``.
  """
  cost = validation.check_finite_array("cost", cost, ndim=2)
  if cost.ndim != 2 or cost.shape[0] != cost.shape[1]:
    raise ValueError(f"cost must be a square matrix, got shape {cost.shape}")
  rows, cols = scipy.optimize.linear_sum_assignment(cost)
  perm = np.empty_like(cols)
  perm[rows] = cols
  return float(cost[rows, cols].mean()), perm


def wasserstein_1(x, y) -> float:
  r""":math:`W_1` between two equal-size empirical samples in R^d (Euclidean cost)."""
  x, y = _samples("x", x), _samples("y", y)
  if x.shape != y.shape:
    raise ValueError(f"x and y must have equal shapes, got {x.shape}, {y.shape}")
  cost = scipy.spatial.distance.cdist(x, y)
  return assignment_transport_cost(cost)[0]


def clipped_projection(v, xi, clip_norm, *, xi_name: str = "xi"
                       ) -> np.ndarray:
  r""":math:`h(\xi) = \langle v/\|v\|, \mathrm{clip}(v+\xi, c)\rangle` for rows of ``xi``."""
  v_vec = np.atleast_1d(validation.check_finite_array("v", v, ndim=(0, 1)))
  xi = _samples(xi_name, xi)
  if xi.shape[1] != v_vec.shape[0]:
    raise ValueError(f"{xi_name} must have {v_vec.shape[0]} columns to match "
                     f"v, got shape {xi.shape}")
  norm_v = np.linalg.norm(v_vec)
  if norm_v == 0:
    raise ValueError("v must be non-zero (its direction defines W_{v,c})")
  c = validation.check_positive("clip_norm", clip_norm)
  return np.asarray(clipped_inner_products(jnp.asarray(v_vec), jnp.asarray(xi),
                                           c)) / norm_v


def clipped_direction_wasserstein(v, xi_p, xi_q, clip_norm) -> float:
  r""":math:`W_{v,c}(p, q)` between empirical samples (any sizes), exactly."""
  return float(scipy.stats.wasserstein_distance(
      clipped_projection(v, xi_p, clip_norm, xi_name="xi_p"),
      clipped_projection(v, xi_q, clip_norm, xi_name="xi_q")))


def w1_lower_confidence_bound_1d(x, y, alpha: float = 0.05) -> float:
  r"""A :math:`1-\alpha` lower confidence bound on the population :math:`W_1(P, Q)`.

  For i.i.d. samples ``x ~ P`` (n points) and ``y ~ Q`` (m points) on the line,
  :math:`W_1(P,Q) = \int |F - G|`. By the Dvoretzky--Kiefer--Wolfowitz
  inequality with Massart's constant, :math:`\sup|F_n - F| \le \epsilon_n =
  \sqrt{\ln(4/\alpha)/(2n)}` with probability at least :math:`1-\alpha/2`
  (same for G), so with probability at least :math:`1-\alpha`

  .. math::
    W_1(P, Q) \ge \int \big(|F_n - G_m| - \epsilon_n - \epsilon_m\big)_+ .

  The empirical distance is biased *upward*; this bound is what a claim of the
  form "b <= W" needs to be decided on population values.
  """
  x = np.sort(validation.check_finite_array("x", x, ndim=1, min_len=1))
  y = np.sort(validation.check_finite_array("y", y, ndim=1, min_len=1))
  alpha = validation.check_in_range("alpha", alpha, 0.0, 1.0, closed="()")
  grid = np.union1d(x, y)
  f = np.searchsorted(x, grid[:-1], side="right") / len(x)
  g = np.searchsorted(y, grid[:-1], side="right") / len(y)
  eps = sum(np.sqrt(np.log(4 / alpha) / (2 * len(s))) for s in (x, y))
  return float(np.sum(np.maximum(np.abs(f - g) - eps, 0.0) * np.diff(grid)))
