"""Assertions on bounds and claims, for property tests in pytest.

:func:`assert_bound` applies the claims framework's decision rule
(:func:`boundlab.claims.decide`) to numbers a test measured;
:func:`check_claim` runs a whole :class:`~boundlab.claims.Claim`. Both raise
an ``AssertionError`` whose message carries the verdict, the interval and
its kind, and the notes; the exception keeps the
:class:`~boundlab.claims.Verdict` as ``.verdict``.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np

from boundlab import _validation as v
from boundlab.claims.verdict import Outcome, Relation, Verdict, decide


class BoundViolation(AssertionError):
  """The measurement contradicts the bound (verdict ``violated`` or
  ``diverged``)."""

  def __init__(self, message: str, verdict: Verdict):
    super().__init__(message)
    self.verdict = verdict


class BoundInconclusive(AssertionError):
  """The evidence neither confirms nor rejects the bound: the interval
  straddles it. More samples (or a larger margin) decide it."""

  def __init__(self, message: str, verdict: Verdict):
    super().__init__(message)
    self.verdict = verdict


def _describe(verdict: Verdict, evidence: str, what: str) -> str:
  lo, hi = verdict.ci
  b_lo, b_hi = verdict.bound_ci
  bound = (f"{verdict.bound:.6g}" if b_lo == b_hi
           else f"{verdict.bound:.6g} [{b_lo:.6g}, {b_hi:.6g}]")
  slack = (f" (tolerance {verdict.tolerance:g})" if verdict.tolerance else "")
  lines = [f"{what}: bound {verdict.outcome.value}: measured "
           f"{verdict.measured:.6g}, interval [{lo:.6g}, {hi:.6g}] "
           f"({evidence}); relation {verdict.relation.value} {bound}{slack}"]
  if verdict.notes:
    lines.append(f"notes: {verdict.notes}")
  return "\n".join(lines)


def assert_bound(measured, bound, relation: str = "<=", *,
                 reduce: str | None = None, tolerance: float = 0.0,
                 reason: str | None = None, false_fail_rate: float = 0.05,
                 bound_ci: tuple[float, float] | None = None,
                 what: str = "bound", notes: str = "") -> Verdict:
  r"""Asserts ``measured <relation> bound`` with a stated kind of evidence.

  Three kinds of measurement:

  * a number: an exact computation, compared as it is;
  * an array with ``reduce="each"``: exact values, every one of which must
    satisfy the relation (with its own bound if ``bound`` is an array of the
    same length); the evidence is "held on all N instances", and the
    verdict shows the worst instance (largest margin);
  * an array with ``reduce="mean"``: i.i.d. samples of a random quantity
    whose *mean* is bounded; a Student-t interval at level
    :math:`1 - \alpha` (``false_fail_rate``) decides, so a true bound fails
    with probability at most about :math:`\alpha`.

  Args:
    measured: a number, or an array (then ``reduce`` is required).
    bound: the bound's value (an array for ``reduce="each"``: one per value).
    relation: ``"<="``, ``">="`` or ``"approx"``.
    reduce: ``"each"`` or ``"mean"`` for an array, see above.
    tolerance: slack (``<=``, ``>=``) or tolerance (``approx``); when
      positive, ``reason`` must say why (float rounding, a finite-size
      effect), fixed before looking at the result.
    reason: why the tolerance, in words.
    false_fail_rate: :math:`\alpha` of the ``"mean"`` interval.
    bound_ci: the bound's own interval, if it is estimated.
    what: a name for the message (the bound's name).
    notes: extra words for the message.

  Returns:
    The :class:`~boundlab.claims.Verdict` (outcome ``holds``).

  Raises:
    BoundViolation: the evidence rejects the bound.
    BoundInconclusive: it neither confirms nor rejects it.
    ValueError: bad arguments (named).
  """
  try:
    relation = Relation(relation)
  except ValueError:
    raise ValueError(f"relation must be one of {[r.value for r in Relation]}"
                     f", got {relation!r}") from None
  tolerance = v.check_nonnegative("tolerance", tolerance)
  if tolerance > 0 and not reason:
    raise ValueError("a positive tolerance needs its reason= (why this "
                     "slack, decided before running)")
  false_fail_rate = v.check_alpha(false_fail_rate, "false_fail_rate")
  if reduce is not None:
    v.check_choice("reduce", reduce, ("each", "mean"))
  values = v.check_finite_array("measured", measured, min_len=0)
  if values.ndim and values.size < (2 if reduce == "mean" else 1):
    raise ValueError(f"measured must hold at least "
                     f"{2 if reduce == 'mean' else 1} values, got shape "
                     f"{values.shape}")
  bounds = v.check_finite_array("bound", bound, min_len=0)
  if bound_ci is not None:
    from boundlab.theory.statistics import check_interval
    bound_ci = check_interval("bound_ci", bound_ci)
  if values.ndim == 0:
    if reduce is not None:
      raise ValueError("reduce applies to an array of measurements, got a "
                       "number")
    if bounds.ndim != 0:
      raise ValueError("bound must be a number for a number measured")
    point, ci, n, evidence = float(values), (float(values),) * 2, 1, (
        "exact computation")
    b = float(bounds)
  elif reduce == "each":
    if values.ndim != 1 or values.size == 0:
      raise ValueError(f"measured must be a non-empty 1-d array, got shape "
                       f"{values.shape}")
    bounds = np.broadcast_to(bounds, values.shape)
    # Each instance is an exact computation: the worst one decides.
    margin = values - bounds
    worst = (int(np.argmax(margin)) if relation is Relation.LE
             else int(np.argmin(margin)) if relation is Relation.GE
             else int(np.argmax(np.abs(margin))))
    point, b = float(values[worst]), float(bounds[worst])
    ci, n = (point, point), values.size
    evidence = (f"exact on each of {n} instances; the worst, #{worst}, "
                "shown")
  elif reduce == "mean":
    from boundlab import theory
    if bounds.ndim != 0:
      raise ValueError("bound must be a number for reduce='mean'")
    point, ci = theory.mean_ci(values, false_fail_rate)
    n, b = values.size, float(bounds)
    evidence = (f"Student-t interval of the mean of {n} samples, false-fail "
                f"rate {false_fail_rate:g}")
  else:
    raise ValueError(f"reduce must be 'each' or 'mean' for an array of "
                     f"measurements, got {reduce!r}")
  b_ci = (b, b) if bound_ci is None else tuple(float(x) for x in bound_ci)
  outcome = decide(relation, ci, b_ci, tolerance)
  verdict = Verdict(claim_id=what, outcome=outcome, measured=point, ci=ci,
                    bound=b, bound_ci=b_ci, relation=relation,
                    tolerance=tolerance, sample_size=n,
                    false_fail_rate=false_fail_rate if reduce == "mean" else 0.0,
                    notes=" ".join(x for x in (notes, reason or "") if x))
  message = _describe(verdict, evidence, what)
  if outcome is Outcome.VIOLATED:
    raise BoundViolation(message, verdict)
  if outcome is Outcome.INCONCLUSIVE:
    raise BoundInconclusive(message, verdict)
  return verdict


def strict_numerics(rank_promotion: str | None = "raise"):
  """float64 inside the block (as ``boundlab verify`` runs) and, by default,
  ``jax_numpy_rank_promotion='raise'`` (as boundlab's own suite runs: silent
  broadcasting fails loudly); the previous settings after it.

  Args:
    rank_promotion: ``"raise"``, ``"warn"``, ``"allow"``, or ``None`` to
      leave it as it is.
  """
  if rank_promotion is not None:
    v.check_choice("rank_promotion", rank_promotion, ("raise", "warn",
                                                      "allow"))
  return _strict_numerics(rank_promotion)


@contextlib.contextmanager
def _strict_numerics(rank_promotion):
  import jax
  before = (jax.config.jax_enable_x64, jax.config.jax_numpy_rank_promotion)
  jax.config.update("jax_enable_x64", True)
  if rank_promotion is not None:
    jax.config.update("jax_numpy_rank_promotion", rank_promotion)
  try:
    yield
  finally:
    jax.config.update("jax_enable_x64", before[0])
    jax.config.update("jax_numpy_rank_promotion", before[1])


def check_claim(claim, *, quick: bool = True, seed: int = 0,
                out_dir: Path | str | None = None, figures: bool = False,
                allow_inconclusive: bool = False):
  """Runs one claim (float64, like ``boundlab verify``) and asserts it holds.

  Args:
    claim: a :class:`~boundlab.claims.Claim`.
    quick: quick mode (the default) or full mode.
    seed: the root seed.
    out_dir: where cells are cached (and figures written); a temporary
      directory by default (nothing cached between calls).
    figures: also draw the claim's figure.
    allow_inconclusive: return an inconclusive run instead of raising.

  Returns:
    The :class:`~boundlab.claims.runner.ClaimRun`.

  Raises:
    BoundViolation: verdict ``violated`` or ``diverged``.
    BoundInconclusive: verdict ``inconclusive`` (unless allowed).
  """
  from boundlab.claims import Claim, runner
  v.check_instance("claim", claim, Claim, "a Claim (e.g. "
                   "boundlab.claims.get_claim(claim_id))")
  v.check_bool("quick", quick)
  v.check_seed("seed", seed)
  v.check_bool("figures", figures)
  v.check_bool("allow_inconclusive", allow_inconclusive)
  with contextlib.ExitStack() as stack:
    if out_dir is None:
      out_dir = stack.enter_context(tempfile.TemporaryDirectory())
    with strict_numerics(rank_promotion=None):   # as the CLI runs it
      (run,) = runner.run_claims([claim], Path(out_dir), quick=quick,
                                 seed=seed, figures=figures)
  verdict = run.verdict
  evidence = (f"{verdict.sample_size} seeds, false-fail rate "
              f"{verdict.false_fail_rate:g}, {'quick' if quick else 'full'} "
              "mode")
  message = _describe(verdict, evidence, claim.id)
  if verdict.outcome in (Outcome.VIOLATED, Outcome.DIVERGED):
    raise BoundViolation(message, verdict)
  if verdict.outcome is Outcome.INCONCLUSIVE and not allow_inconclusive:
    raise BoundInconclusive(message, verdict)
  return run
