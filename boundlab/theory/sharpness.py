r"""Sharpness along a direction, and the best loss change it allows.

* Directional sharpness :math:`v^\top H v / \|v\|^2`.
* Best local loss change along :math:`v` of the quadratic model
  :math:`L(\theta - t v) \approx L - t\langle g, v\rangle + \tfrac{t^2}2 v^\top
  H v`, minimised at :math:`t^\star = \langle g, v\rangle / v^\top H v`:
  :math:`-\langle g, v\rangle^2 / (2 v^\top H v)` (for :math:`v^\top H v > 0`).
* Sharpness :math:`\lambda_{\max}(\nabla^2 L)` by Lanczos, jittable (Cohen
  et al., arXiv 2103.00065, measure it along training).

References:
  Pan & Li, Toward Understanding Why Adam Converges Faster Than SGD for
  Transformers, arXiv 2306.00204 (directional sharpness, local loss change).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from boundlab import _validation as v
from boundlab.theory.hessian import check_like, flat_hvp, hvp
from boundlab.theory.lanczos import top_eigenvalues


def _check_direction(direction, params):
  """A non-zero direction shaped like ``params``."""
  direction = check_like("direction", direction, params)
  leaves = jax.tree.leaves(direction)
  if not any(v.is_traced(x) for x in leaves) and not any(
      np.any(np.asarray(x) != 0) for x in leaves):
    raise ValueError("direction must be non-zero")
  return direction


def sharpness(loss_fn: Callable, params, num_iters: int = 20, *, args=()):
  """lambda_max of the Hessian of ``loss_fn(params, *args)`` at ``params``
  by Lanczos from the all-ones start (``num_iters`` iterations, at most the
  dimension): a Ritz value, exact when the dimension is at most
  ``num_iters`` and otherwise a lower bound. Data passed in ``args`` are
  arguments of the compiled programs, not constants baked into them."""
  num_iters = v.check_positive_int("num_iters", num_iters)
  if not isinstance(args, (tuple, list)):
    raise ValueError("args must be a tuple of loss_fn's extra arguments, "
                     f"got {type(args).__name__}")
  matvec, dim = flat_hvp(loss_fn, params, *args)
  return top_eigenvalues(matvec, dim, num_iters=min(num_iters, dim),
                         start=jnp.ones((dim,)))[0]


def directional_sharpness(loss_fn: Callable, params, direction, *args):
  r""":math:`v^\top H v / \|v\|^2` at ``params`` (pytrees)."""
  direction = _check_direction(direction, params)
  curvature = optax.tree.vdot(direction, hvp(loss_fn, params, direction, *args))
  return curvature / optax.tree.vdot(direction, direction)


def best_local_loss_change(loss_fn: Callable, params, direction, *args):
  r""":math:`-\langle g, v\rangle^2 / (2 v^\top H v)`; -inf when :math:`v^\top H v \le 0`."""
  v.check_callable("loss_fn", loss_fn)
  direction = _check_direction(direction, params)
  grad = jax.grad(loss_fn)(params, *args)
  slope = optax.tree.vdot(grad, direction)
  curvature = optax.tree.vdot(direction, hvp(loss_fn, params, direction, *args))
  return jnp.where(curvature > 0,
                   -slope**2 / (2 * jnp.where(curvature > 0, curvature, 1.0)),
                   -jnp.inf)
