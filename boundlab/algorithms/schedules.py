r"""Learning-rate schedules of Defazio et al.: linear decay, baselines, and
refinement from observed gradient norms.

Every schedule here is an optax schedule, a callable ``count -> lr``, where
``count`` is optax's number of updates already applied. Indices follow the
paper: the step :math:`\lambda_t` that produces :math:`x_{t+1}` is
``schedule(t - 1)``, :math:`t = 1..T`. Decaying schedules reach exactly 0 at
:math:`t = T`, a step that never moves the last iterate :math:`x_T` (so the
``T``-th call is irrelevant to a run of ``T`` iterates; bounds treat it as in
:mod:`boundlab.theory.last_iterate`).

:func:`schedule_values` turns a schedule into the array
:math:`\lambda_1..\lambda_T` that the bounds of
:mod:`boundlab.theory.last_iterate` take.

References:
  Defazio, Cutkosky, Mehta & Mishchenko, "Optimal Linear Decay Learning Rate
  Schedules and Further Refinements", arXiv 2310.07831 v2 (v1: "When, Why
  and How Much? Adaptive Learning Rate Scheduling by Refinement").
  Authors' code: github.com/facebookresearch/adaptive_scheduling.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import optax
import scipy.ndimage

from boundlab._validation import (check_finite_array, check_in_range,
                                  check_positive, check_positive_int)


def _shifted(base) -> optax.Schedule:
  """The paper's 1-based t = count + 1."""
  return lambda count: base(count + 1)


def linear_decay_schedule(scale: float, total_steps: int) -> optax.Schedule:
  r"""Linear decay :math:`\lambda_t = \eta\,(1 - t/T)`, :math:`t = 1..T`.

  The worst-case optimal shape of the paper (it is the refinement of
  constant gradient norms, :func:`refinement_weights`, up to scale); it
  ends with :math:`\lambda_T = 0`. Built on ``optax.linear_schedule``
  evaluated at ``count + 1``.

  Args:
    scale: :math:`\eta > 0` (the step at :math:`t = 0`; the first step
      taken is :math:`\eta(1 - 1/T)`).
    total_steps: :math:`T \ge 1`, the number of iterates.

  References:
    arXiv 2310.07831 v2, abstract ("the step-size is set proportional to
    1 - t/T") [V].
  """
  scale = check_positive("scale", scale)
  total_steps = check_positive_int("total_steps", total_steps)
  return _shifted(optax.linear_schedule(scale, 0.0, total_steps))


def cosine_schedule(scale: float, total_steps: int) -> optax.Schedule:
  r"""Cosine annealing :math:`\lambda_t = \tfrac{\eta}{2}(1 + \cos(\pi
  t/T))`, :math:`t = 1..T` (``optax.cosine_decay_schedule`` at
  ``count + 1``); :math:`\lambda_T = 0`."""
  scale = check_positive("scale", scale)
  total_steps = check_positive_int("total_steps", total_steps)
  return _shifted(optax.cosine_decay_schedule(scale, total_steps))


def polynomial_decay_schedule(scale: float, total_steps: int,
                              power: float) -> optax.Schedule:
  r"""Polynomial decay :math:`\lambda_t = \eta\,(1 - t/T)^p`
  (``optax.polynomial_schedule`` at ``count + 1``); :math:`p = 1` is
  linear decay."""
  scale = check_positive("scale", scale)
  total_steps = check_positive_int("total_steps", total_steps)
  power = check_positive("power", power)
  return _shifted(optax.polynomial_schedule(scale, 0.0, power, total_steps))


