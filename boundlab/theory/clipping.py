r"""Clipping, the one primitive: :math:`\mathrm{clip}(g, c) = g\min(1, c/\|g\|)`.

Clipping is the Euclidean projection onto the ball of radius :math:`c`, so
this delegates to :func:`optax.projections.projection_l2_ball`; over a pytree
the norm is the global norm across leaves. The optimizers of
:mod:`boundlab.algorithms` and the estimators of :mod:`boundlab.theory` both
clip through these two functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v


def clip(tree, clip_norm):
  r"""Projects one gradient (any pytree) onto the L2 ball of radius ``clip_norm``."""
  v.check_positive("clip_norm", clip_norm, allow_inf=True)
  return optax.projections.projection_l2_ball(tree, clip_norm)


def clip_factor(norm, clip_norm):
  r"""The projection's scale :math:`\min(1, c/\|g\|)` from a norm already
  known (a ghost norm), without the gradient: ``clip(g, c) = clip_factor(
  ||g||, c) * g``."""
  v.check_positive("clip_norm", clip_norm)
  v.check_nonnegative_array("norm", norm)
  return clip_norm / jnp.maximum(norm, clip_norm)


def clip_per_example(per_example_tree, clip_norm):
  """Clips every example of a pytree whose leaves carry a leading batch axis."""
  return jax.vmap(lambda g: clip(g, clip_norm))(per_example_tree)
