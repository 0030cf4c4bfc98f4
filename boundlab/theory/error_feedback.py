r"""EF21's constants, step sizes, Lyapunov function and rate bound.

For an :math:`\alpha`-contractive compressor, EF21's analysis uses

.. math:: \theta = 1 - \sqrt{1-\alpha}, \qquad
   \beta = \frac{1-\alpha}{1-\sqrt{1-\alpha}}, \qquad
   \xi(\alpha) = \sqrt{\beta/\theta} = \frac{\sqrt{1-\alpha}}{1-\sqrt{1-\alpha}}
   \;\le\; \frac2\alpha - 1,

the step size :math:`\gamma \le 1/(L + \tilde L\,\xi(\alpha))` and the
Lyapunov function :math:`\Phi^t = f(x^t) - f^{\inf} + \frac{\gamma}{2\theta}
G^t` with :math:`G^t = \frac1n\sum_i \|g_i^t - \nabla f_i(x^t)\|^2`; then
:math:`\Phi^{t+1} \le \Phi^t - \frac\gamma2\|\nabla f(x^t)\|^2` and, summed,

.. math:: \frac1T\sum_{t<T}\|\nabla f(x^t)\|^2 \le
   \frac{2(f(x^0) - f^{\inf})}{\gamma T} + \frac{G^0}{\theta T}.

EF21 takes :math:`\tilde L = L_{QM}` (the quadratic mean of the
:math:`L_i`). Error Feedback Reloaded takes :math:`\tilde L = L_{AM}` (the
arithmetic mean), with the weighted :math:`G_W^t = \frac1n\sum_i
\frac{L_{AM}}{L_i}\|g_i^t - \nabla f_i(x^t)\|^2` in the Lyapunov function
(for plain EF21, Theorem 3 there; for EF21-W, Theorem 2, where it is the
natural :math:`\sum_i w_i\|g_i^{W} - \nabla f_i/(n w_i)\|^2`).

The descent step uses the contraction only through :math:`\|C(v) - v\|^2 \le
(1-\alpha)\|v\|^2`: for a deterministic compressor (Top-K) it holds on every
path, so the inequality does too.

References:
  Richtarik, Sokolov & Fatkhullin, "EF21: a new, simpler, theoretically
  better, and practically faster error feedback", NeurIPS 2021, arXiv
  2106.05203 (v1), Theorem 1 and its Lemmas (theta, beta; the constants as
  the authors' code computes them).
  Richtarik, Gasanov & Burlachenko, "Error Feedback Reloaded: from quadratic
  to arithmetic mean of smoothness constants", ICLR 2024, arXiv 2402.10774,
  Theorems 2 and 3.
"""

from __future__ import annotations

import math

import numpy as np

from boundlab._validation import check_in_range, check_positive

LYAPUNOVS = ("uniform", "weighted")


def _alpha(alpha: float) -> float:
  return check_in_range("alpha", alpha, 0.0, 1.0, closed="(]")


def theta(alpha: float) -> float:
  r""":math:`\theta(\alpha) = 1 - \sqrt{1-\alpha}`."""
  return 1.0 - math.sqrt(1.0 - _alpha(alpha))


def beta(alpha: float) -> float:
  r""":math:`\beta(\alpha) = (1-\alpha)/(1-\sqrt{1-\alpha})`."""
  a = _alpha(alpha)
  return (1.0 - a) / (1.0 - math.sqrt(1.0 - a))


def xi(alpha: float) -> float:
  r""":math:`\xi(\alpha) = \sqrt{\beta/\theta} = \sqrt{1-\alpha}/(1 -
  \sqrt{1-\alpha})`; 0 at :math:`\alpha = 1` (no compression: gradient
  descent's :math:`1/L`)."""
  root = math.sqrt(1.0 - _alpha(alpha))
  return root / (1.0 - root)


def _lyapunov(lyapunov: str) -> str:
  if lyapunov not in LYAPUNOVS:
    raise ValueError(f"lyapunov must be one of {LYAPUNOVS}, got {lyapunov!r}")
  return lyapunov


