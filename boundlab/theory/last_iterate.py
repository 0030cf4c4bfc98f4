r"""Last-iterate bounds of (sub)gradient descent for any step-size schedule.

Convex f, iterates :math:`x_{t+1} = x_t - \lambda_t g_t` with
:math:`g_t \in \partial f(x_t)` (or an unbiased stochastic subgradient),
:math:`D = \|x_1 - x_\star\|`, iterates :math:`x_1, \dots, x_T`. Indices are
the paper's: 1-based, ``schedule[t - 1]`` is :math:`\lambda_t` and
``grad_norms[t - 1]`` is :math:`\|g_t\|` (the subgradient *at* :math:`x_t`,
so :math:`\|g_T\|` is the one at the returned iterate). The last step
:math:`\lambda_T` never moves :math:`x_T`; it still appears in the bounds.

Two bounds of Defazio, Cutkosky, Mehta & Mishchenko (arXiv 2310.07831 v2):

* the bound for **any** schedule (:func:`last_iterate_bound`),

  .. math::

     f(x_T) - f_\star \le \frac{D^2 + \sum_{t=1}^T \lambda_t^2\|g_t\|^2}
       {2\sum_{t=1}^T\lambda_t} + \frac12\sum_{k=1}^{T-1}
       \frac{\lambda_k}{\sum_{t=k+1}^T\lambda_t}\,
       \frac{\sum_{t=k}^T \lambda_t^2\|g_t\|^2}{\sum_{t=k}^T\lambda_t},

  (in expectation for SGD). This is exactly the objective that the authors'
  ``solve_bound.py`` (constant :math:`G`) and ``find_schedule.py`` (per-step
  :math:`G_t`) minimise with L-BFGS [V, facebookresearch/adaptive_scheduling,
  commits ed0924f and 37a8a9b]. It is infinite when :math:`\lambda_T = 0`
  (the :math:`k = T-1` term divides by :math:`\lambda_T`): linear decay and
  refined schedules end with 0. Since :math:`\lambda_T` never moves
  :math:`x_T`, the bound holds for *every* :math:`\lambda_T > 0` at once,
  so ``last_step="optimal"`` evaluates it at the minimising :math:`\lambda_T`.

* the **refinement** bound (:func:`refinement_bound`), for schedules of the
  form :math:`\lambda_t = \eta\, w_t \sum_{p>t} w_p / W`,
  :math:`W = \sum_t w_t`, :math:`w_t \ge 0`:

  .. math::

     f(x_T) - f_\star \le \frac{D^2}{2\eta W}
       + \frac{\eta}{2W}\sum_{t=1}^T w_t^2\|g_t\|^2 .

  Constant :math:`w` is linear decay :math:`\lambda_t = \eta(1 - t/T)`;
  minimised over :math:`w` (Cauchy-Schwarz) it gives
  :math:`w_t \propto \|g_t\|^{-2}`, the refinement of
  :func:`boundlab.algorithms.schedules.refinement_weights`, and the value
  :math:`D/\sqrt{\sum_t\|g_t\|^{-2}}`. The *form* of the schedule is the
  authors' ``find_closed_form_schedule`` [V]; the bound's constants are
  recalled [R] and checked here [D]: PEPit's tight worst case
  (:func:`last_iterate_worst_case`) equals it for linear decay at the tuned
  scale (:math:`DG/\sqrt T`) and lies below it for random weights. It is
  *not* the first bound at a particular :math:`\lambda_T`: for linear decay
  at its best scale the first bound is about :math:`2.0\,DG/\sqrt T`, this
  one :math:`DG/\sqrt T`.

The theorem numbers in v2 were not confirmed (only the paper's abstract and
the authors' code were read); see ``boundlab.paper_repro.defazio2023``.

References:
  Defazio, Cutkosky, Mehta & Mishchenko, "Optimal Linear Decay Learning Rate
  Schedules and Further Refinements", arXiv 2310.07831 v2 (v1: "When, Why
  and How Much? Adaptive Learning Rate Scheduling by Refinement").
  Authors' code: github.com/facebookresearch/adaptive_scheduling
  (``find_schedule.py``; ``solve_bound.py`` in the first commit).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.optimize

from boundlab._validation import (check_finite_array, check_positive,
                                  check_positive_int)
from boundlab.theory.pep import PepResult, require_pepit, solve

_LAST_STEPS = ("given", "optimal")
# Log-spaced grid for the last step, relative to the largest earlier step:
# the minimiser is then refined by a bounded Brent search around the best
# grid point.
_GRID = np.logspace(-12.0, 4.0, 161)


class TunedBound(NamedTuple):
  """A bound at its best scale.

  Attributes:
    value: the bound's value.
    scale: the multiplier :math:`\\eta` of the shape that attains it.
    last_step: :math:`\\lambda_T` *of the shape* (multiply by ``scale`` for
      the step itself) at which it is attained: the given one, or the
      minimising one for ``last_step="optimal"``.
  """

  value: float
  scale: float
  last_step: float


def _check_schedule(schedule, name="schedule", min_len=2) -> np.ndarray:
  lam = check_finite_array(name, schedule, ndim=1, min_len=min_len)
  if np.any(lam < 0):
    raise ValueError(f"{name} must be in [0, inf) entrywise, got a minimum "
                     f"of {lam.min()!r}")
  return lam


def _squared_norms(grad_norms, length: int) -> np.ndarray:
  g = check_finite_array("grad_norms", grad_norms, ndim=(0, 1))
  if np.any(g < 0):
    raise ValueError("grad_norms must be in [0, inf) entrywise")
  if g.ndim == 0:
    g = np.full(length, float(g))
  if g.shape != (length,):
    raise ValueError(f"grad_norms must be a scalar or have the schedule's "
                     f"length {length}, got shape {g.shape}")
  return g ** 2


def _check_last_step(last_step: str) -> str:
  if last_step not in _LAST_STEPS:
    raise ValueError(f"last_step must be one of {_LAST_STEPS}, got "
                     f"{last_step!r}")
  return last_step


def _terms(head: np.ndarray, g2: np.ndarray, last) -> tuple:
  r"""Sum of steps and the gradient part of the any-schedule bound.

  ``head`` is :math:`\lambda_1..\lambda_{T-1}`, ``last`` an array of
  candidate :math:`\lambda_T`; returns arrays over ``last`` of
  :math:`S = \sum_t\lambda_t` and of the bound without
  :math:`D^2/(2S)` (homogeneous of degree 1 in the schedule).
  """
  last = np.atleast_1d(np.asarray(last, dtype=float))[:, None]
  a_head = head ** 2 * g2[:-1]
  # Tails over the head: L'_k = sum_{t=k}^{T-1} lambda_t, A'_k likewise;
  # L'_{k+1} for k = T-1 is 0.
  tail_l = np.cumsum(head[::-1])[::-1]
  tail_a = np.cumsum(a_head[::-1])[::-1]
  tail_l_next = np.append(tail_l[1:], 0.0)
  a_last = last ** 2 * g2[-1]
  total = tail_l[0] + last[:, 0] if head.size else last[:, 0]
  sq_total = (tail_a[0] if head.size else 0.0) + a_last[:, 0]
  per_k = head * (tail_a + a_last) / ((tail_l + last) * (tail_l_next + last))
  return total, sq_total / (2 * total) + 0.5 * per_k.sum(axis=1)


def _minimise_last(head, g2, objective) -> tuple[float, float]:
  """(minimum, argmin) over lambda_T > 0 of objective(S, grad_part)."""
  unit = head.max() if head.size and head.max() > 0 else 1.0
  grid = unit * _GRID
  values = objective(*_terms(head, g2, grid))
  i = int(np.argmin(values))
  if i in (0, grid.size - 1):   # monotone on the grid: take the edge value
    return float(values[i]), float(grid[i])
  def f(log_last):
    return float(objective(*_terms(head, g2, [math.exp(log_last)]))[0])
  result = scipy.optimize.minimize_scalar(
      f, bounds=(math.log(grid[i - 1]), math.log(grid[i + 1])),
      method="bounded", options={"xatol": 1e-10})
  best = float(result.fun)
  if best <= values[i]:
    return best, math.exp(float(result.x))
  return float(values[i]), float(grid[i])


def last_iterate_bound(schedule, grad_norms, distance: float = 1.0, *,
                       last_step: str = "given") -> float:
  r"""The paper's last-iterate bound for any schedule.

  .. math::

     f(x_T) - f_\star \le \frac{D^2 + \sum_{t=1}^T \lambda_t^2\|g_t\|^2}
       {2\sum_t\lambda_t} + \frac12\sum_{k=1}^{T-1}
       \frac{\lambda_k}{\sum_{t>k}\lambda_t}\,
       \frac{\sum_{t\ge k} \lambda_t^2\|g_t\|^2}{\sum_{t\ge k}\lambda_t}

  Args:
    schedule: :math:`\lambda_1, \dots, \lambda_T` (length :math:`T \ge 2`,
      nonnegative).
    grad_norms: :math:`\|g_1\|, \dots, \|g_T\|` (the subgradients at the
      iterates), or one number :math:`G` for every step (the worst case
      under :math:`\|g_t\| \le G`: the bound increases in each norm).
    distance: :math:`D = \|x_1 - x_\star\|`.
    last_step: ``"given"`` uses ``schedule[-1]``, which must then be
      positive; ``"optimal"`` ignores it and uses the :math:`\lambda_T > 0`
      that minimises the bound (valid because :math:`\lambda_T` never moves
      :math:`x_T`).

  Returns:
    The bound on :math:`f(x_T) - f_\star`.

  References:
    Defazio, Cutkosky, Mehta & Mishchenko, arXiv 2310.07831 v2, the
    last-iterate bound for arbitrary step sizes (theorem number not
    confirmed); the objective of the authors' ``find_schedule.py`` and
    ``solve_bound.py`` [V].
  """
  lam = _check_schedule(schedule)
  g2 = _squared_norms(grad_norms, lam.size)
  distance = check_positive("distance", distance)
  _check_last_step(last_step)
  head = lam[:-1]
  d2 = distance ** 2
  if last_step == "optimal":
    return _minimise_last(head, g2, lambda s, b: d2 / (2 * s) + b)[0]
  if not lam[-1] > 0:
    raise ValueError("schedule[-1] (lambda_T) must be in (0, inf) for "
                     "last_step='given' (the k = T-1 term divides by it); "
                     "use last_step='optimal' for a schedule that ends "
                     "with 0")
  total, grad_part = _terms(head, g2, [lam[-1]])
  return float(d2 / (2 * total[0]) + grad_part[0])


def best_last_step(schedule, grad_norms, distance: float = 1.0) -> float:
  r"""The :math:`\lambda_T > 0` at which :func:`last_iterate_bound` with
  ``last_step="optimal"`` is attained (``schedule[-1]`` is ignored)."""
  lam = _check_schedule(schedule)
  g2 = _squared_norms(grad_norms, lam.size)
  d2 = check_positive("distance", distance) ** 2
  return _minimise_last(lam[:-1], g2, lambda s, b: d2 / (2 * s) + b)[1]


def tuned_last_iterate_bound(shape, grad_norms, distance: float = 1.0, *,
                             last_step: str = "optimal") -> TunedBound:
  r""":func:`last_iterate_bound` of :math:`\eta\cdot` ``shape`` at the best
  scale :math:`\eta > 0`.

  The bound is :math:`a/\eta + b\eta` with :math:`a = D^2/(2\sum_t s_t)` and
  :math:`b` the rest of the bound at the shape :math:`s` (homogeneous of
  degree 1), so its minimum is :math:`2\sqrt{ab}` at
  :math:`\eta = \sqrt{a/b}`; with ``last_step="optimal"`` it is minimised
  over :math:`s_T` as well (the minimiser does not depend on :math:`D`).

  Args:
    shape: the schedule's shape :math:`s_1..s_T` (its scale is irrelevant).
    grad_norms: :math:`\|g_t\|` per step, or one :math:`G` for all.
    distance: :math:`D`.
    last_step: as in :func:`last_iterate_bound`.

  Returns:
    A :class:`TunedBound`.
  """
  lam = _check_schedule(shape, "shape")
  g2 = _squared_norms(grad_norms, lam.size)
  distance = check_positive("distance", distance)
  _check_last_step(last_step)
  head = lam[:-1]
  if last_step == "optimal":
    _, last = _minimise_last(head, g2, lambda s, b: b / s)
  else:
    if not lam[-1] > 0:
      raise ValueError("shape[-1] must be in (0, inf) for last_step="
                       "'given'; use last_step='optimal'")
    last = float(lam[-1])
  total, grad_part = _terms(head, g2, [last])
  a, b = distance ** 2 / (2 * total[0]), float(grad_part[0])
  if not b > 0:
    raise ValueError("grad_norms must not vanish on every step of the "
                     "shape (the bound then has no best scale)")
  return TunedBound(value=2 * math.sqrt(a * b), scale=math.sqrt(a / b),
                    last_step=last)


def tuned_worst_case_bound(shape, distance: float = 1.0,
                           lipschitz: float = 1.0, *,
                           last_step: str = "optimal") -> TunedBound:
  r""":func:`tuned_last_iterate_bound` with :math:`\|g_t\| = G` for every
  step: the worst case over convex G-Lipschitz functions of the bound, at
  the shape's best scale. For a constant shape (given last step) it is
  :math:`DG\sqrt{(1 + H_{T-1})/T}`, below the authors' closed form
  :math:`DG\sqrt{2 + \ln(T-1)}/\sqrt T` (:func:`constant_baseline_bound`)."""
  check_positive("lipschitz", lipschitz)
  return tuned_last_iterate_bound(shape, float(lipschitz), distance,
                                  last_step=last_step)


def constant_baseline_bound(horizon: int, distance: float = 1.0,
                            lipschitz: float = 1.0) -> float:
  r"""The authors' bound for the constant step
  :math:`\eta = D/(G\sqrt{T(2 + \ln(T-1))})`:
  :math:`DG\sqrt{2 + \ln(T-1)}/\sqrt T`.

  It bounds :func:`last_iterate_bound` of that constant schedule with
  :math:`\|g_t\| \le G` (the harmonic sum :math:`H_{T-1} \le 1 + \ln(T-1)`).

  References:
    ``solve_bound.py`` (``theory_eta``, ``theory1d``) in the first commit of
    facebookresearch/adaptive_scheduling [V].
  """
  horizon = check_positive_int("horizon", horizon, minimum=2)
  distance = check_positive("distance", distance)
  lipschitz = check_positive("lipschitz", lipschitz)
  return distance * lipschitz * math.sqrt(2 + math.log(horizon - 1)) / \
      math.sqrt(horizon)


def _check_weights(weights) -> np.ndarray:
  w = _check_schedule(weights, "weights", min_len=1)
  if not w.sum() > 0:
    raise ValueError("weights must not all be 0")
  return w


def refinement_step_sizes(weights, scale: float = 1.0) -> np.ndarray:
  r"""The schedule :math:`\lambda_t = \eta\, w_t \sum_{p=t+1}^T w_p / W`,
  :math:`W = \sum_t w_t` (so :math:`\lambda_T = 0`), to which
  :func:`refinement_bound` applies.

  Constant weights give linear decay :math:`\eta(1 - t/T)`. The authors'
  ``find_closed_form_schedule`` returns the same shape divided by
  :math:`w_T` instead of :math:`W` (a constant factor).
  """
  w = _check_weights(weights)
  scale = check_positive("scale", scale)
  after = np.append(np.cumsum(w[::-1])[::-1][1:], 0.0)
  return scale * w * after / w.sum()


def refinement_bound(weights, grad_norms, distance: float = 1.0,
                     scale: float = 1.0) -> float:
  r"""The bound for :func:`refinement_step_sizes` (weights, scale):

  .. math::

     f(x_T) - f_\star \le \frac{D^2}{2\eta W}
       + \frac{\eta}{2W}\sum_{t=1}^T w_t^2\|g_t\|^2 .

  Args:
    weights: :math:`w_1..w_T \ge 0`, not all 0.
    grad_norms: :math:`\|g_t\|` per step (at the iterates of the run with
      that schedule), or one :math:`G` for all.
    distance: :math:`D`.
    scale: :math:`\eta`.

  References:
    Defazio, Cutkosky, Mehta & Mishchenko, arXiv 2310.07831 v2, the SGD
    bound behind refinement (theorem number and constants not confirmed
    [R]; checked against PEPit here [D]); the schedule's form is the
    authors' ``find_closed_form_schedule`` [V].
  """
  w = _check_weights(weights)
  g2 = _squared_norms(grad_norms, w.size)
  distance = check_positive("distance", distance)
  scale = check_positive("scale", scale)
  total = w.sum()
  return float(distance ** 2 / (2 * scale * total)
               + scale * np.sum(w ** 2 * g2) / (2 * total))


def tuned_refinement_bound(weights, grad_norms,
                           distance: float = 1.0) -> TunedBound:
  r""":func:`refinement_bound` at its best scale:
  :math:`D\sqrt{\sum_t w_t^2\|g_t\|^2}/W` at
  :math:`\eta = D/\sqrt{\sum_t w_t^2\|g_t\|^2}`; for
  :math:`w_t = \|g_t\|^{-2}` it is :math:`D/\sqrt{\sum_t \|g_t\|^{-2}}`,
  the minimum over all weights. ``last_step`` of the result is 0 (the
  schedule's own :math:`\lambda_T`)."""
  w = _check_weights(weights)
  g2 = _squared_norms(grad_norms, w.size)
  distance = check_positive("distance", distance)
  q = float(np.sum(w ** 2 * g2))
  if not q > 0:
    raise ValueError("grad_norms must not vanish wherever weights > 0")
  return TunedBound(value=distance * math.sqrt(q) / float(w.sum()),
                    scale=distance / math.sqrt(q), last_step=0.0)


def _bound_and_gradient(lam, g2, d2):
  """The any-schedule bound (last step given) and its gradient in lambda."""
  a, da = lam ** 2 * g2, 2 * lam * g2
  total = lam.sum()
  tail_l = np.cumsum(lam[::-1])[::-1]
  tail_a = np.cumsum(a[::-1])[::-1]
  l_k, l_next = tail_l[:-1], tail_l[1:]
  coef = lam[:-1] / (l_k * l_next)
  e = coef * tail_a[:-1]
  value = (d2 + a.sum()) / (2 * total) + 0.5 * e.sum()
  grad = -(d2 + a.sum()) / (2 * total ** 2) + da / (2 * total)
  # d/d lambda_j of the k-terms: the k = j factor lambda_k; A_k (k <= j);
  # L_k (k <= j); L_{k+1} (k <= j - 1).
  own = np.append(tail_a[:-1] / (l_k * l_next), 0.0)
  up_to = lambda v: np.append(np.cumsum(v), np.sum(v))       # k <= min(j, T-1)
  below = lambda v: np.insert(np.cumsum(v), 0, 0.0)          # k <= j - 1
  grad = grad + 0.5 * (own + da * up_to(coef) - up_to(e / l_k)
                       - below(e / l_next))
  return float(value), grad


def optimal_schedule(grad_norms, distance: float = 1.0, *, horizon=None,
                     initial=None, max_iterations: int = 100_000
                     ) -> np.ndarray:
  r"""Numerical minimiser of :func:`last_iterate_bound` over
  :math:`\lambda \ge 0` (L-BFGS-B, exact gradient), as the authors'
  ``solve_bound.py`` / ``find_schedule.py`` do.

  Args:
    grad_norms: :math:`\|g_t\|` per step (length :math:`T`), or one
      :math:`G` with ``horizon`` :math:`T`.
    distance: :math:`D`.
    horizon: :math:`T` when ``grad_norms`` is one number.
    initial: starting schedule (positive); default constant
      :math:`D/(\bar G\sqrt T)` (the authors' start in ``find_schedule.py``
      is :math:`D/\sqrt T`).
    max_iterations: L-BFGS-B iteration limit.

  Returns:
    The minimising :math:`\lambda_1..\lambda_T` (every entry at least
    :math:`10^{-12}` times the initial scale, the solver's lower bound).

  Raises:
    RuntimeError: if L-BFGS-B reports no convergence.
  """
  g = check_finite_array("grad_norms", grad_norms, ndim=(0, 1))
  if g.ndim == 0:
    if horizon is None:
      raise ValueError("horizon (an integer >= 2) is needed when grad_norms "
                       "is one number")
    horizon = check_positive_int("horizon", horizon, minimum=2)
  else:
    horizon = check_positive_int("len(grad_norms)", g.size, minimum=2)
  g2 = _squared_norms(g, horizon)
  if not g2.sum() > 0:
    raise ValueError("grad_norms must not all be 0")
  d2 = check_positive("distance", distance) ** 2
  check_positive_int("max_iterations", max_iterations)
  if initial is None:
    x0 = np.full(horizon, math.sqrt(d2 / (g2.mean() * horizon)))
  else:
    x0 = _check_schedule(initial, "initial")
    if x0.shape != (horizon,) or not np.all(x0 > 0):
      raise ValueError(f"initial must have {horizon} entries in (0, inf)")
  floor = 1e-12 * float(np.mean(x0))
  result = scipy.optimize.minimize(
      _bound_and_gradient, x0, args=(g2, d2), jac=True, method="L-BFGS-B",
      bounds=[(floor, None)] * horizon,
      options={"maxiter": max_iterations, "maxfun": max_iterations,
               "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20})
  if not result.success:
    raise RuntimeError(f"L-BFGS-B did not converge: {result.message}")
  return np.asarray(result.x, dtype=float)


def optimal_refinement_weights(grad_norms, *, horizon=None, initial=None,
                               max_iterations: int = 100_000) -> np.ndarray:
  r"""Numerical minimiser over :math:`w \ge 0` of
  :func:`tuned_refinement_bound` (L-BFGS-B, exact gradient), normalised to
  sum 1. The analytic minimiser is :math:`w_t \propto \|g_t\|^{-2}`
  (Cauchy-Schwarz): this is a numerical check of that, not a new result.

  Args:
    grad_norms: :math:`\|g_t\|` per step, or one :math:`G` with
      ``horizon``.
    horizon: :math:`T` when ``grad_norms`` is one number.
    initial: starting weights (positive), default all 1.
    max_iterations: L-BFGS-B iteration limit.
  """
  g = check_finite_array("grad_norms", grad_norms, ndim=(0, 1))
  if g.ndim == 0:
    if horizon is None:
      raise ValueError("horizon (an integer >= 1) is needed when grad_norms "
                       "is one number")
    horizon = check_positive_int("horizon", horizon)
  else:
    horizon = g.size
  g2 = _squared_norms(g, horizon)
  if not np.all(g2 > 0):
    raise ValueError("grad_norms must be in (0, inf) entrywise")
  x0 = np.ones(horizon) if initial is None else _check_weights(initial)
  if x0.shape != (horizon,):
    raise ValueError(f"initial must have {horizon} entries")

  def objective(w):
    q, total = float(np.sum(w ** 2 * g2)), float(w.sum())
    root = math.sqrt(q)
    return root / total, w * g2 / (root * total) - root / total ** 2

  result = scipy.optimize.minimize(
      objective, x0 / x0.sum(), jac=True, method="L-BFGS-B",
      bounds=[(0.0, None)] * horizon,
      options={"maxiter": max_iterations, "maxfun": max_iterations,
               "ftol": 1e-15, "gtol": 1e-12})
  if not result.success:
    raise RuntimeError(f"L-BFGS-B did not converge: {result.message}")
  return result.x / result.x.sum()


def last_iterate_worst_case(steps, distance: float = 1.0,
                            lipschitz: float = 1.0, *,
                            metric: str = "last") -> PepResult:
  r"""PEPit's tight worst case of the subgradient method with fixed steps.

  The worst case of :math:`f(x_{N+1}) - f_\star` over convex G-Lipschitz f
  (PEPit's ``ConvexLipschitzFunction``) and starting points with
  :math:`\|x_1 - x_\star\| \le D`, for
  :math:`x_{t+1} = x_t - \lambda_t g_t`, :math:`g_t \in \partial f(x_t)`,
  :math:`t = 1..N`. A schedule of length :math:`T` for
  :func:`last_iterate_bound` corresponds to ``steps = schedule[:-1]``
  (:math:`N = T - 1`; :math:`\lambda_T` does not move :math:`x_T`).

  Args:
    steps: :math:`\lambda_1..\lambda_N` (nonnegative, :math:`N \ge 1`).
    distance: :math:`D`.
    lipschitz: :math:`G`.
    metric: ``"last"`` (the last iterate) or ``"best"``
      (:math:`\min_{t \le N+1} f(x_t) - f_\star`, the metric of PEPit's
      example ``subgradient_method.py``, whose constant step
      :math:`D/(G\sqrt{N+1})` has the tight value :math:`DG/\sqrt{N+1}`).

  Returns:
    A :class:`~boundlab.theory.pep.PepResult`.

  Raises:
    ImportError: if PEPit (and cvxpy) are not installed.

  References:
    PEPit 0.5.1, ``examples/unconstrained_convex_minimization/
    subgradient_method.py``; Drori & Teboulle, "An optimal variant of
    Kelley's cutting-plane method", Math. Program. 160 (2016).
  """
  lam = _check_schedule(steps, "steps", min_len=1)
  distance = check_positive("distance", distance)
  lipschitz = check_positive("lipschitz", lipschitz)
  if metric not in ("last", "best"):
    raise ValueError(f"metric must be 'last' or 'best', got {metric!r}")
  require_pepit()

  def build(pepit):
    from PEPit.functions import ConvexLipschitzFunction
    problem = pepit.PEP()
    f = problem.declare_function(ConvexLipschitzFunction, M=lipschitz)
    x_star = f.stationary_point()
    f_star = f(x_star)
    x = problem.set_initial_point()
    problem.set_initial_condition((x - x_star) ** 2 <= distance ** 2)
    g, fx = f.oracle(x)
    for step in lam:
      if metric == "best":
        problem.set_performance_metric(fx - f_star)
      x = x - float(step) * g
      g, fx = f.oracle(x)
    problem.set_performance_metric(fx - f_star)
    return problem

  return solve(build, method=f"subgradient method, {lam.size} fixed steps, "
               f"{metric} iterate", function_class=f"convex {lipschitz:g}-"
               f"Lipschitz, ||x_1 - x*|| <= {distance:g}", horizon=lam.size)
