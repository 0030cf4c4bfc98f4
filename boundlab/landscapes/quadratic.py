r"""Quadratic objectives: a finite sum of squares and a noisy quadratic.

Two ways to give SGD asymmetric per-example gradients:

* :func:`mean_of_squares` -- :math:`f(x) = \frac1N\sum_i \tfrac12\|x-a_i\|^2`.
  Per-example gradients :math:`x - a_i` deviate from :math:`\nabla f` by
  :math:`\bar a - a_i`, asymmetric whenever the data are skewed. With
  ``a = (-3, -3, 9)`` and clip threshold 1 this is the smallest instance where
  clipped gradient descent stalls away from the optimum.
* :func:`noisy_quadratic` -- :math:`f(x) = \tfrac12 (x-x^\star)^\top H (x-x^\star)`
  with per-example loss :math:`\ell(x;\xi) = f(x) + \langle \xi, x\rangle`, so
  the per-example gradient is exactly :math:`\nabla f(x) + \xi` with
  :math:`\xi` drawn from any :class:`~boundlab.landscapes.NoiseDistribution`.
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape, finite_sum
from boundlab.landscapes.gradient_noise import (NoiseDistribution,
                                              diagonal_gaussian)


def mean_of_squares(points, init=0.0) -> Landscape:
  r"""Finite sum :math:`f(x) = \frac1N \sum_i \tfrac12 \|x - a_i\|^2`.

  Args:
    points: data :math:`a_i`, shape ``(N,)`` (scalar parameter) or ``(N, d)``.
    init: starting point, a scalar or a length-d vector.

  Returns:
    A :class:`Landscape` with ``constants``: ``optimum`` (the mean of the
    points), ``optimal_value``, ``smoothness`` (= 1) and ``points``.
  """
  a = v.check_finite_array("points", points, ndim=(1, 2), min_len=1)
  x0 = v.check_finite_array("init", init, ndim=(0, 1))
  param_shape = a.shape[1:]
  if x0.shape not in ((), param_shape):
    raise ValueError(f"init must be a scalar or have shape {param_shape}, got "
                     f"shape {x0.shape}")
  x0 = np.broadcast_to(x0, param_shape).copy()
  optimum = a.mean(axis=0)
  optimal_value = float(0.5 * np.mean(np.sum(
      (a - optimum).reshape(len(a), -1)**2, axis=1)))

  def loss(x, a_i):
    return 0.5 * jnp.sum((x - a_i)**2)

  return finite_sum(
      name=f"mean_of_squares(N={len(a)},d={int(np.prod(param_shape))})",
      init=lambda key: jnp.asarray(x0), loss=loss, data=jnp.asarray(a),
      constants={"optimum": optimum, "optimal_value": optimal_value,
                 "smoothness": 1.0, "points": a})


def diagonal_quadratic_sum(points, curvatures, init=0.0) -> Landscape:
  r"""Finite sum of diagonal quadratics with per-example curvatures.

  .. math::
    \ell_i(x) = \tfrac12 \sum_j h_{ij} (x_j - a_{ij})^2, \qquad
    f(x) = \frac1N \sum_i \ell_i(x), \qquad
    x^\star_j = \frac{\sum_i h_{ij} a_{ij}}{\sum_i h_{ij}} .

  Example i is :math:`L_i`-smooth with :math:`L_i = \max_j h_{ij}`; the sum
  is :math:`L`-smooth and :math:`\mu`-strongly convex with
  :math:`L = \max_j \bar h_j`, :math:`\mu = \min_j \bar h_j`
  (:math:`\bar h_j = \frac1N\sum_i h_{ij}`): the constants of
  finite-sum bounds that use per-example smoothness (SAG/SVRG/importance
  sampling, :math:`\max_i L_i` against :math:`\frac1N\sum_i L_i`).

  Args:
    points: centres :math:`a_{ij}`, shape ``(N, d)``.
    curvatures: :math:`h_{ij} \ge 0`, shape ``(N, d)``, with every column
      mean positive.
    init: starting point, a scalar or a length-d vector.

  Returns:
    A :class:`Landscape` with ``constants``: ``optimum``, ``optimal_value``,
    ``smoothness``, ``strong_convexity``, ``per_example_smoothness`` (the
    :math:`L_i`, shape ``(N,)``), ``curvatures``, ``points``.
  """
  a = v.check_finite_array("points", points, ndim=2, min_len=1)
  h = v.check_finite_array("curvatures", curvatures, ndim=2, min_len=1)
  if h.shape != a.shape:
    raise ValueError(f"curvatures must have the shape of points {a.shape}, "
                     f"got {h.shape}")
  if np.any(h < 0) or np.any(h.mean(axis=0) <= 0):
    raise ValueError("curvatures must be in [0, inf) with every column mean "
                     "in (0, inf)")
  x0 = v.check_vector("init", init, a.shape[1])
  mean_h = h.mean(axis=0)
  optimum = (h * a).sum(axis=0) / h.sum(axis=0)
  optimal_value = float(0.5 * np.mean(np.sum(h * (optimum - a)**2, axis=1)))

  def loss(x, example):
    return 0.5 * jnp.sum(example["h"] * (x - example["a"])**2)

  return finite_sum(
      name=f"diagonal_quadratic_sum(N={a.shape[0]},d={a.shape[1]})",
      init=lambda key: jnp.asarray(x0), loss=loss,
      data={"a": jnp.asarray(a), "h": jnp.asarray(h)},
      constants={"optimum": optimum, "optimal_value": optimal_value,
                 "smoothness": float(mean_h.max()),
                 "strong_convexity": float(mean_h.min()),
                 "per_example_smoothness": h.max(axis=1), "curvatures": h,
                 "points": a})


def noisy_quadratic(noise: NoiseDistribution, curvature=1.0, optimum=None,
                    init=None) -> Landscape:
  r"""Quadratic with additive gradient noise of a prescribed law.

  .. math::
    f(x) = \tfrac12 (x - x^\star)^\top \mathrm{diag}(h) (x - x^\star), \qquad
    \ell(x; \xi) = f(x) + \langle \xi, x \rangle, \qquad
    \nabla \ell(x;\xi) = \nabla f(x) + \xi .

  Args:
    noise: zero-mean law of :math:`\xi` (dimension d).
    curvature: diagonal :math:`h`, a positive scalar or length-d vector.
    optimum: :math:`x^\star` (default 0).
    init: starting point (default :math:`x^\star + 3\cdot\mathbf 1`).

  Returns:
    A :class:`Landscape` whose ``sample`` draws gradient noise. ``constants``:
    ``optimum``, ``optimal_value`` (= 0), ``smoothness`` (= max h),
    ``strong_convexity`` (= min h), ``initial_gap`` (:math:`f(x_0) - f^\star`),
    ``noise_variance`` (:math:`E\|\xi\|^2`, the law's ``variance``).
  """
  v.check_instance("noise", noise, NoiseDistribution, "a NoiseDistribution")
  d = noise.dim
  h = v.check_vector("curvature", curvature, d)
  if np.any(h <= 0):
    raise ValueError("curvature must be in (0, inf) in every coordinate")
  x_star = (np.zeros(d) if optimum is None
            else v.check_vector("optimum", optimum, d))
  x0 = x_star + 3.0 if init is None else v.check_vector("init", init, d)
  h_j, x_star_j = jnp.asarray(h), jnp.asarray(x_star)

  def objective(x):
    return 0.5 * jnp.sum(h_j * (x - x_star_j)**2)

  def loss(x, xi):
    return objective(x) + jnp.dot(xi, x)

  initial_gap = float(0.5 * np.sum(h * (x0 - x_star)**2))
  return Landscape(
      name=f"noisy_quadratic({noise.name})",
      init=lambda key: jnp.asarray(x0),
      loss=loss, sample=noise.sample, objective=objective,
      constants={"optimum": x_star, "optimal_value": 0.0,
                 "smoothness": float(h.max()),
                 "strong_convexity": float(h.min()),
                 "initial_gap": initial_gap, "noise": noise.name,
                 "noise_variance": noise.variance})


def ill_conditioned_quadratic(dim: int = 16, condition_number: float = 1e4,
                              noise_scale_spread: float = 1e3,
                              init_distance: float = 1.0) -> Landscape:
  r"""A diagonal quadratic with log-spaced curvatures and noise scales.

  :math:`h_k` runs log-uniformly from 1 down to :math:`1/\kappa`
  (``condition_number``); the gradient noise is :math:`N(0,
  \mathrm{diag}(s)^2)` with :math:`s_k` log-uniform from 1 down to
  ``1/noise_scale_spread`` in the *same* order, so flat coordinates also carry
  small gradients (the regime where an adaptive optimizer's
  :math:`1/\sqrt{v}` amplifies isotropic DP noise). Start at distance
  ``init_distance`` from the optimum 0 along :math:`(1, \ldots, 1)/\sqrt d`.
  Ganesh, McMahan & Thakurta's check S1 (shared references).
  """
  d = v.check_size("dim", dim, minimum=2, bytes_per_unit=8,
                   what="one vector")
  kappa = v.check_in_range("condition_number", condition_number, 1.0,
                           math.inf, closed="[)")
  spread = v.check_positive("noise_scale_spread", noise_scale_spread)
  r = v.check_positive("init_distance", init_distance)
  grid = np.linspace(0.0, 1.0, d)
  h = kappa ** (-grid)
  scales = spread ** (-grid)
  land = noisy_quadratic(diagonal_gaussian(scales), curvature=h,
                         init=np.full(d, r / np.sqrt(d)))
  return dataclasses.replace(
      land, name=f"ill_conditioned_quadratic(d={d},kappa={kappa:g},"
      f"spread={spread:g})",
      constants={**land.constants, "curvatures": h, "noise_scales": scales})
