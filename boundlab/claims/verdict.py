"""Verdicts: compare a measured interval with a bound, with declared error rates.

Decision rule for a relation ``measured R bound`` (``R`` in ``<=``, ``>=``,
``approx``). ``[lo, hi]`` is the measured quantity's interval at level
``1 - alpha``; a bound that is itself estimated has its own interval
``[b_lo, b_hi]`` (and the claim splits ``alpha`` between the two).

* ``<=``: holds if ``hi <= b_lo + slack``; violated if ``lo > b_hi + slack``;
  otherwise inconclusive.
* ``>=``: mirror image.
* ``approx`` (equality up to a declared tolerance ``tol``): holds if
  ``[lo, hi]`` lies inside ``[b_lo - tol, b_hi + tol]``; violated if it is
  disjoint from it; otherwise inconclusive.

``slack`` and ``tol`` are declared in the claim together with the reason for
them (float rounding, a stated finite-size effect); they are never fitted.
A true claim is reported as violated with probability at most ``alpha`` (the
declared false-fail rate) when the intervals have their nominal coverage.
"""

from __future__ import annotations

import dataclasses
import enum
import math

from boundlab import _validation as v


class Relation(str, enum.Enum):
  LE = "<="
  GE = ">="
  APPROX = "approx"


class Evidence(str, enum.Enum):
  """What kind of evidence a verdict is (declared by each claim).

  * ``statistical``: an interval over random replicates at the claim's
    declared false-fail rate.
  * ``all-instances``: the relation checked on every one of N sampled
    instances (a range over runs); a "holds" bounds the probability that a
    random instance fails by :func:`all_instances_failure_bound`.
  * ``exact``: a deterministic computation, up to a numerical tolerance.
  * ``implementation-identity``: checks an identity of our own code (an
    estimator against a dense computation, two implementations of one
    update), not a statement of the paper; counted separately.
  * ``non-rejection``: a test failed to reject; the evaluation states the
    smallest effect the test detects with 80% power.
  """

  STATISTICAL = "statistical"
  ALL_INSTANCES = "all-instances"
  EXACT = "exact"
  IMPLEMENTATION_IDENTITY = "implementation-identity"
  NON_REJECTION = "non-rejection"

  @property
  def stochastic(self) -> bool:
    """Whether its interval is random, with a false-fail rate."""
    return self in (Evidence.STATISTICAL, Evidence.NON_REJECTION)


class Outcome(str, enum.Enum):
  HOLDS = "holds"
  VIOLATED = "violated"
  INCONCLUSIVE = "inconclusive"
  DIVERGED = "diverged"


@dataclasses.dataclass(frozen=True)
class Verdict:
  """The result of running one claim.

  Attributes:
    claim_id: the claim's id.
    outcome: holds / violated / inconclusive / diverged.
    measured: point estimate of the measured quantity.
    ci: ``(lo, hi)`` interval of the measured quantity.
    bound: point value of the bound (paper's constants).
    bound_ci: ``(lo, hi)`` if the bound is itself estimated, else ``(bound,
      bound)``.
    relation: the relation tested.
    tolerance: declared slack (``<=``/``>=``) or tolerance (``approx``).
    sample_size: number of independent replicates behind ``ci`` (seeds).
    false_fail_rate: declared probability of reporting a true claim violated
      (meaningful for stochastic evidence only).
    notes: evidence and caveats, in words.
    figure: path of the claim's figure (relative to the report), if any.
    evidence: the kind of evidence (:class:`Evidence`).
    instances: number of sampled instances behind an ``all-instances``
      verdict (the seeds unless the evaluation counts more).
    failure_probability_bound: for ``all-instances`` claims that hold, the
      one-sided upper confidence bound (level ``1 - false_fail_rate``) on
      the probability that a random instance fails.
    detectable_effect: for ``non-rejection`` claims, the smallest effect
      (in the measured quantity's units) the test detects with 80% power.
    p_value: for stochastic claims read violated, the smallest false-fail
      rate at which they still read violated (the test's p-value).
  """

  claim_id: str
  outcome: Outcome
  measured: float
  ci: tuple[float, float]
  bound: float
  bound_ci: tuple[float, float]
  relation: Relation
  tolerance: float
  sample_size: int
  false_fail_rate: float
  notes: str = ""
  figure: str | None = None
  evidence: Evidence = Evidence.STATISTICAL
  instances: int | None = None
  failure_probability_bound: float | None = None
  detectable_effect: float | None = None
  p_value: float | None = None


