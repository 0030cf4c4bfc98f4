r"""Small networks from the edge-of-stability experiments (Cohen et al. 2021).

:func:`chebyshev_regression`: n points evenly spaced on [-1, 1] with labels
:math:`T_k(x)` (Chebyshev polynomial of degree k), fitted by a 1 -> width tanh
-> 1 network under the square loss
:math:`\ell = \tfrac12 (f(x) - y)^2`. As in the authors' ``src/synthetic.py``
and ``src/archs.py`` (shared references, [V]): n = 20, width 100, first layer
Xavier-normal with gain 1.9, zero biases.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape, finite_sum


def _xavier_normal(key, fan_in, fan_out, gain, shape):
  std = gain * math.sqrt(2.0 / (fan_in + fan_out))
  return std * jax.random.normal(key, shape)


def chebyshev_regression(degree: int = 3, num_points: int = 20,
                         width: int = 100, first_layer_gain: float = 1.9
                         ) -> Landscape:
  """The Chebyshev regression task with a one-hidden-layer tanh network."""
  degree = v.check_positive_int("degree", degree, minimum=0)
  n = v.check_positive_int("num_points", num_points, minimum=2)
  width = v.check_positive_int("width", width)
  v.check_sizes("the hidden layer", num_points=n, width=width)
  gain = v.check_positive("first_layer_gain", first_layer_gain)
  x = np.linspace(-1.0, 1.0, n)
  y = np.polynomial.chebyshev.chebval(x, [0.0] * degree + [1.0])
  data = {"x": jnp.asarray(x), "y": jnp.asarray(y)}

  def init(key):
    k1, k2 = jax.random.split(key)
    return {"w1": _xavier_normal(k1, 1, width, gain, (width,)),
            "b1": jnp.zeros((width,)),
            "w2": _xavier_normal(k2, width, 1, 1.0, (width,)),
            "b2": jnp.zeros(())}

  def predict(params, xi):
    return jnp.tanh(params["w1"] * xi + params["b1"]) @ params["w2"] + params["b2"]

  def loss(params, example):
    return 0.5 * (predict(params, example["x"]) - example["y"]) ** 2

  return finite_sum(
      name=f"chebyshev_regression(k={degree},n={n},width={width})",
      init=init, loss=loss, data=data,
      constants={"optimal_value": 0.0, "num_params": 3 * width + 1,
                 "degree": degree})


def diagonal_linear_network(num_examples: int = 10, dim: int = 30,
                            sparsity: int = 3, init_scale: float = 0.5,
                            seed: int = 0, *,
                            v_init_scale: float | None = None) -> Landscape:
  r"""Sparse regression with a diagonal linear network :math:`\beta = u \odot v`.

  Features are i.i.d. :math:`\pm 1` (so :math:`\frac1n\sum_i x_{ij}^2 = 1`),
  labels :math:`y = X\beta^\star` with a ``sparsity``-sparse
  :math:`\beta^\star` of ones: with n < d there is a manifold of interpolating
  minima. Per-example loss :math:`\tfrac12(\langle u\odot v, x_i\rangle -
  y_i)^2`; init :math:`u, v` with i.i.d. entries
  :math:`\text{init\_scale}\,(1 + 0.3\,z)`, :math:`z \sim N(0, 1)` (not
  balanced, so :math:`\mathrm{Tr}\,H > 2\|\beta\|_1` in general);
  ``v_init_scale`` gives v its own scale (an unbalanced start).

  At an interpolating minimum :math:`\mathrm{Tr}\,H = \|u\|^2 + \|v\|^2 \ge
  2\|\beta\|_1` (Wu & Su, arXiv 2305.17490; derivation in the shared
  references, [D]).
  """
  n = v.check_positive_int("num_examples", num_examples)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the features", num_examples=n, dim=d)
  k = v.check_positive_int("sparsity", sparsity)
  if k > d:
    raise ValueError(f"sparsity must be in [1, dim={d}], got {k}")
  scale = v.check_positive("init_scale", init_scale)
  scales = {"u": scale, "v": scale if v_init_scale is None else
            v.check_positive("v_init_scale", v_init_scale)}
  rng = np.random.default_rng(v.check_seed("seed", seed))
  x = rng.choice([-1.0, 1.0], size=(n, d))
  beta_star = np.zeros(d)
  beta_star[:k] = 1.0
  data = {"x": jnp.asarray(x), "y": jnp.asarray(x @ beta_star)}

  def loss(params, example):
    return 0.5 * (jnp.dot(params["u"] * params["v"], example["x"])
                  - example["y"]) ** 2

  return finite_sum(
      name=f"diagonal_linear_network(n={n},d={d},k={k},init={scale}"
      + ("" if v_init_scale is None else f",v_init={scales['v']}") + ")",
      init=lambda key: {
          part: scales[part] * (1 + 0.3 * jax.random.normal(part_key, (d,)))
          for part, part_key in zip(("u", "v"), jax.random.split(key))},
      loss=loss, data=data,
      constants={"optimal_value": 0.0, "beta_star": beta_star,
                 "beta_star_l1": float(k)})


def sparse_sign_task(dim: int, sparsity: int, num_train: int, num_test: int,
                     seed: int = 0) -> dict:
  r"""A downstream task sharing the diagonal network's features.

  :math:`\pm1` inputs (as in :func:`diagonal_linear_network`), labels
  :math:`\operatorname{sign}\langle\gamma, x\rangle` with :math:`\gamma`
  supported on the same first ``sparsity`` coordinates as
  :math:`\beta^\star`, random signs and magnitudes in [0.5, 1.5] (a
  different task on the same features). Returns ``{"train": {"x", "y"},
  "test": {"x", "y"}, "gamma"}``; ties :math:`\langle\gamma, x\rangle = 0`
  cannot occur for these magnitudes almost surely.
  """
  d = v.check_size("dim", dim, bytes_per_unit=8, what="one vector")
  k = v.check_positive_int("sparsity", sparsity)
  if k > d:
    raise ValueError(f"sparsity must be in [1, dim={d}], got {k}")
  rng = np.random.default_rng(v.check_seed("seed", seed))
  gamma = np.zeros(d)
  gamma[:k] = rng.choice([-1.0, 1.0], k) * rng.uniform(0.5, 1.5, k)
  out = {"gamma": gamma}
  sizes = {"train": v.check_positive_int("num_train", num_train),
           "test": v.check_positive_int("num_test", num_test)}
  v.check_sizes("the data", num_train=sizes["train"], dim=d)
  v.check_sizes("the data", num_test=sizes["test"], dim=d)
  for part, count in sizes.items():
    x = rng.choice([-1.0, 1.0], size=(count, d))
    out[part] = {"x": x, "y": np.sign(x @ gamma)}
  return out


def signed_square_diagonal_network(num_examples: int = 20, dim: int = 60,
                                   sparsity: int = 3, init_scale: float = 0.1,
                                   seed: int = 0) -> Landscape:
  r"""Sparse regression with :math:`\beta = w_+^2 - w_-^2` (Woodworth et al.).

  Gaussian features :math:`x_i \sim N(0, I_d)`, noiseless labels
  :math:`y = X\beta^\star` with an ``sparsity``-sparse :math:`\beta^\star`
  equal to :math:`1/\sqrt{s}` on its support (the "Woodworth dataset" of the
  shared references, [V] via the Azulay et al. notebook, at a smaller size:
  the paper's d = 1000, N = 100). Per-example loss
  :math:`\tfrac12(\langle\beta, x_i\rangle - y_i)^2`, init
  :math:`w_\pm = \alpha\mathbf 1` with :math:`\alpha` = ``init_scale``, so
  :math:`\beta_0 = 0`.

  With :math:`g = \nabla_\beta L_B`, a (S)GD step is
  :math:`w_\pm \leftarrow w_\pm(1 \mp 2\eta g)`, hence coordinate-wise
  :math:`w_+ w_- \leftarrow w_+ w_-(1 - 4\eta^2 g^2)`: the effective scale
  :math:`\alpha_\infty^2 = w_+^\infty \odot w_-^\infty` is measurable
  (:func:`boundlab.theory.effective_scale`).

  References:
    Woodworth et al., Kernel and Rich Regimes in Overparametrized Models,
    COLT 2020, arXiv 2002.09277.
  """
  n = v.check_positive_int("num_examples", num_examples)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the features", num_examples=n, dim=d)
  k = v.check_positive_int("sparsity", sparsity)
  if k > d:
    raise ValueError(f"sparsity must be in [1, dim={d}], got {k}")
  scale = v.check_positive("init_scale", init_scale)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  x = rng.standard_normal((n, d))
  beta_star = np.zeros(d)
  beta_star[:k] = 1.0 / math.sqrt(k)
  data = {"x": jnp.asarray(x), "y": jnp.asarray(x @ beta_star)}

  def loss(params, example):
    beta = params["w_plus"] ** 2 - params["w_minus"] ** 2
    return 0.5 * (jnp.dot(beta, example["x"]) - example["y"]) ** 2

  return finite_sum(
      name=f"signed_square_diagonal_network(n={n},d={d},k={k},init={scale})",
      init=lambda key: {"w_plus": jnp.full((d,), scale),
                        "w_minus": jnp.full((d,), scale)},
      loss=loss, data=data,
      constants={"optimal_value": 0.0, "beta_star": beta_star,
                 "init_scale": scale})


def mlp_classifier(num_examples: int = 64, dim: int = 4, width: int = 6,
                   num_classes: int = 3, seed: int = 0, *,
                   minority_fraction: float | None = None,
                   minority_separation: float = 0.0) -> Landscape:
  r"""A one-hidden-layer tanh MLP with softmax cross-entropy on Gaussian blobs.

  Inputs :math:`x_i \sim N(\mu_{c_i}, I)` with class means
  :math:`\mu_c \sim N(0, I)`, classes uniform; with ``minority_fraction``
  the last class gets that share of the points and its mean is moved
  ``minority_separation`` further out along :math:`e_1`, so a few examples
  carry large gradients in one direction: the per-example gradient
  distribution becomes asymmetric, the regime where clipping is biased
  (Chen, Wu & Hong). Logits
  :math:`W_2 \tanh(W_1 x + b_1) + b_2`, init :math:`W \sim N(0, 1/\text{fan-in})`,
  zero biases. ``predict(params, x)`` returns the logits, so Gauss-Newton
  estimators (Sophia's GNB) can sample labels from the model.
  """
  n = v.check_positive_int("num_examples", num_examples)
  d = v.check_positive_int("dim", dim)
  h = v.check_positive_int("width", width)
  v.check_sizes("the features", num_examples=n, dim=d)
  v.check_sizes("the first layer", dim=d, width=h)
  v.check_sizes("the hidden activations", num_examples=n, width=h)
  k = v.check_positive_int("num_classes", num_classes, minimum=2)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  if minority_fraction is None:
    labels = rng.integers(0, k, n)
    means = rng.standard_normal((k, d))
  else:
    frac = v.check_in_range("minority_fraction", minority_fraction, 0.0,
                            1.0 / k, closed="(]")
    sep = v.check_nonnegative("minority_separation", minority_separation)
    share = np.r_[np.full(k - 1, (1 - frac) / (k - 1)), frac]
    labels = rng.choice(k, size=n, p=share)
    means = rng.standard_normal((k, d))
    means[-1, 0] += sep
  x = means[labels] + rng.standard_normal((n, d))
  data = {"x": jnp.asarray(x), "label": jnp.asarray(labels)}

  def predict(params, inputs):
    hidden = jnp.tanh(params["w1"] @ inputs + params["b1"])
    return params["w2"] @ hidden + params["b2"]

  def output_loss(logits, example):
    return jax.nn.logsumexp(logits) - logits[example["label"]]

  def loss(params, example):
    return output_loss(predict(params, example["x"]), example)

  def init(key):
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.normal(k1, (h, d)) / math.sqrt(d),
            "b1": jnp.zeros((h,)),
            "w2": jax.random.normal(k2, (k, h)) / math.sqrt(h),
            "b2": jnp.zeros((k,))}

  return finite_sum(
      name=f"mlp_classifier(n={n},d={d},width={h},classes={k})", init=init,
      loss=loss, data=data, predict=predict, output_loss=output_loss,
      constants={"num_params": h * d + h + k * h + k, "num_classes": k})


def two_layer_relu_regression(num_examples: int = 12, dim: int = 3,
                              width: int = 16, teacher_width: int = 3,
                              seed: int = 0) -> Landscape:
  r"""A bias-free two-layer ReLU net on unit-norm inputs, teacher labels.

  :math:`f(x;\theta) = \sum_k a_k\,\sigma(b_k^\top x)`, :math:`\|x_i\| = 1`
  (Gaussian directions), labels from a random teacher of the same form with
  ``teacher_width`` units and output weights :math:`\pm 1`; square loss
  :math:`\tfrac12(f(x_i) - y_i)^2`; init :math:`a \sim N(0, 1/m)`,
  :math:`b_k \sim N(0, I)`. The setting of Wu & Su's ReLU result
  (arXiv 2305.17490, as recalled in the shared references [R]): at an
  interpolating minimum :math:`\mathrm{Tr}\,H \ge 2c\sum_k|a_k|\|b_k\|` with
  :math:`c = \min_{\|w\|=1}\frac1n\sum_i\sigma(w^\top x_i)`.
  """
  n = v.check_positive_int("num_examples", num_examples)
  d = v.check_positive_int("dim", dim, minimum=2)
  m = v.check_positive_int("width", width)
  t = v.check_positive_int("teacher_width", teacher_width)
  v.check_sizes("the features", num_examples=n, dim=d)
  v.check_sizes("the first layers", width=m, teacher_width=t, dim=d)
  v.check_sizes("the hidden activations", num_examples=n, width=m,
                teacher_width=t)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  x = rng.standard_normal((n, d))
  x /= np.linalg.norm(x, axis=1, keepdims=True)
  teacher_b = rng.standard_normal((t, d))
  teacher_a = np.where(np.arange(t) % 2 == 0, 1.0, -1.0)
  y = np.maximum(x @ teacher_b.T, 0.0) @ teacher_a
  data = {"x": jnp.asarray(x), "y": jnp.asarray(y)}

  def predict(params, inputs):
    return params["a"] @ jax.nn.relu(params["b"] @ inputs)

  def loss(params, example):
    return 0.5 * (predict(params, example["x"]) - example["y"]) ** 2

  def init(key):
    key_a, key_b = jax.random.split(key)
    return {"a": jax.random.normal(key_a, (m,)) / math.sqrt(m),
            "b": jax.random.normal(key_b, (m, d))}

  return finite_sum(
      name=f"two_layer_relu_regression(n={n},d={d},m={m})", init=init,
      loss=loss, data=data, predict=predict,
      constants={"optimal_value": 0.0, "num_params": m * (d + 1)})


def deep_linear_network(depth: int = 20, width: int = 50,
                        num_examples: int = 50, seed: int = 8) -> Landscape:
  r"""A bias-free deep linear net :math:`W_L\cdots W_1 x` on a linear teacher.

  Cohen et al.'s ``linear-50-50`` + ``deeplinear`` setting (authors'
  ``src/synthetic.py`` and ``src/archs.py``, shared references [V]):
  :math:`X = Q\sqrt{w}` with Q from the QR factorisation of an
  (n x w) Gaussian matrix, :math:`Y = XA^\top` with :math:`A_{ij} \sim N(0,
  1)`, ``depth`` square layers of size ``width`` with Xavier-normal init
  (std :math:`\sqrt{2/(w + w)}`). Per-example loss
  :math:`\tfrac12\|f(x_i) - y_i\|^2` (sum over outputs; the authors' exact
  normalisation is recalled, [R]). ``seed`` fixes the data; the init key
  comes from the run's seed.
  """
  depth = v.check_positive_int("depth", depth)
  width = v.check_positive_int("width", width)
  n = v.check_positive_int("num_examples", num_examples)
  v.check_sizes("the layers", depth=depth, width=width, width_again=width)
  if n > width:
    raise ValueError(f"num_examples must be in [1, width={width}] (QR of an "
                     f"n x width matrix), got {n}")
  rng = np.random.default_rng(v.check_seed("seed", seed))
  q, _ = np.linalg.qr(rng.standard_normal((width, n)))
  x = q.T * math.sqrt(width)
  teacher = rng.standard_normal((width, width))
  data = {"x": jnp.asarray(x), "y": jnp.asarray(x @ teacher.T)}

  def predict(params, inputs):
    for layer in params:
      inputs = layer @ inputs
    return inputs

  def loss(params, example):
    return 0.5 * jnp.sum((predict(params, example["x"]) - example["y"]) ** 2)

  def init(key):
    return [jax.random.normal(k, (width, width)) * math.sqrt(1.0 / width)
            for k in jax.random.split(key, depth)]

  return finite_sum(
      name=f"deep_linear_network(depth={depth},width={width},n={n})",
      init=init, loss=loss, data=data, predict=predict,
      constants={"num_params": depth * width * width, "optimal_value": 0.0})
