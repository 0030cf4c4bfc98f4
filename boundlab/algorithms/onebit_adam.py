r"""1-bit Adam (Tang et al., 2021) with n simulated workers, and its identities.

Warm-up (steps :math:`t = 0, \dots, T_w - 1`): Adam on the workers' averaged
gradient :math:`\bar g_t = \frac1n \sum_i g_t^{(i)}` (uncompressed
all-reduce),

.. math::
   m_{t} = \beta_1 m_{t-1} + (1-\beta_1)\bar g_t, \quad
   v_{t} = \beta_2 v_{t-1} + (1-\beta_2)\bar g_t^2, \quad
   x_{t+1} = x_t - \gamma\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon},

with :math:`\hat m_t = m_t/(1-\beta_1^{t+1})`, :math:`\hat v_t =
v_t/(1-\beta_2^{t+1})` when ``bias_correction`` (``optax.adam`` itself runs
these steps) and :math:`\hat m = m, \hat v = v` otherwise (DeepSpeed's
``OnebitAdam``, below). Compression (:math:`t \ge T_w`): the variance is frozen
at :math:`v := \hat v_{T_w - 1}`, :math:`P = \mathrm{diag}(\sqrt v +
\epsilon)^{-1}`, and with the broadcast momentum :math:`\bar m_{T_w-1} :=
m_{T_w-1}`,

.. math::
   u_t^{(i)} &= \beta_1 \bar m_{t-1} + (1-\beta_1) g_t^{(i)}, \\
   c_t^{(i)} &= \mathcal C\big(u_t^{(i)} + \delta_{t-1}^{(i)}\big), \quad
   \delta_t^{(i)} = u_t^{(i)} + \delta_{t-1}^{(i)} - c_t^{(i)}
   \qquad\text{(worker } i\text{, sends } c_t^{(i)}), \\
   a_t &= \tfrac1n \textstyle\sum_i c_t^{(i)}, \quad
   \bar m_t = \mathcal C\big(a_t + \bar\delta_{t-1}\big), \quad
   \bar\delta_t = a_t + \bar\delta_{t-1} - \bar m_t
   \qquad\text{(server, broadcasts } \bar m_t), \\
   x_{t+1} &= x_t - \gamma\, P\,\bar m_t ,

with :math:`\mathcal C(u) = \frac{\|u\|_2}{\sqrt d}\mathrm{sign}(u)`
(:func:`~boundlab.algorithms.compressors.scaled_sign`) and errors starting at
:math:`\delta^{(i)}_{T_w-1} = \bar\delta_{T_w-1} = 0` unless given.
``local_momentum=True`` is the variant where each worker keeps its own
uncompressed momentum, :math:`u_t^{(i)} = \beta_1 u_{t-1}^{(i)} +
(1-\beta_1) g_t^{(i)}` (not the paper's algorithm; see below).

**Identities** (derived here [D], checked numerically by
:func:`telescoping_residuals` and :func:`virtual_sequence`).

* Telescoping: summing the error updates, for every :math:`t \ge T_w`,
  :math:`\sum_{s \le t} c_s^{(i)} + \delta_t^{(i)} = \sum_{s \le t} u_s^{(i)}
  + \delta_{T_w-1}^{(i)}` at each worker and :math:`\sum_{s\le t}\bar m_s +
  \bar\delta_t = \sum_{s\le t} a_s + \bar\delta_{T_w-1}` at the server, for
  any compressor.
* Virtual sequence. With :math:`E_t = \frac1n\sum_i \delta_t^{(i)} +
  \bar\delta_t` the two identities give :math:`\bar m_t = \beta_1 \bar
  m_{t-1} + (1-\beta_1)\bar g_t + E_{t-1} - E_t`. Let :math:`M_t = \beta_1
  M_{t-1} + (1-\beta_1)\bar g_t`, :math:`M_{T_w-1} = m_{T_w-1}`, be the
  *uncompressed* momentum of the same gradients and :math:`D_t = \bar m_t -
  M_t` (so :math:`D_t = \beta_1 D_{t-1} + E_{t-1} - E_t`, :math:`D_{T_w-1} =
  0`). Then

  .. math::
     \tilde x_t = x_t - \frac{\gamma}{1-\beta_1} P\,\big(E_{t-1} + \beta_1
     D_{t-1}\big) \quad\Longrightarrow\quad \tilde x_{t+1} = \tilde x_t -
     \gamma P M_t ,

  exactly: the virtual sequence is momentum SGD preconditioned by the
  frozen :math:`P`, driven by the gradients taken at :math:`x_t`.
  Equivalently :math:`y_t = x_t - \frac{\gamma}{1-\beta_1}P(\beta_1\bar
  m_{t-1} + E_{t-1})` follows preconditioned SGD, :math:`y_{t+1} = y_t -
  \gamma P \bar g_t`. Because the paper's workers restart from the broadcast
  :math:`\bar m_{t-1}`, the compression error is filtered by the momentum:
  :math:`x_t - \tilde x_t` is *not* just :math:`\gamma P E_{t-1}`. With
  ``local_momentum=True`` it is: :math:`\bar m_t = M_t + E_{t-1} - E_t`, and
  :math:`\tilde x_t = x_t - \gamma P E_{t-1}` follows :math:`\tilde x_{t+1} =
  \tilde x_t - \gamma P M_t`.

What was read where.

* Paper, Algorithm 1 [R: recalled, consistent with the sources below; the
  PDF's text was not readable here]: warm-up of :math:`T_w` Adam steps, then
  :math:`v_{T_w}` frozen, worker momentum :math:`m_t^{(i)} = \beta_1 m_{t-1}
  + (1-\beta_1) g_t^{(i)}`, worker and server error compensation as above,
  :math:`m_t = \bar m_t` on every worker, :math:`x_{t+1} = x_t - \gamma\bar
  m_t/\sqrt{v_{T_w}}`.
* DeepSpeed blog post (authors' own), ``docs/_posts/2020-09-09-onebit-adam-
  blog-post.md`` [V]: the same equations with :math:`\epsilon` outside the
  square root, :math:`m_{t+1} = \hat m^{(ave)}_{t+1}` (workers restart from
  the broadcast momentum), warm-up 15-20% of the steps. (Its server-error
  line has a typo, :math:`\hat m^{(ave)}` for :math:`m^{(ave)}`.)
* DeepSpeed ``deepspeed/runtime/fp16/onebit/adam.py`` (``OnebitAdam``,
  microsoft/DeepSpeed@38327e0) [V]: warm-up ``exp_avg = b1 exp_avg + (1-b1)
  g``, ``exp_avg_sq = b2 exp_avg_sq + (1-b2) g^2`` on the all-reduced
  gradient, update ``exp_avg / (sqrt(exp_avg_sq) + eps)`` **without bias
  correction** in either stage (the ``bias_correction`` argument is read but
  unused); the variance stops updating once ``state['step'] >=
  freeze_step`` (its first call is a buffer-initialisation step that moves
  nothing, so ``freeze_step - 1`` Adam updates precede compression); in the
  compression stage ``exp_avg = b1 exp_avg + (1-b1) g_local`` and then
  ``exp_avg`` is *replaced* by the compressed all-reduce's result.
* DeepSpeed ``deepspeed/runtime/comm/nccl.py`` (``compressed_allreduce``)
  [V]: worker ``buffer_m += worker_error``; scale ``norm(buffer_m) /
  sqrt(numel)``; ``worker_error = buffer_m - scale * sign``; sign via
  ``sign(x) + 1 > 0``, so sign(0) = +1; the server sums the unpacked
  ``scale_j * sign_j / n``, adds ``server_error``, compresses the same way
  and keeps its error. Differences from this simulator: DeepSpeed pads the
  flattened tensor with zeros to a multiple of ``8 n`` (the padding enters
  ``numel`` and the norm's denominator), compresses each parameter tensor
  separately, and each of the n ranks is the server of one chunk of
  ``numel/n`` coordinates with its own scale. Here one flat vector, one
  server, no padding (the paper's form).

``bias_correction=True`` (default) makes the warm-up exactly ``optax.adam``
(the paper's "original Adam") and freezes the bias-corrected :math:`\hat
v_{T_w-1}`; the compression stage then uses the raw momentum as the paper
does (the factor :math:`1/(1-\beta_1^{T_w})` it drops is 1 to 5 digits after
50 steps at :math:`\beta_1 = 0.9`). ``bias_correction=False`` is DeepSpeed's
update.

References:
  Tang, Gan, Awan, Rajbhandari, Li, Lian, Liu, Zhang, He, "1-bit Adam:
  Communication Efficient Large-Scale Training with Adam's Convergence
  Speed", ICML 2021 (PMLR 139), arXiv 2102.02888 (v2 assumed: the version
  was not read), Algorithm 1.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from boundlab import _validation as v
from boundlab.algorithms.compressors import Compressor, scaled_sign
from boundlab.algorithms.run_loop import first_divergence, seed_keys
from boundlab.landscapes import Landscape

ERROR_FEEDBACK = ("both", "worker", "server", "none")
# On a CPU these small programs spend most of their time compiling: LLVM's
# cheapest level halves that and keeps IEEE semantics (no fast math).
_CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


@dataclasses.dataclass(frozen=True)
class CompressionTrace:
  """The compression phase, step by step (K = T - T_w steps; numpy arrays
  with a leading seed axis; ``n`` workers, ``d`` coordinates).

  Attributes:
    worker_input: :math:`u_t^{(i)}`, ``(S, K, n, d)``.
    worker_sent: :math:`c_t^{(i)}`, ``(S, K, n, d)``.
    worker_error: :math:`\\delta_t^{(i)}`, ``(S, K + 1, n, d)``; index 0 is
      the initial error.
    worker_sent_sum, worker_input_sum: running sums over the phase of
      ``worker_sent`` and ``worker_input`` (accumulated in the scan).
    worker_abs_sum: running sum of :math:`|c| + |u|` (the scale of the
      telescoping identity's rounding).
    server_input: :math:`a_t`, ``(S, K, d)``.
    server_sent: :math:`\\bar m_t`, ``(S, K, d)``.
    server_error: :math:`\\bar\\delta_t`, ``(S, K + 1, d)``.
    server_sent_sum, server_input_sum, server_abs_sum: as for the workers.
    exact_momentum: :math:`M_t`, the uncompressed momentum of the averaged
      gradients, ``(S, K + 1, d)``; index 0 is :math:`m_{T_w-1}`.
  """

  worker_input: np.ndarray
  worker_sent: np.ndarray
  worker_error: np.ndarray
  worker_sent_sum: np.ndarray
  worker_input_sum: np.ndarray
  worker_abs_sum: np.ndarray
  server_input: np.ndarray
  server_sent: np.ndarray
  server_error: np.ndarray
  server_sent_sum: np.ndarray
  server_input_sum: np.ndarray
  server_abs_sum: np.ndarray
  exact_momentum: np.ndarray


@dataclasses.dataclass(frozen=True)
class OneBitAdamRun:
  """A simulated run (numpy, leading seed axis S; T steps; flat params).

  Attributes:
    objective: :math:`f(x_t)`, ``(S, T + 1)``.
    batch_loss: the workers' mean minibatch loss at :math:`x_t`, ``(S, T)``.
    params: :math:`x_t` (raveled), ``(S, T + 1, d)``.
    mean_gradient: :math:`\\bar g_t`, ``(S, T, d)``.
    second_moment: the :math:`\\hat v` that step t's update divides by
      (frozen from step :math:`T_w` on), ``(S, T, d)``.
    preconditioner: the frozen :math:`1/(\\sqrt{v} + \\epsilon)`, ``(S,
      d)`` (for a run without compression phase: the last step's).
    diverged_at: first step t with a non-finite :math:`x_t` or
      :math:`f(x_t)`, else -1, ``(S,)``.
    compression: the compression phase's trace, or None (not recorded, or
      ``warmup_steps == num_steps``).
    warmup_steps: the run's :math:`T_w`.
    lr: its learning rate.
    beta1: its momentum parameter.
    beta2: its second-moment parameter.
    eps: its epsilon.
    bias_correction: whether the warm-up corrected the moments' bias.
    local_momentum: whether workers kept their own momentum.
    error_feedback: which errors were fed back.
  """

  objective: np.ndarray
  batch_loss: np.ndarray
  params: np.ndarray
  mean_gradient: np.ndarray
  second_moment: np.ndarray
  preconditioner: np.ndarray
  diverged_at: np.ndarray
  compression: CompressionTrace | None
  warmup_steps: int
  lr: float
  beta1: float
  beta2: float
  eps: float
  bias_correction: bool
  local_momentum: bool
  error_feedback: str


def _check_settings(num_workers, num_steps, warmup_steps, lr, beta1, beta2,
                    eps, batch_size, error_feedback):
  n = v.check_positive_int("num_workers", num_workers)
  steps = v.check_positive_int("num_steps", num_steps)
  warm = v.check_positive_int("warmup_steps", warmup_steps)
  if warm > steps:
    raise ValueError(f"warmup_steps must be in [1, num_steps = {steps}], got "
                     f"{warmup_steps}")
  lr = v.check_positive("lr", lr)
  b1 = v.check_in_range("beta1", beta1, 0.0, 1.0, closed="[)")
  b2 = v.check_in_range("beta2", beta2, 0.0, 1.0, closed="[)")
  eps = v.check_positive("eps", eps)
  if batch_size is not None:
    batch_size = v.check_positive_int("batch_size", batch_size)
  if error_feedback not in ERROR_FEEDBACK:
    raise ValueError(f"error_feedback must be one of {ERROR_FEEDBACK}, got "
                     f"{error_feedback!r}")
  return n, steps, warm, lr, b1, b2, eps, batch_size


def _worker_gradients(loss_fn, sample, perturb_batch, unravel, n,
                      batch_size):
  """``grads(x, step_key, shards) -> ((n, d) gradients, mean batch loss)``."""

  def batch_loss(x, batch):
    losses = jax.vmap(loss_fn, in_axes=(None, 0))(unravel(x), batch)
    return jnp.mean(losses)

  def one_worker(x, key, shard):
    sample_key, noise_key = jax.random.split(key)
    batch = shard if batch_size is None else sample(sample_key, batch_size)
    if perturb_batch is not None:
      batch = perturb_batch(noise_key, batch)
    loss, grad = jax.value_and_grad(batch_loss)(x, batch)
    return grad, loss

  def grads(x, step_key, shards):
    keys = jax.vmap(lambda i: jax.random.fold_in(step_key, i))(jnp.arange(n))
    shard_axis = None if shards is None else 0
    g, losses = jax.vmap(one_worker, in_axes=(None, 0, shard_axis))(
        x, keys, shards)
    return g, jnp.mean(losses)

  return grads


def _shards(landscape, n):
  if landscape.data is None:
    raise ValueError("batch_size=None (each worker's full shard) needs a "
                     "finite-sum landscape with data; give batch_size for a "
                     "stochastic landscape")
  size = int(np.shape(jax.tree.leaves(landscape.data)[0])[0])
  if size % n:
    raise ValueError(f"num_workers must divide the number of examples "
                     f"({size}) when batch_size=None, got {n}")
  return jax.tree.map(lambda a: jnp.reshape(a, (n, size // n) + a.shape[1:]),
                      landscape.data)


@functools.lru_cache(maxsize=8)
def _default_compressor(dim: int) -> Compressor:
  """One scaled sign per dimension, so that compiled programs are reused."""
  return scaled_sign(dim)


def simulate_onebit_adam(
    landscape: Landscape, *, num_workers: int, num_steps: int,
    warmup_steps: int, lr: float, batch_size: int | None = None,
    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
    bias_correction: bool = True, local_momentum: bool = False,
    error_feedback: str = "both", compressor: Compressor | None = None,
    seeds: Sequence[int] = (0,), params=None, initial_worker_error=None,
    initial_server_error=None, record_compression: bool = True
) -> OneBitAdamRun:
  r"""Runs 1-bit Adam (module docstring) for every seed, vmapped.

  Each worker draws its own minibatch of ``batch_size`` examples per step
  (``landscape.sample`` with its own key; ``landscape.perturb_batch`` applies
  if set), or, with ``batch_size=None``, takes the full gradient of its
  contiguous shard of a finite sum's data (deterministic). Non-finite values
  do not stop the run: ``diverged_at`` records the first one. One compiled
  program serves every ``warmup_steps``, ``lr``, ``beta1``, ``beta2``,
  ``eps``, seed list and initial error of the same landscape and sizes.

  Args:
    landscape: the problem; its parameters are raveled into one flat vector
      (one compressor scale for all of them).
    num_workers: n >= 1.
    num_steps: T >= 1 steps in all.
    warmup_steps: :math:`T_w` in [1, T] uncompressed Adam steps
      (``warmup_steps == num_steps`` is plain Adam: :func:`run_adam`).
    lr: :math:`\gamma > 0`.
    batch_size: examples per worker per step, or None (full shards).
    beta1: in [0, 1).
    beta2: in [0, 1).
    eps: :math:`\epsilon > 0`, added to :math:`\sqrt v`.
    bias_correction: warm-up is ``optax.adam`` and the frozen variance is
      :math:`\hat v`; False: DeepSpeed's uncorrected update.
    local_momentum: workers keep their own momentum (a variant; the paper's
      workers restart from the broadcast one).
    error_feedback: which errors are fed back: ``"both"`` (the paper),
      ``"worker"``, ``"server"`` or ``"none"``; an error that is not fed back
      is still recorded as :math:`\text{input} - \text{sent}` (ablations,
      and the planted bugs of the tests).
    compressor: default ``scaled_sign(d)``.
    seeds: integer seeds (>= 0); one run each.
    params: starting point (a pytree like the landscape's), default
      ``landscape.init`` of each seed's key.
    initial_worker_error: :math:`\delta^{(i)}_{T_w-1}`, ``(n, d)``, default 0.
    initial_server_error: :math:`\bar\delta_{T_w-1}`, ``(d,)``, default 0.
    record_compression: keep the compression phase's trace (memory ``S T n
      d`` while it runs).
  """
  n, steps, warm, lr, b1, b2, eps, batch_size = _check_settings(
      num_workers, num_steps, warmup_steps, lr, beta1, beta2, eps, batch_size,
      error_feedback)
  v.check_instance("landscape", landscape, Landscape, "a Landscape")
  keys = seed_keys(seeds)
  template = landscape.init(jax.random.key(0)) if params is None else params
  flat0, unravel = ravel_pytree(template)
  d = flat0.shape[0]
  compressor = _default_compressor(d) if compressor is None else compressor
  v.check_instance("compressor", compressor, Compressor, "a Compressor")
  if compressor.dim != d:
    raise ValueError(f"compressor.dim must equal the number of parameters "
                     f"({d}), got {compressor.dim}")
  dtype = flat0.dtype
  worker_error0 = _initial_error("initial_worker_error", initial_worker_error,
                                 (n, d), dtype)
  server_error0 = _initial_error("initial_server_error", initial_server_error,
                                 (d,), dtype)
  shards = None if batch_size is not None else _shards(landscape, n)
  if params is None:
    init_keys = jax.vmap(lambda k: jax.random.split(k)[0])(keys)
    x0 = jnp.stack([ravel_pytree(landscape.init(k))[0] for k in init_keys])
  else:
    x0 = jnp.broadcast_to(flat0[None, :], (len(seeds), d))
  structure = (jax.tree.structure(template),
               tuple((np.shape(a), np.dtype(a.dtype).name)
                     for a in jax.tree.leaves(template)))
  program = _compiled(
      landscape.loss, landscape.sample, landscape.objective,
      landscape.perturb_batch, structure, compressor.compress, n, steps,
      batch_size, bool(bias_correction), bool(local_momentum),
      error_feedback, bool(record_compression and warm < steps))
  hyper = jnp.asarray([lr, b1, b2, eps], dtype)
  outputs = jax.device_get(program(
      keys, jnp.asarray(x0, dtype), shards, worker_error0, server_error0,
      jnp.asarray(warm), hyper))
  x_last, last_obj, precond, out = outputs
  trace = out.pop("trace", None)
  objective_t = np.concatenate([out["objective"], last_obj[:, None]], axis=1)
  params_t = np.concatenate([out["params"], x_last[:, None, :]], axis=1)
  finite = np.isfinite(objective_t) & np.all(np.isfinite(params_t), axis=-1)
  diverged = first_divergence(
      np.where(finite, -1, np.arange(steps + 1)[None, :]), axis=1)
  compression = None
  if trace is not None:
    # Steps before T_w carry the initial errors and m_{T_w - 1} (and zero
    # sums): step T_w - 1's entry is the phase's initial state.
    with_initial = ("worker_error", "server_error", "exact_momentum")
    compression = CompressionTrace(**{
        k: np.asarray(a[:, warm - 1:] if k in with_initial else a[:, warm:])
        for k, a in trace.items()})
  return OneBitAdamRun(
      objective=objective_t, batch_loss=np.asarray(out["batch_loss"]),
      params=params_t, mean_gradient=np.asarray(out["mean_gradient"]),
      second_moment=np.asarray(out["second_moment"]),
      preconditioner=np.asarray(precond), diverged_at=np.asarray(diverged),
      compression=compression, warmup_steps=warm, lr=lr, beta1=b1, beta2=b2,
      eps=eps, bias_correction=bool(bias_correction),
      local_momentum=bool(local_momentum), error_feedback=error_feedback)


@functools.lru_cache(maxsize=32)
def _compiled(loss_fn, sample, objective_fn, perturb_batch, structure,
              compress, n, steps, batch_size, bias_correction,
              local_momentum, error_feedback, record):
  """The jitted program of :func:`simulate_onebit_adam` for static settings;
  warm-up length, hyperparameters, keys, starts and errors are arguments.

  One scan over the T steps; ``lax.cond`` on ``t < warmup`` (not batched:
  it runs one branch) picks the Adam step or the compressed step. Warm-up
  steps keep the compression state at its initial value, with the
  broadcast momentum, the exact momentum and the preconditioner following
  Adam's, so the first compressed step starts from step T_w - 1's.
  """
  treedef, leaves = structure
  template = jax.tree.unflatten(
      treedef, [np.zeros(shape, dtype) for shape, dtype in leaves])
  _, unravel = ravel_pytree(template)
  grads = _worker_gradients(loss_fn, sample, perturb_batch, unravel, n,
                            batch_size)
  objective = lambda x: objective_fn(unravel(x))
  worker_fb = error_feedback in ("both", "worker")
  server_fb = error_feedback in ("both", "server")
  compress_all = jax.vmap(compress)

  def one_seed(key, x0, shards, worker_error0, server_error0, warm, hyper):
    lr, b1, b2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
    adam = optax.adam(lr, b1=b1, b2=b2, eps=eps)
    d = x0.shape[0]
    zeros, wz = jnp.zeros_like(x0), jnp.zeros((n, d), x0.dtype)

    def warm_step(carry, t, g, gbar):
      del g
      x, state, m, vv = carry["x"], carry["adam"], carry["m"], carry["v"]
      if bias_correction:
        updates, state = adam.update(gbar, state, x)
        x_new = optax.apply_updates(x, updates)
        m = optax.tree_utils.tree_get(state, "mu")
        vv = optax.tree_utils.tree_get(state, "nu") / (1 - b2 ** (t + 1))
      else:
        m = b1 * m + (1 - b1) * gbar
        vv = b2 * vv + (1 - b2) * gbar**2
        x_new = x - lr * m / (jnp.sqrt(vv) + eps)
      new = dict(carry, x=x_new, adam=state, m=m, v=vv, mbar=m,
                 local=jnp.broadcast_to(m[None, :], (n, d)), exact=m,
                 precond=1.0 / (jnp.sqrt(vv) + eps))
      trace = {"worker_input": wz, "worker_sent": wz,
               "worker_error": carry["delta"], "worker_sent_sum": wz,
               "worker_input_sum": wz, "worker_abs_sum": wz,
               "server_input": zeros, "server_sent": zeros,
               "server_error": carry["sdelta"], "server_sent_sum": zeros,
               "server_input_sum": zeros, "server_abs_sum": zeros,
               "exact_momentum": m}
      return new, trace, vv

    def compressed_step(carry, t, g, gbar):
      step_key = jax.random.fold_in(data_key, t)
      previous = carry["local"] if local_momentum else jnp.broadcast_to(
          carry["mbar"][None, :], (n, d))
      u = b1 * previous + (1 - b1) * g
      w_in = u + carry["delta"] if worker_fb else u
      ckeys = jax.vmap(lambda i: jax.random.fold_in(step_key, n + i))(
          jnp.arange(n))
      c = compress_all(ckeys, w_in)
      delta = w_in - c
      a = jnp.mean(c, axis=0)
      s_in = a + carry["sdelta"] if server_fb else a
      mbar = compress(jax.random.fold_in(step_key, 2 * n), s_in)
      sdelta = s_in - mbar
      exact = b1 * carry["exact"] + (1 - b1) * gbar
      ws, ss = carry["wsums"], carry["ssums"]
      ws = (ws[0] + c, ws[1] + u, ws[2] + (jnp.abs(c) + jnp.abs(u)))
      ss = (ss[0] + mbar, ss[1] + a, ss[2] + (jnp.abs(mbar) + jnp.abs(a)))
      new = dict(carry, x=carry["x"] - lr * (carry["precond"] * mbar),
                 mbar=mbar, local=u, delta=delta, sdelta=sdelta, exact=exact,
                 wsums=ws, ssums=ss)
      trace = {"worker_input": u, "worker_sent": c, "worker_error": delta,
               "worker_sent_sum": ws[0], "worker_input_sum": ws[1],
               "worker_abs_sum": ws[2], "server_input": a,
               "server_sent": mbar, "server_error": sdelta,
               "server_sent_sum": ss[0], "server_input_sum": ss[1],
               "server_abs_sum": ss[2], "exact_momentum": exact}
      return new, trace, carry["v"]

    data_key = jax.random.split(key)[1]

    def body(carry, t):
      x = carry["x"]
      g, loss = grads(x, jax.random.fold_in(data_key, t), shards)
      gbar = jnp.mean(g, axis=0)
      new, trace, vv = jax.lax.cond(t < warm, warm_step, compressed_step,
                                    carry, t, g, gbar)
      out = {"objective": objective(x), "batch_loss": loss, "params": x,
             "mean_gradient": gbar, "second_moment": vv}
      if record:
        out["trace"] = trace
      return new, out

    carry0 = {"x": x0, "adam": adam.init(x0), "m": zeros, "v": zeros,
              "mbar": zeros, "local": wz, "exact": zeros,
              "precond": jnp.ones_like(x0) / eps, "delta": worker_error0,
              "sdelta": server_error0, "wsums": (wz, wz, wz),
              "ssums": (zeros, zeros, zeros)}
    carry, out = jax.lax.scan(body, carry0, jnp.arange(steps))
    return carry["x"], objective(carry["x"]), carry["precond"], out

  options = _CPU_COMPILER_OPTIONS if jax.default_backend() == "cpu" else None

  @functools.partial(jax.jit, compiler_options=options)
  def program(keys, x0, shards, worker_error0, server_error0, warm, hyper):
    return jax.vmap(one_seed, in_axes=(0, 0, None, None, None, None, None))(
        keys, x0, shards, worker_error0, server_error0, warm, hyper)

  return program


def run_adam(landscape: Landscape, *, num_workers: int, num_steps: int,
             lr: float, batch_size: int | None = None, beta1: float = 0.9,
             beta2: float = 0.999, eps: float = 1e-8,
             bias_correction: bool = True, seeds: Sequence[int] = (0,),
             params=None) -> OneBitAdamRun:
  """The uncompressed baseline: Adam on the n workers' averaged gradients
  for every step (``optax.adam`` when ``bias_correction``, else DeepSpeed's
  uncorrected update), with the same minibatches as
  :func:`simulate_onebit_adam` at the same seeds (the same per-step,
  per-worker keys), so that the two runs are paired."""
  return simulate_onebit_adam(
      landscape, num_workers=num_workers, num_steps=num_steps,
      warmup_steps=num_steps, lr=lr, batch_size=batch_size, beta1=beta1,
      beta2=beta2, eps=eps, bias_correction=bias_correction, seeds=seeds,
      params=params, record_compression=False)


def _initial_error(name, value, shape, dtype):
  if value is None:
    return jnp.zeros(shape, dtype)
  array = v.check_finite_array(name, value)
  if array.shape != shape:
    raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
  return jnp.asarray(array, dtype)


def _trace(run: OneBitAdamRun) -> CompressionTrace:
  if run.compression is None:
    raise ValueError("run has no compression trace: simulate with "
                     "warmup_steps < num_steps and record_compression=True")
  return run.compression


def _relative(residual, scale):
  """|residual| / scale elementwise; 0/0 reads 0, x/0 reads inf."""
  residual = np.abs(residual)
  with np.errstate(divide="ignore", invalid="ignore"):
    ratio = np.where(scale > 0, residual / np.where(scale > 0, scale, 1.0),
                     np.where(residual > 0, np.inf, 0.0))
  return ratio


def telescoping_residuals(run: OneBitAdamRun) -> dict[str, np.ndarray]:
  r"""Relative residuals of the telescoping identities, per compression step.

  Worker i at step t: :math:`|\sum_{s\le t} c_s + \delta_t - \sum_{s \le t}
  u_s - \delta_{T_w-1}|`, divided coordinatewise by :math:`\sum_{s\le
  t}(|c_s| + |u_s|) + |\delta_{T_w-1}|`; the maximum over workers and
  coordinates. The server's likewise with :math:`\bar m, a, \bar\delta`. In
  exact arithmetic both are 0 for any compressor; recursive summation of the
  2K + 1 terms of :math:`\delta_t`, and of the K terms of each running sum,
  bounds the float residual by about :math:`(4K + 4)\,u` (Higham, Accuracy
  and Stability of Numerical Algorithms, 2nd ed., SIAM 2002, Section 4.2),
  with :math:`u` the unit roundoff.

  Returns:
    ``{"worker": (S, K), "server": (S, K)}`` (float64).
  """
  tr = _trace(run)
  f64 = lambda a: np.asarray(a, dtype=np.float64)
  w_err, s_err = f64(tr.worker_error), f64(tr.server_error)
  worker = _relative(
      f64(tr.worker_sent_sum) + w_err[:, 1:] - f64(tr.worker_input_sum)
      - w_err[:, :1],
      f64(tr.worker_abs_sum) + np.abs(w_err[:, :1]))
  server = _relative(
      f64(tr.server_sent_sum) + s_err[:, 1:] - f64(tr.server_input_sum)
      - s_err[:, :1],
      f64(tr.server_abs_sum) + np.abs(s_err[:, :1]))
  return {"worker": worker.max(axis=(2, 3)), "server": server.max(axis=2)}


def virtual_sequence(run: OneBitAdamRun) -> tuple[np.ndarray, np.ndarray]:
  r"""The virtual sequence :math:`\tilde x_t` and its identity's residual.

  :math:`\tilde x_t = x_t - \frac{\gamma}{1-\beta_1}P(E_{t-1} + \beta_1
  D_{t-1})` (``local_momentum``: :math:`x_t - \gamma P E_{t-1}`) for
  :math:`t = T_w, \dots, T` (module docstring), and the residual
  :math:`r_t = \tilde x_{t+1} - \tilde x_t + \gamma P M_t` of "momentum SGD
  preconditioned by the frozen P", coordinatewise relative to the scale of
  the float quantities it is computed from,

  .. math::
     |x_t| + |x_{t+1}| + \frac{\gamma P}{1-\beta_1}\Big(\sum_{s\in\{t-1,t\}}
     \big(|E_s| + |\bar m_s| + |M_s| + \overline{|\delta_s|} +
     |\bar\delta_s|\big) + |\bar g_t| + \overline{|u_t|} +
     \overline{|c_t|} + |a_t|\Big)

  (bars over absolute values: means over workers), maximised over
  coordinates. In exact arithmetic :math:`r_t = 0`; in floating point a few
  dozen roundings, each at most the unit roundoff times a term of that
  scale, enter it.

  Returns:
    ``(virtual (S, K + 1, d), relative residual (S, K))``, float64.
  """
  tr = _trace(run)
  f64 = lambda a: np.asarray(a, dtype=np.float64)
  k = tr.server_sent.shape[1]
  w = run.warmup_steps
  x = f64(run.params)[:, w:w + k + 1]                        # x_Tw .. x_T
  p = f64(run.preconditioner)[:, None, :]
  b1, gamma = run.beta1, run.lr
  errors = f64(tr.worker_error).mean(axis=2) + f64(tr.server_error)  # E
  big_m = f64(tr.exact_momentum)                             # M_{Tw-1}..
  mbar = np.concatenate([big_m[:, :1], f64(tr.server_sent)], axis=1)
  if run.local_momentum:
    shift = errors
  else:
    shift = (errors + b1 * (mbar - big_m)) / (1 - b1)
  virtual = x - gamma * p * shift
  residual = virtual[:, 1:] - virtual[:, :-1] + gamma * p * big_m[:, 1:]
  pair = lambda a: np.abs(a[:, :-1]) + np.abs(a[:, 1:])
  scale = (np.abs(x[:, :-1]) + np.abs(x[:, 1:]) + gamma * p / (1 - b1) * (
      pair(errors) + pair(mbar) + pair(big_m)
      + pair(np.abs(f64(tr.worker_error)).mean(axis=2))
      + pair(f64(tr.server_error))
      + np.abs(f64(run.mean_gradient)[:, w:w + k])
      + np.abs(f64(tr.worker_input)).mean(axis=2)
      + np.abs(f64(tr.worker_sent)).mean(axis=2)
      + np.abs(f64(tr.server_input))))
  return virtual, _relative(residual, scale).max(axis=2)
