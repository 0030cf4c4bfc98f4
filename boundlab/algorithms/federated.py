r"""Federated averaging with partial participation, stale updates (FedStale)
and asynchronous weighted aggregation (Fraboni et al.'s scheme, FedFix).

**Synchronous rounds** (:func:`run_fedstale`). At round t the server holds
:math:`x^t`; client i is active with probability :math:`p_i` (independent
Bernoulli masks :math:`m_i^t`, or masks given explicitly) and runs K local
SGD steps from :math:`x^t`,

.. math:: y_i^{0} = x^t,\quad y_i^{k+1} = y_i^k - \eta_l\big(\nabla f_i(y_i^k)
   + \sigma\xi_i^{t,k}\big),\qquad \Delta_i^t = x^t - y_i^K .

With data weights :math:`\alpha_i` (uniform: :math:`1/n`) and the stale
memory :math:`h_i` (client i's pseudo-gradient from its last participation,
0 before it), FedStale's global step is

.. math:: x^{t+1} = x^t - \eta_s\Big[\sum_{i\in S_t}\frac{\alpha_i}{p_i}
   \big(\Delta_i^t - \beta h_i^t\big) + \beta\sum_{i=1}^n \alpha_i h_i^t\Big],
   \qquad h_i^{t+1} = \Delta_i^t \ (i\in S_t),\ h_i^t \text{ otherwise}.

:math:`\beta = 0` is (unbiased, 1/p_i-weighted) FedAvg, :math:`\beta = 1`
FedVARP. This is the update of the authors' code [V: ``arodio/FedStale``
commit de3c12e, ``aggregator.py`` ``CentralizedAggregator.mix``,
``client_sampler.py`` ``UnbiasedClientsSampler`` (weights
:math:`\alpha_i/p_i`), ``history_tracker.py`` ``HistoryTracker.average``
(weights :math:`\alpha_i` for inactive, :math:`\alpha_i - \alpha_i/p_i` for
active clients) and ``utils/optim.py`` ``HistorySGD`` (the history term
added with ``history_coefficient`` = :math:`\beta`)], including its round
with no active client: the server skips it (no step, memory unchanged).

**Asynchronous aggregation** (:func:`run_async`). Each client computes its
update :math:`\Delta_i(\theta^{\rho_i(n)})` (K local GD steps) from the
global model :math:`\theta^{\rho_i(n)}` it last received, taking a random
wall-clock time (exponential with rate :math:`\lambda_i`, or given). The
server applies

.. math:: \theta^{n+1} = \theta^n - \sum_i \omega_i(n)\,
   \Delta_i(\theta^{\rho_i(n)}),

either at every arrival (``aggregation="arrival"``: asynchronous FedAvg,
:math:`\omega_i(n) = p_i` for the arriving client) or every
:math:`\Delta t` of wall-clock time (``aggregation="window"``, all the
updates that arrived in the window); a client that delivered restarts from
the new global model. Weights ``"naive"``: :math:`\omega_i = p_i`;
``"fedfix"``: :math:`\omega_i = p_i / q_i` with :math:`q_i` the
probability that client i delivers in a window (exponential durations,
memoryless: :math:`q_i = 1 - e^{-\lambda_i\Delta t}` [D]), so that
:math:`\mathbb E[\omega_i(n)] = p_i`. On quadratics with K = 1 the expected
update vanishes at :math:`\arg\min_x \sum_i \mathbb E[\omega_i] f_i(x)`
(:func:`weighted_argmin`, :func:`expected_weights`).

References:
  Rodio & Neglia, "FedStale: leveraging stale client updates in federated
  learning", arXiv 2405.04171 (v1), 2024; code github.com/arodio/FedStale.
  Jhunjhunwala, Sharma, Nagarkatti & Joshi, "FedVARP: Tackling the
  variance due to partial client participation in federated learning",
  UAI 2022, arXiv 2207.14130.
  Fraboni, Vidal, Kameni & Lorenzi, "A General Theory for Federated
  Optimization with Asynchronous and Heterogeneous Clients Updates", JMLR
  24(110), 2023, arXiv 2206.10189.
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


@dataclasses.dataclass(frozen=True)
class FederatedRun:
  """Arrays over rounds t = 0..T (float numpy).

  Attributes:
    objective: :math:`\\sum_i \\alpha_i f_i(x^t)` (f itself for uniform
      weights).
    iterates: :math:`x^t`, shape (T + 1, d).
    final: :math:`x^T`.
    masks: the participation masks used, shape (T, n).
    diverged_at: first round with a non-finite value, or -1.
  """

  objective: np.ndarray
  iterates: np.ndarray
  final: np.ndarray
  masks: np.ndarray
  diverged_at: int


def participation_masks(probabilities, num_rounds: int,
                        seed: int | np.random.Generator = 0) -> np.ndarray:
  """Independent Bernoulli(p_i) activity, shape ``(num_rounds, n)``, as the
  authors' ``ActivitySimulator`` (one draw per client and round)."""
  p = _check_probabilities(probabilities)
  rounds = v.check_positive_int("num_rounds", num_rounds)
  rng = np.random.default_rng(seed)
  return rng.uniform(size=(rounds, p.size)) < p[None]


