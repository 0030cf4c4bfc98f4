r"""Zero-mean gradient-noise distributions in d dimensions.

Clipping bias depends on the *shape* of the per-example gradient distribution:
Chen, Wu & Hong (arXiv 2006.15429) show it is bounded by the distance between the
noise law :math:`p` and a symmetric law :math:`\tilde p`, and vanishes when
:math:`p` is symmetric. These families cover both sides: symmetric laws
(Gaussian, Laplace, symmetric mixtures) and asymmetric ones (skewed mixtures, a
one-sided heavy tail), each exactly zero-mean, plus the symmetrisation
:math:`\tilde p = \tfrac12 (p + p(-\cdot))` of any of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v


@dataclasses.dataclass(frozen=True)
class NoiseDistribution:
  r"""A zero-mean law on R^d with a sampler.

  Attributes:
    name: identifier including the parameters.
    dim: dimension d.
    sample: ``sample(key, n) -> (n, d)`` array of i.i.d. draws.
    symmetric: whether the law is invariant under x -> -x.
    variance: :math:`\mathbb{E}\|\xi\|^2 = \operatorname{tr}
      \operatorname{Cov}(\xi)`, the :math:`\sigma^2` of SGD bounds (exact,
      from the law's parameters); ``None`` if not known in closed form.
  """

  name: str
  dim: int
  sample: Callable[[jax.Array, int], jax.Array]
  symmetric: bool
  variance: float | None = None

  def __post_init__(self):
    v.check_name("name", self.name)
    _check_dim(self.dim)
    v.check_callable("sample", self.sample)
    v.check_bool("symmetric", self.symmetric)
    if self.variance is not None:
      v.check_nonnegative("variance", self.variance)


def _unit(dim: int) -> jax.Array:
  return jnp.zeros((dim,)).at[0].set(1.0)


def _check_dim(dim) -> int:
  """A noise dimension; a draw of n samples is (n, dim), so one row must
  fit the memory budget (refused before the first draw)."""
  return v.check_size("dim", dim, bytes_per_unit=8, what="one noise draw")


def zero_noise(dim: int) -> NoiseDistribution:
  """No noise: every draw is exactly 0 (gradient descent on a noise model)."""
  dim = _check_dim(dim)
  return NoiseDistribution(
      f"zero_noise(d={dim})", dim,
      lambda key, n: jnp.zeros((n, dim), jnp.result_type(float)), True, 0.0)


def gaussian(dim: int, scale: float = 1.0) -> NoiseDistribution:
  """N(0, scale^2 I_d); ``scale = 0`` is noise-free."""
  dim = _check_dim(dim)
  scale = v.check_nonnegative("scale", scale)
  return NoiseDistribution(
      f"gaussian(d={dim},scale={scale})", dim,
      lambda key, n: scale * jax.random.normal(key, (n, dim)), True,
      dim * scale**2)


def diagonal_gaussian(scales) -> NoiseDistribution:
  """N(0, diag(scales)^2): heterogeneous per-coordinate gradient-noise scales."""
  scales = v.check_finite_array("scales", scales, ndim=1)
  if (scales < 0).any():
    raise ValueError("scales must be in [0, inf) in every coordinate")
  dim, s = len(scales), jnp.asarray(scales)
  return NoiseDistribution(
      f"diagonal_gaussian(d={dim},scales={float(scales.min()):.3g}.."
      f"{float(scales.max()):.3g})", dim,
      lambda key, n: s[None, :] * jax.random.normal(key, (n, dim)), True,
      float(np.sum(scales**2)))


def laplace(dim: int, scale: float = 1.0) -> NoiseDistribution:
  """I.i.d. Laplace(0, scale) coordinates (variance 2 scale^2 each);
  ``scale = 0`` is noise-free."""
  dim = _check_dim(dim)
  scale = v.check_nonnegative("scale", scale)
  return NoiseDistribution(
      f"laplace(d={dim},scale={scale})", dim,
      lambda key, n: scale * jax.random.laplace(key, (n, dim)), True,
      2 * dim * scale**2)


def symmetric_mixture(dim: int, offset: float = 2.0,
                      scale: float = 0.5) -> NoiseDistribution:
  """Equal mixture of N(+offset e_1, scale^2 I) and N(-offset e_1, scale^2 I)."""
  dim = _check_dim(dim)
  offset = v.check_nonnegative("offset", offset)
  scale = v.check_positive("scale", scale)

  def sample(key, n):
    k_sign, k_normal = jax.random.split(key)
    sign = jax.random.rademacher(k_sign, (n, 1)).astype(jnp.result_type(float))
    return sign * offset * _unit(dim)[None, :] + scale * jax.random.normal(
        k_normal, (n, dim))

  return NoiseDistribution(
      f"symmetric_mixture(d={dim},offset={offset},scale={scale})", dim, sample,
      True, offset**2 + dim * scale**2)


def skewed_mixture(dim: int, weight: float = 0.2, offset: float = 4.0,
                   scale: float = 0.5) -> NoiseDistribution:
  r"""Asymmetric zero-mean two-component Gaussian mixture along e_1.

  With probability ``weight`` the mean is ``offset e_1``; otherwise it is
  :math:`-\text{weight}\cdot\text{offset}/(1-\text{weight})\, e_1`, so the
  overall mean is exactly zero. Both components have covariance scale^2 I.
  """
  dim = _check_dim(dim)
  weight = v.check_in_range("weight", weight, 0.0, 1.0, closed="()")
  offset = v.check_positive("offset", offset)
  scale = v.check_positive("scale", scale)
  other = -weight * offset / (1.0 - weight)

  def sample(key, n):
    k_comp, k_normal = jax.random.split(key)
    rare = jax.random.bernoulli(k_comp, weight, (n, 1))
    mean = jnp.where(rare, offset, other) * _unit(dim)[None, :]
    return mean + scale * jax.random.normal(k_normal, (n, dim))

  return NoiseDistribution(
      f"skewed_mixture(d={dim},weight={weight},offset={offset},scale={scale})",
      dim, sample, False, weight * offset**2 / (1 - weight) + dim * scale**2)


def one_sided_heavy_tail(dim: int, sigma: float = 1.0,
                         scale: float = 0.5) -> NoiseDistribution:
  r"""Centred log-normal along e_1 plus isotropic Gaussian noise.

  The first coordinate is :math:`e^{\sigma Z} - e^{\sigma^2/2}` (zero mean,
  heavy right tail, bounded left tail); every coordinate also gets
  N(0, scale^2).
  """
  dim = _check_dim(dim)
  # The variance, e^{sigma^2}(e^{sigma^2} - 1), overflows float64 beyond
  # sigma ~ 18.8.
  sigma = v.check_in_range("sigma", sigma, 0.0, 18.0, closed="(]")
  scale = v.check_positive("scale", scale)
  mean_lognormal = math.exp(sigma**2 / 2)

  def sample(key, n):
    k_tail, k_normal = jax.random.split(key)
    tail = jnp.exp(sigma * jax.random.normal(k_tail, (n, 1))) - mean_lognormal
    return tail * _unit(dim)[None, :] + scale * jax.random.normal(
        k_normal, (n, dim))

  return NoiseDistribution(
      f"one_sided_heavy_tail(d={dim},sigma={sigma},scale={scale})", dim, sample,
      False, math.expm1(sigma**2) * math.exp(sigma**2) + dim * scale**2)


def symmetrize(dist: NoiseDistribution) -> NoiseDistribution:
  r"""The symmetrisation :math:`\tilde p = \tfrac12 (p + p(-\cdot))`.

  Sampling draws :math:`\xi \sim p` and flips its sign with probability 1/2.
  """
  v.check_instance("dist", dist, NoiseDistribution, "a NoiseDistribution")

  def sample(key, n):
    k_base, k_sign = jax.random.split(key)
    xi = dist.sample(k_base, n)
    sign = jax.random.rademacher(k_sign, (n, 1)).astype(xi.dtype)
    return sign * xi

  return NoiseDistribution(f"symmetrized({dist.name})", dist.dim, sample, True,
                           dist.variance)
