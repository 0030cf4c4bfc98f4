"""AdamP against its update written out step by step (authors' adamp.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from boundlab import algorithms


def _reference_adamp(params, grads_fn, steps, lr, b1, b2, eps, wd, delta,
                     wd_ratio):
  """The authors' per-tensor loop, transcribed into numpy by hand."""
  params = {k: np.array(x, dtype=float) for k, x in params.items()}
  m = {k: np.zeros_like(x) for k, x in params.items()}
  s = {k: np.zeros_like(x) for k, x in params.items()}
  for t in range(1, steps + 1):
    grads = {k: np.asarray(g) for k, g in grads_fn(params).items()}
    for k, p in params.items():
      g = grads[k]
      m[k] = b1 * m[k] + (1 - b1) * g
      s[k] = b2 * s[k] + (1 - b2) * g * g
      denom = np.sqrt(s[k]) / np.sqrt(1 - b2**t) + eps
      step_size = lr / (1 - b1**t)
      perturb = m[k] / denom
      ratio = 1.0
      if p.ndim > 1:
        for view in (lambda x: x.reshape(x.shape[0], -1),
                     lambda x: x.reshape(1, -1)):
          gv, pv = view(g), view(p)
          cos = np.abs((gv * pv).sum(1)) / np.maximum(
              np.linalg.norm(gv, axis=1) * np.linalg.norm(pv, axis=1), eps)
          if cos.max() < delta / np.sqrt(pv.shape[1]):
            p_n = (pv / (np.linalg.norm(pv, axis=1, keepdims=True) + eps)
                   ).reshape(p.shape)
            perturb = perturb - p_n * view(p_n * perturb).sum(1).reshape(
                [-1] + [1] * (p.ndim - 1))
            ratio = wd_ratio
            break
      p = p * (1 - lr * wd * ratio)
      params[k] = p - step_size * perturb
  return params


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adamp_matches_the_written_out_update(weight_decay):
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.standard_normal((6, 12)))
  target = jnp.asarray(rng.standard_normal((5, 6)))

  def loss(p):
    # w1 is scale-invariant per output channel (rows normalised): the cosine
    # test passes; w2 is not; b is a vector and is never projected.
    rows = p["w1"] / jnp.linalg.norm(p["w1"], axis=1, keepdims=True)
    hidden = jnp.tanh(rows @ a.T)
    return jnp.mean((p["w2"] @ hidden + p["b"][:, None] - target) ** 2)

  params = {"w1": jnp.asarray(rng.standard_normal((4, 12))),
            "w2": jnp.asarray(rng.standard_normal((5, 4))),
            "b": jnp.asarray(rng.standard_normal(5))}
  hyper = dict(lr=0.05, b1=0.9, b2=0.999, eps=1e-8, wd=weight_decay,
               delta=0.1, wd_ratio=0.1)
  opt = algorithms.adamp(hyper["lr"], hyper["b1"], hyper["b2"], hyper["eps"],
                         hyper["wd"], hyper["delta"], hyper["wd_ratio"])
  state, p = opt.init(params), params
  for _ in range(25):
    updates, state = opt.update(jax.grad(loss)(p), state, p)
    p = optax.apply_updates(p, updates)
  reference = _reference_adamp(
      params, lambda q: jax.grad(loss)({k: jnp.asarray(x) for k, x in
                                        q.items()}), 25, **hyper)
  for k in params:
    np.testing.assert_allclose(np.asarray(p[k]), reference[k], rtol=1e-10,
                               atol=1e-12)


def test_adamp_rejects_bad_hyperparameters():
  with pytest.raises(ValueError, match="b1"):
    algorithms.adamp(0.1, b1=1.0)
  with pytest.raises(ValueError, match="wd_ratio"):
    algorithms.adamp(0.1, wd_ratio=2.0)