def step_decay_schedule(scale: float, total_steps: int, *,
                        boundaries=(1 / 3, 2 / 3),
                        factor: float = 0.1) -> optax.Schedule:
  r"""Step decay: :math:`\lambda_t = \eta\,\gamma^{m(t)}`, :math:`m(t)` the
  number of boundaries :math:`b_i T` with :math:`t > b_i T`
  (``optax.piecewise_constant_schedule`` at ``count + 1``).

  Args:
    scale: :math:`\eta`.
    total_steps: :math:`T`.
    boundaries: increasing fractions of :math:`T` in (0, 1).
    factor: :math:`\gamma \in (0, 1]`, the multiplier at each boundary.
  """
  scale = check_positive("scale", scale)
  total_steps = check_positive_int("total_steps", total_steps)
  factor = check_in_range("factor", factor, 0.0, 1.0, closed="(]")
  fractions = [check_in_range("boundaries", b, 0.0, 1.0, closed="()")
               for b in boundaries]
  if any(b <= a for a, b in zip(fractions, fractions[1:])):
    raise ValueError(f"boundaries must be increasing, got {boundaries!r}")
  steps = {}
  for b in fractions:
    # optax applies a factor once its argument (t = count + 1) reaches the
    # key; t > b T means t >= floor(b T) + 1.
    key = int(math.floor(b * total_steps)) + 1
    steps[key] = steps.get(key, 1.0) * factor
  return _shifted(optax.piecewise_constant_schedule(scale, steps))


def inverse_sqrt_schedule(scale: float) -> optax.Schedule:
  r""":math:`\lambda_t = \eta/\sqrt t` (no horizon)."""
  scale = check_positive("scale", scale)
  return lambda count: scale / jnp.sqrt(jnp.asarray(count, float) + 1.0)


def constant_baseline_step(total_steps: int, distance: float = 1.0,
                           lipschitz: float = 1.0) -> float:
  r"""The paper's tuned constant step
  :math:`\eta = D/(G\sqrt{T(2 + \ln(T-1))})`.

  With it the any-schedule bound is at most
  :math:`DG\sqrt{2 + \ln(T-1)}/\sqrt T`
  (:func:`boundlab.theory.last_iterate.constant_baseline_bound`): the
  :math:`\log T` penalty that linear decay removes.

  Args:
    total_steps: :math:`T \ge 2`.
    distance: :math:`D = \|x_1 - x_\star\|`.
    lipschitz: :math:`G \ge \|g_t\|`.

  References:
    ``solve_bound.py`` (``theory_eta``) in the first commit of
    facebookresearch/adaptive_scheduling [V].
  """
  total_steps = check_positive_int("total_steps", total_steps, minimum=2)
  distance = check_positive("distance", distance)
  lipschitz = check_positive("lipschitz", lipschitz)
  return distance / (lipschitz * math.sqrt(
      total_steps * (2 + math.log(total_steps - 1))))


def constant_baseline_schedule(total_steps: int, distance: float = 1.0,
                               lipschitz: float = 1.0) -> optax.Schedule:
  """``optax.constant_schedule`` of :func:`constant_baseline_step`."""
  return optax.constant_schedule(
      constant_baseline_step(total_steps, distance, lipschitz))


def _check_norms(name, values) -> np.ndarray:
  g = check_finite_array(name, values, ndim=1, min_len=1)
  if not np.all(g > 0):
    raise ValueError(f"{name} must be in (0, inf) entrywise")
  return g


