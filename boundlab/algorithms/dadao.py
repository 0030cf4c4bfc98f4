r"""DADAO: decoupled accelerated decentralized asynchronous optimization.

Nabli & Oyallon minimise :math:`\sum_{i=1}^n f_i` (each :math:`f_i`
L-smooth and :math:`\mu`-strongly convex) on a graph. Every node i holds six
vectors :math:`(x_i, \tilde x_i, y_i, \tilde y_i, z_i, \tilde z_i)`; between
events they follow one linear ODE, :math:`\dot P_i = M P_i` (M a 6 x 6 matrix,
the same on every node), and two independent Poisson point processes fire
events: gradient events (rate n for the graph, the node uniform: rate 1 per
node) and gossip events (rate :math:`\lambda = \sqrt{2\chi_1\chi_2}` for the
graph, the edge uniform). With :math:`\nu = \mu/2` and
:math:`g_i = \nabla f_i(x_i) - \nu x_i - \tilde y_i` (all at the event time,
after the ODE), a gradient event at node i does

.. math:: x_i \leftarrow x_i - \gamma g_i,\quad
   \tilde x_i \leftarrow \tilde x_i - \tilde\gamma g_i,\quad
   \tilde y_i \leftarrow \tilde y_i + (\delta + \tilde\delta) g_i,

and a gossip event on edge (i, j), with :math:`m = (y_i + z_i) - (y_j + z_j)`,

.. math:: z_i \leftarrow z_i - \beta m,\ \tilde z_i \leftarrow \tilde z_i -
   \tilde\beta m,\quad z_j \leftarrow z_j + \beta m,\ \tilde z_j \leftarrow
   \tilde z_j + \tilde\beta m .

The constants, exactly as the authors' ``optimizers.py``
(``DADAO_optimizer.initialize``, lines 158-190 at commit eed1ed1) [V: code]:
:math:`\alpha = \frac14\sqrt{\nu/L}`, :math:`\tilde\alpha = \frac18
\sqrt{\nu/L}`, :math:`\eta = \tilde\eta = \frac18\sqrt{\nu/L}`,
:math:`\theta = \frac12\sqrt{L/\nu}`; :math:`\beta = \frac12`,
:math:`\tilde\beta = 2\chi_1^\star\sqrt{L/\nu}`, :math:`\delta = \frac14
\sqrt{\nu/L}`, :math:`\tilde\delta = 1`, :math:`\gamma = 1/(4L)`,
:math:`\tilde\gamma = 1/(4\sqrt{L\nu})`, with :math:`\chi_1^\star =
\chi_1/\lambda` (``run_optimizers.run_DADAO``, line 79) and
:math:`\chi_1, \chi_2` of the Laplacian weighted by the edge probabilities
:math:`\mathcal L/|E|` (``utils.compute_spectral_quantities``); the ODE

.. math:: \dot x = \eta(\tilde x - x),\ \dot{\tilde x} = \tilde\eta(x -
   \tilde x),\ \dot y = \alpha(\tilde y - y),\ \dot{\tilde y} =
   -\theta(\nu\tilde x + y + z),\ \dot z = \alpha(\tilde z - z),\
   \dot{\tilde z} = \tilde\alpha(z - \tilde z).

:math:`e^{Ms}` is evaluated from M's eigen-decomposition
(:func:`ode_eigensystem`, checked against ``scipy.linalg.expm``). As in the
authors' code, a node's state is brought forward by
:math:`e^{M(t - t_i)}` only at its own events (:math:`t_i` its last event;
exact, the ODE being linear and node-wise), and the error
:math:`\frac1n\sum_i\|x_i - x^\star\|^2` is taken on the stored states
(``utils.compute_average_distance_to_opt`` on ``optimizer.X``). Events are a
``jax.lax.scan``; the event sequence, the data and the constants are
arguments of one compiled program per client loss.

References:
  Nabli & Oyallon, "DADAO: Decoupled Accelerated Decentralized Asynchronous
  Optimization", ICML 2023, arXiv 2208.00779 (v3).
  Authors' code: github.com/AdelNabli/DADAO, commit eed1ed1
  (``optimizers.py``, ``run_optimizers.py``, ``data.py``, ``utils.py``).
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
from boundlab.theory import graphs


@dataclasses.dataclass(frozen=True)
class DADAOConstants:
  """DADAO's step sizes and ODE matrix (``optimizers.py`` lines 158-190).

  Attributes:
    nu: :math:`\\nu = \\mu/2`.
    gamma, gamma_tilde, delta, delta_tilde: the gradient jump's constants.
    beta, beta_tilde: the gossip jump's constants.
    ode_matrix: the ``(6, 6)`` matrix M of the ODE, state order
      :math:`(x, \\tilde x, y, \\tilde y, z, \\tilde z)`.
  """

  nu: float
  gamma: float
  gamma_tilde: float
  delta: float
  delta_tilde: float
  beta: float
  beta_tilde: float
  ode_matrix: np.ndarray


def dadao_constants(smoothness: float, strong_convexity: float,
                    chi_1_star: float) -> DADAOConstants:
  r"""The constants of ``DADAO_optimizer.initialize`` for L, :math:`\mu` and
  :math:`\chi_1^\star = \chi_1/\lambda`.

  Args:
    smoothness: L > 0 of every :math:`f_i`.
    strong_convexity: :math:`\mu \in (0, L]` of every :math:`f_i`.
    chi_1_star: :math:`\chi_1^\star > 0`.
  """
  big_l = v.check_positive("smoothness", smoothness)
  mu = v.check_in_range("strong_convexity", strong_convexity, 0.0, big_l,
                        closed="(]")
  chi = v.check_positive("chi_1_star", chi_1_star)
  nu = mu / 2
  root = np.sqrt(nu / big_l)
  alpha, alpha_tilde, eta = root / 4, root / 8, root / 8
  theta = 0.5 / root
  m = np.zeros((6, 6))
  m[0, 0], m[0, 1], m[1, 0], m[1, 1] = -eta, eta, eta, -eta
  m[2, 2], m[2, 3] = -alpha, alpha
  m[3, 1], m[3, 2], m[3, 4] = -theta * nu, -theta, -theta
  m[4, 4], m[4, 5], m[5, 4], m[5, 5] = -alpha, alpha, alpha_tilde, -alpha_tilde
  return DADAOConstants(nu=nu, gamma=1 / (4 * big_l),
                        gamma_tilde=1 / (4 * np.sqrt(big_l * nu)),
                        delta=root / 4, delta_tilde=1.0, beta=0.5,
                        beta_tilde=2 * chi / root, ode_matrix=m)


def ode_eigensystem(ode_matrix) -> tuple[np.ndarray, np.ndarray,
                                           np.ndarray]:
  r"""Eigenvalues w, eigenvectors V and :math:`V^{-1}` of DADAO's ODE
  matrix, so that :math:`e^{Ms} = V\,\mathrm{diag}(e^{ws})\,V^{-1}`.

  Built block by block (a generic ``eig`` is not reliable here: 0 is a
  double eigenvalue). M is block triangular: :math:`(x, \tilde x)` and
  :math:`(z, \tilde z)` evolve alone, each with a diagonalisable 2 x 2 block
  (eigenvalues :math:`\{0, -2\eta\}` and :math:`\{0, -(\alpha +
  \tilde\alpha)\}`), and force :math:`(y, \tilde y)`, whose block has the
  complex pair :math:`\lambda^2 + \alpha\lambda + \alpha\theta = 0`
  (:math:`\alpha\theta = 1/8 > \alpha^2/4`); an eigenvector of a forcing
  block extends by solving :math:`(\lambda I - M_y) b = F u` [D]. Raises
  ValueError if the result does not reproduce ``scipy.linalg.expm``.
  """
  import scipy.linalg
  m = np.asarray(ode_matrix, dtype=float)
  y_idx = [2, 3]
  m_y = m[np.ix_(y_idx, y_idx)]
  columns, values = [], []
  for idx in ([0, 1], [4, 5]):
    w, u = np.linalg.eig(m[np.ix_(idx, idx)])
    forcing = m[np.ix_(y_idx, idx)]
    for lam, vec in zip(w, u.T):
      full = np.zeros(6, complex)
      full[idx] = vec
      full[y_idx] = np.linalg.solve(lam * np.eye(2) - m_y, forcing @ vec)
      columns.append(full)
      values.append(lam)
  w, u = np.linalg.eig(m_y)
  for lam, vec in zip(w, u.T):
    full = np.zeros(6, complex)
    full[y_idx] = vec
    columns.append(full)
    values.append(lam)
  vectors = np.stack(columns, 1)
  inverse = np.linalg.inv(vectors)
  values = np.asarray(values, complex)
  scale = 1.0 / max(1e-300, float(np.max(np.abs(m))))
  for s in (scale, 100 * scale):
    exact = scipy.linalg.expm(m * s)
    ours = ((vectors * np.exp(values * s)) @ inverse).real
    if not np.max(np.abs(ours - exact)) <= 1e-9 * max(1.0,
                                                      np.max(np.abs(exact))):
      raise ValueError("ode_matrix: the eigen-decomposition does not "
                       "reproduce expm (a defective matrix?)")
  return values, vectors, inverse


def graph_rates(adjacency_matrix) -> dict:
  r"""The graph quantities DADAO runs with (``main.py`` lines 289-296).

  Returns ``chi_1``, ``chi_2`` of :math:`\mathcal L/|E|`
  (:func:`~boundlab.theory.graphs.edge_sampling_laplacian`), the gossip rate
  :math:`\lambda = \sqrt{2\chi_1\chi_2}`, the gradient rate n, ``chi_1_star``
  :math:`= \chi_1/\lambda` and the edge list ``(|E|, 2)``.
  """
  a = np.asarray(adjacency_matrix, dtype=float)
  lap = graphs.edge_sampling_laplacian(a)
  chi_1, chi_2 = graphs.chi_1(lap), graphs.chi_2(lap)
  rate = float(np.sqrt(2 * chi_1 * chi_2))
  edges = np.argwhere(np.triu(a > 0, 1))
  return {"chi_1": chi_1, "chi_2": chi_2, "gossip_rate": rate,
          "gradient_rate": float(a.shape[0]), "chi_1_star": chi_1 / rate,
          "edges": edges}


@dataclasses.dataclass(frozen=True)
class Events:
  """A sequence of K events, sorted in time.

  Attributes:
    times: ``(K,)`` increasing event times.
    is_gradient: ``(K,)`` bool, gradient event (else gossip).
    node_i: ``(K,)`` the gradient event's node, or the edge's first node.
    node_j: ``(K,)`` the edge's second node (equal to ``node_i`` on gradient
      events).
  """

  times: np.ndarray
  is_gradient: np.ndarray
  node_i: np.ndarray
  node_j: np.ndarray


def sample_events(adjacency_matrix, num_events: int,
                  rng: np.random.Generator) -> Events:
  r"""``num_events`` events of the two independent Poisson processes:
  gradients at rate n (uniform node), gossip at rate
  :math:`\sqrt{2\chi_1\chi_2}` (uniform edge), drawn as their superposition
  (rate :math:`n + \lambda`, each event a gradient with probability
  :math:`n/(n + \lambda)`): the same law as ``data.
  create_asynchronous_jump_processes`` and ``run_DADAO``'s node and edge
  choices."""
  k = v.check_positive_int("num_events", num_events)
  rates = graph_rates(adjacency_matrix)
  n, lam = rates["gradient_rate"], rates["gossip_rate"]
  edges = rates["edges"]
  times = np.cumsum(rng.exponential(1.0 / (n + lam), k))
  is_gradient = rng.uniform(size=k) < n / (n + lam)
  nodes = rng.integers(0, int(n), k)
  chosen = edges[rng.integers(0, len(edges), k)]
  node_i = np.where(is_gradient, nodes, chosen[:, 0])
  node_j = np.where(is_gradient, nodes, chosen[:, 1])
  return Events(times=times, is_gradient=is_gradient, node_i=node_i,
                node_j=node_j)


@dataclasses.dataclass(frozen=True)
class DADAORun:
  """One DADAO run over K events (numpy arrays).

  Attributes:
    error: ``(K + 1,)`` :math:`\\frac1n\\sum_i\\|x_i - x^\\star\\|^2` before
      the first event and after each.
    gradients: ``(K + 1,)`` gradient events so far.
    communications: ``(K + 1,)`` gossip events so far (one per edge event).
    times: ``(K + 1,)`` the time of each entry (0 first).
    gradients_to_tolerance, communications_to_tolerance: counts at the
      first entry with error <= tolerance x error[0] (-1: not reached or no
      tolerance).
    x: ``(n, d)`` the nodes' x at the end (as stored).
    diverged_at: first entry with a non-finite error, or -1.
  """

  error: np.ndarray
  gradients: np.ndarray
  communications: np.ndarray
  times: np.ndarray
  gradients_to_tolerance: int
  communications_to_tolerance: int
  x: np.ndarray
  diverged_at: int


def run_dadao(problem: DistributedFiniteSum, adjacency_matrix, *,
              smoothness: float, strong_convexity: float,
              num_events: int | None = None, events: Events | None = None,
              seed: int = 0, params=None,
              tolerance: float | None = None) -> DADAORun:
  r"""DADAO on ``problem`` (one client per node of the graph).

  Args:
    problem: n clients, strongly convex; ``constants["optimum"]`` is
      :math:`x^\star`.
    adjacency_matrix: ``(n, n)`` connected graph.
    smoothness: L of every client (``problem``'s clients must be L-smooth).
    strong_convexity: :math:`\mu` of every client.
    num_events: K, when ``events`` is not given (drawn from ``seed``).
    events: an explicit :class:`Events` sequence (e.g. to replay another
      implementation's).
    seed: seed of the event draw.
    params: start, ``(d,)`` shared or ``(n, d)`` per node (default
      ``problem.initial_point``); the other five variables start at 0.
    tolerance: relative target of the error, in (0, 1).
  """
  n, d = problem.num_clients, problem.dim
  a = np.asarray(adjacency_matrix, dtype=float)
  if a.shape != (n, n):
    raise ValueError(f"adjacency_matrix must have shape ({n}, {n}), got "
                     f"{a.shape}")
  rates = graph_rates(a)
  consts = dadao_constants(smoothness, strong_convexity, rates["chi_1_star"])
  if events is None:
    if num_events is None:
      raise ValueError("num_events must be given when events is not")
    events = sample_events(a, num_events,
                           np.random.default_rng(v.check_seed("seed", seed)))
  times = np.asarray(events.times, dtype=float)
  if times.ndim != 1 or not np.all(np.diff(times) >= 0) or times[0] < 0:
    raise ValueError("events.times must be a non-negative increasing 1-d "
                     "array")
  if tolerance is not None:
    tolerance = v.check_in_range("tolerance", tolerance, 0.0, 1.0,
                                 closed="()")
  x0 = np.asarray(problem.initial_point if params is None else params,
                  dtype=float)
  x0 = np.broadcast_to(x0, (n, d)) if x0.shape in ((d,), (n, d)) else None
  if x0 is None:
    raise ValueError(f"params must have shape ({d},) or ({n}, {d})")
  is_gradient = np.asarray(events.is_gradient, bool)
  i_nodes = np.asarray(events.node_i, int)
  j_nodes = np.asarray(events.node_j, int)
  if (i_nodes.min() < 0 or j_nodes.min() < 0 or i_nodes.max() >= n
      or j_nodes.max() >= n):
    raise ValueError(f"event nodes must be in [0, {n})")
  scalars = np.array([consts.nu, consts.gamma, consts.gamma_tilde,
                      consts.delta + consts.delta_tilde, consts.beta,
                      consts.beta_tilde])
  values, vectors, inverse = ode_eigensystem(consts.ode_matrix)
  out = _program(problem.client_loss)(
      problem.data, jnp.asarray(x0), jnp.asarray(problem.constants["optimum"]),
      (jnp.asarray(values), jnp.asarray(vectors), jnp.asarray(inverse)),
      jnp.asarray(scalars),
      jnp.asarray(times), jnp.asarray(is_gradient), jnp.asarray(i_nodes),
      jnp.asarray(j_nodes))
  error = np.asarray(out["error"])
  gradients = np.concatenate([[0], np.cumsum(is_gradient)])
  communications = np.concatenate([[0], np.cumsum(~is_gradient)])
  diverged_at = first_nonfinite(error)
  grads_hit = comms_hit = -1
  if tolerance is not None:
    hit = np.flatnonzero(error <= tolerance * error[0])
    if hit.size and (diverged_at < 0 or hit[0] < diverged_at):
      grads_hit = int(gradients[hit[0]])
      comms_hit = int(communications[hit[0]])
  return DADAORun(error=error, gradients=gradients,
                  communications=communications,
                  times=np.concatenate([[0.0], times]),
                  gradients_to_tolerance=grads_hit,
                  communications_to_tolerance=comms_hit,
                  x=np.asarray(out["x"]), diverged_at=diverged_at)


@functools.lru_cache(maxsize=16)
def _program(client_loss):
  """One compiled program per client loss; everything else is an
  argument."""
  client_gradient = jax.grad(client_loss)

  @jax.jit
  def program(data, x0, optimum, eigen, scalars, times, is_gradient,
              node_i, node_j):
    values, vectors, inverse = eigen
    nu, gamma, gamma_tilde, delta_sum, beta, beta_tilde = scalars
    n = x0.shape[0]
    state = jnp.zeros((n, 6) + x0.shape[1:]).at[:, 0].set(x0)
    last = jnp.zeros(n)

    def forward(state, last, k, t):
      """Node k's state brought from its last event to t by the ODE."""
      flow = jnp.matmul(vectors * jnp.exp(values * (t - last[k]))[None],
                        inverse, precision="highest").real
      return jnp.matmul(flow, state[k], precision="highest")

    def error(state):
      return jnp.mean(jnp.sum((state[:, 0] - optimum[None])**2, -1))

    def gradient_event(state, last, i, j, t):
      del j
      p = forward(state, last, i, t)
      data_i = jax.tree.map(lambda leaf: leaf[i], data)
      g = client_gradient(p[0], data_i) - nu * p[0] - p[3]
      p = (p.at[0].add(-gamma * g).at[1].add(-gamma_tilde * g)
           .at[3].add(delta_sum * g))
      return state.at[i].set(p)

    def gossip_event(state, last, i, j, t):
      p_i, p_j = forward(state, last, i, t), forward(state, last, j, t)
      m = (p_i[2] + p_i[4]) - (p_j[2] + p_j[4])
      p_i = p_i.at[4].add(-beta * m).at[5].add(-beta_tilde * m)
      p_j = p_j.at[4].add(beta * m).at[5].add(beta_tilde * m)
      return state.at[i].set(p_i).at[j].set(p_j)

    def body(carry, inputs):
      state, last = carry
      t, grad, i, j = inputs
      state = jax.lax.cond(grad, gradient_event, gossip_event, state, last, i,
                           j, t)
      last = last.at[i].set(t).at[j].set(t)
      return (state, last), error(state)

    initial = error(state)
    (state, _), errors = jax.lax.scan(body, (state, last),
                                      (times, is_gradient, node_i, node_j))
    return {"error": jnp.concatenate([initial[None], errors]),
            "x": state[:, 0]}

  return program