def _check_probabilities(probabilities) -> np.ndarray:
  p = v.check_finite_array("probabilities", probabilities, ndim=1)
  if not np.all((p > 0) & (p <= 1)):
    raise ValueError(f"probabilities must be in (0, 1], got {p!r}")
  return p


def _client_weights(weights, n) -> np.ndarray:
  if weights is None:
    return np.full(n, 1.0 / n)
  w = v.check_finite_array("weights", weights, ndim=1)
  if w.shape != (n,) or not np.all(w > 0):
    raise ValueError(f"weights must be {n} entries in (0, inf), got {w!r}")
  return w / w.sum()


def run_fedstale(problem: DistributedFiniteSum, probabilities,
                 num_rounds: int, *, beta: float = 0.0,
                 local_steps: int = 1, local_step_size: float = 0.1,
                 server_step_size: float = 1.0, noise_std: float = 0.0,
                 masks=None, noise=None, key: jax.Array | None = None,
                 mask_seed: int = 0, weights=None,
                 params=None) -> FederatedRun:
  r"""FedStale(:math:`\beta`) on ``problem`` (see the module docstring).

  Args:
    problem: the clients' problem (n clients).
    probabilities: :math:`p_i \in (0, 1]`, shape (n,); the aggregation
      weights are :math:`\alpha_i / p_i` (the authors' unbiased sampler).
    num_rounds: T >= 1.
    beta: :math:`\beta \in [0, 1]` (0: FedAvg, 1: FedVARP).
    local_steps: K >= 1.
    local_step_size: :math:`\eta_l > 0`.
    server_step_size: :math:`\eta_s > 0` (the authors' ``server_lr``).
    noise_std: :math:`\sigma \ge 0` of the Gaussian gradient noise.
    masks: boolean ``(T, n)`` participation (default: Bernoulli(p_i) from
      ``mask_seed``, :func:`participation_masks`).
    noise: explicit standard noise :math:`\xi`, shape ``(T, K, n, d)``
      (default: drawn from ``key``, ``key(0)`` if None).
    weights: data weights :math:`\alpha_i` (default uniform), normalised.
    params: start :math:`x^0` (default ``problem.initial_point``).
  """
  n, d = problem.num_clients, problem.dim
  p = _check_probabilities(probabilities)
  if p.shape != (n,):
    raise ValueError(f"probabilities must have shape ({n},), got {p.shape}")
  rounds = v.check_positive_int("num_rounds", num_rounds)
  b = v.check_in_range("beta", beta, 0.0, 1.0)
  k = v.check_positive_int("local_steps", local_steps)
  eta_l = v.check_positive("local_step_size", local_step_size)
  eta_s = v.check_positive("server_step_size", server_step_size)
  sigma = v.check_nonnegative("noise_std", noise_std)
  alpha = _client_weights(weights, n)
  m = (participation_masks(p, rounds, mask_seed) if masks is None
       else np.asarray(masks, dtype=bool))
  if m.shape != (rounds, n):
    raise ValueError(f"masks must have shape ({rounds}, {n}), got {m.shape}")
  if noise is None:
    key = v.check_key("key", key)
    xi = jax.random.normal(key, (rounds, k, n, d))
  else:
    xi = jnp.asarray(v.check_finite_array("noise", noise))
    if xi.shape != (rounds, k, n, d):
      raise ValueError(f"noise must have shape ({rounds}, {k}, {n}, {d}), "
                       f"got {xi.shape}")
  x0 = jnp.asarray(problem.initial_point if params is None else params)
  if x0.shape != (d,):
    raise ValueError(f"params must have shape ({d},), got {x0.shape}")
  out = _fedstale_program(problem.client_loss, k)(
      problem.data, x0, jnp.asarray(m), xi, jnp.asarray(alpha),
      jnp.asarray(p), jnp.asarray(b), jnp.asarray(eta_l), jnp.asarray(eta_s),
      jnp.asarray(sigma))
  objective, iterates = (np.asarray(a) for a in out)
  return FederatedRun(objective=objective, iterates=iterates,
                      final=iterates[-1], masks=m,
                      diverged_at=first_nonfinite(objective, iterates))


