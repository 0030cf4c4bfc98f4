r"""SGDP's projection: remove the radial component of the update.

For scale-invariant weights :math:`\nabla f(w) \perp w`, but momentum makes
the update :math:`p_t` acquire a radial part, which inflates :math:`\|w\|` and
shrinks the effective step :math:`\eta/\|w\|^2`. SGDP replaces the update by
its tangential part

.. math::
  \Pi_w(p) = p - \langle \hat w, p\rangle \hat w, \qquad \hat w = w/\|w\|.

This transformation applies the projection unconditionally, for parameters
known to be scale-invariant (AdamP/SGDP detect them with a cosine test).

References:
  Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on
  Scale-invariant Weights, ICLR 2021, arXiv 2006.08217; authors' ``sgdp.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v


def project_out_radial() -> optax.GradientTransformation:
  """Projects each leaf of the update onto the tangent space of its param."""

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("project_out_radial needs params (the weights w)")

    def project(p, w):
      w_hat = w / jnp.linalg.norm(w)
      return p - jnp.vdot(w_hat, p) * w_hat

    return jax.tree.map(project, updates, params), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update_fn)


def sgdp(learning_rate, momentum: float = 0.9) -> optax.GradientTransformation:
  """Momentum SGD with the radial component of the update removed."""
  v.check_positive("learning_rate", learning_rate)
  v.check_in_range("momentum", momentum, 0.0, 1.0, closed="[)")
  return optax.chain(optax.trace(decay=momentum), project_out_radial(),
                     optax.scale(-learning_rate))


def adamp(learning_rate: float, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, weight_decay: float = 0.0, delta: float = 0.1,
          wd_ratio: float = 0.1) -> optax.GradientTransformation:
  r"""AdamP: Adam whose update loses its radial part on scale-invariant weights.

  With :math:`u_t` the bias-corrected Adam direction
  (``optax.scale_by_adam``), for every parameter tensor with ndim > 1 the
  cosine test of the authors' code decides scale invariance: if
  :math:`\max_c |\cos(g_c, w_c)| < \delta/\sqrt{\dim w_c}` over output channels
  c (else over the whole tensor, with :math:`\sqrt{\text{numel}}`), then

  .. math::
    u \leftarrow u - \hat w\,\langle \hat w, u\rangle, \qquad
    \hat w = w / (\|w\| + \epsilon)

  per channel (resp. per tensor), and weight decay is scaled by
  ``wd_ratio``. Update: :math:`w \leftarrow w(1 - \eta\lambda r) - \eta u`.
  Vectors and scalars are never projected.

  References:
    Heo et al., AdamP, ICLR 2021, arXiv 2006.08217, Algorithm 2; authors'
    ``adamp/adamp.py`` (projection and cosine test read there).
  """
  v.check_positive("learning_rate", learning_rate)
  v.check_adam_hyperparameters(b1, b2, eps)
  v.check_nonnegative("weight_decay", weight_decay)
  v.check_positive("delta", delta)
  v.check_in_range("wd_ratio", wd_ratio, 0.0, 1.0)
  adam = optax.scale_by_adam(b1=b1, b2=b2, eps=eps)

  def project(grad, w, u):
    if w.ndim < 2:
      return u, jnp.ones((), w.dtype)
    channel = lambda x: x.reshape(x.shape[0], -1)
    layer = lambda x: x.reshape(1, -1)
    result, ratio = u, jnp.ones((), w.dtype)
    # The authors test the channel view first and use the first that passes:
    # build the layer-view candidate, then let the channel view override it.
    for view in (layer, channel):
      gv, wv, uv = view(grad), view(w), view(u)
      cosine = jnp.abs(jnp.sum(gv * wv, 1)) / jnp.maximum(
          jnp.linalg.norm(gv, axis=1) * jnp.linalg.norm(wv, axis=1), eps)
      passes = jnp.max(cosine) < delta / jnp.sqrt(wv.shape[1])
      w_hat = wv / (jnp.linalg.norm(wv, axis=1, keepdims=True) + eps)
      projected = (uv - w_hat * jnp.sum(w_hat * uv, 1, keepdims=True)
                   ).reshape(u.shape)
      result = jnp.where(passes, projected, result)
      ratio = jnp.where(passes, wd_ratio, ratio)
    return result, ratio

  def update_fn(grads, state, params=None):
    if params is None:
      raise ValueError("adamp needs params (the weights w)")
    directions, state = adam.update(grads, state, params)
    out = jax.tree.map(project, grads, params, directions)
    is_pair = lambda x: isinstance(x, tuple)
    projected = jax.tree.map(lambda pair: pair[0], out, is_leaf=is_pair)
    ratios = jax.tree.map(lambda pair: pair[1], out, is_leaf=is_pair)
    updates = jax.tree.map(
        lambda u, w, r: -learning_rate * (u + weight_decay * r * w),
        projected, params, ratios)
    return updates, state

  return optax.GradientTransformation(adam.init, update_fn)
