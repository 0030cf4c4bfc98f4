r"""Worst-case certificates by performance estimation, a thin layer over PEPit.

A performance estimation problem (PEP) asks for the largest value of a
performance metric that a method can reach after ``N`` steps over *every*
function of a class (L-smooth, convex and G-Lipschitz, ...) from every initial
point satisfying an initial condition. Drori & Teboulle showed that it is a
finite-dimensional problem over the Gram matrix of the iterates and gradients;
Taylor, Hendrickx & Glineur made it exact (interpolation conditions), so the
value is the *tight* worst case, certified by a dual solution. PEPit
formulates and solves it through cvxpy.

This module returns that tight value beside a paper's closed-form bound and a
measured run on one landscape: three numbers for one claim. Each function
builds one PEP and returns a :class:`PepResult`. PEPit and cvxpy are an
optional dependency (``pip install 'boundlab[pep]'``): importing this module
does not need them, calling one of its functions does.

Solver tolerance: the interior-point solvers cvxpy calls stop at relative
accuracy about 1e-8, so compare PEPit's value with a closed form at relative
tolerance about 1e-4, and read a worst case within :data:`SOLVER_TOLERANCE`
of 0 as 0.

References:
  Drori & Teboulle, "Performance of first-order methods for smooth convex
  minimization: a novel approach", Math. Program. 145 (2014).
  Taylor, Hendrickx & Glineur, "Smooth strongly convex interpolation and
  exact worst-case performance of first-order methods", Math. Program. 161
  (2017), arXiv 1502.05666.
  Goujaud, Moucer, Glineur, Hendrickx, Taylor & Dieuleveut, "PEPit:
  computer-assisted worst-case analyses of first-order optimization methods
  in Python", Math. Program. Comput. (2024), arXiv 2201.04040.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable, Sequence

from boundlab._validation import check_in_range, check_positive, check_positive_int

# Read a worst case within this of 0 as 0 (the solvers' accuracy; PEPit's
# own examples compare with their closed forms at about this level).
SOLVER_TOLERANCE = 1e-6


def require_pepit():
  """Returns the ``PEPit`` module, or raises ImportError naming the extra."""
  try:
    return importlib.import_module("PEPit")
  except ImportError as error:
    raise ImportError(
        "worst-case certificates need PEPit and cvxpy: pip install "
        "'boundlab[pep]'") from error


@dataclasses.dataclass(frozen=True)
class PepResult:
  """A PEP's tight worst-case value.

  Attributes:
    value: the worst-case value of the metric (PEPit's ``tau``).
    method: what was analysed, in words.
    function_class: the class the worst case runs over, in words.
    horizon: number of steps ``N``.
    solve_seconds: wall time of formulation and solve.
    solver: the solver cvxpy used.
    status: cvxpy's status (``"optimal"``, or ``"optimal_inaccurate"``
      when the solver stopped short of its accuracy: read with care).
  """

  value: float
  method: str
  function_class: str
  horizon: int
  solve_seconds: float
  solver: str = ""
  status: str = ""

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


def _solver() -> str | None:
  """Clarabel (interior point, about 1e-8 relative accuracy) when cvxpy has
  it; otherwise cvxpy's default (SCS, first order, about 1e-5)."""
  import cvxpy
  return "CLARABEL" if "CLARABEL" in cvxpy.installed_solvers() else None


def solve(build: Callable, *, method: str, function_class: str,
          horizon: int) -> PepResult:
  """Builds a PEP with ``build(PEPit) -> PEP`` and solves it silently.

  Clarabel first; if it reports a numerical failure, SCS (first order, less
  accurate), and the result names the solver that answered."""
  pepit = require_pepit()
  import cvxpy
  start = time.perf_counter()
  solvers = [_solver()] + (["SCS"] if _solver() == "CLARABEL" else [])
  for i, solver in enumerate(solvers):
    problem = build(pepit)
    try:
      value = problem.solve(wrapper="cvxpy", solver=solver, verbose=0)
    except cvxpy.error.SolverError:
      if i == len(solvers) - 1:
        raise
      continue
    status = str(problem.wrapper.prob.status)
    break
  if value is None:
    raise ValueError(f"PEP of {method}: no finite worst case (status "
                     f"{status}): the metric is unbounded over the class")
  return PepResult(value=float(value), method=method,
                   function_class=function_class, horizon=horizon,
                   solve_seconds=time.perf_counter() - start,
                   solver=str(solver or "cvxpy default"), status=status)


