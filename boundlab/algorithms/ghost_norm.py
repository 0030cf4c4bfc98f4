r"""Per-example gradient norms of dense layers without materialising them.

For a dense layer :math:`y = aW^\top + b` applied to example i's input
:math:`a_i \in \mathbb R^{T\times d}` (T positions; T = 1 without a sequence
axis) with output gradient :math:`g_i \in \mathbb R^{T\times p}`, the
per-example weight gradient is :math:`\nabla_W \ell_i = g_i^\top a_i` and

.. math::
  \|\nabla_W \ell_i\|_F^2 = \langle a_i a_i^\top, g_i g_i^\top\rangle_F,
  \qquad \|\nabla_b \ell_i\|^2 = \Big\|\sum_t g_{i,t}\Big\|^2,

costing :math:`O(T^2(d + p))` per example instead of :math:`O(Tdp)` memory
for the materialised gradient (T = 1: :math:`\|a_i\|\,\|g_i\|`). The
implementations' switch (Li et al.'s code, shared references [V]) uses the
ghost norm iff :math:`2T^2 \le dp` (:func:`prefer_ghost_norm`).

References:
  Li, Tramer, Liang, Hashimoto, Large Language Models Can Be Strong
  Differentially Private Learners, arXiv 2110.05679 (ghost clipping);
  Goodfellow, Efficient per-example gradient computations, arXiv 1510.01799.
"""

from __future__ import annotations

import jax.numpy as jnp

from boundlab import _validation as v


def _with_sequence_axis(inputs, output_grads):
  inputs, output_grads = jnp.asarray(inputs), jnp.asarray(output_grads)
  if inputs.ndim == 2 and output_grads.ndim == 2:
    return inputs[:, None, :], output_grads[:, None, :]
  if inputs.ndim == 3 and output_grads.ndim == 3:
    return inputs, output_grads
  raise ValueError("inputs and output_grads must both be (B, d)/(B, p) or "
                   f"(B, T, d)/(B, T, p), got {inputs.shape} and "
                   f"{output_grads.shape}")


def ghost_weight_norms_squared(inputs, output_grads) -> jnp.ndarray:
  r""":math:`\|g_i^\top a_i\|_F^2` for every example, via T x T Gram matrices."""
  a, g = _with_sequence_axis(inputs, output_grads)
  if a.shape[:2] != g.shape[:2]:
    raise ValueError(f"inputs and output_grads must share (B, T), got "
                     f"{a.shape[:2]} and {g.shape[:2]}")
  gram_a = jnp.einsum("btd,bsd->bts", a, a)
  gram_g = jnp.einsum("btp,bsp->bts", g, g)
  return jnp.einsum("bts,bts->b", gram_a, gram_g)


def bias_norms_squared(output_grads) -> jnp.ndarray:
  r""":math:`\|\sum_t g_{i,t}\|^2` for every example."""
  g = jnp.asarray(output_grads)
  summed = g.sum(axis=1) if g.ndim == 3 else g
  return jnp.sum(summed**2, axis=-1)


def materialized_weight_norms_squared(inputs, output_grads) -> jnp.ndarray:
  """The same norms by forming each (p, d) gradient: the reference path."""
  a, g = _with_sequence_axis(inputs, output_grads)
  return jnp.sum(jnp.einsum("btp,btd->bpd", g, a) ** 2, axis=(1, 2))


def prefer_ghost_norm(sequence_length: int, input_dim: int,
                      output_dim: int) -> bool:
  """The implementations' switch: ghost norms iff 2 T^2 <= d p."""
  t = v.check_positive_int("sequence_length", sequence_length)
  d = v.check_positive_int("input_dim", input_dim)
  p = v.check_positive_int("output_dim", output_dim)
  return 2 * t * t <= d * p


def dense_norms_squared(inputs, output_grads) -> jnp.ndarray:
  """Per-example squared weight-gradient norms by the cheaper of the two paths."""
  a, g = _with_sequence_axis(inputs, output_grads)
  if prefer_ghost_norm(a.shape[1], a.shape[2], g.shape[2]):
    return ghost_weight_norms_squared(a, g)
  return materialized_weight_norms_squared(a, g)
