r"""Hessian-diagonal estimators for ``optax.contrib.sophia``, and Sophia in
the paper's order.

``optax.contrib.sophia(..., hessian_diagonal_fn=...)`` takes any transformation
returning an estimate of diag(H) (optax ships Hutchinson with Rademacher
probes, which needs ``obj_fn`` passed to ``update``). The run loop cannot pass
extra arguments, so these estimators carry their objective or model with them:

* :func:`exact_hessian_diagonal` -- the exact diagonal (small problems; the
  deterministic limit in which Sophia is clipped diagonal Newton).
* :func:`gauss_newton_bartlett` -- Sophia-G's GNB estimator on a fixed input
  set, with labels sampled from the model
  (:func:`boundlab.theory.gauss_newton_bartlett_diagonal`).

**Order of estimate and step.** optax (0.2.8, ``optax/contrib/_sophia.py``,
``scale_by_sophia``) preconditions step t by the EMA *before* this step's
estimate (lines 157-159 divide by ``state.nu``) and only afterwards estimates
the diagonal at :math:`\theta_t` and updates the EMA (lines 177-194), so with
``update_interval`` k = 1 the step from :math:`\theta_t` uses curvature
measured at :math:`\theta_{t-1}`:

.. math::
  \theta_{t+1} = \theta_t - \eta\,\operatorname{clip}\Big(
  \frac{\hat m_t}{\max\{\gamma h_{t-1}, \epsilon\}}, \rho\Big), \qquad
  h_t = \beta_2 h_{t-1} + (1 - \beta_2)\,\hat H(\theta_t),

with :math:`h_{-1} = 0`: the first step divides by ``eps`` and is a clipped
sign step, :math:`-\eta\rho\,\operatorname{sign}(g_0)` (wherever
:math:`|g_0| > \rho\epsilon`). Liu et al.'s Algorithm 3 (arXiv 2305.14342;
recalled, and as restated by secondary sources, not checked against the PDF)
estimates first and steps with the fresh estimate: at t with t mod k = 1,
:math:`h_t = \beta_2 h_{t-k} + (1 - \beta_2)\hat H(\theta_t)`, then
:math:`\theta_{t+1} = \theta_t - \eta\,\operatorname{clip}(m_t / \max\{\gamma
h_t, \epsilon\}, 1)`. :func:`sophia` offers both (``curvature_order``);
``"optax"`` is ``optax.contrib.sophia`` itself. The ``"paper"`` order changes
nothing else: it keeps optax's bias-corrected momentum :math:`\hat m_t =
m_t / (1 - \beta_1^{t})` (Algorithm 3 uses :math:`m_t`; identical for
:math:`\beta_1 = 0`), its refresh schedule (steps 0, k, 2k, ... counted from
0) and its decoupled weight decay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree
from jax.flatten_util import ravel_pytree

from boundlab import _validation as v
from boundlab.theory.gauss_newton import gauss_newton_bartlett_diagonal
from boundlab.theory.hessian import dense_hessian


def exact_hessian_diagonal(objective: Callable
                           ) -> optax.GradientTransformation:
  """diag of the dense Hessian of ``objective`` at ``params``."""

  def update_fn(updates, state, params=None, **extra_args):
    del updates, extra_args
    unravel = ravel_pytree(params)[1]
    return unravel(jnp.diag(dense_hessian(objective, params))), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update_fn)


class GaussNewtonBartlettState(NamedTuple):
  key: jax.Array


def gauss_newton_bartlett(predict: Callable, inputs: Any, key: jax.Array
                          ) -> optax.GradientTransformation:
  """Sophia-G's estimator on ``inputs``; a fresh key split per call."""

  def update_fn(updates, state, params=None, **extra_args):
    del updates, extra_args
    key, sub = jax.random.split(state.key)
    return (gauss_newton_bartlett_diagonal(predict, params, inputs, sub),
            GaussNewtonBartlettState(key))

  return optax.GradientTransformation(
      lambda params: GaussNewtonBartlettState(key), update_fn)


CURVATURE_ORDERS = ("optax", "paper")