def gradient_descent_smooth_nonconvex(smoothness: float, step_size: float,
                                      horizon: int) -> PepResult:
  r"""Worst case of :math:`\min_{t\le N}\|\nabla f(x_t)\|^2` for gradient
  descent :math:`x_{t+1} = x_t - \gamma\nabla f(x_t)` on L-smooth (possibly
  nonconvex) f, per unit of :math:`f(x_0) - f(x_N)`.

  For :math:`\gamma \le 1/L` the tight value is
  :math:`\frac{4}{3}\frac{L}{N}` at :math:`\gamma = 1/L` (PEPit's example,
  "empirically tight"; proved by Abbaszadehpeivasti et al.).

  References:
    Abbaszadehpeivasti, de Klerk & Zamani, "The exact worst-case convergence
    rate of the gradient method with fixed step lengths for L-smooth
    functions", Optim. Lett. 16 (2022), arXiv 2104.05468.
    PEPit 0.5.1, ``examples/nonconvex_optimization/gradient_descent.py``.
  """
  check_positive("smoothness", smoothness)
  check_in_range("step_size * smoothness", step_size * smoothness, 0, 2,
                 closed="(]")
  horizon = check_positive_int("horizon", horizon)

  def build(pepit):
    from PEPit.functions import SmoothFunction
    problem = pepit.PEP()
    f = problem.declare_function(SmoothFunction, L=smoothness)
    x = problem.set_initial_point()
    gradient, value = f.oracle(x)
    initial_value = value
    problem.set_performance_metric(gradient ** 2)
    for _ in range(horizon):
      x = x - step_size * gradient
      gradient, value = f.oracle(x)
      problem.set_performance_metric(gradient ** 2)
    problem.set_initial_condition(initial_value - value <= 1)
    return problem

  return solve(build, method=f"gradient descent, step {step_size:g}",
               function_class=f"{smoothness:g}-smooth nonconvex",
               horizon=horizon)


def _total(terms):
  """Sum of PEPit points or expressions (which do not add to the int 0)."""
  terms = iter(terms)
  total = next(terms)
  for term in terms:
    total = total + term
  return total


