"""1-bit Adam's simulator against a step-by-step numpy transcription, its
identities, its input checks, and the paper's claims end to end (quick)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from boundlab import landscapes
from boundlab.algorithms import compressors
from boundlab.algorithms import onebit_adam as ob
from boundlab.claims import Records, runner
from boundlab.paper_repro import tang2021

U64 = 2.0**-53
N, D, WORKERS, STEPS, WARM = 4, 3, 2, 7, 2
SETTINGS = dict(num_workers=WORKERS, num_steps=STEPS, warmup_steps=WARM,
                lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8)


@pytest.fixture(scope="module")
def tiny():
  """A 4-example least squares, split into 2 shards of 2 (full gradients)."""
  return landscapes.linear_regression(N, D, noise=0.3, seed=3)


def _sign(u):
  return np.where(u >= 0, 1.0, -1.0)


def _compress(u):
  return np.linalg.norm(u) / np.sqrt(u.size) * _sign(u)


def _reference(land, x0, *, num_workers, num_steps, warmup_steps, lr, beta1,
               beta2, eps, bias_correction=True, local_momentum=False,
               worker_error=None, server_error=None):
  """The update written out step by step (module docstring of onebit_adam;
  DeepSpeed's OnebitAdam when bias_correction=False)."""
  xs = np.asarray(land.data["x"]).reshape(num_workers, -1, D)
  ys = np.asarray(land.data["y"]).reshape(num_workers, -1)

  def grads(x):
    return np.stack([a.T @ (a @ x - b) / len(b) for a, b in zip(xs, ys)])

  x, m, v = np.array(x0, float), np.zeros(D), np.zeros(D)
  path = [x]
  for t in range(warmup_steps):
    gbar = grads(x).mean(0)
    m = beta1 * m + (1 - beta1) * gbar
    v = beta2 * v + (1 - beta2) * gbar**2
    m_hat, v_hat = ((m / (1 - beta1**(t + 1)), v / (1 - beta2**(t + 1)))
                    if bias_correction else (m, v))
    x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
    path.append(x)
  precond = 1 / (np.sqrt(v_hat) + eps)
  mbar, local = m, np.tile(m, (num_workers, 1))
  delta = (np.zeros((num_workers, D)) if worker_error is None
           else np.array(worker_error, float))
  sdelta = np.zeros(D) if server_error is None else np.array(server_error)
  for _ in range(warmup_steps, num_steps):
    g = grads(x)
    u = beta1 * (local if local_momentum else mbar[None]) + (1 - beta1) * g
    sent = np.stack([_compress(u[i] + delta[i]) for i in range(num_workers)])
    delta = u + delta - sent
    a = sent.mean(0)
    mbar = _compress(a + sdelta)
    sdelta = a + sdelta - mbar
    local = u
    x = x - lr * precond * mbar
    path.append(x)
  return np.array(path)


@pytest.mark.parametrize("variant", [
    {"bias_correction": True},
    {"bias_correction": False},                       # DeepSpeed's update
    {"bias_correction": True, "local_momentum": True},
])
def test_matches_the_update_written_out_in_numpy(tiny, variant):
  rng = np.random.default_rng(0)
  errors = {"worker_error": 0.1 * rng.standard_normal((WORKERS, D)),
            "server_error": 0.1 * rng.standard_normal(D)}
  run = ob.simulate_onebit_adam(
      tiny, seeds=[0], initial_worker_error=errors["worker_error"],
      initial_server_error=errors["server_error"], **SETTINGS, **variant)
  expected = _reference(tiny, np.zeros(D), **SETTINGS, **variant, **errors)
  np.testing.assert_allclose(run.params[0], expected, rtol=1e-12, atol=1e-12)
  assert run.diverged_at[0] == -1
  # The frozen preconditioner and the trace's last server message.
  assert run.compression.server_sent.shape == (1, STEPS - WARM, D)
  np.testing.assert_allclose(
      run.params[0, -1], run.params[0, -2] - SETTINGS["lr"]
      * run.preconditioner[0] * run.compression.server_sent[0, -1],
      rtol=1e-14)


def test_warmup_and_baseline_are_optax_adam(tiny):
  run = ob.run_adam(tiny, num_workers=WORKERS, num_steps=STEPS, lr=0.1,
                    beta1=0.9, beta2=0.99, eps=1e-8, seeds=[0])
  adam = optax.adam(0.1, b1=0.9, b2=0.99, eps=1e-8)
  x = jnp.zeros(D)
  state = adam.init(x)
  path = [x]
  for _ in range(STEPS):   # equal shards: the mean gradient is the full one
    updates, state = adam.update(jax.grad(tiny.objective)(x), state, x)
    x = optax.apply_updates(x, updates)
    path.append(x)
  np.testing.assert_allclose(run.params[0], np.array(path), rtol=1e-12,
                             atol=1e-14)
  assert run.compression is None


@pytest.fixture(scope="module")
def stochastic_runs():
  """Minibatch runs with random initial errors, both momentum variants."""
  land = landscapes.linear_regression(60, 5, noise=0.2, seed=1)
  rng = np.random.default_rng(1)
  common = dict(num_workers=3, num_steps=40, warmup_steps=8, lr=0.05,
                batch_size=4, seeds=[0, 1, 2],
                initial_worker_error=rng.standard_normal((3, 5)),
                initial_server_error=rng.standard_normal(5))
  return {local: ob.simulate_onebit_adam(land, local_momentum=local,
                                         **common)
          for local in (False, True)}


@pytest.mark.parametrize("local", [False, True])
def test_telescoping_identity(stochastic_runs, local):
  run = stochastic_runs[local]
  k = run.compression.server_sent.shape[1]
  residuals = ob.telescoping_residuals(run)
  for where in ("worker", "server"):
    assert residuals[where].shape == (3, k)
    assert residuals[where].max() <= (4 * k + 4) * U64
  # The initial error is part of it: non-zero here.
  assert np.abs(run.compression.worker_error[:, 0]).min() > 0


@pytest.mark.parametrize("local", [False, True])
def test_virtual_sequence_identity(stochastic_runs, local):
  run = stochastic_runs[local]
  virtual, residual = ob.virtual_sequence(run)
  assert residual.max() <= (2 * 3 + 30) * U64
  w = run.warmup_steps
  k = residual.shape[1]
  # The virtual sequence restarts from x_{T_w} shifted by the initial
  # errors, and differs from x by a non-trivial amount.
  assert virtual.shape == (3, k + 1, 5)
  assert np.abs(virtual - run.params[:, w:]).max() > 1e-3
  if not local:
    # With the workers restarting from the broadcast momentum, x - gamma P
    # E_{t-1} (the local-momentum virtual sequence) is not one.
    tr = run.compression
    errors = tr.worker_error.mean(axis=2) + tr.server_error
    naive = run.params[:, w:] - run.lr * run.preconditioner[:, None] * errors
    step = naive[:, 1:] - naive[:, :-1] + run.lr * (
        run.preconditioner[:, None] * tr.exact_momentum[:, 1:])
    assert np.abs(step).max() > 1e-4


def test_planted_bug_breaks_the_telescoping_check():
  """A server that forgets its error feedback: the claim reads violated."""
  config = dict(tang2021._identity_config(True), error_feedback="worker")
  seeds = [0, 1]
  records = Records(tang2021._IDENTITIES.measure(config, seeds), seeds)
  verdict, _ = runner.judge(tang2021.TELESCOPES, config, records)
  assert verdict.outcome.value == "violated"
  assert records["server_residual"].max() > 1e-3
  assert records["worker_residual"].max() <= tang2021.TELESCOPES.bound.value(
      config)
  verdict, _ = runner.judge(tang2021.VIRTUAL_SEQUENCE, config, records)
  assert verdict.outcome.value == "violated"


def test_scaled_sign_properties():
  rng = np.random.default_rng(0)
  key = jax.random.key(0)
  for d in (1, 7):
    c = compressors.scaled_sign(d)
    assert c.contraction is None
    u = rng.standard_normal(d)
    out = np.asarray(c.compress(key, jnp.asarray(u)))
    assert np.linalg.norm(out) == pytest.approx(np.linalg.norm(u), rel=1e-14)
    # ||C(u) - u||^2 = 2 ||u||^2 (1 - ||u||_1 / (sqrt(d) ||u||_2)).
    assert np.sum((out - u)**2) == pytest.approx(2 * np.sum(u**2) * (
        1 - np.abs(u).sum() / (math.sqrt(d) * np.linalg.norm(u))), rel=1e-12)
  # sign(0) = +1 (DeepSpeed: sign(x) + 1 > 0), -0.0 included.
  out = compressors.scaled_sign(4).compress(key,
                                            jnp.asarray([0., -1., 2., -0.]))
  np.testing.assert_array_equal(np.sign(np.asarray(out)), [1, -1, 1, 1])
  # Not contractive at e_1: error = ||e_1||^2 at d = 4, above it for d > 4.
  for d, relation in ((4, "eq"), (5, "gt")):
    e1 = jnp.zeros(d).at[0].set(1.0)
    error = float(jnp.sum((compressors.scaled_sign(d).compress(key, e1)
                           - e1)**2))
    assert error == pytest.approx(2 * (1 - 1 / math.sqrt(d)), rel=1e-14)
    assert (error == pytest.approx(1.0, rel=1e-14)) if relation == "eq" \
        else error > 1.0


@pytest.mark.parametrize("override, name", [
    ({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"lr": math.nan}, "lr"),
    ({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"),
    ({"beta2": 1.0}, "beta2"), ({"eps": 0.0}, "eps"),
    ({"warmup_steps": 0}, "warmup_steps"),
    ({"warmup_steps": 1.5}, "warmup_steps"),
    ({"warmup_steps": STEPS + 1}, "warmup_steps"),
    ({"num_workers": 0}, "num_workers"), ({"num_steps": 0}, "num_steps"),
    ({"batch_size": 0}, "batch_size"),
    ({"error_feedback": "server only"}, "error_feedback"),
    ({"num_workers": 3}, "num_workers"),      # 3 does not divide 4 examples
    ({"compressor": compressors.scaled_sign(D + 1)}, "compressor.dim"),
    ({"initial_worker_error": np.zeros(D)}, "initial_worker_error"),
])
def test_bad_input_names_the_parameter(tiny, override, name):
  with pytest.raises(ValueError, match=name):
    ob.simulate_onebit_adam(tiny, **{**SETTINGS, **override})


def test_full_shards_need_data():
  quadratic = landscapes.ill_conditioned_quadratic(dim=4)
  with pytest.raises(ValueError, match="batch_size"):
    ob.simulate_onebit_adam(quadratic, **SETTINGS)


def test_divergence_is_an_outcome(tiny):
  run = ob.simulate_onebit_adam(tiny, seeds=[0], **{**SETTINGS,
                                                   "lr": 1e200})
  np.testing.assert_array_equal(run.diverged_at, [1])
  assert not np.isfinite(run.objective[:, 1:]).any()


def test_claims_end_to_end_in_quick_mode(tmp_path):
  runs = runner.run_claims(tang2021.CLAIMS, tmp_path, quick=True)
  verdicts = {r.claim.id: r.verdict for r in runs}
  for claim in (tang2021.TELESCOPES, tang2021.VIRTUAL_SEQUENCE):
    assert verdicts[claim.id].outcome.value == "holds"
    assert 0 <= verdicts[claim.id].measured <= verdicts[claim.id].bound
  speed = verdicts[tang2021.SAME_SPEED.id]
  assert speed.bound == 2.0 and math.isfinite(speed.measured)
  # A geometric mean inside its own interval, over the declared seeds.
  assert speed.ci[0] <= speed.measured <= speed.ci[1]
  assert speed.evidence.value == "statistical" and speed.sample_size >= 2
  for verdict in verdicts.values():
    assert (tmp_path / verdict.figure).stat().st_size > 1000
