"""FedStale / FedAvg / FedVARP and the asynchronous scheme of Fraboni et al.
against step-by-step numpy loops."""

import jax
import numpy as np
import pytest

from boundlab.algorithms import federated as fed
from boundlab.landscapes.distributed import federated_quadratics
from boundlab.paper_repro import rodio2024

jax.config.update("jax_enable_x64", True)

N, D, K = 6, 4, 3


def _problem(seed=0, zeta=2.0):
  return federated_quadratics(N, D, heterogeneity=zeta, seed=seed)


def _authors_loop(a, b, p, masks, noise, x0, eta_l, eta_s, beta,
                  planted=None):
  """FedStale as the structure of the authors' code (arodio/FedStale
  de3c12e): deltas of the sampled clients with weights alpha_i / p_i
  (UnbiasedClientsSampler); the averaged history with weights alpha_i for
  the inactive and alpha_i - alpha_i / p_i for the active clients
  (HistoryTracker.average), added with history_coefficient = beta
  (HistorySGD.step); then the history of the sampled clients is replaced
  by their delta (update_history); an empty round is skipped."""
  n = b.shape[0]
  alpha = np.full(n, 1.0 / n)
  x = np.array(x0, float)
  history = np.zeros_like(b)
  xs = [x.copy()]
  for t in range(masks.shape[0]):
    sampled = [i for i in range(n) if masks[t, i]]
    if not sampled:
      xs.append(x.copy())
      continue
    deltas = {}
    for i in sampled:
      y = x.copy()
      for k in range(noise.shape[1]):
        y = y - eta_l * (a[i] @ (y - b[i]) + noise[t, k, i])
      deltas[i] = x - y
    weight = {i: alpha[i] / (1.0 if planted == "no_inverse_p" else p[i])
              for i in sampled}
    fresh = sum(weight[i] * deltas[i] for i in sampled)
    averaged_history = sum(
        (alpha[i] - weight[i] if i in sampled else alpha[i]) * history[i]
        for i in range(n))
    x = x - eta_s * (fresh + beta * averaged_history)
    for i in sampled:
      if planted != "stale_memory_frozen":
        history[i] = deltas[i]
    xs.append(x.copy())
  return np.array(xs)


def _setup(seed=0, rounds=25):
  problem = _problem(seed)
  a, b = fed.quadratic_parts(problem)
  p = np.array([0.9, 0.6, 0.3, 0.9, 0.2, 0.5])
  rng = np.random.default_rng(seed)
  masks = fed.participation_masks(p, rounds, rng)
  masks[3] = False  # an empty round
  noise = rng.standard_normal((rounds, K, N, D))
  x0 = rng.standard_normal(D)
  return problem, a, b, p, masks, noise, x0


@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0])
def test_fedstale_matches_authors_update(beta):
  problem, a, b, p, masks, noise, x0 = _setup()
  sigma, eta_l, eta_s = 0.7, 0.1, 0.8
  run = fed.run_fedstale(problem, p, masks.shape[0], beta=beta,
                         local_steps=K, local_step_size=eta_l,
                         server_step_size=eta_s, noise_std=sigma, masks=masks,
                         noise=noise, params=x0)
  ref = _authors_loop(a, b, p, masks, sigma * noise, x0, eta_l, eta_s, beta)
  # float64, same operations in another order: rounding ~1e-15 per round.
  np.testing.assert_allclose(run.iterates, ref, rtol=0, atol=1e-11)
  assert run.diverged_at == -1
  np.testing.assert_array_equal(run.iterates[4], run.iterates[3])


def test_endpoints_match_fedavg_and_fedvarp_references():
  problem, a, b, p, masks, noise, x0 = _setup(seed=1)
  for beta, reference in ((0.0, rodio2024.fedavg_reference),
                          (1.0, rodio2024.fedvarp_reference)):
    run = fed.run_fedstale(problem, p, masks.shape[0], beta=beta,
                           local_steps=K, local_step_size=0.1, noise_std=0.5,
                           masks=masks, noise=noise, params=x0)
    ref = reference(a, b, p, masks, 0.5 * noise, x0, 0.1)
    np.testing.assert_allclose(run.iterates, ref, rtol=0, atol=1e-11)


