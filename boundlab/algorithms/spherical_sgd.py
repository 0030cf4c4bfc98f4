r"""Spherical online SGD: exact O(d) and O(1) simulations of its overlap.

Spherical (online) SGD on the unit sphere takes a tangent step and
renormalises,

.. math::
  x_{t+1} = \frac{x_t + \eta\, g_t}{\|x_t + \eta\, g_t\|}, \qquad
  g_t = -P_{x_t}^\perp \nabla \ell(x_t; z_t),

with a fresh sample :math:`z_t` per step (Ben Arous, Gheissari, Jagannath,
arXiv 2003.10409). Three simulations of the same process, from the most
literal to the fastest:

* :func:`spherical_sgd` -- an optax transformation, for any loss and sampler
  (used with materialized tensors in the tests);
* :func:`tensor_pca_online_sgd` -- O(d) per step with the exact Gaussian law
  of the tangent gradient (:class:`~boundlab.landscapes.SpikedTensor`);
* :func:`tensor_pca_overlap_chain`, :func:`single_index_overlap_chain` --
  O(1) per step: the overlap :math:`m = \langle x, v\rangle` alone is a
  Markov chain (shared references, section 6(b) [D]). With
  :math:`P^\perp v = \sqrt{1-m^2}\,u`, :math:`a \sim N(0,1)` and
  :math:`\chi \sim \chi^2_{d-2}` (the tangent noise off the (x, u) plane),
  tensor PCA gives

  .. math::
    c = \eta(\lambda k m^{k-1}\sqrt{1-m^2} + \sqrt k\, a), \qquad
    m' = \frac{m + c\sqrt{1-m^2}}{\sqrt{1 + c^2 + \eta^2 k \chi}};

  single-index online SGD on the correlation loss
  :math:`-y\sigma(\langle w, x\rangle)` with :math:`z_1 = \langle w,
  x\rangle`, :math:`z_2 = \langle u, x\rangle` i.i.d. N(0, 1) and
  :math:`s = \eta\, y\, \sigma'(z_1)` gives
  :math:`m' = (m + s z_2\sqrt{1-m^2}) / \sqrt{1 + s^2(z_2^2 + \chi)}`.

The chains report first-passage times: the first step with
:math:`m \ge` ``threshold`` (or ``-1``). A run with a fixed step size then
answers "success within n samples" for every n at once (``tau <= n``).
Starts are uniform on the sphere conditioned on :math:`m_0 > 0` (the
assumption of Ben Arous et al.'s theorems).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v
from boundlab.landscapes.tensor_pca import SpikedTensor, random_unit_vector


def spherical_sgd(learning_rate: float) -> optax.GradientTransformation:
  """Tangent gradient step then renormalisation, for a unit-vector parameter."""
  eta = v.check_positive("learning_rate", learning_rate)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("spherical_sgd needs params (the unit vector x)")
    tangent = updates - jnp.dot(updates, params) * params
    moved = params - eta * tangent
    return moved / jnp.linalg.norm(moved) - params, state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update_fn)


def online_step_size(dim: int, information_exponent: int,
                     scale: float = 0.5) -> float:
  r"""The step :math:`\eta = \delta\, d^{-\max(1, k/2)}` of the escape heuristic.

  For k >= 3, drift :math:`\eta m^{k-1}` beats the normalisation's
  :math:`\eta^2 d\, m/2` at :math:`m \sim d^{-1/2}` iff
  :math:`\eta \lesssim d^{-k/2}`; escape then takes :math:`\sim d^{k-1}`
  steps (shared references, section 2 [D]). For k <= 2, :math:`\eta =
  \delta/d`.
  """
  d = v.check_positive_int("dim", dim, minimum=2)
  k = v.check_positive_int("information_exponent", information_exponent)
  return v.check_positive("scale", scale) * d ** (-max(1.0, k / 2))


def uniform_start_overlap(key, dim: int, shape) -> jax.Array:
  r""":math:`m_0 = |\langle x_0, v\rangle|` for x_0 uniform on S^{d-1}."""
  k1, k2 = jax.random.split(key)
  z = jax.random.normal(k1, shape)
  rest = jax.random.chisquare(k2, dim - 1, shape)
  return jnp.abs(z) / jnp.sqrt(z * z + rest)


def _int_or_traced(name, value, minimum):
  """Checks a Python int; a traced value (one compile for many d) passes."""
  return value if v.is_traced(value) else v.check_positive_int(
      name, value, minimum=minimum)


def _block_size(block, max_steps):
  block = v.check_positive_int("block", block)
  return block if v.is_traced(max_steps) else min(block, max_steps)


def _first_passage(step_block: Callable, state0, key, *, num_chains: int,
                   max_steps: int, block: int, threshold: float):
  """Runs ``step_block`` (block steps at a time) until every chain passed.

  ``step_block(key, state) -> (overlap after each step [block, chains],
  state)``. Returns (tau, final state): tau is the first step t >= 1 with
  m_t >= threshold and t <= max_steps, or -1.
  """
  num_blocks = (max_steps + block - 1) // block

  def cond(carry):
    i, _, tau, _ = carry
    return (i < num_blocks) & jnp.any(tau < 0)

  def body(carry):
    i, state, tau, key = carry
    key, sub = jax.random.split(key)
    path, state = step_block(sub, state)
    hit = path >= threshold
    first = jnp.argmax(hit, axis=0)
    steps_before = i * block
    new_tau = jnp.where(jnp.any(hit, axis=0),
                        steps_before + first + 1, -1).astype(jnp.int32)
    within = new_tau <= max_steps
    tau = jnp.where((tau < 0) & within, new_tau, tau)
    return i + 1, state, tau, key

  init = (jnp.zeros((), jnp.int32), state0,
          jnp.full((num_chains,), -1, jnp.int32), key)
  _, state, tau, _ = jax.lax.while_loop(cond, body, init)
  return tau, state


def tensor_pca_overlap_chain(key, *, dim: int, order: int, snr: float,
                             learning_rate: float, num_chains: int,
                             max_steps: int, threshold: float = 0.5,
                             block: int = 256, unroll: int | bool = 1,
                             initial_overlap: jax.Array | None = None):
  """First-passage times of the exact O(1)-per-step tensor-PCA overlap chain.

  Args:
    key: PRNG key (starts and noise).
    dim: dimension d of the model (convention C, see
      :mod:`boundlab.landscapes.tensor_pca`).
    order: tensor order k.
    snr: signal-to-noise ratio of the spike.
    learning_rate: eta.
    num_chains: independent chains (seeds) simulated together.
    max_steps: step budget (samples); chains still below threshold get -1.
    threshold: success overlap (d-independent).
    block: steps per iteration of the device loop; noise for a block is drawn
      in one call.
    unroll: ``lax.scan`` unroll of the block's recurrence (``True``: fully,
      so that it fuses into one kernel; best on GPUs, slow to compile on
      CPUs). Results do not depend on it.
    initial_overlap: optional (num_chains,) starting overlaps in [-1, 1] (a
      warm start, e.g. from another estimator); default uniform on the
      sphere with :math:`m_0 > 0`. The chain depends on the start only
      through :math:`m_0`, so this is exact.

  Returns:
    ``(tau, m_final)``, int32 and float arrays of shape (num_chains,).
    ``m_final`` is the overlap where the loop stopped, not at ``max_steps``:
    the chains advance ``block`` steps at a time and stop at the first block
    after which every chain has passed the threshold, or after
    ceil(``max_steps`` / ``block``) blocks. Use
    ``tau`` for "within n steps"; for the overlap at exactly step n run
    with ``threshold=1.0`` (never passed before the end) and ``block``
    dividing n.

  ``dim`` and ``max_steps`` may be traced (e.g. ``jit``-ed over many d with one
  compilation); they are then validated by the caller.
  """
  d = _int_or_traced("dim", dim, 3)
  k = v.check_positive_int("order", order, minimum=2)
  lam = v.check_positive("snr", snr)
  eta = v.check_positive("learning_rate", learning_rate)
  chains = v.check_positive_int("num_chains", num_chains)
  max_steps = _int_or_traced("max_steps", max_steps, 1)
  v.check_in_range("threshold", threshold, 0.0, 1.0, closed="(]")
  block = _block_size(block, max_steps)
  root_k = math.sqrt(k)

  def step_block(key, m):
    k_a, k_chi = jax.random.split(key)
    a = jax.random.normal(k_a, (block, chains), m.dtype)
    chi = jax.random.chisquare(k_chi, d - 2, (block, chains), m.dtype)

    def step(m, noise):
      a_t, chi_t = noise
      s = jnp.sqrt(jnp.maximum(1 - m * m, 0.0))
      c = eta * (lam * k * m ** (k - 1) * s + root_k * a_t)
      m = (m + c * s) / jnp.sqrt(1 + c * c + eta * eta * k * chi_t)
      return m, m

    # unroll=True turns the block's recurrence into one fused elementwise
    # kernel instead of one launch per step (what makes GPUs fast here).
    m, path = jax.lax.scan(step, m, (a, chi), unroll=unroll)
    return path, m

  k_start, k_run = jax.random.split(key)
  if initial_overlap is None:
    m0 = uniform_start_overlap(k_start, d, (chains,))
  else:
    m0 = jnp.asarray(initial_overlap)
    if m0.shape != (chains,):
      raise ValueError(f"initial_overlap must have shape ({chains},), got "
                       f"{m0.shape}")
    if not v.is_traced(m0) and not bool(jnp.all(jnp.abs(m0) <= 1)):
      raise ValueError("initial_overlap must lie in [-1, 1], got values up "
                       f"to {float(jnp.max(jnp.abs(m0)))}")
  return _first_passage(step_block, m0, k_run, num_chains=chains,
                        max_steps=max_steps, block=block, threshold=threshold)


def single_index_overlap_chain(key, *, dim: int, link: Callable,
                               link_derivative: Callable, noise_std: float,
                               learning_rate: float, num_chains: int,
                               max_steps: int, threshold: float = 0.5,
                               block: int = 256, unroll: int | bool = 1,
                               student_gradient: Callable | None = None):
  r"""First-passage times of online SGD on the correlation loss, O(1) per step.

  The student uses the teacher's link :math:`\sigma` (``link``) with
  derivative ``link_derivative``; labels :math:`y = \sigma(\langle w^\star,
  x\rangle) + \varepsilon`, :math:`\varepsilon \sim N(0, s^2)`. Same
  arguments and returns as :func:`tensor_pca_overlap_chain`.

  ``student_gradient(a, r2) -> g`` replaces :math:`\sigma'(a)` when the
  per-sample loss is :math:`-y\,\tilde\sigma(a, r^2)` with :math:`a =
  \langle w, x\rangle` and :math:`r^2 = \|P_w^\perp x\|^2` (e.g. the
  smoothed link of :func:`smoothed_polynomial_link`); its tangent gradient is
  :math:`-y\,g\,P_w^\perp x` with :math:`g = \partial_a\tilde\sigma -
  2a\,\partial_{r^2}\tilde\sigma`, so the chain keeps its form.
  """
  d = _int_or_traced("dim", dim, 3)
  s2 = v.check_nonnegative("noise_std", noise_std)
  eta = v.check_positive("learning_rate", learning_rate)
  chains = v.check_positive_int("num_chains", num_chains)
  max_steps = _int_or_traced("max_steps", max_steps, 1)
  v.check_in_range("threshold", threshold, 0.0, 1.0, closed="(]")
  block = _block_size(block, max_steps)

  def step_block(key, m):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    z1 = jax.random.normal(k1, (block, chains), m.dtype)
    z2 = jax.random.normal(k2, (block, chains), m.dtype)
    eps = s2 * jax.random.normal(k3, (block, chains), m.dtype)
    chi = jax.random.chisquare(k4, d - 2, (block, chains), m.dtype)

    def step(m, noise):
      z1_t, z2_t, eps_t, chi_t = noise
      root = jnp.sqrt(jnp.maximum(1 - m * m, 0.0))
      y = link(m * z1_t + root * z2_t) + eps_t
      slope = (link_derivative(z1_t) if student_gradient is None else
               student_gradient(z1_t, z2_t * z2_t + chi_t))
      s = eta * y * slope
      m = (m + s * z2_t * root) / jnp.sqrt(1 + s * s * (z2_t * z2_t + chi_t))
      return m, m

    m, path = jax.lax.scan(step, m, (z1, z2, eps, chi), unroll=unroll)
    return path, m

  k_start, k_run = jax.random.split(key)
  m0 = uniform_start_overlap(k_start, d, (chains,))
  return _first_passage(step_block, m0, k_run, num_chains=chains,
                        max_steps=max_steps, block=block, threshold=threshold)


def tensor_pca_online_sgd(key, model: SpikedTensor, *, learning_rate: float,
                          num_chains: int, max_steps: int,
                          threshold: float = 0.5, block: int = 64,
                          unroll: int | bool = 1):
  r"""First-passage times of spherical online SGD with the O(d) exact sampler.

  Each chain has its own spike v and start (uniform, flipped so that
  :math:`m_0 > 0`); per step one fresh tangent gradient
  (:meth:`~boundlab.landscapes.SpikedTensor.tangent_gradient_sample`).
  Returns ``(tau, m_final)`` like :func:`tensor_pca_overlap_chain`. The
  noise of a block is drawn in one call, (block, chains, d). A key made with
  ``jax.random.key(seed, impl="rbg")`` draws the same law from another
  stream; it is not established to be faster: the committed benchmark's
  rbg row is also unrolled (8.9e7 vs 6.2e7 chain-steps/s for rolled
  threefry, ``benchmarks/results/high_dimensional.json``), and an H200
  re-run reported in issue 19 found rbg no faster than threefry.
  """
  eta = v.check_positive("learning_rate", learning_rate)
  chains = v.check_positive_int("num_chains", num_chains)
  max_steps = v.check_positive_int("max_steps", max_steps)
  v.check_in_range("threshold", threshold, 0.0, 1.0, closed="(]")
  block = v.check_positive_int("block", min(block, max_steps))
  k_spike, k_start, k_run = jax.random.split(key, 3)
  spikes = jax.vmap(model.spike)(jax.random.split(k_spike, chains))
  x0 = jax.vmap(lambda k: random_unit_vector(k, model.dim))(
      jax.random.split(k_start, chains))
  x0 = x0 * jnp.sign(jnp.sum(x0 * spikes, axis=1, keepdims=True))

  def step_block(key, x):
    noise = jax.random.normal(key, (block,) + x.shape, x.dtype)

    def step(x, xi):
      x = x + eta * model.tangent_gradient_from_noise(x, spikes, xi)
      x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
      return x, jnp.sum(x * spikes, axis=1)

    x, path = jax.lax.scan(step, x, noise, unroll=unroll)
    return path, x

  tau, x = _first_passage(step_block, x0, k_run, num_chains=chains,
                          max_steps=max_steps, block=block,
                          threshold=threshold)
  return tau, jnp.sum(x * spikes, axis=1)


def smoothed_polynomial_link(coefficients, dim: int, smoothing: float):
  r"""Damian et al.'s smoothed student link for a polynomial :math:`\sigma`.

  The smoothed per-sample loss :math:`\ell_\lambda(w) =
  E_z\,\ell((w + \lambda z)/\|w + \lambda z\|)`, z uniform on the unit
  sphere of :math:`w^\perp` (arXiv 2305.10633, as recalled in the shared
  references [R]), is for :math:`\ell = -y\sigma(\langle\cdot, x\rangle)`

  .. math::
    \tilde\sigma(a, r^2) = E_\zeta\,\sigma\Big(\frac{a + \lambda r
    \zeta}{\sqrt{1+\lambda^2}}\Big), \qquad E\zeta^{2j} =
    \prod_{i<j}\frac{2i+1}{d-1+2i},

  with :math:`\zeta` a coordinate of the uniform law on :math:`S^{d-2}`
  (odd moments vanish): exact for polynomial links.

  Args:
    coefficients: power-basis coefficients of sigma, highest degree first.
    dim: d (may be traced, like ``smoothing``).
    smoothing: lambda >= 0.

  Returns:
    ``student_gradient(a, r2)`` for :func:`single_index_overlap_chain`.
  """
  coeffs = [float(c) for c in coefficients]
  degree = len(coeffs) - 1
  lam = v.check_nonnegative("smoothing", smoothing)
  d = _int_or_traced("dim", dim, 3)
  scale = jnp.sqrt(1 + lam * lam)
  moments = [1.0]                   # E zeta^{2j}, j = 0, 1, ...
  for i in range(degree // 2):
    moments.append(moments[-1] * (2 * i + 1) / (d - 1 + 2 * i))

  def smoothed(a, r2):
    total = 0.0
    for power, c in zip(range(degree, -1, -1), coeffs):
      term = 0.0
      for j in range(power // 2 + 1):
        term = term + (math.comb(power, 2 * j) * a ** (power - 2 * j)
                       * (lam * lam * r2) ** j * moments[j])
      total = total + c * term / scale**power
    return total

  def student_gradient(a, r2):
    # smoothed() is elementwise, so the gradient of its sum is elementwise.
    grad_a = jax.grad(lambda a_: jnp.sum(smoothed(a_, r2)))(a)
    grad_r2 = jax.grad(lambda r_: jnp.sum(smoothed(a, r_)))(r2)
    return grad_a - 2 * a * grad_r2

  return student_gradient
