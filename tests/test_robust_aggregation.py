"""Robust aggregators, attacks and MoNNA against written-out numpy versions.

The numpy references follow the authors' code (LPD-EPFL/robust-
collaborative-learning, commit 3425aa12: aggregators/cva.py, median.py,
trmean.py, krum.py, attacks/signflipping.py, identical.py,
tools/misc.py:line_maximize) line by line, in loops.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from boundlab.algorithms import robust_aggregation as ra
from boundlab.landscapes.distributed import federated_quadratics

jax.config.update("jax_enable_x64", True)

# float64 throughout; sorting-based rules are exact up to summation order.
TOL = 1e-12


def _np_nna_one(vectors, f, pivot):
  """cva.compute_closest_gradients with a pivot, then the mean."""
  scores = sorted(((i, np.linalg.norm(vectors[i] - pivot))
                   for i in range(len(vectors))), key=lambda s: s[1])
  return np.mean([vectors[scores[j][0]] for j in range(len(vectors) - f)], 0)


def _np_nna(vectors, f, pivots):
  return np.stack([_np_nna_one(vectors, f, p) for p in pivots])


def _np_trmean(vectors, f):
  out = np.empty(vectors.shape[1])
  for k in range(vectors.shape[1]):
    column = sorted(vectors[:, k])
    out[k] = np.mean(column[f:len(column) - f])
  return out


def _np_krum(vectors, f):
  m = len(vectors)
  best, best_score = None, None
  for i in range(m):
    dist = sorted(np.linalg.norm(vectors[i] - vectors[j])
                  for j in range(m) if j != i)
    score = sum(dist[:m - f - 1])
    if best_score is None or score < best_score:
      best, best_score = i, score
  return vectors[best]


def _np_line_maximize(scape, evals=16, start=0., delta=1., ratio=0.8):
  best_x = start
  best_y = scape(best_x)
  evals -= 1
  while evals > 0:
    prop_x = best_x + delta
    prop_y = scape(prop_x)
    evals -= 1
    if prop_y > best_y:
      best_y, best_x = prop_y, prop_x
      delta *= 2
    else:
      delta *= ratio
      break
  while evals > 0:
    if prop_x < best_x:
      prop_x += delta
    else:
      x = prop_x - delta
      while x < 0:
        x = (x + prop_x) / 2
      prop_x = x
    prop_y = scape(prop_x)
    evals -= 1
    if prop_y > best_y:
      best_y, best_x = prop_y, prop_x
    delta *= ratio
  return best_x


def _np_attack(name, honest, f):
  mean = honest.mean(0)
  if name == "sign_flip":
    vec = -mean
  elif name == "large_norm":
    vec = mean + 1e3 / np.sqrt(honest.shape[1])
  else:
    direction = honest.std(0, ddof=1) if name == "alie" else -mean

    def score(c):
      byz = np.tile(mean + c * direction, (f, 1))
      out = _np_nna(np.concatenate([honest, byz]), f, honest)
      return float(np.sum((out.mean(0) - mean)**2))
    vec = mean + _np_line_maximize(score) * direction
  return np.tile(vec, (f, 1))


def _inputs(seed, m=11, d=5):
  rng = np.random.default_rng(seed)
  return rng.standard_normal((m, d)) + 2.0


@pytest.mark.parametrize("seed,f", [(0, 0), (1, 1), (2, 3)])
def test_nna_matches_brute_force(seed, f):
  x = _inputs(seed)
  np.testing.assert_allclose(ra.nna(x, f), _np_nna(x, f, x), atol=TOL)
  pivots = x[:4] + 0.1
  np.testing.assert_allclose(ra.nna(x, f, pivots), _np_nna(x, f, pivots),
                             atol=TOL)


def test_nna_ties_broken_by_index():
  # Two identical far vectors: the first by index is kept, as Python's
  # stable sort in the authors' code.
  x = np.array([[0.0], [1.0], [1.0], [5.0]])
  np.testing.assert_allclose(ra.nna(x, 2, x[:1]), [[0.5]], atol=TOL)


def test_planted_bug_is_detected():
  """A wrong NNA (keeping m - f + 1 vectors) must fail the brute-force
  comparison: the check can fail."""
  x = _inputs(5)
  wrong = ra.nna(x, 2)   # keeps 9 of 11, the right answer for f = 2
  assert np.max(np.abs(wrong - _np_nna(x, 3, x))) > 1e-3
  # and a sign-flip attack with the mean not negated differs from the
  # reference.
  assert np.max(np.abs(x.mean(0) - _np_attack("sign_flip", x, 1)[0])) > 1


@pytest.mark.parametrize("seed", [3])
def test_median_trimmed_mean_krum(seed):
  for m in (10, 11):   # even and odd counts
    x = _inputs(seed, m=m)
    np.testing.assert_allclose(ra.coordinate_median(x), np.median(x, 0),
                               atol=TOL)
    for f in (0, 3):
      np.testing.assert_allclose(ra.trimmed_mean(x, f), _np_trmean(x, f),
                                 atol=TOL)
      np.testing.assert_allclose(ra.krum(x, f), _np_krum(x, f), atol=TOL)


def test_line_maximize_matches_authors_loop():
  for peak in (0.3, 2.7, 11.0):
    def score(c):
      return -(c - peak)**2
    assert float(ra.line_maximize(score)) == pytest.approx(
        _np_line_maximize(score), abs=1e-12)


@pytest.mark.parametrize("name,f", [("sign_flip", 3), ("large_norm", 2),
                                    ("alie", 1), ("alie", 3), ("foe", 2)])
def test_attacks_match_numpy(name, f):
  x = _inputs(7, m=9)
  np.testing.assert_allclose(ra.attack(name, x, f), _np_attack(name, x, f),
                             atol=1e-10)


def test_fixed_factor_attacks():
  x = _inputs(8)
  np.testing.assert_allclose(ra.attack("alie", x, 2, factor=1.5)[0],
                             x.mean(0) + 1.5 * x.std(0, ddof=1), atol=TOL)
  np.testing.assert_allclose(ra.attack("foe", x, 2, factor=1.5)[0],
                             -0.5 * x.mean(0), atol=TOL)


def test_reduction_constants():
  x = _inputs(9, m=8)
  byz = ra.attack("alie", x, 3)
  out = _np_nna(np.concatenate([x, byz]), 3, x)
  spread = np.mean(np.sum((x - x.mean(0))**2, 1))
  alpha, lam = ra.reduction_constants(x, byz, 3)
  assert alpha == pytest.approx(
      np.mean(np.sum((out - out.mean(0))**2, 1)) / spread, rel=1e-10)
  assert lam == pytest.approx(np.sum((out.mean(0) - x.mean(0))**2) / spread,
                              rel=1e-10)
  # f = 0: NNA is the exact average, alpha = lambda = 0.
  assert ra.reduction_constants(x, x[:0], 0) == pytest.approx((0.0, 0.0),
                                                              abs=1e-20)


@pytest.mark.parametrize("name,f", [("alie", 2), ("foe", 1), ("alie", 0)])
def test_monna_matches_step_by_step(name, f):
  problem = federated_quadratics(7, 4, heterogeneity=1.0, seed=1)
  gamma, beta, sigma, steps = 0.2, 0.8, 0.3, 12
  key = jax.random.key(3)
  x0 = np.linspace(-1.0, 1.0, 4)
  run = ra.run_monna(problem, f, name, gamma, steps, momentum=beta,
                     noise_std=sigma, key=key, params=x0)
  a, b = (np.asarray(problem.data["curvature"]),
          np.asarray(problem.data["centre"]))
  keys = jax.random.split(key, steps)
  x = np.tile(x0, (7, 1))
  m = np.zeros_like(x)
  objective = []
  for t in range(steps):
    objective.append(float(problem.objective(x.mean(0))))
    noise = np.asarray(jax.random.normal(keys[t], x.shape))
    g = np.stack([a[i] @ (x[i] - b[i]) for i in range(7)]) + sigma * noise
    m = beta * m + (1 - beta) * g
    half = x - gamma * m
    if f:
      x = _np_nna(np.concatenate([half, _np_attack(name, half, f)]), f, half)
    else:
      x = np.tile(half.mean(0), (7, 1))
  objective.append(float(problem.objective(x.mean(0))))
  np.testing.assert_allclose(run.models, x, atol=1e-10)
  np.testing.assert_allclose(run.honest_objective, objective, atol=1e-10)
  assert run.diverged_at == -1
  np.testing.assert_array_equal(run.gradient_evaluations,
                                7 * np.arange(steps + 1))


def test_monna_slots_do_not_change_the_run():
  """Masked Byzantine slots (one compilation for every f) are exact."""
  problem = federated_quadratics(7, 4, heterogeneity=1.0, seed=4)
  for f in (0, 2):
    single = ra.run_monna(problem, f, "foe", 0.2, 15)
    padded = ra.run_monna_many([problem], f, "foe", 0.2, 15,
                               max_byzantine=4)[0]
    np.testing.assert_allclose(padded.models, single.models, atol=1e-12)


def test_monna_f0_no_noise_converges():
  problem = federated_quadratics(6, 4, heterogeneity=2.0, seed=2)
  run = ra.run_monna(problem, 0, "alie", 0.5, 400, momentum=0.9)
  # Exact averaging, deterministic: momentum GD on f_H converges linearly;
  # 1e-8 is far above float64 round-off after 400 contractions.
  assert run.honest_objective[-1] - problem.constants["optimal_value"] < 1e-8


def test_monna_divergence_recorded():
  problem = federated_quadratics(6, 4, heterogeneity=1.0, seed=2)
  run = ra.run_monna(problem, 1, "alie", 1e3, 60, momentum=0.0)
  assert 0 <= run.diverged_at <= 60


def test_validation():
  x = _inputs(0)
  problem = federated_quadratics(6, 4, seed=0)
  with pytest.raises(ValueError, match="f must be"):
    ra.trimmed_mean(x, 6)
  with pytest.raises(ValueError, match="f must be"):
    ra.nna(x, 11)
  with pytest.raises(ValueError, match="name must be"):
    ra.attack("nope", x, 1)
  with pytest.raises(ValueError, match="num_byzantine"):
    ra.run_monna(problem, 6, "alie", 0.1, 10)
  with pytest.raises(ValueError, match="momentum"):
    ra.run_monna(problem, 1, "alie", 0.1, 10, momentum=1.0)
  with pytest.raises(ValueError, match="step_size"):
    ra.run_monna(problem, 1, "alie", -0.1, 10)
