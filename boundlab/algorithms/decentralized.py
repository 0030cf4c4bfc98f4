r"""Decentralized SGD with gossip, a final global merge, and its server twin.

D-SGD (local step, then gossip) on a distributed finite sum with a symmetric
doubly stochastic mixing matrix W:

.. math:: x_i^{t+1} = \sum_j (W_t)_{ij}\big(x_j^t - \eta\,(\nabla f_j(x_j^t)
   + \sigma\xi_j^t)\big), \qquad W_t = W \text{ on gossip rounds, } I
   \text{ otherwise},

and the merged model :math:`\bar x^t = \frac1n\sum_i x_i^t` (one global
average, at the end or at any step). Its twin, *parallel SGD* (a server with
minibatch n), uses the same noise draws :math:`\xi_j^t`:

.. math:: y^{t+1} = y^t - \eta\,\frac1n\sum_j\big(\nabla f_j(y^t) +
   \sigma\xi_j^t\big).

Because W is doubly stochastic, :math:`\bar x^{t+1} = \bar x^t - \eta\frac1n
\sum_j(\nabla f_j(x_j^t) + \sigma\xi_j^t)`: with one Hessian shared by every
client the gradients average to :math:`\nabla f(\bar x^t)`, and the merged
trajectory *is* parallel SGD's, pathwise, whatever W and the gossip schedule
[D]. With client-specific Hessians it is not, and the gap measures what
limited communication costs. Clients are a leading axis under ``vmap``;
a gossip round is a dense ``(n, n)`` matrix product, or, for sparse W
(a ring, a torus, a sparse random graph), a gather over padded neighbour
lists (:func:`~boundlab.theory.graphs.neighbour_lists`, O(n k d) for rows
with at most k non-zeros); the two agree to rounding.

References:
  Lian, Zhang, Zhang, Hsieh, Zhang & Liu, "Can decentralized algorithms
  outperform centralized algorithms?", NeurIPS 2017, arXiv 1705.09056
  (D-SGD).
  Zhu, Zhang, Wang, Zhou & Wang, "On the Surprising Effectiveness of a
  Single Global Merging in Decentralized Learning", ICLR 2026, arXiv
  2507.06542 (v4).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.algorithms.run_loop import first_nonfinite
from boundlab.landscapes.distributed import DistributedFiniteSum
from boundlab.theory.graphs import check_mixing_matrix, padded_rows


@dataclasses.dataclass(frozen=True)
class DSGDRun:
  """Arrays over steps t = 0..T (float numpy).

  Attributes:
    merged_objective: :math:`f(\\bar x^t)`.
    parallel_objective: :math:`f(y^t)` of parallel SGD on the same noise.
    merged_gap: :math:`\\|\\bar x^t - y^t\\|`.
    consensus_distance: :math:`\\frac1n\\sum_i\\|x_i^t - \\bar x^t\\|^2`.
    merged: :math:`\\bar x^T`; ``parallel``: :math:`y^T`.
    diverged_at: first step with a non-finite value, or -1.
  """

  merged_objective: np.ndarray
  parallel_objective: np.ndarray
  merged_gap: np.ndarray
  consensus_distance: np.ndarray
  merged: np.ndarray
  parallel: np.ndarray
  diverged_at: int


def communication_schedule(num_steps: int, budget: int,
                           placement: str) -> np.ndarray:
  """Which of ``num_steps`` rounds gossip, ``budget`` of them: ``"early"``
  (the first), ``"late"`` (the last), ``"uniform"`` (evenly spaced) or
  ``"every"`` (all, ignoring the budget)."""
  steps = v.check_positive_int("num_steps", num_steps)
  if placement == "every":
    return np.ones(steps, bool)
  budget = v.check_positive_int("budget", budget, minimum=0)
  if budget > steps:
    raise ValueError(f"budget must be in [0, num_steps = {steps}], got "
                     f"{budget}")
  schedule = np.zeros(steps, bool)
  if placement == "early":
    schedule[:budget] = True
  elif placement == "late":
    schedule[steps - budget:] = True
  elif placement == "uniform":
    schedule[np.linspace(0, steps - 1, budget).round().astype(int)] = True
  else:
    raise ValueError("placement must be 'early', 'late', 'uniform' or "
                     f"'every', got {placement!r}")
  return schedule


def run_dsgd(problem: DistributedFiniteSum, mixing, step_size: float,
             num_steps: int, *, gossip=None, noise_std: float = 0.0,
             key: jax.Array | None = None, params=None,
             gossip_format: str = "auto") -> DSGDRun:
  r"""D-SGD on ``problem`` with mixing matrix ``mixing`` and its parallel-SGD
  twin on the same noise.

  Args:
    problem: the clients' problem (n clients).
    mixing: symmetric doubly stochastic ``(n, n)`` matrix W.
    step_size: :math:`\eta > 0` (constant, or an array of ``num_steps``).
    num_steps: T >= 1.
    gossip: boolean array of ``num_steps``, which rounds gossip (default:
      every round; see :func:`communication_schedule`).
    noise_std: :math:`\sigma \ge 0` of the Gaussian gradient noise.
    key: PRNG key of the noise (default ``key(0)``).
    params: the common start :math:`x_i^0 = y^0` (default
      ``problem.initial_point``).
    gossip_format: ``"dense"`` (the matrix product), ``"neighbours"`` (a
      gather over neighbour lists) or ``"auto"`` (neighbours when every row
      of W has at most n/8 non-zeros).
  """
  n = problem.num_clients
  w = check_mixing_matrix(mixing)
  if w.shape != (n, n):
    raise ValueError(f"mixing must have shape ({n}, {n}), got {w.shape}")
  steps = v.check_positive_int("num_steps", num_steps)
  etas = np.broadcast_to(np.asarray(step_size, dtype=float), (steps,))
  if not np.all(np.isfinite(etas) & (etas > 0)):
    raise ValueError("step_size must be in (0, inf) (a number or an array "
                     f"of num_steps), got {step_size!r}")
  schedule = (np.ones(steps, bool) if gossip is None
              else np.asarray(gossip, dtype=bool))
  if schedule.shape != (steps,):
    raise ValueError(f"gossip must have shape ({steps},), got "
                     f"{schedule.shape}")
  sigma = v.check_nonnegative("noise_std", noise_std)
  x0 = jnp.asarray(problem.initial_point if params is None else params)
  if x0.shape != (problem.dim,):
    raise ValueError(f"params must have shape ({problem.dim},), got "
                     f"{x0.shape}")
  key = v.check_key("key", key)
  if gossip_format not in ("auto", "dense", "neighbours"):
    raise ValueError("gossip_format must be 'auto', 'dense' or 'neighbours',"
                     f" got {gossip_format!r}")
  if gossip_format == "auto":
    width = int(np.count_nonzero(w, axis=1).max())
    gossip_format = "neighbours" if width <= n // 8 else "dense"
  mixing_arg = (tuple(map(jnp.asarray, padded_rows(w)))
                if gossip_format == "neighbours" else jnp.asarray(w))
  out = _program(problem.client_loss, gossip_format)(
      problem.data, x0, mixing_arg, jnp.asarray(etas),
      jnp.asarray(schedule), jnp.asarray(sigma), key)
  out = jax.tree.map(np.asarray, out)
  return DSGDRun(merged_objective=out["merged_objective"],
                 parallel_objective=out["parallel_objective"],
                 merged_gap=out["merged_gap"],
                 consensus_distance=out["consensus_distance"],
                 merged=out["merged"], parallel=out["parallel"],
                 diverged_at=first_nonfinite(out["merged_objective"],
                                             out["parallel_objective"]))


def _mix(mixing, half, gossip_format):
  """One gossip round :math:`W x`, from the matrix or its neighbour lists.
  precision='highest': float32 on a GPU is otherwise a TF32 product (10
  mantissa bits), and the merge identities are exact."""
  if gossip_format == "dense":
    return jnp.matmul(mixing, half, precision="highest")
  indices, weights = mixing
  weights = weights.reshape(weights.shape + (1,) * (half.ndim - 1))
  return jnp.sum(weights * half[indices], axis=1)


@functools.lru_cache(maxsize=16)
def _program(client_loss, gossip_format):
  """One compiled program per client loss and gossip format; everything
  else is an argument."""
  problem = DistributedFiniteSum(name="program", client_loss=client_loss,
                                 data=None, initial_point=np.zeros(0),
                                 constants={})

  def measure(x, y, data):
    merged = x.mean(0)
    return {"merged_objective": problem.objective(merged, data),
            "parallel_objective": problem.objective(y, data),
            "merged_gap": jnp.linalg.norm(merged - y),
            "consensus_distance": jnp.mean(jnp.sum((x - merged[None])**2,
                                                   -1))}

  local_gradients = jax.vmap(jax.grad(client_loss))

  @jax.jit
  def program(data, x0, w, etas, schedule, sigma, key):
    n = jax.tree.leaves(w)[0].shape[0]
    x = jnp.broadcast_to(x0, (n,) + x0.shape)

    def body(carry, inputs):
      x, y = carry
      eta, gossip, step_key = inputs
      noise = sigma * jax.random.normal(step_key, x.shape)
      out = measure(x, y, data)
      half = x - eta * (local_gradients(x, data) + noise)
      x = jnp.where(gossip, _mix(w, half, gossip_format), half)
      y = y - eta * jnp.mean(problem.client_gradients(y, data) + noise, 0)
      return (x, y), out

    (x, y), trace = jax.lax.scan(
        body, (x, x0), (etas, schedule, jax.random.split(key, etas.shape[0])))
    last = measure(x, y, data)
    trace = jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), trace,
                         last)
    return {**trace, "merged": x.mean(0), "parallel": y}

  return program