def ef21_one_step(client_smoothness: Sequence[float], alpha: float,
                  step_size: float, *, lyapunov: str = "uniform",
                  weighted_method: bool = False) -> PepResult:
  r"""Worst case of EF21's one-step Lyapunov inequality over a function class
  and every :math:`\alpha`-contractive compressor.

  Clients :math:`f_i` are :math:`L_i`-smooth (possibly nonconvex), :math:`f =
  \frac1n\sum_i f_i` (so :math:`L \le L_{AM}`, which is the L a step size
  for this class must use). From any :math:`x^0` and any client estimates
  :math:`g_i^0`, one round of EF21 (or EF21-W, ``weighted_method=True``)
  runs with the compressor's output a free point :math:`c_i` constrained by
  :math:`\|c_i - v_i\|^2 \le (1-\alpha)\|v_i\|^2` (:math:`v_i` the vector it
  compresses): every contractive compressor, Top-K among them, and also
  adversarial ones. The metric is

  .. math:: \Phi^1 - \Phi^0 + \frac\gamma2\|\nabla f(x^0)\|^2, \qquad
     \Phi^t = f(x^t) + \frac{\gamma}{2\theta}\,\frac1n\sum_i c_i
     \|h_i^t - \nabla f_i(x^t)\|^2,

  with :math:`h_i = n w_i g_i`, :math:`c_i = 1` (``"uniform"``, EF21) or
  :math:`L_{AM}/L_i` (``"weighted"``, Reloaded), normalised by
  :math:`\frac\gamma2\|\nabla f(x^0)\|^2 + \frac{\gamma}{2\theta}G^0 \le 1`.
  The metric is homogeneous of degree 2, so its worst case is 0 exactly when
  the inequality :math:`\Phi^1 \le \Phi^0 - \frac\gamma2\|\nabla f(x^0)\|^2`
  holds over the whole class, and positive otherwise.
  """
  from boundlab.theory import error_feedback
  smooth = [check_positive("client_smoothness", s) for s in client_smoothness]
  if not smooth:
    raise ValueError("client_smoothness must have at least one entry")
  theta = error_feedback.theta(alpha)
  gamma = check_positive("step_size", step_size)
  error_feedback._lyapunov(lyapunov)
  n = len(smooth)
  mean_smooth = sum(smooth) / n
  weights = ([s / sum(smooth) for s in smooth] if weighted_method
             else [1.0 / n] * n)
  coefficients = ([mean_smooth / s for s in smooth] if lyapunov == "weighted"
                  else [1.0] * n)

  def build(pepit):
    from PEPit.functions import SmoothFunction
    problem = pepit.PEP()
    clients = [problem.declare_function(SmoothFunction, L=s) for s in smooth]
    x0 = problem.set_initial_point()
    estimates = [pepit.Point() for _ in range(n)]

    def lyapunov_value(x, estimates):
      value = _total(f.value(x) for f in clients) / n
      error = _total(c * (n * w * g - f.gradient(x)) ** 2 for c, w, g, f in
                  zip(coefficients, weights, estimates, clients)) / n
      return value, error

    phi0, error0 = lyapunov_value(x0, estimates)
    server = _total(w * g for w, g in zip(weights, estimates))
    x1 = x0 - gamma * server
    updated = []
    for w, g, f in zip(weights, estimates, clients):
      target = (1.0 / (n * w)) * f.gradient(x1) - g
      message = pepit.Point()
      problem.add_constraint((message - target) ** 2
                             <= (1 - alpha) * target ** 2)
      updated.append(g + message)
    phi1, error1 = lyapunov_value(x1, updated)
    gradient0 = _total(f.gradient(x0) for f in clients) / n
    scale = gamma / (2 * theta)
    problem.set_initial_condition(
        gamma / 2 * gradient0 ** 2 + scale * error0 <= 1)
    problem.set_performance_metric(
        phi1 + scale * error1 - phi0 - scale * error0
        + gamma / 2 * gradient0 ** 2)
    return problem

  method = "EF21-W" if weighted_method else "EF21"
  return solve(build, method=f"{method}, one step, {lyapunov} Lyapunov, "
               f"step {gamma:.6g}, alpha {alpha:g}",
               function_class="clients L_i-smooth "
               f"{tuple(smooth)}, every alpha-contractive compressor",
               horizon=1)


def largest_certified_multiple(worst_case: Callable[[float], float],
                               low: float, high: float, *, steps: int = 12,
                               tolerance: float = SOLVER_TOLERANCE) -> float:
  """Largest factor in ``[low, high]`` at which ``worst_case(factor) <=
  tolerance``, by bisection (``steps`` halvings), assuming the certified
  factors form an interval starting at ``low``. NaN when ``low`` itself is
  not certified; ``high`` when ``high`` is."""
  check_positive("low", low)
  if not high > low:
    raise ValueError(f"high must be > low = {low}, got {high}")
  steps = check_positive_int("steps", steps)
  if worst_case(low) > tolerance:
    return float("nan")
  if worst_case(high) <= tolerance:
    return float(high)
  for _ in range(steps):
    middle = 0.5 * (low + high)
    low, high = (middle, high) if worst_case(middle) <= tolerance else (
        low, middle)
  return float(low)
