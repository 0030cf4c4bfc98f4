r"""The feature-noise data model and the two-layer CNN of "benign oscillation".

Lu, Wu, Yang & Zou, Benign Oscillation of Stochastic Gradient Descent with
Large Learning Rates, ICLR 2024, arXiv 2310.17074 (v1). The abstract [V]
fixes the three ingredients: *weak features* (small norm) in every data
point, *strong features* (large norm) in only a fraction of them, and noise;
test points carry weak features only. The paper body (Definition 2.1, the
network, the loss and the constants) could not be read here, so everything
below the abstract is a reconstruction [U] from reviews [R] and the patch
models of the benign-overfitting literature it builds on; every constant is a
parameter.

Data (one example, patches stacked along the first axis)

.. math::
  x = \big[\, s\,y\,u,\;\; y\,v,\;\; \xi \,\big] \in \mathbb R^{3\times d},
  \qquad y \sim \mathrm{Unif}\{\pm1\},\quad
  \xi \sim N\!\big(0, \sigma_p^2 (I - \hat u\hat u^\top - \hat v\hat v^\top)\big),

with :math:`s = 1` on *strong* data and :math:`s = 0` on *weak* data,
:math:`u = \|u\| e_1`, :math:`v = \|v\| e_2` (orthogonal; any orthogonal pair
is equivalent because the noise and the initialisation are rotation
invariant, [D]).

Network [R: reviews -- ReLU\ :sup:`2`, fixed second layer, small
initialisation], in one of two variants (``weight_sharing``):

* ``"shared"`` (the default; our reconstruction [U]: Definition 2.1 and the
  network formula are unread): one weight vector :math:`w_{j,r}` per neuron,
  applied to every patch,

  .. math::
    f(W, x) = \frac1m \sum_{j=\pm1} j \sum_{r=1}^m \sum_{p=1}^{3}
    \sigma(\langle w_{j,r}, x^{(p)}\rangle), \qquad
    w_{j,r} \sim N(0, \sigma_0^2 I_d);

* ``"per_patch"`` (one ICLR 2024 review's wording, "applies a separate
  weight vector to each of the patch" [R]): a weight vector
  :math:`w_{j,r,p}` per neuron and patch position, the same fixed second
  layer and the same initialisation scale per weight vector,

  .. math::
    f(W, x) = \frac1m \sum_{j=\pm1} j \sum_{r=1}^m \sum_{p=1}^{3}
    \sigma(\langle w_{j,r,p}, x^{(p)}\rangle), \qquad
    w_{j,r,p} \sim N(0, \sigma_0^2 I_d);

with :math:`\sigma(z) = \max(z,0)^2`, both trained on
:math:`\ell(W; x, y) = (y f(W, x) - 1)^2` [U].

Why this loss and scaling [D]: on one strong point with every neuron at
overlap :math:`a = \langle w_{y,r}, y u\rangle`, SGD on :math:`a` is the map
:math:`a \mapsto a\,(1 - k(a^2 - 1))` with :math:`k = 4\eta\|u\|^2/m`. The
paper's learning-rate window :math:`\eta \in [m/(4\|u\|^2), 2m/(5\|u\|^2)]`
[R: Assumption 3 as quoted by a review] is then exactly :math:`k \in [1,
1.6]`: below 1 the fixed point :math:`yf = 1` attracts (no oscillation), and
from 1.6 on the overshoot flips :math:`a` negative and the ReLU\ :sup:`2`
neuron dies; in between the map oscillates with :math:`|yf - 1|` of order
0.2-0.8, the range of the paper's :math:`\delta` [R: Assumption 4]. This
consistency is evidence for the reconstruction, not a confirmation of it.
One weight vector per neuron meets the strong patch, :math:`w_{y,r}`
(shared) or :math:`w_{y,r,1}` (per patch), so :math:`k` and the window are
the same in both variants.

Why the variants train alike here [D]: the three patches live on disjoint
coordinates (u on the first, v on the second, the noise on the rest), so a
shared :math:`w_{j,r}` meets each patch through its own block of
coordinates, and the gradient of patch :math:`p`'s term moves only that
block. The shared network is the per-patch one with block :math:`p` of
:math:`w_{j,r,p}` read as the same block of :math:`w_{j,r}`; the other
blocks of :math:`w_{j,r,p}` never reach the output and get no gradient. From
tied weights (:math:`w_{j,r,p} = w_{j,r}` for every p) the two therefore
give the same outputs and feature overlaps at every step, and from
independent draws at the same scale the same distribution of runs. A data
model whose patches overlap (noise not orthogonal to the features) would
separate them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape, finite_sum

NUM_PATCHES = 3
# Patch positions of the data model: strong feature, weak feature, noise.
STRONG_PATCH, WEAK_PATCH, NOISE_PATCH = 0, 1, 2
WEIGHT_SHARING = ("shared", "per_patch")


def relu_squared(z: jax.Array) -> jax.Array:
  """:math:`\\sigma(z) = \\max(z, 0)^2`, the network's activation."""
  return jnp.maximum(z, 0.0) ** 2