@functools.lru_cache(maxsize=16)
def _fedstale_program(client_loss, local_steps):
  """One compiled program per client loss and K; the rest are arguments."""
  problem = DistributedFiniteSum(name="program", client_loss=client_loss,
                                 data=None, initial_point=np.zeros(0),
                                 constants={})
  grads = jax.vmap(jax.grad(client_loss))

  @jax.jit
  def program(data, x0, masks, xi, alpha, p, beta, eta_l, eta_s, sigma):
    n = alpha.shape[0]

    def body(carry, inputs):
      x, h = carry
      mask, noise = inputs
      y = jnp.broadcast_to(x, (n,) + x.shape)
      for step in range(local_steps):
        y = y - eta_l * (grads(y, data) + sigma * noise[step])
      delta = x[None] - y
      active = mask.astype(x.dtype)[:, None]
      step_dir = (jnp.sum(active * (alpha / p)[:, None] * (delta - beta * h),
                          0) + beta * jnp.sum(alpha[:, None] * h, 0))
      any_active = jnp.any(mask)
      x_new = jnp.where(any_active, x - eta_s * step_dir, x)
      h_new = jnp.where(mask[:, None], delta, h)
      return (x_new, h_new), x

    (x, _), trace = jax.lax.scan(
        body, (x0, jnp.zeros((n,) + x0.shape, x0.dtype)), (masks, xi))
    iterates = jnp.concatenate([trace, x[None]])
    # The objective the weights define, sum_i alpha_i f_i (the mean when
    # they are uniform).
    return jax.vmap(lambda z: jnp.matmul(
        alpha, problem.client_values(z, data), precision="highest"))(
        iterates), iterates

  return program


# -- the asynchronous scheme ----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AsyncRun:
  """The server's trajectory of :func:`run_async`.

  Attributes:
    iterates: :math:`\\theta^n`, shape (N + 1, d).
    objective: :math:`f(\\theta^n)`.
    arrivals: per server step, how many updates each client delivered,
      shape (N, n) (0/1).
    delays: per server step and client, :math:`n - \\rho_i(n)` for the
      delivered updates (0 elsewhere), shape (N, n).
    times: the wall-clock time of each server step, shape (N,).
    diverged_at: first server step with a non-finite value, or -1.
  """

  iterates: np.ndarray
  objective: np.ndarray
  arrivals: np.ndarray
  delays: np.ndarray
  times: np.ndarray
  diverged_at: int


def quadratic_parts(problem: DistributedFiniteSum):
  """``(A, b)``: the clients' curvatures (n, d, d) and centres (n, d) of a
  quadratic problem (``federated_quadratics`` / ``heterogeneous_quadratics``
  data)."""
  data = problem.data
  if not isinstance(data, dict) or set(data) != {"curvature", "centre"}:
    raise ValueError("problem must be a client quadratic (data with "
                     "'curvature' and 'centre'), got "
                     f"{type(data).__name__}")
  a = np.asarray(data["curvature"], dtype=float)
  b = np.asarray(data["centre"], dtype=float)
  if a.ndim == 2:  # diagonal curvatures
    a = np.einsum("ni,ij->nij", a, np.eye(a.shape[1]))
  return a, b