def all_instances_failure_bound(instances: int, alpha: float) -> float:
  """Upper confidence bound on a failure probability after 0 failures.

  If each of ``instances`` independent draws fails with probability ``p``,
  seeing no failure has probability ``(1 - p)^N``; the bound is the ``p`` at
  which that equals ``alpha`` (the one-sided Clopper-Pearson bound for 0 of
  N), about ``-ln(alpha) / N`` (the "rule of three", 3/N at 95%).
  """
  if instances < 1:
    raise ValueError(f"instances must be >= 1, got {instances}")
  if not 0 < alpha < 1:
    raise ValueError(f"alpha must be in (0, 1), got {alpha}")
  return -math.expm1(math.log(alpha) / instances)


def holm_survivors(p_values: dict[str, float], family_size: int,
                   fwer: float = 0.05) -> set[str]:
  """Which rejections survive Holm's step-down adjustment.

  ``p_values`` holds the p-values of the rejected hypotheses of a family of
  ``family_size`` (the others have p-values above every threshold used: a
  claim that does not read violated at its own rate ``<= fwer`` cannot be
  rejected). Sorted ascending, the ``j``-th is compared with ``fwer / (m - j
  + 1)``; the first that fails stops the procedure.

  References:
    Holm, "A simple sequentially rejective multiple test procedure", Scand.
    J. Statist. 6 (1979).
  """
  if family_size < len(p_values):
    raise ValueError(f"family_size must be >= the number of p-values "
                     f"({len(p_values)}), got {family_size}")
  survivors = set()
  for j, (key, p) in enumerate(sorted(p_values.items(),
                                      key=lambda kv: kv[1])):
    if not p <= fwer / (family_size - j):
      break
    survivors.add(key)
  return survivors


def decide(relation: Relation, ci: tuple[float, float],
           bound_ci: tuple[float, float], tolerance: float = 0.0) -> Outcome:
  """Applies the module's decision rule; NaN anywhere is inconclusive.

  Raises ``ValueError`` for a reversed interval (lo > hi), a tolerance that
  is negative or not finite, or an unknown relation.
  """
  tolerance = v.check_nonnegative("tolerance", tolerance)
  try:
    relation = Relation(relation)
  except ValueError:
    raise ValueError(f"relation must be one of {[r.value for r in Relation]}"
                     f", got {relation!r}") from None
  for name, interval in (("ci", ci), ("bound_ci", bound_ci)):
    try:
      ends = tuple(float(x) for x in interval)
    except (TypeError, ValueError):
      raise ValueError(f"{name} must be a pair (lo, hi) of real numbers, got "
                       f"{interval!r}") from None
    if len(ends) != 2:
      raise ValueError(f"{name} must be a pair (lo, hi), got {interval!r}")
    if ends[0] > ends[1]:
      raise ValueError(f"{name} must have lo <= hi, got {interval!r}")
  lo, hi = (float(x) for x in ci)
  b_lo, b_hi = (float(x) for x in bound_ci)
  if any(math.isnan(x) for x in (lo, hi, b_lo, b_hi)):
    return Outcome.INCONCLUSIVE
  if relation is Relation.LE:
    if hi <= b_lo + tolerance:
      return Outcome.HOLDS
    if lo > b_hi + tolerance:
      return Outcome.VIOLATED
    return Outcome.INCONCLUSIVE
  if relation is Relation.GE:
    if lo >= b_hi - tolerance:
      return Outcome.HOLDS
    if hi < b_lo - tolerance:
      return Outcome.VIOLATED
    return Outcome.INCONCLUSIVE
  if lo >= b_lo - tolerance and hi <= b_hi + tolerance:
    return Outcome.HOLDS
  if hi < b_lo - tolerance or lo > b_hi + tolerance:
    return Outcome.VIOLATED
  return Outcome.INCONCLUSIVE