@pytest.mark.parametrize("planted", ["no_inverse_p", "stale_memory_frozen"])
def test_planted_bug_is_detected(planted):
  """A wrong variant of the update must fail the comparison."""
  problem, a, b, p, masks, noise, x0 = _setup(seed=2)
  run = fed.run_fedstale(problem, p, masks.shape[0], beta=0.5, local_steps=K,
                         local_step_size=0.1, masks=masks, noise=noise,
                         params=x0)
  wrong = _authors_loop(a, b, p, masks, 0 * noise, x0, 0.1, 1.0, 0.5,
                        planted=planted)
  assert np.max(np.abs(run.iterates - wrong)) > 1e-3


def test_masks_are_bernoulli_and_noise_key_is_used():
  p = np.array([0.9, 0.1, 0.5])
  masks = fed.participation_masks(p, 20000, seed=3)
  # 5 standard errors of a Bernoulli mean over 20000 draws.
  se = np.sqrt(p * (1 - p) / 20000)
  assert np.all(np.abs(masks.mean(0) - p) < 5 * se)
  problem = _problem()
  pp = np.full(N, 0.5)
  one = fed.run_fedstale(problem, pp, 5, noise_std=1.0, key=jax.random.key(1))
  two = fed.run_fedstale(problem, pp, 5, noise_std=1.0, key=jax.random.key(2))
  assert not np.allclose(one.final, two.final)


def test_divergence_is_recorded_not_raised():
  run = fed.run_fedstale(_problem(), np.ones(N), 600, local_steps=1,
                         local_step_size=20.0, params=np.full(D, 1e3))
  assert run.diverged_at > 0


@pytest.mark.parametrize("kwargs, name", [
    ({"beta": 1.5}, "beta"), ({"local_steps": 0}, "local_steps"),
    ({"local_step_size": -1.0}, "local_step_size"),
    ({"masks": np.ones((3, N), bool)}, "masks")])
def test_fedstale_rejects_bad_input(kwargs, name):
  with pytest.raises(ValueError, match=name):
    fed.run_fedstale(_problem(), np.full(N, 0.5), 5, **kwargs)


def test_bad_probabilities_rejected():
  with pytest.raises(ValueError, match="probabilities"):
    fed.run_fedstale(_problem(), np.zeros(N), 5)


# -- asynchronous scheme ------------------------------------------------------------

def _grad_step(a, b, i, theta, eta):
  return eta * (a[i] @ (theta - b[i]))   # Delta_i(theta) for K = 1


def test_async_arrival_by_hand():
  problem = federated_quadratics(2, 3, heterogeneity=1.0, seed=4)
  a, b = fed.quadratic_parts(problem)
  durations = np.array([[1.0, 1.0, 1.0, 1.0], [1.5, 2.0, 2.0, 2.0]])
  eta, p = 0.3, np.array([0.5, 0.5])
  run = fed.run_async(problem, 4, durations=durations,
                      aggregation="arrival", step_size=eta)
  # arrivals: c0 @1 (from th0), c1 @1.5 (from th0), c0 @2 (from th1),
  # c0 @3 (from th3); c1 next at 3.5.
  th = [np.zeros(3)]
  th.append(th[0] - p[0] * _grad_step(a, b, 0, th[0], eta))
  th.append(th[1] - p[1] * _grad_step(a, b, 1, th[0], eta))
  th.append(th[2] - p[0] * _grad_step(a, b, 0, th[1], eta))
  th.append(th[3] - p[0] * _grad_step(a, b, 0, th[3], eta))
  np.testing.assert_allclose(run.iterates, np.array(th), atol=1e-14)
  np.testing.assert_allclose(run.times, [1.0, 1.5, 2.0, 3.0])
  np.testing.assert_array_equal(run.delays[:, 1], [0, 1, 0, 0])