def local_update(a, b, theta, step_size: float, local_steps: int):
  r""":math:`\Delta_i(\theta) = \theta - y_i^K` for K local gradient steps on
  :math:`f_i = \tfrac12(x-b_i)^\top A_i(x-b_i)`, all clients, shape (n, d):
  :math:`\Delta_i = (I - (I - \eta A_i)^K)(\theta - b_i)`."""
  y = np.broadcast_to(theta, b.shape).copy()
  for _ in range(local_steps):
    y = y - step_size * np.einsum("nij,nj->ni", a, y - b)
  return theta[None] - y


def weighted_argmin(problem: DistributedFiniteSum, q) -> np.ndarray:
  r""":math:`\arg\min_x \sum_i q_i f_i(x) = (\sum_i q_i A_i)^{-1}\sum_i q_i
  A_i b_i` on client quadratics (q >= 0, not all 0)."""
  a, b = quadratic_parts(problem)
  q = v.check_finite_array("q", q, ndim=1)
  if q.shape != (a.shape[0],) or np.any(q < 0) or q.sum() <= 0:
    raise ValueError(f"q must be {a.shape[0]} entries >= 0, not all 0, got "
                     f"{q!r}")
  return np.linalg.solve(np.einsum("n,nij->ij", q, a),
                         np.einsum("n,nij,nj->i", q, a, b))


def delivery_probability(rates, window: float) -> np.ndarray:
  r""":math:`q_i = 1 - e^{-\lambda_i \Delta t}`: the probability that a client
  with exponential durations (rate :math:`\lambda_i`) delivers within a
  window of :math:`\Delta t` (memoryless, whatever its start) [D]."""
  lam = v.check_finite_array("rates", rates, ndim=1)
  if not np.all(lam > 0):
    raise ValueError(f"rates must be in (0, inf), got {lam!r}")
  dt = v.check_positive("window", window)
  return -np.expm1(-lam * dt)


def expected_weights(rates, probabilities, *, aggregation: str,
                     weights: str, window: float = 1.0) -> np.ndarray:
  r""":math:`\mathbb E[\omega_i(n)]` of :func:`run_async` with exponential
  durations [D]: arrival aggregation, :math:`p_i\lambda_i/\sum_j\lambda_j`
  (the arriving client is i with probability :math:`\lambda_i/\sum_j
  \lambda_j`); window aggregation, :math:`p_i q_i` (naive) or :math:`p_i`
  (FedFix)."""
  lam = v.check_finite_array("rates", rates, ndim=1)
  p = _check_probabilities(probabilities)
  if aggregation == "arrival":
    if weights != "naive":
      raise ValueError("arrival aggregation takes weights='naive', got "
                       f"{weights!r}")
    return p * lam / lam.sum()
  if aggregation != "window":
    raise ValueError("aggregation must be 'arrival' or 'window', got "
                     f"{aggregation!r}")
  q = delivery_probability(lam, window)
  if weights == "naive":
    return p * q
  if weights == "fedfix":
    return p.copy()
  raise ValueError(f"weights must be 'naive' or 'fedfix', got {weights!r}")


