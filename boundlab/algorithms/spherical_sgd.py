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
  of the tangent gradient (:class:`~boundlab.landscapes.SpikedTensor`), one
  fused reduction pass per step (:func:`tensor_pca_online_step`);
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


def _row_sums(*products):
  """Sums of each (..., d) array over its last axis, as ONE reduction.

  A variadic ``lax.reduce``, so that XLA can emit one kernel that reads each
  element of the operands once and accumulates every sum (rather than one
  latency-bound reduction kernel per sum). On an H200 (jax 0.11.2) the
  compiled step is one five-output reduction fusion, one small per-chain
  fusion for the coefficients and one elementwise update.
  """
  zero = jnp.zeros((), products[0].dtype)
  return jax.lax.reduce(
      products, (zero,) * len(products),
      lambda a, b: tuple(p + q for p, q in zip(a, b)),
      (products[0].ndim - 1,))


def tensor_pca_online_step(x, spikes, xi, *, snr: float, order: int,
                           learning_rate: float, spike_norm2=1.0):
  r"""One spherical online-SGD step on order-k tensor PCA, one reduction pass.

  The step of :func:`tensor_pca_online_sgd`: for a batch x of (nearly) unit
  rows with spikes v and noise :math:`\xi \sim N(0, I_d)` (all (chains, d)),
  it returns ``(x_new, m_new)``, the normalised step

  .. math::
    x_{\rm new} = \frac{u + \eta\, g}{\|u + \eta\, g\|}, \quad
    u = \frac{x}{\|x\|}, \quad
    g = D - \langle D, u\rangle u, \quad
    D = a v + s\xi, \quad a = \lambda k m^{k-1}, \quad s = \sqrt k,

  (g is :meth:`~boundlab.landscapes.SpikedTensor.tangent_gradient_from_noise`
  at u) and the overlap :math:`m_{\rm new} = \langle x_{\rm new}, v\rangle`,
  with no reduction after the update. All the inner products it needs come
  from one multi-output reduction over (x, v, xi):

  .. math::
    n_2 = \langle x, x\rangle, \; m_v = \langle x, v\rangle, \;
    x_v = \langle \xi, v\rangle, \; x_x = \langle \xi, x\rangle, \;
    x_{\xi\xi} = \langle \xi, \xi\rangle;

  then, with :math:`q = \langle v, v\rangle` (``spike_norm2``, 1 for a unit
  spike, constant along the run),

  .. math::
    m = \frac{m_v}{\sqrt{n_2}}, \quad
    c = \langle D, u\rangle = a m + \frac{s\, x_x}{\sqrt{n_2}}, \quad
    \|D\|^2 = a^2 q + 2 a s\, x_v + s^2 x_{\xi\xi},

  and since :math:`g \perp u`, :math:`\|u + \eta g\|^2 = 1 + \eta^2
  (\|D\|^2 - c^2)`, so

  .. math::
    x_{\rm new} = \frac{\frac{1 - \eta c}{\sqrt{n_2}}\, x + \eta a\, v +
    \eta s\, \xi}{\sqrt{1 + \eta^2(\|D\|^2 - c^2)}}, \qquad
    m_{\rm new} = \frac{m + \eta(a q + s\, x_v - c\, m)}
    {\sqrt{1 + \eta^2(\|D\|^2 - c^2)}}.

  Using the measured :math:`n_2` (not 1) each step makes the recursion
  self-correcting: rounding in the norm does not accumulate.

  Args:
    x: (..., d) current iterates (unit up to rounding).
    spikes: (..., d) spikes v.
    xi: (..., d) standard normal noise.
    snr: lambda.
    order: k >= 2 (a Python int).
    learning_rate: eta.
    spike_norm2: :math:`\langle v, v\rangle`, shape (...) or a scalar.

  Returns:
    ``(x_new, m_new)`` of shapes (..., d) and (...).
  """
  k = order
  s = math.sqrt(k)
  eta = learning_rate
  # One pass over (x, v, xi): every inner product of the step.
  n2, mv, xv, xx, xixi = _row_sums(x * x, x * spikes, xi * spikes, xi * x,
                                   xi * xi)
  r = jax.lax.rsqrt(n2)                     # 1 / ||x||
  m = mv * r                                # <u, v>
  a = snr * k * m ** (k - 1)                # D = a v + s xi
  c = a * m + s * xx * r                    # <D, u>
  d2 = a * a * spike_norm2 + 2 * a * s * xv + k * xixi      # ||D||^2
  # ||u + eta g||^2 = 1 + eta^2 ||g||^2, ||g||^2 = ||D||^2 - c^2 >= 0.
  inv = jax.lax.rsqrt(1 + eta * eta * jnp.maximum(d2 - c * c, 0.0))
  # x_new = [(1 - eta c) u + eta a v + eta s xi] / ||u + eta g||.
  coef_x = (1 - eta * c) * r * inv
  coef_v = eta * a * inv
  coef_xi = eta * s * inv
  x_new = (coef_x[..., None] * x + coef_v[..., None] * spikes
           + coef_xi[..., None] * xi)
  # <x_new, v> = (m + eta (<D, v> - c m)) / ||u + eta g||.
  m_new = (m + eta * (a * spike_norm2 + s * xv - c * m)) * inv
  return x_new, m_new


