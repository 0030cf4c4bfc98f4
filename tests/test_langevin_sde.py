"""The spherical Langevin SDE of wei2026's schedule, its averaged estimators,
and the warm start of the overlap chain."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from boundlab.algorithms.langevin import spherical_langevin_sde
from boundlab.algorithms.spherical_sgd import (tensor_pca_overlap_chain,
                                               uniform_start_overlap)
from boundlab.experiments.phase_diagram import (AveragedLangevinSDE,
                                                OnlineSGDChains, PhaseDiagram)
from boundlab.claims import Bound


def test_one_block_written_out():
  # The update step by step in numpy with the same Brownian increments:
  # 10 steps in blocks of 4 (the last block's two extra steps are masked).
  d, eps, dt, steps, block = 5, 0.7, 0.03, 10, 4
  a = np.arange(1.0, d + 1)
  drift = lambda x: jnp.sin(x) + a[None, :]   # any smooth field
  x0 = np.eye(d)[:2]
  key = jax.random.key(3)
  last, mean = spherical_langevin_sde(
      drift, jnp.asarray(x0), key, signal_weight=eps, time_step=dt,
      steps=steps, block=block)
  keys = jax.random.split(key, 3)
  xi = np.concatenate([np.asarray(jax.random.normal(k, (block, 2, d)))
                       for k in keys])
  x, total = x0.copy(), np.zeros_like(x0)
  for s in range(steps):
    move = eps * dt * (np.sin(x) + a[None, :]) + np.sqrt(dt) * xi[s]
    move -= np.sum(move * x, axis=1, keepdims=True) * x
    x = x + move
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    total += x
  np.testing.assert_allclose(np.asarray(last), x, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(mean), total / steps, rtol=1e-5,
                             atol=1e-6)


def test_stationary_law_is_von_mises_fisher():
  # Independent oracle: b = a constant (L = -<a, x>) on S^2 has stationary
  # law exp(2 eps <a, x>), von Mises-Fisher with kappa = 2 eps |a|, whose
  # mean resultant is coth(kappa) - 1/kappa. Checks the factor 2 of the
  # drift against the noise and the Ito drift the retraction supplies.
  # Slack 0.01: 64 chains x T = 200 give a standard error ~0.003; the
  # O(dt) discretisation bias at dt = 0.005 is below that.
  a = jnp.array([1.0, 0.0, 0.0])
  x0 = jnp.tile(jnp.array([[0.0, 1.0, 0.0]]), (64, 1))
  _, mean = jax.jit(lambda k: spherical_langevin_sde(
      lambda x: jnp.broadcast_to(a, x.shape), x0, k, signal_weight=1.0,
      time_step=0.005, steps=40_000))(jax.random.key(0))
  kappa = 2.0
  assert float(jnp.mean(mean[:, 0])) == pytest.approx(
      1 / np.tanh(kappa) - 1 / kappa, abs=0.01)


def test_second_moment_is_a_mean_of_projectors():
  x0 = jnp.eye(4)[:3]
  _, mean, second = spherical_langevin_sde(
      lambda x: x ** 2, x0, jax.random.key(1), signal_weight=1.0,
      time_step=0.1, steps=50, second_moment=True)
  assert second.shape == (3, 4, 4)
  np.testing.assert_allclose(np.trace(np.asarray(second), axis1=1, axis2=2),
                             1.0, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(second),
                             np.swapaxes(np.asarray(second), 1, 2))


def test_bad_schedule_is_refused():
  x0 = jnp.eye(3)[:1]
  for name, value in (("signal_weight", 0.0), ("time_step", -1.0),
                      ("steps", 0), ("block", 0)):
    kwargs = dict(signal_weight=1.0, time_step=0.1, steps=5) | {name: value}
    with pytest.raises(ValueError, match=name):
      spherical_langevin_sde(lambda x: x, x0, jax.random.key(0), **kwargs)


def test_warm_start_overlap_chain():
  key, d = jax.random.key(7), 50
  common = dict(dim=d, order=3, snr=1.0, learning_rate=0.01, num_chains=8,
                max_steps=400, block=16)
  # The default start is uniform_start_overlap of the first split key:
  # passing it explicitly reproduces the run exactly.
  k_start, _ = jax.random.split(key)
  m0 = uniform_start_overlap(k_start, d, (8,))
  default = tensor_pca_overlap_chain(key, **common)
  explicit = tensor_pca_overlap_chain(key, initial_overlap=m0, **common)
  np.testing.assert_array_equal(np.asarray(default[0]),
                                np.asarray(explicit[0]))
  # Started on the spike, every chain is above 0.5 after its first step.
  tau, _ = tensor_pca_overlap_chain(key, initial_overlap=jnp.ones(8),
                                    **common)
  assert np.all(np.asarray(tau) == 1)
  with pytest.raises(ValueError, match="initial_overlap"):
    tensor_pca_overlap_chain(key, initial_overlap=jnp.ones(3), **common)
  with pytest.raises(ValueError, match="initial_overlap"):
    tensor_pca_overlap_chain(key, initial_overlap=2 * jnp.ones(8), **common)


def test_averaged_sde_sampler_records():
  sampler = AveragedLangevinSDE(order=3)
  config = {"dims": [5], "grid_factors": [0.1, 1.0, 20.0],
            "expected_exponent": 1.5, **sampler.config_entries()}
  records = sampler.measure(config, [0, 1, 2])
  sizes = sampler.sample_sizes(config, 5)
  for record in records:
    assert set(record) == {"average", "two_stage", "last"}
    overlaps = np.asarray(record["average"]["5"])
    assert overlaps.shape == (3,) and np.all(np.abs(overlaps) <= 1 + 1e-6)
    tau = np.asarray(record["two_stage"]["5"])
    # A first passage is reported only within the stage's n fresh samples.
    assert np.all((tau == -1) | ((tau >= 1) & (tau <= sizes)))
  # Same seed, same records: one seed's cell does not depend on the others.
  again = sampler.measure(config, [1])
  assert again[0] == records[1]


def test_claims_on_one_run_may_state_different_exponents_only_if_allowed():
  from boundlab.paper_repro.wei2026 import PAPER
  bound = Bound(name="two", expression=2, statement_latex="2",
                citation=PAPER.cite("test", "test"))
  fields = dict(paper=PAPER, statement="s", measurement="m", bound=bound,
                tolerance=0.25, tolerance_reason="r")
  online = PhaseDiagram("test.online", OnlineSGDChains("tensor_pca", 3, 0.5,
                                                       1.5),
                        expected_exponent=1.5, quick_dims=(8,),
                        full_dims=(8,))
  with pytest.raises(ValueError, match="grid"):
    online.claim(id="wei2026.online_two", expected_exponent=2, **fields)
  averaged = PhaseDiagram("test.averaged", AveragedLangevinSDE(),
                          expected_exponent=1.5, quick_dims=(8,),
                          full_dims=(8,))
  with pytest.raises(ValueError, match="expected exponent 1.5"):
    averaged.claim(id="wei2026.averaged_wrong", **fields)
