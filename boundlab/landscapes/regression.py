r"""Linear regression with a known optimum, and a gradient canary for audits.

:func:`linear_regression`: :math:`f(w) = \frac1N\sum_i \tfrac12(\langle w,
x_i\rangle - y_i)^2` with Gaussian features scaled to norm about
``feature_norm``, labels from a planted :math:`w^\star` plus noise. The
optimum is the least-squares solution, computed exactly (``numpy.linalg.
lstsq``), and the smoothness is :math:`\lambda_{\max}(X^\top X/N)`.

:func:`with_gradient_canary` appends one parameter coordinate and one example
whose loss is :math:`G\,w_{d+1}` (a "Dirac" gradient canary: constant gradient
:math:`G e_{d+1}`, orthogonal to every other example's gradient). With
``gradient_norm = 0`` the same landscape holds a canary that contributes
nothing, which is the neighbouring data set under add/remove adjacency (a
zero gradient adds nothing to a clipped sum) while the batch size stays fixed.
Membership audits of DP training use the pair.

References:
  Nasr, Hayes, Steinke, Balle, Tramer, Jagielski, Carlini, Terzis, Tight
  Auditing of Differentially Private Machine Learning, arXiv 2302.07956
  (gradient canaries).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape, finite_sum


def linear_regression(num_examples: int = 50, dim: int = 4, *,
                      noise: float = 0.1, feature_norm: float = 1.0,
                      seed: int = 0) -> Landscape:
  """Least squares on Gaussian features; ``constants["optimum"]`` is exact.

  With ``noise = 0`` and ``num_examples >= dim`` the labels are realisable:
  the optimum is the planted vector and ``optimal_value`` is exactly 0.
  """
  n = v.check_positive_int("num_examples", num_examples)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the features", num_examples=n, dim=d)
  noise = v.check_nonnegative("noise", noise)
  scale = v.check_positive("feature_norm", feature_norm)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  x = rng.standard_normal((n, d)) * scale / np.sqrt(d)
  w_star = rng.standard_normal(d)
  y = x @ w_star + noise * rng.standard_normal(n)
  realisable = noise == 0 and n >= d   # Gaussian features: full rank a.s.
  optimum = w_star if realisable else np.linalg.lstsq(x, y, rcond=None)[0]

  def loss(w, example):
    return 0.5 * (jnp.dot(w, example["x"]) - example["y"]) ** 2

  return finite_sum(
      name=f"linear_regression(n={n},d={d},noise={noise})",
      init=lambda key: jnp.zeros(d), loss=loss,
      data={"x": jnp.asarray(x), "y": jnp.asarray(y)},
      constants={"optimum": optimum,
                 "smoothness": float(np.linalg.eigvalsh(x.T @ x / n)[-1]),
                 "optimal_value": 0.0 if realisable else float(
                     0.5 * np.mean((x @ optimum - y) ** 2))})


def with_gradient_canary(landscape: Landscape, gradient_norm: float
                         ) -> Landscape:
  """``landscape`` (vector parameters, dict data) plus a gradient canary.

  The canary's gradient norm is stored in the data (``"canary_gradient"``), so
  :func:`canary_absent` gives the neighbouring data set with the same loss
  function: one compiled simulation serves both hypotheses of an audit.
  """
  v.check_instance("landscape", landscape, Landscape, "a Landscape")
  g = v.check_nonnegative("gradient_norm", gradient_norm)
  data = landscape.data
  n = int(np.shape(jax.tree.leaves(data)[0])[0])
  dim = int(np.shape(landscape.init(jax.random.key(0)))[0])
  base_loss = landscape.loss
  # The canary's row repeats example 0's data; its flag routes it to the
  # linear canary loss instead.
  augmented = {"base": jax.tree.map(
      lambda a: jnp.concatenate([a, a[:1]], axis=0), data),
               "is_canary": jnp.arange(n + 1) == n,
               "canary_gradient": jnp.where(jnp.arange(n + 1) == n, g, 0.0)}

  def loss(w, example):
    ordinary = base_loss(w[:dim], example["base"])
    return jnp.where(example["is_canary"], example["canary_gradient"] * w[dim],
                     ordinary)

  init = lambda key: jnp.concatenate([landscape.init(key), jnp.zeros(1)])
  return finite_sum(
      name=f"{landscape.name}+gradient_canary(G={g})", init=init, loss=loss,
      data=augmented,
      constants={"canary_gradient_norm": g, "canary_coordinate": dim,
                 "num_ordinary_examples": n})


def canary_absent(data: dict) -> dict:
  """The neighbouring data set: the canary's gradient set to zero."""
  if not isinstance(data, dict) or "canary_gradient" not in data:
    raise ValueError("data must be a canary data set (the data of "
                     "with_gradient_canary, with a 'canary_gradient' entry)")
  return {**data, "canary_gradient": jnp.zeros_like(data["canary_gradient"])}


def with_label_noise(landscape: Landscape, std: float) -> Landscape:
  r"""``landscape`` whose training batches carry fresh label noise.

  Every batch the run loop draws (any sampling, full batches included) gets
  :math:`y + \sigma\,\zeta`, :math:`\zeta \sim N(0, 1)` independent per
  step (label-noise SGD, Blanc et al. 2020; Damian et al. 2021; Li, Wang &
  Arora 2022), through the landscape's ``perturb_batch`` hook, while
  ``sample``, ``objective`` and ``data`` keep the clean labels: the training
  loss measured is the clean one. Needs data with a ``"y"`` entry.
  """
  v.check_instance("landscape", landscape, Landscape, "a Landscape")
  sigma = v.check_nonnegative("std", std)
  if landscape.data is None or "y" not in landscape.data:
    raise ValueError("with_label_noise needs a finite-sum landscape whose data "
                     "has labels 'y'")

  def perturb_batch(key, batch):
    noise = sigma * jax.random.normal(key, batch["y"].shape)
    return {**batch, "y": batch["y"] + noise}

  return dataclasses.replace(
      landscape, name=f"{landscape.name}+label_noise({sigma:g})",
      perturb_batch=perturb_batch,
      constants={**landscape.constants, "label_noise_std": sigma})