def tensor_pca_online_sgd(key, model: SpikedTensor, *, learning_rate: float,
                          num_chains: int, max_steps: int,
                          threshold: float = 0.5, block: int = 64,
                          unroll: int | bool = 1):
  r"""First-passage times of spherical online SGD with the O(d) exact sampler.

  Each chain has its own spike v and start (uniform, flipped so that
  :math:`m_0 > 0`); per step one fresh tangent gradient
  (:meth:`~boundlab.landscapes.SpikedTensor.tangent_gradient_sample`), the
  step computed by :func:`tensor_pca_online_step`: one fused multi-output
  reduction over (x, v, xi) per step, then x is updated as a per-chain
  linear combination of x, v and xi, and the recorded overlap comes from
  the same inner products. The law (and, for a given key, the noise) is
  that of the literal step :math:`x \leftarrow (x + \eta g)/\|x + \eta
  g\|` with :math:`g` =
  :meth:`~boundlab.landscapes.SpikedTensor.tangent_gradient_from_noise`;
  the results differ from it only by rounding.

  Returns ``(tau, m_final)`` like :func:`tensor_pca_overlap_chain`. The
  noise of a block is drawn in one call, (block, chains, d).

  ``unroll`` is that of the block's ``lax.scan`` (results do not depend on
  it); on one H200 (d = 512, 1024 chains, ``benchmarks/high_dimensional.py``,
  jax 0.11.2, two runs) ``unroll=10`` gave 1.0e8 chain-steps/s against
  8.1e7 rolled; this fused step was 1.27x the literal one rolled and
  1.02-1.04x unrolled, where XLA already fuses most of the literal step.

  A key made with ``jax.random.key(seed, impl="rbg")`` draws the same law
  from another stream; it was not found faster. The committed H100 result
  (``benchmarks/results/high_dimensional.json``) has 8.9e7 chain-steps/s
  for rbg against 6.2e7 for threefry, but its rbg row was unrolled
  (unroll=10) and its threefry row rolled, so it does not separate the
  two. With both PRNGs at the same unroll (the same H200 runs, d = 512),
  rbg was 3-4% slower than threefry at 1024 to 8192 chains, with unroll 1
  and 10, and within 3% either way at 256 chains.
  """
  eta = v.check_positive("learning_rate", learning_rate)
  chains = v.check_positive_int("num_chains", num_chains)
  max_steps = v.check_positive_int("max_steps", max_steps)
  v.check_in_range("threshold", threshold, 0.0, 1.0, closed="(]")
  block = v.check_positive_int("block", min(block, max_steps))
  k_spike, k_start, k_run = jax.random.split(key, 3)
  spikes = jax.vmap(model.spike)(jax.random.split(k_spike, chains))
  # <v, v> (1 up to rounding) once, so that the step needs no sum over v*v.
  spike_norm2 = jnp.sum(spikes * spikes, axis=1)
  x0 = jax.vmap(lambda k: random_unit_vector(k, model.dim))(
      jax.random.split(k_start, chains))
  x0 = x0 * jnp.sign(jnp.sum(x0 * spikes, axis=1, keepdims=True))

  def step_block(key, x):
    # The same draw as ever: one (block, chains, d) array per block key.
    noise = jax.random.normal(key, (block,) + x.shape, x.dtype)

    def step(x, xi):
      return tensor_pca_online_step(
          x, spikes, xi, snr=model.snr, order=model.order,
          learning_rate=eta, spike_norm2=spike_norm2)

    x, path = jax.lax.scan(step, x, noise, unroll=unroll)
    return path, x

  tau, x = _first_passage(step_block, x0, k_run, num_chains=chains,
                          max_steps=max_steps, block=block,
                          threshold=threshold)
  return tau, jnp.sum(x * spikes, axis=1) / jnp.linalg.norm(x, axis=1)


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