def scale_by_sophia_paper_order(
    b1: float = 0.965, b2: float = 0.99, eps: float = 1e-8,
    gamma: float = 0.01, clip_threshold: float | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: optax.GradientTransformation | None = None,
    mu_dtype: Any = None) -> optax.GradientTransformationExtraArgs:
  r"""optax's ``scale_by_sophia`` with the EMA refreshed *before* the step.

  On refresh steps (``count % update_interval == 0``, counting from 0) the
  diagonal is estimated at the current ``params`` and folded into the EMA
  :math:`h`, and that fresh :math:`h` preconditions this step:
  :math:`u_t = \operatorname{clip}(\hat m_t / \max\{\gamma h_t, \epsilon\},
  \rho)`. Everything else, the state (``optax.contrib.SophiaState``)
  included, is optax's.

  Args:
    b1: momentum decay (bias-corrected, as in optax).
    b2: decay of the Hessian-diagonal EMA.
    eps: floor of the denominator.
    gamma: scale of the Hessian diagonal.
    clip_threshold: per-coordinate clip :math:`\rho`; ``None``: no clipping.
    update_interval: refresh the estimate every this many steps (>= 1).
    hessian_diagonal_fn: the estimator (e.g. :func:`exact_hessian_diagonal`);
      required.
    mu_dtype: dtype of the momentum (optax's convention).

  Returns:
    An ``optax.GradientTransformationExtraArgs``; its ``update`` needs
    ``params`` and passes extra keyword arguments to the estimator.
  """
  if hessian_diagonal_fn is None:
    raise ValueError("hessian_diagonal_fn must be a GradientTransformation, "
                     "got None")
  interval = v.check_positive_int("update_interval", update_interval)
  # optax's utils.canonicalize_dtype, which optax does not export.
  mu_dtype = (None if mu_dtype is None
              else jax.dtypes.canonicalize_dtype(mu_dtype))
  estimator = optax.with_extra_args_support(hessian_diagonal_fn)

  def init_fn(params):
    return optax.contrib.SophiaState(
        count=jnp.zeros([], jnp.int32),
        mu=optax.tree.zeros_like(params, dtype=mu_dtype),
        nu=optax.tree.zeros_like(params),
        hessian_fn_state=estimator.init(params))

  def update_fn(updates, state, params=None, **estimator_kwargs):
    if params is None:
      raise ValueError("params must be passed to update, got None")
    grads = updates

    def refresh(estimator_state, nu):
      diagonal, estimator_state = estimator.update(
          grads, estimator_state, params=params, **estimator_kwargs)
      return estimator_state, optax.tree.update_moment(diagonal, nu, b2, 1)

    # The refresh comes first: this step is preconditioned by the curvature
    # at the current params (optax: by the previous refresh's EMA).
    estimator_state, nu = jax.lax.cond(
        jnp.equal(state.count % interval, 0), refresh,
        lambda h, n: (h, n), state.hessian_fn_state, state.nu)
    count = optax.safe_int32_increment(state.count)
    mu = optax.tree.update_moment(grads, state.mu, b1, 1)
    mu_hat = optax.tree.bias_correction(mu, b1, count)
    step = jax.tree.map(lambda m, h: m / jnp.maximum(gamma * h, eps), mu_hat,
                        nu)
    if clip_threshold is not None:
      step = jax.tree.map(
          lambda u: jnp.clip(u, -clip_threshold, clip_threshold), step)
    return step, optax.contrib.SophiaState(
        count=count, mu=optax.tree.cast(mu, mu_dtype), nu=nu,
        hessian_fn_state=estimator_state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sophia(learning_rate, b1: float = 0.965, b2: float = 0.99,
           eps: float = 1e-8, weight_decay: float = 1e-4,
           gamma: float = 0.01, clip_threshold: float | None = 1.0,
           update_interval: int = 10,
           hessian_diagonal_fn: optax.GradientTransformation | None = None,
           mu_dtype: Any = None, curvature_order: str = "optax"
           ) -> optax.GradientTransformationExtraArgs:
  r"""Sophia with a choice of when the curvature estimate is taken.

  The arguments other than ``curvature_order`` are ``optax.contrib.sophia``'s,
  with its defaults, except that an estimator must be given.

  Args:
    learning_rate: :math:`\eta` (float or schedule).
    b1: momentum decay (bias-corrected).
    b2: decay of the Hessian-diagonal EMA.
    eps: floor of the denominator.
    weight_decay: decoupled weight decay.
    gamma: scale of the Hessian diagonal.
    clip_threshold: per-coordinate clip :math:`\rho`; ``None``: no clipping.
    update_interval: refresh the estimate every this many steps.
    hessian_diagonal_fn: the estimator (e.g. :func:`exact_hessian_diagonal`);
      required.
    mu_dtype: dtype of the momentum.
    curvature_order: ``"optax"`` -- exactly ``optax.contrib.sophia``: step t
      is preconditioned by the EMA of estimates up to step t - 1 (the first
      step is a clipped sign step); ``"paper"`` -- Algorithm 3's order:
      refresh the EMA at the current params, then step with it
      (:func:`scale_by_sophia_paper_order`).

  Returns:
    The optimizer (an ``optax.GradientTransformationExtraArgs``).
  """
  if curvature_order not in CURVATURE_ORDERS:
    raise ValueError(f"curvature_order must be one of {CURVATURE_ORDERS}, "
                     f"got {curvature_order!r}")
  if hessian_diagonal_fn is None:
    raise ValueError("hessian_diagonal_fn must be a GradientTransformation, "
                     "got None")
  if curvature_order == "optax":
    return optax.contrib.sophia(
        learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay,
        gamma=gamma, clip_threshold=clip_threshold,
        update_interval=update_interval,
        hessian_diagonal_fn=hessian_diagonal_fn, mu_dtype=mu_dtype)
  # The same chain as optax.contrib.sophia (decoupled weight decay, then the
  # learning rate), around the reordered preconditioner.
  return optax.chain(
      scale_by_sophia_paper_order(b1, b2, eps, gamma, clip_threshold,
                                  update_interval, hessian_diagonal_fn,
                                  mu_dtype),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate))
