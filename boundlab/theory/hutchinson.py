r"""Hutchinson estimators of the trace and the diagonal, with intervals.

For Rademacher probes :math:`z`, :math:`\mathbb E[z^\top H z] = \mathrm{Tr} H`
and :math:`\mathbb E[z \odot Hz] = \mathrm{diag}\, H`; the variance of one
trace sample is :math:`2(\|H\|_F^2 - \sum_i H_{ii}^2)`. Probes are batched with
``vmap`` (one batched HVP), not looped. The interval is Student-t over the
i.i.d. probe samples.

References:
  Hutchinson, A stochastic estimator of the trace of the influence matrix for
  Laplacian smoothing splines (1990); Avron & Toledo, JACM 58(2), 2011.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.theory.statistics import mean_ci


@dataclasses.dataclass(frozen=True)
class TraceEstimate:
  """Hutchinson trace estimate: mean, interval, per-probe samples."""

  mean: float
  ci: tuple[float, float]
  samples: np.ndarray


def _check_probe_arguments(matvec, dim, num_probes, key):
  """Checked ``(num_probes, dim, key)``; the (num_probes, dim) probe matrix
  must fit the memory budget (checked before anything is drawn)."""
  v.check_callable("matvec", matvec)
  n = v.check_positive_int("num_probes", num_probes, minimum=2)
  dim = v.check_size("dim", dim, bytes_per_unit=8, what="one probe")
  v.check_size("num_probes", n, minimum=2, bytes_per_unit=8 * dim,
               what=f"the (num_probes, dim = {dim}) probe matrix")
  return n, dim, v.check_key("key", key)


def _probes(key, num_probes: int, dim: int):
  return jax.random.rademacher(key, (num_probes, dim)).astype(
      jnp.result_type(float))


def hutchinson_trace(matvec: Callable, dim: int, num_probes: int = 100,
                     key=None, alpha: float = 0.05) -> TraceEstimate:
  """Trace of a symmetric linear map from ``num_probes`` Rademacher probes."""
  n, dim, key = _check_probe_arguments(matvec, dim, num_probes, key)
  alpha = v.check_alpha(alpha)
  z = _probes(key, n, dim)
  samples = np.asarray(jnp.sum(z * jax.vmap(matvec)(z), axis=1))
  mean, ci = mean_ci(samples, alpha)
  return TraceEstimate(mean, ci, samples)


@dataclasses.dataclass(frozen=True)
class DiagonalEstimate:
  """Hutchinson diagonal estimate: per-coordinate mean and standard error."""

  mean: jax.Array
  standard_error: jax.Array
  num_probes: int


def hutchinson_diagonal(matvec: Callable, dim: int, num_probes: int = 100,
                        key=None, *, batch_size: int | None = None
                        ) -> DiagonalEstimate:
  """Unbiased estimate of diag(H): the mean of z * Hz over Rademacher probes,
  with the standard error of each coordinate's mean (sample sd / sqrt(n)).

  ``batch_size`` bounds how many probes one batched HVP takes (memory);
  the estimate does not depend on it.
  """
  n, dim, key = _check_probe_arguments(matvec, dim, num_probes, key)
  if batch_size is not None:
    batch_size = v.check_positive_int("batch_size", batch_size)
  z = _probes(key, n, dim)
  samples = jax.lax.map(lambda u: u * matvec(u), z, batch_size=batch_size)
  return DiagonalEstimate(mean=jnp.mean(samples, axis=0),
                          standard_error=jnp.std(samples, axis=0, ddof=1)
                          / np.sqrt(n), num_probes=n)
