r"""A fast DP-SGD gradient for dense networks: ghost norms plus book-keeping.

For an MLP with dense layers :math:`z^{(l)} = a^{(l)} W_l^\top + b_l`, one
backward pass to the pre-activations gives every example's output gradient
:math:`g_i^{(l)} = \partial \ell_i / \partial z_i^{(l)}`. Together with the
stored layer inputs :math:`a_i^{(l)}` they give

* the per-example gradient norms without forming any per-example gradient
  (ghost norms, :mod:`boundlab.algorithms.ghost_norm`):
  :math:`\|\nabla\ell_i\|^2 = \sum_l \|a_i^{(l)}\|^2\|g_i^{(l)}\|^2 +
  \|g_i^{(l)}\|^2`;
* the clipped sum as one weighted matrix product per layer (book-keeping):
  :math:`\sum_i c_i \nabla_{W_l}\ell_i = (c \odot g^{(l)})^\top a^{(l)}`,
  :math:`c_i = \min(1, C/\|\nabla\ell_i\|)`,

so the private gradient costs about one ordinary backward pass (the weight
gradients are computed once, already clipped) instead of a second backward
pass (ghost clipping) or B materialised gradients (``vmap(grad)``). The DP
gradient is then

.. math::
  \tilde g = \frac1B\Big(\sum_{i=1}^B c_i \nabla\ell_i + zC\,\zeta\Big),
  \qquad \zeta \sim N(0, I),

the update of :func:`optax.contrib.differentially_private_aggregate`, with
``"layer-wise"`` clipping (each layer's weight and bias clipped to
:math:`C/\sqrt L`, sensitivity C) as the group-wise variant.

References:
  Li, Tramer, Liang, Hashimoto, Large Language Models Can Be Strong
  Differentially Private Learners, arXiv 2110.05679 (ghost clipping);
  Bu, Wang, Zha, Karypis, Differentially Private Optimization on Large Model
  at Small Cost, arXiv 2210.00038 (book-keeping);
  Abadi et al., Deep Learning with Differential Privacy, arXiv 1607.00133.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v
from boundlab.algorithms.clipping import check_clip_norm
from boundlab.algorithms.ghost_norm import bias_norms_squared, dense_norms_squared
from boundlab.theory.clipping import clip_factor

STYLES = ("all-layer", "layer-wise")


def dense_network_init(key: jax.Array, sizes: Sequence[int],
                       dtype=jnp.float32) -> list[dict]:
  """Layers ``{"w": (p, d), "b": (p,)}`` with :math:`W \\sim N(0, 1/d)`."""
  sizes = [v.check_positive_int("sizes", s) for s in sizes]
  if len(sizes) < 2:
    raise ValueError(f"sizes must list at least an input and an output width, "
                     f"got {sizes}")
  keys = jax.random.split(key, len(sizes) - 1)
  return [{"w": jax.random.normal(k, (p, d), dtype) / math.sqrt(d),
           "b": jnp.zeros((p,), dtype)}
          for k, d, p in zip(keys, sizes[:-1], sizes[1:])]


def dense_network_apply(params: list[dict], inputs: jax.Array,
                        activation: Callable = jax.nn.relu,
                        probes: list[jax.Array] | None = None):
  """Logits of a batch, and every layer's input (kept for book-keeping).

  ``probes`` (zeros of each pre-activation's shape) are added to the
  pre-activations, so differentiating with respect to them yields the
  per-example output gradients of every layer in one backward pass.
  """
  layer_inputs, hidden = [], inputs
  for l, layer in enumerate(params):
    layer_inputs.append(hidden)
    hidden = hidden @ layer["w"].T + layer["b"][None, :]
    if probes is not None:
      hidden = hidden + probes[l]
    if l < len(params) - 1:
      hidden = activation(hidden)
  return hidden, layer_inputs


def _per_example_loss_fn(loss):
  return loss or optax.softmax_cross_entropy_with_integer_labels


def dense_network_mean_loss(params, inputs, labels,
                            activation: Callable = jax.nn.relu,
                            loss: Callable | None = None) -> jax.Array:
  """The non-private objective, mean over the batch of the per-example loss."""
  logits, _ = dense_network_apply(params, inputs, activation)
  return jnp.mean(_per_example_loss_fn(loss)(logits, labels))


def clipped_gradient_sum(params: list[dict], inputs: jax.Array,
                         labels: jax.Array, clip_norm: float, *,
                         activation: Callable = jax.nn.relu,
                         loss: Callable | None = None,
                         style: str = "all-layer"):
  """:math:`\\sum_i \\mathrm{clip}(\\nabla\\ell_i, C)` and the unclipped norms.

  Args:
    params: list of dense layers ``{"w": (p, d), "b": (p,)}``.
    inputs: (B, d_0) batch; labels: (B,) integer classes (or whatever
      ``loss(logits, labels)`` takes).
    clip_norm: C in (0, inf); the total threshold for both styles.
    activation: hidden activation.
    loss: per-example loss ``loss(logits, labels) -> (B,)``; default softmax
      cross-entropy with integer labels.
    style: ``"all-layer"`` (one norm over all parameters) or
      ``"layer-wise"`` (each layer to :math:`C/\\sqrt L`).

  Returns:
    ``(clipped_sum, norms)``: a pytree like ``params`` and the (B,) per-example
    gradient norms (all-layer) or (L, B) per-layer norms (layer-wise).
  """
  clip_norm = check_clip_norm("clip_norm", clip_norm)
  if style not in STYLES:
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")
  per_example_loss = _per_example_loss_fn(loss)
  batch = inputs.shape[0]
  probes = [jnp.zeros((batch, layer["b"].shape[0]), inputs.dtype)
            for layer in params]

  def total_loss(probes):
    logits, layer_inputs = dense_network_apply(params, inputs, activation,
                                               probes)
    return jnp.sum(per_example_loss(logits, labels)), layer_inputs

  # Only the probes are differentiated: the backward pass propagates to the
  # pre-activations and skips the (unclipped) weight gradients entirely.
  output_grads, layer_inputs = jax.grad(total_loss, has_aux=True)(probes)
  layer_sq = jnp.stack([dense_norms_squared(a, g) + bias_norms_squared(g)
                        for a, g in zip(layer_inputs, output_grads)])
  if style == "all-layer":
    norms = jnp.sqrt(jnp.sum(layer_sq, axis=0))
    factors = [clip_factor(norms, clip_norm)] * len(params)
  else:
    norms = jnp.sqrt(layer_sq)
    layer_clip = clip_norm / math.sqrt(len(params))
    factors = list(clip_factor(norms, layer_clip))
  clipped = [{"w": (c[:, None] * g).T @ a, "b": c @ g}
             for c, a, g in zip(factors, layer_inputs, output_grads)]
  return clipped, norms


def private_gradient(params: list[dict], inputs: jax.Array, labels: jax.Array,
                     key: jax.Array, *, clip_norm: float,
                     noise_multiplier: float,
                     activation: Callable = jax.nn.relu,
                     loss: Callable | None = None,
                     style: str = "all-layer",
                     denominator: float | None = None):
  """The DP-SGD gradient :math:`(\\sum_i c_i\\nabla\\ell_i + zC\\zeta)/B`.

  ``denominator`` replaces B, e.g. by the expected batch size qN under
  Poisson sampling. Returns the gradient pytree (same structure as params).
  """
  z = v.check_nonnegative("noise_multiplier", noise_multiplier)
  clipped, _ = clipped_gradient_sum(params, inputs, labels, clip_norm,
                                    activation=activation, loss=loss,
                                    style=style)
  denominator = (inputs.shape[0] if denominator is None else
                 v.check_positive("denominator", denominator))
  leaves, treedef = jax.tree.flatten(clipped)
  keys = jax.random.split(key, len(leaves))
  std = z * clip_norm
  noisy = [(leaf + std * jax.random.normal(k, leaf.shape, leaf.dtype))
           / denominator for leaf, k in zip(leaves, keys)]
  return jax.tree.unflatten(treedef, noisy)
