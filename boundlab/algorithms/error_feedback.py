r"""EF21 and EF21-W: error feedback for contractive compressors, simulated.

EF21 (Richtarik, Sokolov & Fatkhullin, 2021). Each client i keeps an estimate
:math:`g_i^t` of its gradient; the server keeps their mean :math:`g^t`:

.. math::
   x^{t+1} &= x^t - \gamma g^t, \\
   c_i^t &= \mathcal C\big(\nabla f_i(x^{t+1}) - g_i^t\big), \quad
   g_i^{t+1} = g_i^t + c_i^t, \\
   g^{t+1} &= g^t + \tfrac1n \textstyle\sum_i c_i^t .

Only :math:`c_i^t` is sent. EF21-W (Error Feedback Reloaded, 2024) weighs
client i by :math:`w_i = L_i/\sum_j L_j`:

.. math::
   c_i^t = \mathcal C\Big(\frac{\nabla f_i(x^{t+1})}{n w_i} - g_i^t\Big),
   \quad g_i^{t+1} = g_i^t + c_i^t, \quad
   g^{t+1} = \textstyle\sum_i w_i g_i^{t+1}.

With uniform weights :math:`w_i = 1/n` EF21-W is EF21, so one step function
does both. For a positively homogeneous compressor (Top-K) the two produce
the same iterates: :math:`h_i = n w_i g_i^{W}` follows EF21's recursion.
Runs report :math:`h_i` (the client's estimate of :math:`\nabla f_i`, in
the gradient's own scale) for both methods, and from it :math:`G^t =
\frac1n\sum_i\|h_i^t - \nabla f_i(x^t)\|^2` and the weighted
:math:`G_W^t` (:mod:`boundlab.theory.error_feedback`).

The server's step is an optax transformation of :math:`g^t` (default
``optax.sgd(step_size)``, the method as analysed). Clients are a leading
axis under ``jax.vmap``.

References:
  Richtarik, Sokolov & Fatkhullin, "EF21: a new, simpler, theoretically
  better, and practically faster error feedback", NeurIPS 2021, arXiv
  2106.05203, Algorithm 1.
  Richtarik, Gasanov & Burlachenko, "Error Feedback Reloaded: from quadratic
  to arithmetic mean of smoothness constants", ICLR 2024, arXiv 2402.10774,
  Algorithm 2 (EF21-W) and Section 2.4 (equivalence for homogeneous
  compressors).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from boundlab import _validation as v
from boundlab.algorithms.compressors import Compressor
from boundlab.algorithms.run_loop import first_nonfinite
from boundlab.landscapes.distributed import DistributedFiniteSum

INITIAL_ESTIMATES = ("compressed", "exact", "zero")


class EF21State(NamedTuple):
  """``params`` :math:`x^t`; ``estimates`` the clients' :math:`g_i^t` as
  the method stores them (shape ``(n, d)``); ``server_estimate``
  :math:`g^t`; ``server_state`` the server optimizer's state."""
  params: jax.Array
  estimates: jax.Array
  server_estimate: jax.Array
  server_state: Any


def client_weights(problem: DistributedFiniteSum,
                   weighted: bool) -> jax.Array:
  """EF21's uniform :math:`1/n`, or EF21-W's :math:`L_i/\\sum_j L_j`."""
  smooth = np.asarray(problem.constants["client_smoothness"], dtype=float)
  return jnp.asarray(smooth / smooth.sum() if weighted
                     else np.full(smooth.shape, 1.0 / smooth.shape[0]))


def _compress_all(compressor, key, vectors):
  keys = jax.random.split(key, vectors.shape[0])
  return jax.vmap(compressor.compress)(keys, vectors)


def _check_round_arguments(problem, compressor, optimizer, weights, key):
  """Kinds of the arguments of one EF21 round, and concrete weights as a
  positive probability vector over the clients (traced ones unchanged)."""
  v.check_instance("problem", problem, DistributedFiniteSum,
                   "a DistributedFiniteSum")
  v.check_instance("compressor", compressor, Compressor, "a Compressor")
  v.check_instance("optimizer", optimizer, optax.GradientTransformation,
                   "an optax GradientTransformation")
  v.check_key("key", key, default_seed=None)
  if v.is_traced(weights):
    return weights
  w = v.check_finite_array("weights", weights, ndim=1)
  n = problem.num_clients
  if w.shape != (n,) or np.any(w <= 0) or not np.isclose(w.sum(), 1.0):
    raise ValueError(f"weights must be {n} positive numbers summing to 1 "
                     f"(one per client), got {weights!r}"[:200])
  return jnp.asarray(w)


