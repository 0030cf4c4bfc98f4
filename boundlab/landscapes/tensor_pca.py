r"""Spiked tensor PCA of order k, with its noise normalization explicit.

**Normalization used everywhere in boundlab (convention C, per sample):** one
observation is

.. math::
  T = \lambda\, v^{\otimes k} + W, \qquad W_{i_1\ldots i_k} \sim N(0, 1)
  \text{ i.i.d.}, \quad \|v\| = 1,

with per-sample signal ``snr`` :math:`= \lambda` (default 1). The loss of a
unit vector x is :math:`\ell(x; T) = -\langle T, x^{\otimes k}\rangle`, so the
population loss is :math:`-\lambda m^k` with :math:`m = \langle x, v\rangle`
and the information exponent is k. n samples average to the sufficient
statistic :math:`\bar T = \lambda v^{\otimes k} + W/\sqrt n` (the fixed-data
form).

The three common conventions (shared references, section 4 [D]) and the
conversions :func:`beta_from_lambda`, :func:`lambda_from_samples`:

* (A) Richard-Montanari: :math:`X = \beta v^{\otimes k} + Z`, Z entries
  :math:`N(0, 1/d)`.
* (B) :math:`Y = \lambda_B v^{\otimes k} + W`, W entries N(0, 1):
  :math:`\beta = \lambda_B/\sqrt d`.
* (C) n samples of unit spike and N(0, 1) noise: :math:`\bar T = v^{\otimes
  k} + W/\sqrt n`, i.e. :math:`\lambda_B = \sqrt n`, :math:`\beta =
  \sqrt{n/d}`.

Online gradients at a point independent of a fresh W are Gaussian with an
O(d) description (shared references section 6(a) [D]): the tangent part of
:math:`\nabla_x\langle W, x^{\otimes k}\rangle` at a unit x is
:math:`N(0, k P_x^\perp)`, independent of the radial part. So one online step
costs O(d) (:meth:`SpikedTensor.tangent_gradient_sample`) and the
materialized :math:`d^k` tensor (:meth:`SpikedTensor.materialized_noise`) is
needed only to validate that, or for fixed data.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from boundlab import _validation as v


def beta_from_lambda(lambda_b: float, dim: int) -> float:
  r"""Convention (B) -> (A): :math:`\beta = \lambda_B / \sqrt d`."""
  return v.check_nonnegative("lambda_b", lambda_b) / math.sqrt(
      v.check_positive_int("dim", dim))


def lambda_from_samples(num_samples: int, snr: float = 1.0) -> float:
  r"""Convention (C) -> (B): n samples of signal :math:`\lambda` average to
  :math:`\lambda_B = \lambda\sqrt n`."""
  return v.check_nonnegative("snr", snr) * math.sqrt(
      v.check_positive_int("num_samples", num_samples))


def contract(tensor: jax.Array, x: jax.Array) -> jax.Array:
  r""":math:`\langle T, x^{\otimes k}\rangle` for a (d, ..., d) tensor."""
  for _ in range(tensor.ndim):
    tensor = tensor @ x
  return tensor


def random_unit_vector(key: jax.Array, dim: int, dtype=None) -> jax.Array:
  """Uniform on the unit sphere S^{d-1}."""
  x = jax.random.normal(key, (dim,), dtype=dtype or jnp.result_type(float))
  return x / jnp.linalg.norm(x)


@dataclasses.dataclass(frozen=True)
class SpikedTensor:
  r"""Order-k spiked tensor model in convention C (module docstring).

  Attributes:
    dim: d >= 2.
    order: k >= 2.
    snr: per-sample signal :math:`\lambda > 0`.
  """

  dim: int
  order: int
  snr: float = 1.0

  def __post_init__(self):
    # One vector must fit; the dense tensor (dim^order entries) is only
    # built by the samplers that need it, and they check its size.
    v.check_size("dim", self.dim, minimum=2, bytes_per_unit=8,
                 what="one vector")
    v.check_positive_int("order", self.order, minimum=2)
    v.check_positive("snr", self.snr)

  @property
  def information_exponent(self) -> int:
    return self.order

  def population_loss(self, overlap):
    r""":math:`-\lambda m^k`."""
    return -self.snr * overlap**self.order

  def spike(self, key: jax.Array) -> jax.Array:
    """A uniformly random hidden direction v."""
    return random_unit_vector(key, self.dim)

  def materialized_noise(self, key: jax.Array) -> jax.Array:
    """A fresh (d, ..., d) tensor of i.i.d. N(0, 1) entries."""
    v.check_sizes("the dense noise tensor", dim=self.dim,
                  **{"dim^(order - 1)": float(self.dim) ** (self.order - 1)})
    return jax.random.normal(key, (self.dim,) * self.order)

  def sample_loss(self, x, spike, noise) -> jax.Array:
    r""":math:`-\langle \lambda v^{\otimes k} + W, x^{\otimes k}\rangle`."""
    return -(self.snr * jnp.dot(x, spike) ** self.order
             + contract(noise, x))

  def tangent_gradient_sample(self, key, x, spike) -> jax.Array:
    r"""Exact draw of :math:`-P_x^\perp \nabla_x \ell(x; T)` for a fresh T, O(d).

    Equals :math:`\lambda k m^{k-1} P^\perp v + \sqrt k\, P^\perp \xi`,
    :math:`\xi \sim N(0, I_d)`, for unit x (the ascent direction of the
    correlation :math:`\langle T, x^{\otimes k}\rangle`).
    """
    return self.tangent_gradient_from_noise(
        x, spike, jax.random.normal(key, x.shape, x.dtype))

  def tangent_gradient_from_noise(self, x, spike, xi) -> jax.Array:
    r"""The same draw from given :math:`\xi \sim N(0, I_d)`; x may be a
    batch (..., d) of unit vectors with matching spikes."""
    m = jnp.sum(x * spike, axis=-1, keepdims=True)
    direction = (self.snr * self.order * m ** (self.order - 1) * spike
                 + math.sqrt(self.order) * xi)
    return direction - jnp.sum(direction * x, axis=-1, keepdims=True) * x

  def averaged_tensor(self, key, spike, num_samples, dtype=None) -> jax.Array:
    r"""The fixed-data statistic :math:`\bar T = \lambda v^{\otimes k} +
    W/\sqrt n`: n samples cost one d^k tensor.

    ``num_samples`` may be traced (one compilation for many n); ``dtype``
    stores the noise in a narrower type (the spike's outer product keeps the
    spike's dtype).
    """
    if not v.is_traced(num_samples):
      v.check_positive_int("num_samples", num_samples)
    outer = spike
    for _ in range(self.order - 1):
      outer = jnp.multiply.outer(outer, spike)
    noise = self.materialized_noise(key)
    if dtype is not None:
      noise = noise.astype(dtype)
    return self.snr * outer + noise / jnp.sqrt(
        jnp.asarray(num_samples, noise.dtype))
