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


class Relation(str, enum.Enum):
  LE = "<="
  GE = ">="
  APPROX = "approx"


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
    false_fail_rate: declared probability of reporting a true claim violated.
    notes: evidence and caveats, in words.
    figure: path of the claim's figure (relative to the report), if any.
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


def decide(relation: Relation, ci: tuple[float, float],
           bound_ci: tuple[float, float], tolerance: float = 0.0) -> Outcome:
  """Applies the module's decision rule; NaN anywhere is inconclusive."""
  lo, hi = ci
  b_lo, b_hi = bound_ci
  if any(math.isnan(x) for x in (lo, hi, b_lo, b_hi)):
    return Outcome.INCONCLUSIVE
  relation = Relation(relation)
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
