"""DADAO's simulator against its update written out, event by event.

The oracle below is a literal numpy transcription of the authors' torch code
(github.com/AdelNabli/DADAO, commit eed1ed1b21a66da393f55433c26f7920b465eabe):
``optimizers.py`` ``DADAO_optimizer.initialize`` (lines 141-195: the
constants and the ODE matrix), ``update_params_i_after_ode`` (lines 197-221:
``torch.linalg.matrix_exp`` of the ODE on one node), ``step`` (lines
223-290: the gradient and gossip jumps, ``create_pi_ij`` of ``utils.py``
lines 8-19), with ``chi_1_star = chi_1 / lamb_mix`` (``run_optimizers.py``
line 79) and ``lamb_mix = sqrt(2 chi_1 chi_2)`` (``main.py`` line 293).
torch is not installed here, so their code could not be run; the oracle
replaces ``matrix_exp`` by ``scipy.linalg.expm``.
"""

import jax
import numpy as np
import pytest
import scipy.linalg

from boundlab.algorithms import dadao
from boundlab.landscapes.distributed import federated_quadratics
from boundlab.theory import graphs

jax.config.update("jax_enable_x64", True)


class _Oracle:
  """``DADAO_optimizer`` of the authors, in numpy (see the module
  docstring); ``bug`` plants a deliberately wrong variant."""

  def __init__(self, curvature, centre, x0, chi_1_star, mu, big_l, bug=None):
    self.a, self.b, self.bug = curvature, centre, bug
    n, d = centre.shape
    self.X = np.array(x0, float).copy()
    self.Y, self.Z = np.zeros((n, d)), np.zeros((n, d))
    self.Xt, self.Yt, self.Zt = (np.zeros((n, d)) for _ in range(3))
    nu = mu / 2
    self.nu = nu
    alpha = 0.25 * np.sqrt(nu / big_l)
    alpha_tilde = 0.125 * np.sqrt(nu / big_l)
    eta = 0.125 * np.sqrt(nu / big_l)
    theta = 0.5 * np.sqrt(big_l / nu)
    self.beta = 0.5
    self.beta_tilde = 2 * chi_1_star * np.sqrt(big_l / nu)
    self.delta = 0.25 * np.sqrt(nu / big_l)
    self.delta_tilde = 1.0
    self.gamma = 1 / (4 * big_l)
    self.gamma_tilde = 1 / (4 * np.sqrt(big_l * nu))
    m = np.zeros((6, 6))
    m[0, 0], m[0, 1], m[1, 0], m[1, 1] = -eta, eta, eta, -eta
    m[2, 2], m[2, 3] = -alpha, alpha
    m[3, 1], m[3, 2], m[3, 4] = -theta * nu, -theta, -theta
    m[4, 4], m[4, 5] = -alpha, alpha
    m[5, 4], m[5, 5] = alpha_tilde, -alpha_tilde
    self.m = m
    self.t_last = np.zeros(n)

  def _ode(self, t_old, t_new, i):
    p = np.stack([self.X[i], self.Xt[i], self.Y[i], self.Yt[i], self.Z[i],
                  self.Zt[i]])
    p = scipy.linalg.expm(self.m * (t_new - t_old)) @ p
    (self.X[i], self.Xt[i], self.Y[i], self.Yt[i], self.Z[i],
     self.Zt[i]) = p

  def step(self, is_grad, t, i, j):
    if is_grad:
      if self.bug != "gradient_before_ode":
        self._ode(self.t_last[i], t, i)
      grad = self.a[i] @ (self.X[i] - self.b[i])
      if self.bug == "gradient_before_ode":
        self._ode(self.t_last[i], t, i)
      x, yt = self.X[i].copy(), self.Yt[i].copy()
      g = grad - self.nu * x - yt
      self.X[i] = x - self.gamma * g
      self.Xt[i] = self.Xt[i] - self.gamma_tilde * g
      self.Yt[i] = yt + (self.delta + self.delta_tilde) * g
      self.t_last[i] = t
    else:
      self._ode(self.t_last[i], t, i)
      self._ode(self.t_last[j], t, j)
      n = len(self.X)
      pi = np.zeros((n, n))
      pi[i, j] = pi[j, i] = -1
      pi[i, i] = pi[j, j] = 1
      proj = pi @ (self.Y + self.Z)
      z, zt = self.Z.copy(), self.Zt.copy()
      for k in (i, j):
        sign = -1 if (self.bug == "gossip_sign" and k == j) else 1
        self.Z[k] = z[k] - sign * self.beta * proj[k]
        self.Zt[k] = zt[k] - self.beta_tilde * proj[k]
      self.t_last[i] = self.t_last[j] = t