def _weights(params) -> jax.Array:
  """``params["w"]``, with a ValueError naming ``params`` otherwise."""
  if not isinstance(params, dict) or "w" not in params:
    raise ValueError("params must be a dict {'w': weights} (the landscape's "
                     f"init), got {type(params).__name__}")
  w = params["w"]
  if v.is_traced(w):
    return w
  w = jnp.asarray(w)
  if w.ndim not in (3, 4):
    raise ValueError(f"params['w'] must be (2, m, d) or (2, m, 3, d), got "
                     f"shape {w.shape}")
  return w


def two_layer_cnn(params: dict, patches: jax.Array) -> jax.Array:
  r"""f(W, x) for one example's ``(3, d)`` patches, either variant.

  Args:
    params: ``{"w": w}``; ``w`` of shape ``(2, m, d)`` is the shared variant
      (:math:`w_{j,r}`), of shape ``(2, m, 3, d)`` the per-patch one
      (:math:`w_{j,r,p}`, axis 2 the patch position). Row 0 holds the
      :math:`j = +1` neurons, row 1 the :math:`j = -1` ones.
    patches: ``(3, d)``, :math:`x^{(1)}, x^{(2)}, x^{(3)}`.

  Returns:
    The scalar :math:`f(W, x)` of the module docstring.

  Raises:
    ValueError: if ``params["w"]`` has neither shape.
  """
  w = _weights(params)
  patches = v.check_array("patches", patches)
  if patches.ndim != 2:
    raise ValueError(f"patches must be (3, d), got shape {patches.shape}")
  if w.ndim == 3:
    preactivation = jnp.einsum("jrd,pd->jrp", w, patches)
  elif w.ndim == 4 and w.shape[2] == patches.shape[0]:
    # Patch p meets its own weight vector: a diagonal in the patch axis.
    preactivation = jnp.einsum("jrpd,pd->jrp", w, patches)
  else:
    raise ValueError(f"params['w'] must be (2, m, d) (shared) or (2, m, "
                     f"{patches.shape[0]}, d) (per_patch), got "
                     f"{tuple(w.shape)}")
  m = w.shape[1]
  activation = relu_squared(preactivation)
  return (jnp.sum(activation[0]) - jnp.sum(activation[1])) / m


def feature_noise_examples(rng: np.random.Generator, count: int, dim: int, *,
                           strong_norm: float, weak_norm: float,
                           noise_std: float, strong: np.ndarray) -> dict:
  """``count`` examples of the feature-noise model; ``strong`` flags which
  carry the strong feature (boolean ``(count,)``)."""
  y = rng.choice([-1.0, 1.0], size=count)
  patches = np.zeros((count, NUM_PATCHES, dim))
  patches[:, STRONG_PATCH, 0] = np.where(strong, y * strong_norm, 0.0)
  patches[:, WEAK_PATCH, 1] = y * weak_norm
  # Noise orthogonal to both features: coordinates 0 and 1 stay zero.
  patches[:, NOISE_PATCH, 2:] = noise_std * rng.standard_normal(
      (count, dim - 2))
  return {"x": jnp.asarray(patches), "y": jnp.asarray(y),
          "strong": jnp.asarray(strong.astype(float))}


