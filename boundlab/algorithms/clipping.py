r"""Per-example clipping: :math:`\mathrm{clip}(g, c) = g \min(1, c/\|g\|)`.

The projection itself is :mod:`boundlab.theory.clipping` (optax's
``projection_l2_ball``, shared with the estimators of :mod:`boundlab.theory`);
this module adds the argument checks and the clipped mean that DP-SGD
aggregates.

References:
  Abadi et al., Deep Learning with Differential Privacy, arXiv 1607.00133.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from boundlab import _validation as v
from boundlab.theory.clipping import clip, clip_per_example

__all__ = ["clip", "clip_per_example", "clipped_mean", "check_clip_norm",
           "check_batched"]


def clipped_mean(per_example_tree, clip_norm):
  r""":math:`\frac1B \sum_i \mathrm{clip}(g_i, c)` over the leading axis."""
  return jax.tree.map(lambda g: jnp.mean(g, axis=0),
                      clip_per_example(per_example_tree, clip_norm))


def check_clip_norm(name: str, clip_norm) -> float:
  """Validates a clipping threshold: must be in (0, inf).

  An infinite threshold (no clipping) is rejected: the projection computes
  inf * 0 = NaN at a zero gradient; use the unclipped optimizer instead.
  """
  return v.check_positive(name, clip_norm)


def check_batched(per_example_tree, transform_name: str) -> int:
  """Returns the common leading (batch) size, or raises a ValueError."""
  leaves = jax.tree.leaves(per_example_tree)
  if not leaves or any(jnp.ndim(x) == 0 for x in leaves):
    raise ValueError(
        f"{transform_name} expects per-example gradients: every leaf needs a "
        "leading batch axis (use jax.vmap(jax.grad(loss), in_axes=(None, 0)))")
  sizes = {x.shape[0] for x in leaves}
  if len(sizes) != 1:
    raise ValueError(f"{transform_name}: leaves disagree on the batch size "
                     f"{sorted(sizes)}")
  return sizes.pop()