def class_constants(client_smoothness) -> dict:
  r"""The constants a step size over the *class* of :math:`L_i`-smooth
  clients must use: :math:`L_{AM}`, :math:`L_{QM}`, and :math:`L :=
  L_{AM}` (the best bound on f's smoothness the :math:`L_i` imply, reached
  when the clients' Hessians align)."""
  smooth = np.asarray(client_smoothness, dtype=float)
  if smooth.ndim != 1 or smooth.size == 0 or not np.all(smooth > 0):
    raise ValueError("client_smoothness must be a non-empty list of numbers "
                     f"in (0, inf), got {client_smoothness!r}")
  am = float(smooth.mean())
  return {"smoothness": am, "smoothness_am": am,
          "smoothness_qm": float(np.sqrt(np.mean(smooth**2)))}


def proof_step_multiple(smoothness: float, mean_smoothness: float,
                        alpha: float) -> float:
  r"""How far the proof's own condition reaches beyond the stated step.

  The descent step needs :math:`\frac1\gamma - L - \frac\beta\theta\tilde
  L^2\gamma \ge 0`, i.e. :math:`\gamma \le 2/(L + \sqrt{L^2 + 4\xi^2\tilde
  L^2})`; the theorems state the simpler sufficient :math:`\gamma \le 1/(L +
  \tilde L\xi)` (EF21's Lemma 5). Returns the ratio of the two,
  :math:`2(L + \tilde L\xi)/(L + \sqrt{L^2 + 4\xi^2\tilde L^2}) \in [1, 2)`.
  """
  x = xi(alpha)
  return (2 * (smoothness + mean_smoothness * x)
          / (smoothness + math.sqrt(smoothness**2
                                    + 4 * x**2 * mean_smoothness**2)))


def theoretical_step_size(constants, alpha: float,
                          lyapunov: str = "uniform") -> float:
  r""":math:`1/(L + L_{QM}\xi(\alpha))` (EF21, uniform Lyapunov) or
  :math:`1/(L + L_{AM}\xi(\alpha))` (Reloaded, weighted Lyapunov).

  Args:
    constants: a problem's constants (``smoothness``, ``smoothness_qm``,
      ``smoothness_am``), e.g. :attr:`DistributedFiniteSum.constants
      <boundlab.landscapes.distributed.DistributedFiniteSum>`.
    alpha: the compressor's contraction.
    lyapunov: ``"uniform"`` or ``"weighted"``.
  """
  mean = (constants["smoothness_qm"] if _lyapunov(lyapunov) == "uniform"
          else constants["smoothness_am"])
  return 1.0 / (check_positive("smoothness", constants["smoothness"])
                + mean * xi(alpha))


def estimate_errors(client_gradients, estimates, client_smoothness=None):
  r""":math:`\frac1n\sum_i c_i\|g_i - \nabla f_i\|^2` along the last two
  axes (clients, coordinates): :math:`c_i = 1` (uniform), or
  :math:`c_i = L_{AM}/L_i` when ``client_smoothness`` is given (weighted)."""
  squares = np.sum((np.asarray(estimates) - np.asarray(client_gradients))**2,
                   axis=-1)
  if client_smoothness is None:
    return squares.mean(-1)
  smooth = np.asarray(client_smoothness, dtype=float)
  return (squares * (smooth.mean() / smooth)).mean(-1)


def lyapunov_values(objective, estimate_error, optimal_value: float,
                    step_size: float, alpha: float):
  r""":math:`\Phi^t = f(x^t) - f^{\inf} + \frac{\gamma}{2\theta} G^t`
  elementwise (``estimate_error`` is :math:`G^t` or :math:`G_W^t`)."""
  return (np.asarray(objective) - optimal_value
          + step_size / (2 * theta(alpha)) * np.asarray(estimate_error))


def averaged_rate_bound(initial_gap: float, initial_estimate_error: float,
                        step_size: float, alpha: float, horizon: int) -> float:
  r""":math:`\frac{2(f(x^0) - f^{\inf})}{\gamma T} + \frac{G^0}{\theta T}`, the
  bound on :math:`\frac1T\sum_{t<T}\|\nabla f(x^t)\|^2` (EF21 Theorem 1; the
  Reloaded theorems with :math:`G_W^0`)."""
  return (2 * initial_gap / (step_size * horizon)
          + initial_estimate_error / (theta(alpha) * horizon))