def ef21_init(problem: DistributedFiniteSum, compressor: Compressor,
              optimizer: optax.GradientTransformation, params, key, weights,
              initial_estimates: str = "compressed", data=None) -> EF21State:
  r"""The state at :math:`x^0`: :math:`g_i^0 = \mathcal C(\nabla
  f_i(x^0)/(n w_i))` (``"compressed"``, as in EF21's experiments), the exact
  scaled gradients (``"exact"``: :math:`G^0 = 0`), or zero."""
  if initial_estimates not in INITIAL_ESTIMATES:
    raise ValueError(f"initial_estimates must be one of {INITIAL_ESTIMATES}, "
                     f"got {initial_estimates!r}")
  weights = _check_round_arguments(problem, compressor, optimizer, weights,
                                   key)
  n = weights.shape[0]
  scaled = problem.client_gradients(params, data) / (n * weights)[:, None]
  if initial_estimates == "compressed":
    estimates = _compress_all(compressor, key, scaled)
  elif initial_estimates == "exact":
    estimates = scaled
  else:
    estimates = jnp.zeros_like(scaled)
  return EF21State(params=params, estimates=estimates,
                   server_estimate=jnp.matmul(weights, estimates,
                                              precision="highest"),
                   server_state=optimizer.init(params))


def ef21_step(problem: DistributedFiniteSum, compressor: Compressor,
              optimizer: optax.GradientTransformation, weights,
              state: EF21State, key, data=None):
  """One round; returns the new state and :math:`(\\nabla f_i(x^{t+1}))_i`."""
  weights = _check_round_arguments(problem, compressor, optimizer, weights,
                                   key)
  v.check_instance("state", state, EF21State, "an EF21State (from ef21_init)")
  n = weights.shape[0]
  updates, server_state = optimizer.update(state.server_estimate,
                                           state.server_state, state.params)
  params = optax.apply_updates(state.params, updates)
  gradients = problem.client_gradients(params, data)
  messages = _compress_all(compressor, key,
                           gradients / (n * weights)[:, None] - state.estimates)
  return EF21State(params=params, estimates=state.estimates + messages,
                   server_estimate=state.server_estimate + jnp.matmul(
                       weights, messages, precision="highest"),
                   server_state=server_state), gradients


@dataclasses.dataclass(frozen=True)
class EF21Run:
  """One EF21 run; arrays over steps t = 0..T (float64 numpy).

  Attributes:
    objective: :math:`f(x^t)`.
    grad_norm_sq: :math:`\\|\\nabla f(x^t)\\|^2`.
    estimate_error: :math:`G^t = \\frac1n\\sum_i\\|h_i^t - \\nabla
      f_i(x^t)\\|^2` with :math:`h_i = n w_i g_i` (EF21: :math:`h_i = g_i`).
    weighted_estimate_error: :math:`G_W^t`, the same with weights
      :math:`L_{AM}/L_i`.
    iterates: :math:`x^t` (``(T + 1, d)``) if recorded, else None.
    diverged_at: first step with a non-finite value, or -1.
  """

  objective: np.ndarray
  grad_norm_sq: np.ndarray
  estimate_error: np.ndarray
  weighted_estimate_error: np.ndarray
  iterates: np.ndarray | None
  diverged_at: int