def _setup(topology="ring", n=6, d=3, kappa=20.0, seed=0):
  problem = federated_quadratics(n, d, condition_number=kappa, seed=seed)
  adjacency = graphs.adjacency(topology, n)
  rng = np.random.default_rng(seed)
  x0 = rng.standard_normal((n, d))
  return problem, adjacency, x0


def _oracle_errors(problem, adjacency, x0, events, kappa, bug=None):
  rates = dadao.graph_rates(adjacency)
  oracle = _Oracle(np.asarray(problem.data["curvature"]),
                   np.asarray(problem.data["centre"]), x0,
                   rates["chi_1_star"], 1 / kappa, 1.0, bug=bug)
  x_star = problem.constants["optimum"]
  errors = [np.mean(np.sum((oracle.X - x_star)**2, 1))]
  for t, g, i, j in zip(events.times, events.is_gradient, events.node_i,
                        events.node_j):
    oracle.step(bool(g), float(t), int(i), int(j))
    errors.append(np.mean(np.sum((oracle.X - x_star)**2, 1)))
  return np.array(errors), oracle


@pytest.mark.parametrize("topology", ["ring", "complete"])
def test_matches_the_authors_update_event_by_event(topology):
  kappa = 20.0
  problem, adjacency, x0 = _setup(topology, kappa=kappa)
  events = dadao.sample_events(adjacency, 400, np.random.default_rng(3))
  assert events.is_gradient.any() and (~events.is_gradient).any()
  run = dadao.run_dadao(problem, adjacency, smoothness=1.0,
                        strong_convexity=1 / kappa, events=events, params=x0)
  expected, oracle = _oracle_errors(problem, adjacency, x0, events, kappa)
  # Slack 1e-9 relative: float64, expm by Pade (oracle) vs by the
  # eigen-decomposition (ours, condition number ~ 20) over 400 events.
  np.testing.assert_allclose(run.error, expected, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(run.x, oracle.X, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bug", ["gossip_sign", "gradient_before_ode"])
def test_planted_bug_is_detected(bug):
  kappa = 20.0
  problem, adjacency, x0 = _setup("ring", kappa=kappa)
  events = dadao.sample_events(adjacency, 400, np.random.default_rng(3))
  run = dadao.run_dadao(problem, adjacency, smoothness=1.0,
                        strong_convexity=1 / kappa, events=events, params=x0)
  wrong, _ = _oracle_errors(problem, adjacency, x0, events, kappa, bug=bug)
  assert not np.allclose(run.error, wrong, rtol=1e-6, atol=1e-9)


def test_constants_and_graph_rates():
  c = dadao.dadao_constants(1.0, 0.02, 3.0)
  root = np.sqrt(0.01)
  assert c.nu == pytest.approx(0.01)
  assert c.gamma == pytest.approx(0.25)
  assert c.gamma_tilde == pytest.approx(1 / (4 * root))
  assert c.beta_tilde == pytest.approx(6 / root)
  assert c.delta == pytest.approx(root / 4)
  for kappa in (1.0, 4.0, 1024.0, 1e6):
    m = dadao.dadao_constants(1.0, 1 / kappa, 1.0).ode_matrix
    w, vec, inv = dadao.ode_eigensystem(m)
    for s in (0.1, 10.0, 1000.0):
      exact = scipy.linalg.expm(m * s)
      np.testing.assert_allclose(((vec * np.exp(w * s)) @ inv).real, exact,
                                 atol=1e-10 * max(1, np.abs(exact).max()))
  # Edge-transitive graphs: the resistance of an edge of L is (n - 1)/|E|,
  # of L/|E| it is n - 1, so chi_2 = (n - 1)/2 exactly [D].
  for topology in ("ring", "complete", "torus"):
    rates = dadao.graph_rates(graphs.adjacency(topology, 16))
    assert rates["chi_2"] == pytest.approx(7.5)
    assert rates["gossip_rate"] == pytest.approx(
        np.sqrt(2 * rates["chi_1"] * rates["chi_2"]))
  # Complete graph on n: lambda_2(L) = n, |E| = n(n-1)/2: chi_1 = (n-1)/2.
  assert dadao.graph_rates(graphs.adjacency("complete", 16))["chi_1"] == (
      pytest.approx(7.5))


def test_events_have_the_authors_rates():
  adjacency = graphs.adjacency("ring", 8)
  rates = dadao.graph_rates(adjacency)
  events = dadao.sample_events(adjacency, 20000, np.random.default_rng(0))
  total = rates["gradient_rate"] + rates["gossip_rate"]
  # 20000 exponential gaps: the mean rate has a relative sd of 0.7%; 4%
  # is about 5.6 sd. Gradient fraction: sd 0.0035, slack 0.02 (5.7 sd).
  assert len(events.times) / events.times[-1] == pytest.approx(total,
                                                               rel=0.04)
  assert events.is_gradient.mean() == pytest.approx(
      rates["gradient_rate"] / total, abs=0.02)
  gossip = ~events.is_gradient
  assert np.all(adjacency[events.node_i[gossip], events.node_j[gossip]] > 0)


def test_converges_and_counts():
  problem, adjacency, _ = _setup("ring", n=8, d=3, kappa=10.0)
  run = dadao.run_dadao(problem, adjacency, smoothness=1.0,
                        strong_convexity=0.1, num_events=20000, seed=1,
                        tolerance=1e-6)
  assert run.diverged_at == -1
  assert run.gradients_to_tolerance > 0
  assert run.communications_to_tolerance > 0
  assert run.gradients[-1] + run.communications[-1] == 20000


def test_bad_arguments():
  problem, adjacency, _ = _setup()
  with pytest.raises(ValueError, match="strong_convexity"):
    dadao.run_dadao(problem, adjacency, smoothness=1.0, strong_convexity=2.0,
                    num_events=10)
  with pytest.raises(ValueError, match="tolerance"):
    dadao.run_dadao(problem, adjacency, smoothness=1.0, strong_convexity=0.1,
                    num_events=10, tolerance=1.5)
  with pytest.raises(ValueError, match="num_events"):
    dadao.run_dadao(problem, adjacency, smoothness=1.0, strong_convexity=0.1)
  with pytest.raises(ValueError, match="adjacency_matrix"):
    dadao.run_dadao(problem, np.ones((3, 3)) - np.eye(3), smoothness=1.0,
                    strong_convexity=0.1, num_events=10)


def test_claims_reject_a_non_accelerated_count():
  """Planted bug at the claim level: counts growing like L/mu (a
  non-accelerated method) or like chi_1 chi_2 must read violated."""
  from boundlab.claims import Records
  from boundlab.claims.verdict import Outcome, decide
  from boundlab.paper_repro import nabli2023 as paper
  config = paper._config(True)
  rng = np.random.default_rng(0)
  kappas = np.asarray(config["condition_numbers"])
  chis = np.asarray(config["sqrt_chi1_chi2"])
  records = Records([{
      "gradients_to_tolerance": (100 * kappas * rng.uniform(0.9, 1.1, 3)
                                 ).tolist(),
      "communications_to_tolerance": (10 * chis**2 * rng.uniform(
          0.9, 1.1, 4)).tolist(),
      "gradients_by_topology": [1, 1, 1, 1], "error_curves": [[1.0]] * 3,
      "diverged_at": -1} for _ in range(4)])
  for claim in paper.CLAIMS:
    evaluation = claim.evaluate(config, records, 0.05)
    assert decide(claim.relation, evaluation.ci, (1.0, 1.0),
                  claim.tolerance) is Outcome.VIOLATED