def run_async(problem: DistributedFiniteSum, num_server_steps: int, *,
              rates=None, durations=None, probabilities=None,
              aggregation: str = "window", weights: str = "naive",
              window: float = 1.0, local_steps: int = 1,
              step_size: float = 0.1, seed: int = 0,
              params=None) -> AsyncRun:
  r"""The asynchronous scheme of Fraboni et al. on client quadratics, an
  exact discrete-event simulation (see the module docstring).

  Args:
    problem: client quadratics (:func:`quadratic_parts`).
    num_server_steps: N >= 1 server updates.
    rates: :math:`\lambda_i > 0`: exponential durations (mean
      :math:`1/\lambda_i`).
    durations: or an explicit ``(n, M)`` array: client i's j-th computation
      takes ``durations[i, j]`` (> 0); one of ``rates``/``durations``.
    probabilities: the importance :math:`p_i` (default uniform 1/n;
      normalised to sum to 1).
    aggregation: ``"arrival"`` (a server step per delivered update) or
      ``"window"`` (a server step every ``window`` time units, possibly
      with no update).
    weights: ``"naive"`` (:math:`\omega_i = p_i`) or ``"fedfix"``
      (:math:`p_i/q_i`, window aggregation with ``rates`` only).
    window: :math:`\Delta t > 0`.
    local_steps: K >= 1 local gradient steps of ``step_size``.
    step_size: :math:`\eta > 0`.
    seed: seed of the exponential durations.
    params: :math:`\theta^0` (default ``problem.initial_point``).
  """
  a, b = quadratic_parts(problem)
  n, d = b.shape
  steps = v.check_positive_int("num_server_steps", num_server_steps)
  k = v.check_positive_int("local_steps", local_steps)
  eta = v.check_positive("step_size", step_size)
  dt = v.check_positive("window", window)
  p = (np.full(n, 1.0 / n) if probabilities is None
       else _check_probabilities(probabilities))
  if p.shape != (n,):
    raise ValueError(f"probabilities must have shape ({n},), got {p.shape}")
  p = p / p.sum()
  if aggregation not in ("arrival", "window"):
    raise ValueError("aggregation must be 'arrival' or 'window', got "
                     f"{aggregation!r}")
  if weights not in ("naive", "fedfix"):
    raise ValueError(f"weights must be 'naive' or 'fedfix', got {weights!r}")
  if (rates is None) == (durations is None):
    raise ValueError("give exactly one of rates and durations")
  if rates is not None:
    lam = v.check_finite_array("rates", rates, ndim=1)
    if lam.shape != (n,) or not np.all(lam > 0):
      raise ValueError(f"rates must be {n} entries in (0, inf), got {lam!r}")
    rng = np.random.default_rng(v.check_seed("seed", seed))

    def draw(i):
      return rng.exponential(1.0 / lam[i])
  else:
    table = v.check_finite_array("durations", durations, ndim=2)
    if table.shape[0] != n or not np.all(table > 0):
      raise ValueError(f"durations must be ({n}, M) entries in (0, inf), got "
                       f"shape {table.shape}")
    used = np.zeros(n, int)

    def draw(i):
      if used[i] >= table.shape[1]:
        raise ValueError(f"durations has too few columns ({table.shape[1]}) "
                         f"for client {i}")
      used[i] += 1
      return table[i, used[i] - 1]
  if weights == "fedfix":
    if aggregation != "window" or rates is None:
      raise ValueError("weights='fedfix' needs aggregation='window' and rates")
    omega = p / delivery_probability(lam, dt)
  else:
    omega = p
  theta = np.asarray(problem.initial_point if params is None else params,
                     dtype=float).copy()
  if theta.shape != (d,):
    raise ValueError(f"params must have shape ({d},), got {theta.shape}")
  # Every client starts at time 0 from theta^0.
  finish = np.array([draw(i) for i in range(n)])
  start_model = np.broadcast_to(theta, (n, d)).copy()
  start_step = np.zeros(n, int)
  iterates = [theta.copy()]
  arrivals = np.zeros((steps, n))
  delays = np.zeros((steps, n))
  times = np.zeros(steps)
  with np.errstate(all="ignore"):
    for step in range(steps):
      if aggregation == "arrival":
        i = int(np.argmin(finish))
        now = finish[i]
        arrived = np.zeros(n, bool)
        arrived[i] = True
      else:
        now = (step + 1) * dt
        arrived = finish <= now
      if np.any(arrived):
        idx = np.flatnonzero(arrived)
        # Delta_i(theta_start) for each arrived client from its own start.
        delta = np.stack([local_update(a[i:i + 1], b[i:i + 1],
                                       start_model[i], eta, k)[0]
                          for i in idx])
        theta = theta - np.einsum("m,mi->i", omega[idx], delta)
        arrivals[step, idx] = 1.0
        delays[step, idx] = step - start_step[idx]
        for i in idx:  # restart from the new global model
          start_model[i] = theta
          start_step[i] = step + 1
          finish[i] = now + draw(i)
      times[step] = now
      iterates.append(theta.copy())
  iterates = np.asarray(iterates)
  gap = iterates[:, None, :] - b[None]
  objective = 0.5 * np.mean(np.einsum("tni,nij,tnj->tn", gap, a, gap), 1)
  return AsyncRun(iterates=iterates, objective=objective, arrivals=arrivals,
                  delays=delays, times=times,
                  diverged_at=first_nonfinite(iterates))
