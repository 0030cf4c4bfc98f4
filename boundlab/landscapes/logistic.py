r"""L2-regularised logistic regression on synthetic, deliberately skewed data.

Per-example gradients :math:`(\sigma(y_i\langle w, x_i\rangle) - 1) y_i x_i +
\lambda w` are asymmetric around the full gradient when one class is rare and
far from the boundary: the rare examples produce few, large gradients. This is
the smallest non-quadratic objective on which clipping bias is visible.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape, finite_sum


def skewed_logistic_regression(num_examples: int = 200, dim: int = 5, *,
                               minority_fraction: float = 0.1,
                               separation: float = 3.0,
                               regularization: float = 0.1,
                               seed: int = 0) -> Landscape:
  r"""Logistic regression whose minority class sits far out along e_1.

  Data: a fraction ``minority_fraction`` of points has label -1 and features
  :math:`N(-\text{separation}\, e_1, I)`; the rest has label +1 and features
  :math:`N(0.5\, e_1, I)`. Loss
  :math:`\ell(w;(x,y)) = \log(1+e^{-y\langle w,x\rangle}) + \tfrac\lambda2\|w\|^2`.

  Returns:
    A finite-sum :class:`Landscape`; ``constants``: ``optimum`` (Newton's
    method to machine precision, in float64 numpy), ``optimal_value``,
    ``smoothness`` (:math:`\lambda_{\max}(X^\top X)/(4N) + \lambda`),
    ``strong_convexity`` (:math:`\lambda`).
  """
  n = v.check_positive_int("num_examples", num_examples, minimum=2)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the features", num_examples=n, dim=d)
  frac = v.check_in_range("minority_fraction", minority_fraction, 0.0, 0.5,
                          closed="(]")
  sep = v.check_positive("separation", separation)
  lam = v.check_positive("regularization", regularization)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  n_minor = max(1, int(round(frac * n)))
  y = np.ones(n)
  y[:n_minor] = -1.0
  x = rng.standard_normal((n, d))
  x[:n_minor, 0] -= sep
  x[n_minor:, 0] += 0.5
  w = _newton_logistic(x, y, lam)
  margins = y * (x @ w)
  optimal_value = float(np.mean(np.logaddexp(0.0, -margins)) +
                        0.5 * lam * w @ w)
  smoothness = float(np.linalg.eigvalsh(x.T @ x / (4 * n)).max() + lam)
  data = {"x": jnp.asarray(x), "y": jnp.asarray(y)}

  def loss(w, example):
    margin = example["y"] * jnp.dot(w, example["x"])
    return jnp.logaddexp(0.0, -margin) + 0.5 * lam * jnp.sum(w**2)

  return finite_sum(
      name=f"skewed_logistic(N={n},d={d},frac={frac},sep={sep},lam={lam})",
      init=lambda key: jnp.zeros((d,)), loss=loss, data=data,
      constants={"optimum": w, "optimal_value": optimal_value,
                 "smoothness": smoothness, "strong_convexity": lam})


def _newton_logistic(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
  """Newton's method in float64; the objective is lam-strongly convex."""
  n, d = x.shape
  w = np.zeros(d)
  for _ in range(100):
    m = y * (x @ w)
    s = 0.5 * (1.0 - np.tanh(0.5 * m))          # sigmoid(-m), overflow-free
    grad = -(x.T @ (s * y)) / n + lam * w
    hess = (x.T * (s * (1 - s))) @ x / n + lam * np.eye(d)
    step = np.linalg.solve(hess, grad)
    w -= step
    if np.linalg.norm(step) < 1e-15 * (1 + np.linalg.norm(w)):
      break
  return w