def test_async_window_by_hand_fedfix_weights():
  problem = federated_quadratics(2, 3, heterogeneity=1.0, seed=5)
  a, b = fed.quadratic_parts(problem)
  rates = np.array([2.0, 0.5])
  eta, p, dt = 0.2, np.array([0.5, 0.5]), 1.0
  run = fed.run_async(problem, 6, rates=rates, aggregation="window",
                      weights="fedfix", window=dt, step_size=eta, seed=9)
  rng = np.random.default_rng(9)
  omega = p / (1 - np.exp(-rates * dt))
  finish = np.array([rng.exponential(1 / r) for r in rates])
  start = [np.zeros(3), np.zeros(3)]
  theta = np.zeros(3)
  out = [theta.copy()]
  for step in range(6):
    now = (step + 1) * dt
    done = [i for i in range(2) if finish[i] <= now]
    theta = theta - sum(omega[i] * _grad_step(a, b, i, start[i], eta)
                        for i in done)
    for i in done:
      start[i] = theta.copy()
      finish[i] = now + rng.exponential(1 / rates[i])
    out.append(theta.copy())
  np.testing.assert_allclose(run.iterates, np.array(out), atol=1e-14)


def test_delivery_rate_matches_expected_weights():
  problem = federated_quadratics(4, 2, seed=0)
  rates = np.array([3.0, 1.0, 0.5, 0.2])
  run = fed.run_async(problem, 20000, rates=rates, aggregation="window",
                      window=0.7, step_size=0.01, seed=1)
  q = fed.delivery_probability(rates, 0.7)
  se = np.sqrt(q * (1 - q) / 20000)
  # Memoryless durations: Bernoulli(q_i) deliveries; 5 standard errors.
  assert np.all(np.abs(run.arrivals.mean(0) - q) < 5 * se)
  arrival = fed.run_async(problem, 20000, rates=rates, aggregation="arrival",
                          step_size=0.01, seed=2)
  share = rates / rates.sum()
  se = np.sqrt(share * (1 - share) / 20000)
  assert np.all(np.abs(arrival.arrivals.mean(0) - share) < 5 * se)


def test_weighted_argmin_zeroes_weighted_gradient():
  problem = _problem(3)
  a, b = fed.quadratic_parts(problem)
  q = np.array([0.1, 0.3, 0.05, 0.2, 0.25, 0.1])
  x = fed.weighted_argmin(problem, q)
  np.testing.assert_allclose(np.einsum("n,nij,nj->i", q, a, x - b), 0,
                             atol=1e-12)
  np.testing.assert_allclose(fed.weighted_argmin(problem, np.ones(N)),
                             problem.constants["optimum"], atol=1e-10)


def _bias_ratio(weights, seed):
  problem = federated_quadratics(6, 3, heterogeneity=2.0, seed=seed)
  rates = np.array([4.0, 4.0, 4.0, 0.5, 0.5, 0.5])
  p = np.full(6, 1 / 6)
  x_star = problem.constants["optimum"]
  u = fed.weighted_argmin(problem, fed.expected_weights(
      rates, p, aggregation="window", weights="naive")) - x_star
  run = fed.run_async(problem, 3000, rates=rates, aggregation="window",
                      weights=weights, step_size=0.05, seed=seed)
  return (run.iterates[1500:].mean(0) - x_star) @ u / (u @ u)


def test_fedfix_unbiased_and_naive_biased():
  """The planted bug (naive weights where FedFix reweights) fails the
  fedfix check: its ratio is near 1, not 0."""
  fedfix = np.mean([_bias_ratio("fedfix", s) for s in range(3)])
  naive = np.mean([_bias_ratio("naive", s) for s in range(3)])
  # Slack 0.15: O(eta) delay correlation plus the noise of 3 short runs.
  assert abs(fedfix) < 0.15
  assert abs(naive - 1) < 0.15
  assert naive - fedfix > 0.7     # the reweighting removes most of the bias


def test_async_rejects_bad_input():
  problem = _problem()
  with pytest.raises(ValueError, match="rates"):
    fed.run_async(problem, 5)
  with pytest.raises(ValueError, match="fedfix"):
    fed.run_async(problem, 5, rates=np.ones(N), aggregation="arrival",
                  weights="fedfix")
  with pytest.raises(ValueError, match="window"):
    fed.run_async(problem, 5, rates=np.ones(N), window=0.0)
