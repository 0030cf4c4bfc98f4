r"""Byzantine-robust aggregation, attacks, and MoNNA (momentum + NNA).

Aggregators are pure JAX functions on a stack of vectors ``(m, d)``;
``f`` is the declared number of Byzantine vectors to tolerate.

* Nearest-neighbour averaging (NNA, "CVA" with an honest pivot in the
  authors' code): node i averages the :math:`m - f` vectors closest to its
  own, :math:`\mathrm{NNA}_i(x) = \frac{1}{m-f}\sum_{j \in N_i} x_j`,
  :math:`N_i` the :math:`m-f` indices of smallest :math:`\|x_j - x_i\|`
  (ties broken by index, as Python's stable sort in the authors' code).
* Coordinate-wise median, coordinate-wise trimmed mean (drop the f
  smallest and f largest values of each coordinate), Krum (the vector whose
  summed *Euclidean* distances -- not squared, as in the authors' code -- to
  its :math:`m - f - 1` nearest others is smallest).

Attacks (f identical Byzantine vectors, built from the honest vectors
:math:`x_H`, mean :math:`\bar x_H`, as in the authors' ``attacks/``):
sign flip :math:`-\bar x_H`; large norm :math:`\bar x_H + s\,\mathbf 1/\sqrt d`
(ours: the repository has no such attack; s = 1e3 by default); ALIE
:math:`\bar x_H + c\,\mathrm{std}(x_H)` (coordinate-wise, unbiased); FOE
:math:`\bar x_H - c\,\bar x_H`. ALIE's and FOE's factor c is, by default,
the authors' ``tools.line_maximize`` (16 evaluations) of
:math:`\|\frac1{|H|}\sum_{i\in H}\mathrm{NNA}_i - \bar x_H\|^2`.

MoNNA on a :class:`~boundlab.landscapes.distributed.DistributedFiniteSum`
whose clients are the :math:`|H|` honest nodes, with f Byzantine nodes
more (n = |H| + f):

.. math::
   m_i^{t} = \beta m_i^{t-1} + (1-\beta)\big(\nabla f_i(x_i^{t}) +
   \sigma\xi_i^{t}\big),\quad x_i^{t+1/2} = x_i^{t} - \gamma m_i^{t},\quad
   x_i^{t+1} = \mathrm{NNA}_i\big(x_H^{t+1/2}, b^{t}\big),

:math:`b^t` the attack on :math:`x_H^{t+1/2}`, :math:`m_i^{-1} = 0`. Every
honest node receives every vector (the authors' code can also sample the
senders: not simulated). One gradient evaluation per honest node per step.

References:
  Farhadkhani, Guerraoui, Gupta, Hoang, Pinot & Stephan, "Robust
  Collaborative Learning with Linear Gradient Overhead", ICML 2023, arXiv
  2209.10931 (v2); code github.com/LPD-EPFL/robust-collaborative-learning
  (commit 3425aa12, ``aggregators/cva.py``, ``cenna.py``, ``median.py``,
  ``trmean.py``, ``krum.py``, ``attacks/signflipping.py``,
  ``identical.py``, ``tools/misc.py:line_maximize``, ``peerToPeer.py``).
  Blanchard, El Mhamdi, Guerraoui & Stainer, "Machine learning with
  adversaries: Byzantine tolerant gradient descent", NeurIPS 2017 (Krum).
  Baruch, Baruch & Goldberg, "A little is enough", NeurIPS 2019 (ALIE).
  Xie, Koyejo & Gupta, "Fall of empires", UAI 2019 (FOE).
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

ATTACKS = ("sign_flip", "large_norm", "alie", "foe")


def _check_f(f, m, *, strict_half=True):
  f = v.check_positive_int("f", f, minimum=0)
  top = (m - 1) // 2 if strict_half else m - 1
  if f > top:
    raise ValueError(f"f must be in [0, {top}] for {m} vectors, got {f}")
  return f


def nna(vectors, f: int, pivots=None) -> jax.Array:
  r"""Nearest-neighbour averaging: for each pivot, the mean of the
  :math:`m - f` vectors of ``vectors`` (m, d) closest to it.

  Args:
    vectors: ``(m, d)`` stack.
    f: number of vectors dropped, in ``[0, m - 1]``.
    pivots: ``(k, d)`` (default: ``vectors`` themselves).

  Returns:
    ``(k, d)``.
  """
  x = jnp.asarray(vectors)
  f = v.check_positive_int("f", f, minimum=0)
  if f > x.shape[0] - 1:
    raise ValueError(f"f must be in [0, {x.shape[0] - 1}], got {f}")
  return _nna_keep(x, x.shape[0] - f, x if pivots is None
                   else jnp.asarray(pivots))


def _nna_keep(x, keep, pivots, active=None):
  """Mean of the ``keep`` vectors closest to each pivot; vectors with
  ``active`` False are never kept (distance +inf, last in the stable
  sort), which leaves the order of the active ones unchanged."""
  dist = jnp.linalg.norm(pivots[:, None, :] - x[None, :, :], axis=-1)
  if active is not None:
    dist = jnp.where(active[None, :], dist, jnp.inf)
  order = jnp.argsort(dist, axis=1, stable=True)[:, :keep]
  return x[order].mean(1)


def coordinate_median(vectors) -> jax.Array:
  """Coordinate-wise median (the mean of the two middle values for even m,
  as ``torch.quantile(q=0.5)``)."""
  return jnp.median(jnp.asarray(vectors), axis=0)


def trimmed_mean(vectors, f: int) -> jax.Array:
  """Coordinate-wise mean after dropping the f smallest and f largest
  values of each coordinate (``f`` in ``[0, (m - 1) // 2]``)."""
  x = jnp.asarray(vectors)
  f = _check_f(f, x.shape[0])
  return jnp.sort(x, axis=0)[f:x.shape[0] - f].mean(0)


def krum(vectors, f: int) -> jax.Array:
  """Krum: the vector with the smallest sum of Euclidean distances to its
  ``m - f - 1`` nearest other vectors (first one on ties)."""
  x = jnp.asarray(vectors)
  m = x.shape[0]
  f = v.check_positive_int("f", f, minimum=0)
  if f > m - 2:
    raise ValueError(f"f must be in [0, {m - 2}] for Krum, got {f}")
  dist = jnp.linalg.norm(x[:, None] - x[None], axis=-1)
  dist = jnp.where(jnp.eye(m, dtype=bool), jnp.inf, dist)
  scores = jnp.sort(dist, axis=1)[:, :m - f - 1].sum(1)
  return x[jnp.argmin(scores)]


def line_maximize(score, evals: int = 16, start: float = 0.0,
                  delta: float = 1.0, ratio: float = 0.8) -> jax.Array:
  """The authors' best-effort maximiser of ``score: R+ -> R`` by
  exploration (``tools.line_maximize``), traceable: a doubling phase, then
  a shrinking search; ``evals`` evaluations in all."""
  evals = v.check_positive_int("evals", evals)
  v.check_in_range("ratio", ratio, 0.5, 1.0, closed="()")
  x0 = jnp.asarray(start, float)
  y0 = score(x0)

  def body(_, state):
    best_x, best_y, prop_x, delta, growing = state
    moved = jnp.where(prop_x < best_x, prop_x + delta, prop_x - delta)
    # while x < 0: x = (x + prop_x) / 2  (prop_x >= 0 keeps this finite)
    moved = jax.lax.while_loop(lambda x: x < 0,
                               lambda x: (x + prop_x) / 2, moved)
    candidate = jnp.where(growing, best_x + delta, moved)
    y = score(candidate)
    better = y > best_y
    new_delta = jnp.where(growing, jnp.where(better, 2 * delta,
                                             ratio * delta), ratio * delta)
    return (jnp.where(better, candidate, best_x),
            jnp.where(better, y, best_y), candidate, new_delta,
            growing & better)

  state = (x0, y0, x0, jnp.asarray(delta, float), jnp.asarray(True))
  return jax.lax.fori_loop(0, evals - 1, body, state)[0]


def nna_bias(honest, byzantine, f: int) -> jax.Array:
  r""":math:`\|\frac1{|H|}\sum_{i\in H}\mathrm{NNA}_i - \bar x_H\|^2` with
  the Byzantine vectors appended after the honest ones."""
  honest = jnp.asarray(honest)
  out = nna(jnp.concatenate([honest, byzantine]), f, pivots=honest)
  return jnp.sum((out.mean(0) - honest.mean(0))**2)


def attack(name: str, honest, f: int, *, factor=None,
           scale: float = 1e3) -> jax.Array:
  """The f Byzantine vectors ``(f, d)`` of attack ``name`` on ``honest``.

  Args:
    name: one of :data:`ATTACKS`.
    honest: ``(h, d)`` honest vectors.
    f: number of Byzantine vectors (>= 1).
    factor: ALIE's / FOE's factor c (default: the line search against NNA
      with ``f`` declared, as the authors' default ``factor=-16``).
    scale: the large-norm attack's offset norm.
  """
  x = jnp.asarray(honest)
  f = v.check_positive_int("f", f)
  if name not in ATTACKS:
    raise ValueError(f"name must be one of {ATTACKS}, got {name!r}")

  def bias(vec):
    return nna_bias(x, jnp.broadcast_to(vec, (f, x.shape[1])), f)

  return jnp.broadcast_to(_attack_vector(name, x, bias, factor, scale),
                          (f, x.shape[1]))


def _attack_vector(name, x, bias, factor, scale):
  """One Byzantine vector; ``bias(vector)`` is the line search's score."""
  mean = x.mean(0)
  if name == "sign_flip":
    return -mean
  if name == "large_norm":
    return mean + scale / np.sqrt(x.shape[1])
  direction = jnp.std(x, axis=0, ddof=1) if name == "alie" else -mean
  if factor is None:
    factor = line_maximize(lambda c: bias(mean + c * direction))
  return mean + factor * direction


def reduction_constants(honest, byzantine, f: int) -> tuple[float, float]:
  r"""Measured :math:`(\alpha, \lambda)` of NNA on one input:
  :math:`\alpha = \frac{\frac1{|H|}\sum\|y_i-\bar y\|^2}
  {\frac1{|H|}\sum\|x_i-\bar x\|^2}`, :math:`\lambda = \frac{\|\bar y -
  \bar x\|^2}{\frac1{|H|}\sum\|x_i-\bar x\|^2}`, y the honest outputs."""
  honest = jnp.asarray(honest)
  out = nna(jnp.concatenate([honest, jnp.asarray(byzantine)]), f,
            pivots=honest)
  spread_in = jnp.mean(jnp.sum((honest - honest.mean(0, keepdims=True))**2, -1))
  spread_out = jnp.mean(jnp.sum((out - out.mean(0, keepdims=True))**2, -1))
  bias = jnp.sum((out.mean(0) - honest.mean(0))**2)
  return float(spread_out / spread_in), float(bias / spread_in)


@dataclasses.dataclass(frozen=True)
class MoNNARun:
  """Arrays over steps t = 0..T (float numpy), of the honest nodes.

  Attributes:
    honest_objective: :math:`f_H(\\bar x_H^t)`, f_H the honest clients'
      mean loss.
    gradient_norm_sq: :math:`\\|\\nabla f_H(\\bar x_H^t)\\|^2`.
    spread: :math:`\\frac1{|H|}\\sum_i\\|x_i^t - \\bar x_H^t\\|^2`.
    gradient_evaluations: honest gradient evaluations before step t,
      :math:`|H|\\,t`.
    models: final honest models ``(|H|, d)``.
    diverged_at: first non-finite step, or -1.
  """

  honest_objective: np.ndarray
  gradient_norm_sq: np.ndarray
  spread: np.ndarray
  gradient_evaluations: np.ndarray
  models: np.ndarray
  diverged_at: int


def run_monna(problem: DistributedFiniteSum, num_byzantine: int,
              attack_name: str, step_size: float, num_steps: int, *,
              momentum: float = 0.9, noise_std: float = 0.0,
              key: jax.Array | None = None, params=None) -> MoNNARun:
  r"""MoNNA with ``problem``'s clients honest and ``num_byzantine`` more.

  Args:
    problem: the honest clients' problem (|H| clients).
    num_byzantine: f >= 0 (f = 0: momentum D-SGD with exact averaging);
      needs :math:`f < (|H| + f)/2`.
    attack_name: one of :data:`ATTACKS` (ignored when f = 0).
    step_size: :math:`\gamma > 0`.
    num_steps: T >= 1.
    momentum: :math:`\beta \in [0, 1)`.
    noise_std: :math:`\sigma \ge 0` of the Gaussian gradient noise.
    key: PRNG key of the noise (default ``key(0)``).
    params: common start (default ``problem.initial_point``).
  """
  return run_monna_many([problem], num_byzantine, attack_name, step_size,
                        num_steps, momentum=momentum, noise_std=noise_std,
                        keys=None if key is None else [key],
                        params=None if params is None else [params])[0]


def run_monna_many(problems, num_byzantine: int, attack_name: str,
                   step_size: float, num_steps: int, *,
                   momentum: float = 0.9, noise_std: float = 0.0,
                   keys=None, params=None,
                   max_byzantine: int | None = None) -> list[MoNNARun]:
  """:func:`run_monna` on several problems of one client loss and shape
  (one compiled program, the problems under ``vmap``); the arguments not
  listed here are :func:`run_monna`'s.

  Args:
    problems: a non-empty sequence of problems sharing ``client_loss``,
      client count and dimension.
    keys: one PRNG key per problem (default ``key(i)`` for problem i).
    params: one start per problem (default each ``initial_point``).
    max_byzantine: Byzantine slots of the compiled program (default f):
      runs with any f up to it share one compilation (the unused slots are
      masked out of NNA).
  """
  problems = list(problems)
  if not problems:
    raise ValueError("problems must be a non-empty sequence, got []")
  first = problems[0]
  h = first.num_clients
  for p in problems:
    if (p.client_loss is not first.client_loss or p.num_clients != h
        or p.dim != first.dim):
      raise ValueError("problems must share client_loss, num_clients and "
                       "dim")
  f = v.check_positive_int("num_byzantine", num_byzantine, minimum=0)
  if 2 * f >= h + f:
    raise ValueError(f"num_byzantine must be in [0, {h - 1}] (f < n/2) with "
                     f"{h} honest clients, got {f}")
  if attack_name not in ATTACKS:
    raise ValueError(f"attack_name must be one of {ATTACKS}, got "
                     f"{attack_name!r}")
  gamma = v.check_positive("step_size", step_size)
  steps = v.check_positive_int("num_steps", num_steps)
  beta = v.check_in_range("momentum", momentum, 0.0, 1.0, closed="[)")
  sigma = v.check_nonnegative("noise_std", noise_std)
  x0 = jnp.stack([jnp.asarray(p.initial_point) for p in problems]
                 if params is None else [jnp.asarray(x) for x in params])
  if x0.shape != (len(problems), first.dim):
    raise ValueError(f"params must be {len(problems)} vectors of shape "
                     f"({first.dim},), got {x0.shape}")
  keys = (jnp.stack([jax.random.key(i) for i in range(len(problems))])
          if keys is None else jnp.stack(list(keys)))
  data = jax.tree.map(lambda *a: jnp.stack([jnp.asarray(b) for b in a]),
                      *[p.data for p in problems])
  slots = f if max_byzantine is None else v.check_positive_int(
      "max_byzantine", max_byzantine, minimum=f)
  if slots >= h:
    raise ValueError(f"max_byzantine must be in [{f}, {h - 1}], got {slots}")
  out = _program(first.client_loss, slots, steps)(
      data, x0, jnp.asarray(f), jnp.asarray(ATTACKS.index(attack_name)),
      jnp.asarray(gamma), jnp.asarray(beta), jnp.asarray(sigma), keys)
  out = jax.tree.map(np.asarray, out)
  runs = []
  for i in range(len(problems)):
    runs.append(MoNNARun(
        honest_objective=out["honest_objective"][i],
        gradient_norm_sq=out["gradient_norm_sq"][i],
        spread=out["spread"][i], gradient_evaluations=h * np.arange(steps + 1),
        models=out["models"][i],
        diverged_at=first_nonfinite(out["honest_objective"][i],
                                    out["gradient_norm_sq"][i])))
  return runs


@functools.lru_cache(maxsize=32)
def _program(client_loss, slots, steps):
  """One compiled program per (client loss, Byzantine slots, T); f (at most
  ``slots``) and the attack (``lax.switch``'s index) are arguments."""
  problem = DistributedFiniteSum(name="program", client_loss=client_loss,
                                 data=None, initial_point=np.zeros(0),
                                 constants={})
  local_gradients = jax.vmap(jax.grad(client_loss))

  def measure(x, data):
    mean = x.mean(0)
    return {"honest_objective": problem.objective(mean, data),
            "gradient_norm_sq": jnp.sum(problem.gradient(mean, data)**2),
            "spread": jnp.mean(jnp.sum((x - mean[None])**2, -1))}

  def program(data, x0, f, attack_index, gamma, beta, sigma, key):
    h = jax.tree.leaves(data)[0].shape[0]
    x = jnp.broadcast_to(x0, (h,) + x0.shape)
    # n = h + f received vectors, NNA keeps n - f = h of them; the slots
    # beyond f are inactive.
    active = jnp.arange(h + slots) < h + f

    def received(half, vec):
      return jnp.concatenate([half, jnp.broadcast_to(vec, (slots,)
                                                     + vec.shape)])

    def byzantine(name, half):
      def bias(vec):
        out = _nna_keep(received(half, vec), h, half, active)
        return jnp.sum((out.mean(0) - half.mean(0))**2)
      return _attack_vector(name, half, bias, None, 1e3)

    def body(carry, step_key):
      x, m = carry
      out = measure(x, data)
      g = local_gradients(x, data) + sigma * jax.random.normal(step_key,
                                                               x.shape)
      m = beta * m + (1 - beta) * g
      half = x - gamma * m
      if slots:
        vec = jax.lax.switch(attack_index, [
            functools.partial(byzantine, name) for name in ATTACKS], half)
        x = _nna_keep(received(half, vec), h, half, active)
      else:
        x = jnp.broadcast_to(half.mean(0), half.shape)
      return (x, m), out

    (x, _), trace = jax.lax.scan(body, (x, jnp.zeros_like(x)),
                                 jax.random.split(key, steps))
    last = measure(x, data)
    trace = jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), trace,
                         last)
    return {**trace, "models": x}

  # Problems under vmap; the attack (lax.switch's index) and the scalars
  # are shared, so only the chosen attack's branch runs.
  return jax.jit(jax.vmap(program, in_axes=(0, 0, None, None, None, None,
                                            None, 0)))