def feature_noise_classification(
    dim: int = 64, num_examples: int = 16, width: int = 8, *,
    strong_norm: float = 1.0, weak_norm: float = 0.1,
    noise_std: float | None = None, init_std: float | None = None,
    weak_fraction: float = 0.125, num_test: int = 256,
    weight_sharing: str = "shared", seed: int = 0) -> Landscape:
  r"""Two-layer ReLU\ :sup:`2` CNN on feature-noise data (Lu et al. 2024).

  Args:
    dim: patch dimension d. Default 64, the paper's synthetic experiment
      [R: review].
    num_examples: training set size n. Default 16 [R: review].
    width: neurons per output sign m. Default 8 [R: review; whether the paper's
      m counts one or both signs is unknown, U].
    strong_norm: :math:`\|u\|`, default 1.
    weak_norm: :math:`\|v\|`, default 0.1. The paper assumes
      :math:`\|v\| \le 0.1 \|u\|` [R: Assumption 3]; the defaults sit on
      that edge [U].
    noise_std: :math:`\sigma_p`; default :math:`3\|v\|/\sqrt d`, noise patches
      of norm about three times the weak feature's, so memorising noise is
      easier than learning v [U].
    init_std: :math:`\sigma_0`; default :math:`0.1/\sqrt d`, a small
      initialisation [R: reviews call it :math:`d^{-1/2}`-scale; the factor is
      U].
    weak_fraction: share of training points without the strong feature
      (rounded to a count, at least one); default 1/8, the weak share of the
      paper's test set (4 of 32 points) [R: review; the training share is U].
    num_test: weak-only test points (``constants["test"]``).
    weight_sharing: ``"shared"`` (default): one :math:`w_{j,r}` for all three
      patches, our reconstruction [U]; ``"per_patch"``: a separate
      :math:`w_{j,r,p}` for each patch position, one ICLR 2024 review's
      reading [R]. Both are drawn :math:`N(0, \sigma_0^2 I_d)` per weight
      vector; see the module docstring for why they train alike on this
      data model [D].
    seed: data seed (the initialisation is drawn from the run's key).

  Returns:
    A finite-sum landscape with ``predict(params, patches)`` the network output
    and constants ``u``, ``v``, ``test`` (weak-only examples), ``strong_mask``,
    ``init_std``, ``width``, ``weight_sharing``, ``learning_rate_window`` (the
    paper's large-step window, [R]) and ``oscillation_parameter`` (:math:`k`
    per unit learning rate, :math:`4\|u\|^2/m`; the same for both variants,
    since one weight vector per neuron meets the strong patch in either).

  Raises:
    ValueError: if an argument is out of range, or ``weight_sharing`` is not
      ``"shared"`` or ``"per_patch"``.
  """
  d = v.check_positive_int("dim", dim, minimum=3)
  n = v.check_positive_int("num_examples", num_examples, minimum=2)
  m = v.check_positive_int("width", width)
  u_norm = v.check_positive("strong_norm", strong_norm)
  v_norm = v.check_positive("weak_norm", weak_norm)
  sigma_p = (3.0 * v_norm / math.sqrt(d) if noise_std is None else
             v.check_nonnegative("noise_std", noise_std))
  sigma_0 = (0.1 / math.sqrt(d) if init_std is None else
             v.check_positive("init_std", init_std))
  frac = v.check_in_range("weak_fraction", weak_fraction, 0.0, 1.0,
                          closed="[)")
  num_test = v.check_positive_int("num_test", num_test)
  v.check_sizes("the patches", num_examples=n, dim=d, patches=3)
  v.check_sizes("the test patches", num_test=num_test, dim=d, patches=3)
  v.check_sizes("the filters", width=m, dim=d, classes=2)
  if weight_sharing not in WEIGHT_SHARING:
    raise ValueError(f"weight_sharing must be one of {WEIGHT_SHARING}, got "
                     f"{weight_sharing!r}")
  rng = np.random.default_rng(v.check_seed("seed", seed))
  num_weak = max(1, int(round(frac * n))) if frac > 0 else 0
  strong = np.arange(n) >= num_weak
  data = feature_noise_examples(rng, n, d, strong_norm=u_norm,
                                weak_norm=v_norm, noise_std=sigma_p,
                                strong=strong)
  test = feature_noise_examples(rng, num_test, d, strong_norm=u_norm,
                                weak_norm=v_norm, noise_std=sigma_p,
                                strong=np.zeros(num_test, dtype=bool))

  def output_loss(output, example):
    return (example["y"] * output - 1.0) ** 2

  def loss(params, example):
    return output_loss(two_layer_cnn(params, example["x"]), example)

  shape = (2, m, d) if weight_sharing == "shared" else (2, m, NUM_PATCHES, d)

  def init(key):
    return {"w": sigma_0 * jax.random.normal(key, shape)}

  # The shared variant keeps its old name (it names the default's runs).
  variant = "" if weight_sharing == "shared" else f",{weight_sharing}"
  return finite_sum(
      name=f"feature_noise(d={d},n={n},m={m},|u|={u_norm:g},|v|={v_norm:g}"
      f"{variant})",
      init=init, loss=loss, data=data, predict=two_layer_cnn,
      output_loss=output_loss,
      constants={
          "optimal_value": 0.0, "u": np.eye(d)[0] * u_norm,
          "v": np.eye(d)[1] * v_norm, "test": test, "strong_mask": strong,
          "init_std": sigma_0, "noise_std": sigma_p, "width": m,
          "weight_sharing": weight_sharing,
          "learning_rate_window": (m / (4 * u_norm ** 2),
                                   2 * m / (5 * u_norm ** 2)),
          "oscillation_parameter": 4 * u_norm ** 2 / m})