def run_ef21(problem: DistributedFiniteSum, compressor: Compressor,
             step_size: float, num_steps: int, *, weighted: bool = False,
             initial_estimates: str = "compressed", params=None,
             key: jax.Array | None = None,
             server_optimizer: optax.GradientTransformation | None = None,
             record_iterates: bool = False) -> EF21Run:
  r"""Runs EF21 (``weighted=False``) or EF21-W (``weighted=True``).

  Args:
    problem: the clients' problem.
    compressor: a compressor of ``problem.dim``-vectors.
    step_size: :math:`\gamma > 0` of the default server step.
    num_steps: T >= 1 rounds.
    weighted: EF21-W's weights :math:`L_i/\sum_j L_j` instead of :math:`1/n`.
    initial_estimates: ``"compressed"``, ``"exact"`` or ``"zero"`` (see
      :func:`ef21_init`).
    params: :math:`x^0` (default ``problem.initial_point``).
    key: PRNG key of randomized compressors (default ``key(0)``).
    server_optimizer: replaces ``optax.sgd(step_size)`` (``step_size`` is
      then only validated; the theorems assume the plain step).
    record_iterates: keep every :math:`x^t`.
  """
  v.check_instance("problem", problem, DistributedFiniteSum,
                   "a DistributedFiniteSum")
  v.check_instance("compressor", compressor, Compressor, "a Compressor")
  if server_optimizer is not None:
    v.check_instance("server_optimizer", server_optimizer,
                     optax.GradientTransformation,
                     "an optax GradientTransformation")
  gamma = v.check_positive("step_size", step_size)
  steps = v.check_positive_int("num_steps", num_steps)
  if initial_estimates not in INITIAL_ESTIMATES:
    raise ValueError(f"initial_estimates must be one of {INITIAL_ESTIMATES}, "
                     f"got {initial_estimates!r}")
  if compressor.dim != problem.dim:
    raise ValueError(f"compressor.dim must equal problem.dim = {problem.dim}, "
                     f"got {compressor.dim}")
  weights = client_weights(problem, weighted)
  smooth = jnp.asarray(problem.constants["client_smoothness"])
  x0 = jnp.asarray(problem.initial_point if params is None else params)
  if x0.shape != (problem.dim,):
    raise ValueError(f"params must have shape ({problem.dim},), got "
                     f"{x0.shape}")
  key = v.check_key("key", key)
  # The default server step is optax.sgd with the step size an argument of
  # the compiled program, so that one compilation serves every step size and
  # every instance of the same shape.
  program = _compiled_run(problem.client_loss, compressor, server_optimizer,
                          steps, initial_estimates, record_iterates)
  metrics = program(problem.data, x0, weights, smooth, jnp.asarray(gamma),
                    key)
  metrics = jax.tree.map(np.asarray, metrics)
  diverged = first_nonfinite(metrics["objective"], metrics["grad_norm_sq"])
  return EF21Run(objective=metrics["objective"],
                 grad_norm_sq=metrics["grad_norm_sq"],
                 estimate_error=metrics["estimate_error"],
                 weighted_estimate_error=metrics["weighted_estimate_error"],
                 iterates=metrics.get("iterates"), diverged_at=diverged)


@functools.lru_cache(maxsize=64)
def _compiled_run(client_loss, compressor, server_optimizer, steps,
                  initial_estimates, record_iterates):
  """One compiled program: data, x^0, weights, step size and keys are its
  arguments."""
  # Only client_loss is read from the problem here; data come as arguments.
  problem = DistributedFiniteSum(name="program", client_loss=client_loss,
                                 data=None, initial_point=np.zeros(0),
                                 constants={})

  def measure(state, gradients, data, weights, smooth):
    scale = weights.shape[0] * weights
    squares = jnp.sum((scale[:, None] * state.estimates - gradients)**2, -1)
    out = {"objective": problem.objective(state.params, data),
           "grad_norm_sq": jnp.sum(jnp.mean(gradients, 0)**2),
           "estimate_error": jnp.mean(squares),
           "weighted_estimate_error": jnp.mean(squares * jnp.mean(smooth)
                                               / smooth)}
    if record_iterates:
      out["iterates"] = state.params
    return out

  @jax.jit
  def program(data, x0, weights, smooth, step_size, key):
    optimizer = server_optimizer or optax.sgd(step_size)
    init_key, key = jax.random.split(key)
    state = ef21_init(problem, compressor, optimizer, x0, init_key, weights,
                      initial_estimates, data)
    gradients = problem.client_gradients(x0, data)

    def body(carry, step_key):
      state, gradients = carry
      out = measure(state, gradients, data, weights, smooth)
      state, gradients = ef21_step(problem, compressor, optimizer, weights,
                                   state, step_key, data)
      return (state, gradients), out

    (state, gradients), trace = jax.lax.scan(
        body, (state, gradients), jax.random.split(key, steps))
    last = measure(state, gradients, data, weights, smooth)
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), trace,
                        last)

  return program
