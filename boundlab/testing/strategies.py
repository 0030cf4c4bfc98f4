r"""Hypothesis strategies that draw landscapes together with their constants.

Every strategy draws a :class:`~boundlab.landscapes.Landscape` whose
``constants`` are exact for the drawn instance (the smoothness of a drawn
quadratic is its largest curvature, not an estimate), so a property test can
evaluate a bound with them. Initial points are random: ``landscape.init(key)``
draws one from the key (a test runs several seeds through one landscape).

Sizes default to what runs in milliseconds on a CPU; every size, constant
and law can be fixed (a plain value) or drawn (a strategy). Noise-free
variants are exact (zero noise, realisable labels), with no tiny-constant
workarounds.

Example::

  from hypothesis import given
  from boundlab.testing import strategies as bst

  @given(bst.quadratics(smoothness=bst.floats(0.5, 50)))
  def test_something(landscape):
    L = landscape.constants["smoothness"]
    ...

Requires ``hypothesis`` (``pip install boundlab[testing]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from boundlab import landscapes
from boundlab.landscapes import Landscape, NoiseDistribution

_SEEDS = st.integers(0, 2**31 - 1)


def floats(min_value: float, max_value: float) -> st.SearchStrategy[float]:
  """Finite floats in ``[min_value, max_value]`` (no NaN, no infinity)."""
  return st.floats(min_value, max_value, allow_nan=False,
                   allow_infinity=False)


def _drawn(draw, value):
  """``value`` itself, or a draw from it if it is a strategy."""
  return draw(value) if isinstance(value, st.SearchStrategy) else value


def _random_init(landscape: Landscape, radius: float) -> Landscape:
  """The landscape started at ``optimum + radius * z / sqrt(d)``, ``z``
  standard normal from the init key (so ``E||x_0 - x*||^2 = radius^2``)."""
  center = jnp.asarray(landscape.constants["optimum"])
  scale = radius / np.sqrt(center.size)
  return dataclasses.replace(landscape, init=lambda key: center + scale * (
      jax.random.normal(key, center.shape)))


@st.composite
def noise_laws(draw, dim=st.integers(1, 4), symmetric: bool | None = None
               ) -> NoiseDistribution:
  """Zero-mean gradient-noise laws of :mod:`boundlab.landscapes`, with their
  parameters drawn: Gaussian, Laplace and symmetric mixtures (symmetric);
  skewed mixtures and a one-sided heavy tail (asymmetric); symmetrised
  asymmetric laws (symmetric). ``variance`` (:math:`E\\|\\xi\\|^2`) is set.

  Args:
    dim: dimension d (value or strategy).
    symmetric: ``True``/``False`` for only symmetric/asymmetric laws,
      ``None`` for both.
  """
  d = _drawn(draw, dim)
  scale = draw(floats(0.05, 2.0))

  def asymmetric():
    return st.one_of(
        st.builds(landscapes.skewed_mixture, st.just(d), floats(0.05, 0.45),
                  floats(0.5, 5.0), st.just(scale)),
        st.builds(landscapes.one_sided_heavy_tail, st.just(d),
                  floats(0.1, 1.0), st.just(scale)))

  symmetric_laws = st.one_of(
      st.builds(landscapes.gaussian, st.just(d), st.just(scale)),
      st.builds(landscapes.laplace, st.just(d), st.just(scale)),
      st.builds(landscapes.symmetric_mixture, st.just(d), floats(0.0, 4.0),
                st.just(scale)),
      asymmetric().map(landscapes.symmetrize))
  if symmetric is None:
    return draw(st.one_of(symmetric_laws, asymmetric()))
  return draw(symmetric_laws if symmetric else asymmetric())


@st.composite
def quadratics(draw, dim=st.integers(1, 6), smoothness=floats(0.1, 100.0),
               strong_convexity=None, condition_number=floats(1.0, 1e3),
               noise: Callable[[int], st.SearchStrategy] | None = None,
               init_radius=floats(0.1, 10.0)) -> Landscape:
  r"""Diagonal quadratics :math:`f(x) = \tfrac12 (x - x^\star)^\top
  \mathrm{diag}(h)(x - x^\star)` with :math:`\min h = \mu` and
  :math:`\max h = L` exactly, optionally with additive gradient noise
  (:func:`~boundlab.landscapes.noisy_quadratic`).

  Args:
    dim: dimension (value or strategy); at least 2 when :math:`\mu < L`.
    smoothness: :math:`L` (value or strategy).
    strong_convexity: :math:`\mu` (value or strategy, at most L); by default
      :math:`L / \kappa` with ``condition_number`` :math:`\kappa`.
    condition_number: :math:`\kappa \ge 1`, used when ``strong_convexity`` is
      not given.
    noise: ``dim -> strategy of NoiseDistribution`` (e.g. :func:`noise_laws`);
      ``None`` is noise-free (``constants["noise_variance"] == 0``).
    init_radius: :math:`\sqrt{E\|x_0 - x^\star\|^2}` of the random start.

  Returns:
    A landscape with ``constants``: ``optimum``, ``optimal_value`` (0),
    ``smoothness``, ``strong_convexity``, ``curvatures``, ``noise_variance``
    (:math:`E\|\xi\|^2`).
  """
  big_l = _drawn(draw, smoothness)
  mu = (big_l / _drawn(draw, condition_number) if strong_convexity is None
        else _drawn(draw, strong_convexity))
  if not 0 < mu <= big_l:
    raise ValueError(f"strong_convexity must be in (0, smoothness={big_l}], "
                     f"got {mu}")
  d = max(_drawn(draw, dim), 1 if mu == big_l else 2)
  inner = draw(st.lists(floats(mu, big_l), min_size=d - 2, max_size=d - 2)
               ) if d > 2 else []
  curvatures = np.array(sorted([mu, *inner, big_l][:d] if d > 1 else [big_l]))
  optimum = np.array(draw(st.lists(floats(-5.0, 5.0), min_size=d,
                                   max_size=d)))
  law = draw(noise(d)) if noise is not None else landscapes.zero_noise(d)
  land = landscapes.noisy_quadratic(law, curvature=curvatures,
                                    optimum=optimum)
  constants = {k: w for k, w in land.constants.items() if k != "initial_gap"}
  land = dataclasses.replace(land, constants={**constants,
                                              "curvatures": curvatures})
  return _random_init(land, _drawn(draw, init_radius))


@st.composite
def least_squares(draw, num_examples=st.integers(4, 32), dim=st.integers(1, 6),
                  noise=st.one_of(st.just(0.0), floats(0.01, 1.0)),
                  init_radius=floats(0.1, 10.0)) -> Landscape:
  r"""Least squares :math:`f(w) = \frac1{2N}\|Xw - y\|^2` on Gaussian
  features (:func:`~boundlab.landscapes.linear_regression`) with its exact
  optimum; ``noise = 0`` with :math:`N \ge d` is realisable (optimal value
  exactly 0)."""
  land = landscapes.linear_regression(
      _drawn(draw, num_examples), _drawn(draw, dim), noise=_drawn(draw, noise),
      seed=draw(_SEEDS))
  return _random_init(land, _drawn(draw, init_radius))


@st.composite
def finite_sums(draw, num_examples=st.integers(2, 16), dim=st.integers(1, 4),
                max_curvature=floats(0.1, 100.0), init_radius=floats(0.1, 10.0)
                ) -> Landscape:
  r"""Finite sums of diagonal quadratics with per-example smoothness
  :math:`L_i` (:func:`~boundlab.landscapes.diagonal_quadratic_sum`):
  curvatures drawn in :math:`[0, h_{\max}]`, so examples differ in
  smoothness and some may be flat in a coordinate."""
  n, d = _drawn(draw, num_examples), _drawn(draw, dim)
  h_max = _drawn(draw, max_curvature)
  rng = np.random.default_rng(draw(_SEEDS))
  curvatures = h_max * rng.uniform(size=(n, d)) ** 2
  curvatures[rng.integers(n), :] = h_max    # every column mean > 0
  land = landscapes.diagonal_quadratic_sum(rng.normal(0.0, 2.0, (n, d)),
                                           curvatures)
  return _random_init(land, _drawn(draw, init_radius))


@st.composite
def diagonal_linear_networks(draw, num_examples=st.integers(4, 12),
                             dim=st.integers(4, 24), sparsity=st.integers(1, 3),
                             init_scale=floats(0.05, 1.0)) -> Landscape:
  r"""Sparse regression with a diagonal linear network :math:`\beta = u
  \odot v` (:func:`~boundlab.landscapes.diagonal_linear_network`): the
  planted ``beta_star`` and ``optimal_value`` (0, interpolation) are
  exact; the init draws :math:`u, v` from the key."""
  d = _drawn(draw, dim)
  return landscapes.diagonal_linear_network(
      _drawn(draw, num_examples), d, min(_drawn(draw, sparsity), d),
      _drawn(draw, init_scale), seed=draw(_SEEDS))


@st.composite
def single_index_models(draw, dim=st.integers(2, 32), link=None,
                        loss=st.sampled_from(("correlation", "square")),
                        noise_std=st.one_of(st.just(0.0), floats(0.01, 1.0))
                        ) -> Landscape:
  r"""Single-index models :math:`y = \sigma(\langle w^\star, x\rangle) +
  \epsilon` (:func:`~boundlab.landscapes.single_index_model`) with a chosen
  or drawn link; ``constants`` hold the exact information exponent and
  Hermite coefficients; ``noise_std = 0`` is noise-free."""
  from boundlab.theory import hermite
  link = st.sampled_from(hermite.LINKS) if link is None else link
  return landscapes.single_index_model(
      _drawn(draw, dim), _drawn(draw, link), _drawn(draw, loss),
      _drawn(draw, noise_std), seed=draw(_SEEDS))


def keys(num: int = 1) -> st.SearchStrategy:
  """PRNG keys (``num`` of them, stacked, when ``num > 1``) from drawn
  seeds, so that hypothesis controls (and shrinks) the randomness."""
  if num == 1:
    return _SEEDS.map(jax.random.key)
  return _SEEDS.map(lambda s: jax.random.split(jax.random.key(s), num))