def median_filter_norms(grad_norms, fraction: float) -> np.ndarray:
  r"""Median-filtered gradient norms, padded as the authors' README says.

  Window width :math:`2\lfloor \lfloor\sigma n\rfloor/2\rfloor + 1` (odd)
  for :math:`n` norms and fraction :math:`\sigma`; the sequence is
  reflect-padded at its end only by twice the width, filtered with
  ``scipy.ndimage.median_filter(..., mode="nearest")``, and the padding
  dropped. So the start uses nearest-value padding, the end reflection.

  Args:
    grad_norms: :math:`\|g_1\|..\|g_n\|` (positive).
    fraction: :math:`\sigma \in [0, 1]`, the window as a fraction of the
      run (width 1, no filtering, below :math:`2/n`).

  References:
    facebookresearch/adaptive_scheduling, README, "Refinement method" [V].
  """
  g = _check_norms("grad_norms", grad_norms)
  fraction = check_in_range("fraction", fraction, 0.0, 1.0)
  width = 2 * (int(fraction * g.size) // 2) + 1
  pad = 2 * width
  padded = np.pad(g, (0, pad), mode="reflect")
  return scipy.ndimage.median_filter(padded, size=width,
                                     mode="nearest")[:-pad]


def refinement_weights(grad_norms, *, weights=None,
                       filter_fraction: float | None = None) -> np.ndarray:
  r"""The refinement map: observed gradient norms to a schedule's shape.

  .. math::

     \lambda_t \propto w_t \sum_{p=t+1}^T w_p, \qquad
     w_t = \|g_t\|^{-2}, \qquad \lambda_T = 0,

  normalised as in the authors' ``find_closed_form_schedule``: divided by
  their ``tail_sums[-1]``, the tail sum starting at the last step, which is
  :math:`w_T` (not :math:`\sum_p w_p`). The normaliser is a constant
  factor; scale the result (e.g. by its maximum, as the authors' plots do)
  before use. Constant norms :math:`G` give :math:`(T - t)/G^2`: linear
  decay.

  Args:
    grad_norms: :math:`\|g_1\|..\|g_T\|` from a previous run (positive).
    weights: optional :math:`w_t` used instead of :math:`\|g_t\|^{-2}`
      (the authors' hook for Adam with per-coordinate / L1 norms);
      ``grad_norms`` then only fixes :math:`T`.
    filter_fraction: if given, ``grad_norms`` are first smoothed by
      :func:`median_filter_norms` with this fraction (the authors'
      ``sigma2``).

  Returns:
    The shape :math:`w_t \sum_{p>t} w_p / w_T`, :math:`t = 1..T`.

  References:
    arXiv 2310.07831 v2 (refinement; theorem number not confirmed);
    ``find_closed_form_schedule`` in ``find_schedule.py`` of
    facebookresearch/adaptive_scheduling [V].
  """
  g = _check_norms("grad_norms", grad_norms)
  if filter_fraction is not None:
    g = median_filter_norms(g, filter_fraction)
  if weights is None:
    w = g ** -2.0
  else:
    w = check_finite_array("weights", weights, ndim=1)
    if w.shape != g.shape:
      raise ValueError(f"weights must have the shape of grad_norms "
                       f"{g.shape}, got {w.shape}")
    if np.any(w < 0) or not w[-1] > 0:
      raise ValueError("weights must be in [0, inf) with weights[-1] in "
                       "(0, inf) (the authors' normaliser)")
  after = np.append(np.cumsum(w[::-1])[::-1][1:], 0.0)
  return w * after / w[-1]


def array_schedule(values) -> optax.Schedule:
  """An optax schedule returning ``values[count]`` (the last value after
  the end)."""
  table = jnp.asarray(check_finite_array("values", values, ndim=1))
  last = table.shape[0] - 1
  return lambda count: table[jnp.clip(jnp.asarray(count), 0, last)]


def refined_schedule(grad_norms, scale: float = 1.0, *, weights=None,
                     filter_fraction: float | None = None) -> optax.Schedule:
  r"""The refined schedule as an optax schedule, normalised to maximum
  ``scale``: :math:`\lambda_t = \eta\, r_t/\max_s r_s` with :math:`r`
  from :func:`refinement_weights` (same arguments)."""
  scale = check_positive("scale", scale)
  shape = refinement_weights(grad_norms, weights=weights,
                             filter_fraction=filter_fraction)
  return array_schedule(scale * shape / shape.max())


def schedule_values(schedule, total_steps: int) -> np.ndarray:
  r""":math:`\lambda_1..\lambda_T`: ``schedule(count)`` for
  ``count = 0..T-1``, as float64."""
  total_steps = check_positive_int("total_steps", total_steps)
  if not callable(schedule):
    raise ValueError(f"schedule must be callable (count -> lr), got "
                     f"{type(schedule).__name__}")
  try:   # optax's schedules take an array of counts
    values = np.asarray(schedule(jnp.arange(total_steps)), dtype=float)
  except (TypeError, ValueError):
    values = None
  if values is None or values.shape != (total_steps,):
    values = np.asarray([float(schedule(c)) for c in range(total_steps)])
  return values