def feature_overlaps(params: dict, direction, patch: int | None = None
                     ) -> jax.Array:
  r""":math:`j\,\langle w_{j,r}, \text{direction}\rangle` for every neuron.

  Positive when neuron (j, r) points the way its output sign rewards.

  Args:
    params: either variant (see :func:`two_layer_cnn`).
    direction: ``(d,)``, e.g. ``constants["u"]``.
    patch: the patch position whose weight vector is meant,
      :math:`j\,\langle w_{j,r,p}, \text{direction}\rangle` (the feature's
      own patch: :data:`STRONG_PATCH` for u, :data:`WEAK_PATCH` for v).
      Required for per-patch weights; ignored for shared ones, whose one
      vector meets every patch.

  Returns:
    ``(2, m)``.

  Raises:
    ValueError: if the weights are per-patch and ``patch`` is None or not a
      patch position.
  """
  w = _weights(params)
  direction = v.check_array("direction", direction)
  if direction.shape != (w.shape[-1],):
    raise ValueError(f"direction must have shape ({w.shape[-1]},), got "
                     f"{direction.shape}")
  if w.ndim == 4:
    if patch is None or not 0 <= patch < w.shape[2]:
      raise ValueError(f"patch must be a patch position in [0, {w.shape[2]})"
                       f" for per-patch weights, got {patch!r}")
    w = w[:, :, patch]
  signs = jnp.asarray([1.0, -1.0])[:, None]
  return signs * jnp.einsum("jrd,d->jr", w, jnp.asarray(direction))


def margins(params: dict, examples: dict) -> jax.Array:
  """:math:`y_i f(W, x_i)` for a batch of examples."""
  _weights(params)
  if not isinstance(examples, dict) or not {"x", "y"} <= set(examples):
    raise ValueError("examples must be a dict with 'x' (n, 3, d) and 'y' "
                     f"(n,), got {type(examples).__name__}")
  outputs = jax.vmap(two_layer_cnn, in_axes=(None, 0))(params, examples["x"])
  return examples["y"] * outputs
