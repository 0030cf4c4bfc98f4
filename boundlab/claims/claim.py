"""Claims: one statement from one paper, and the experiment that measures it.

An :class:`Experiment` is data plus one function:

* ``config(quick) -> dict`` -- every number the experiment uses (sizes, steps,
  constants); the cache key of a result hashes it;
* ``measure(config, seeds) -> list[dict]`` -- one JSON-serialisable record per
  seed (seeds are run together, ``vmap``-ed, where the experiment allows). A
  record may contain ``"diverged_at"`` (first non-finite step, or -1).

A :class:`Claim` refers to an experiment (several claims may read the same
runs, which are then computed and cached once) and adds:

* ``evaluate(config, records, alpha) -> Evaluation`` -- ``records`` is a
  :class:`~boundlab.claims.records.Records`, every field stacked along a
  leading seed axis; ``alpha`` is the claim's declared false-fail rate;
* ``plot(config, records, evaluation) -> Figure`` -- draws the evidence from
  the records and the evaluation's ``tables``, without recomputing them.

The runner (:mod:`boundlab.claims.runner`) caches records per (experiment,
config, seed), evaluates the bound from the claim's :class:`Bound` and turns
the evaluation into a :class:`~boundlab.claims.verdict.Verdict`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from boundlab import _validation as v
from boundlab.claims.bound import Bound
from boundlab.claims.paper import Paper
from boundlab.claims.verdict import Evidence, Relation

_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def _check_id(kind: str, value: str) -> None:
  if not (isinstance(value, str) and _ID.match(value)):
    raise ValueError(f"{kind} id must look like 'paper.snake_case', got "
                     f"{value!r}")


def float64_measure(measure):
  """``measure`` run in float64 whatever the caller's precision, for
  experiments whose claims' tolerances are float64 rounding allowances.
  (The cache's code fingerprint follows the wrapped function through the
  closure.)"""
  import jax
  v.check_callable("measure", measure)

  def wrapped(config, seeds):
    with jax.enable_x64(True):
      return measure(config, seeds)
  wrapped.__wrapped__ = measure
  return wrapped


@dataclasses.dataclass(frozen=True)
class Experiment:
  """Runs that one or more claims evaluate.

  Attributes:
    id: ``<namespace>.<name>``: the cache namespace of the runs, and the
      namespace from which the runner derives the seeds (so renaming it
      changes the seeds).
    config: ``config(quick) -> dict``.
    measure: ``measure(config, seeds) -> list[dict]``, one record per seed.
    seeds: number of seeds in full mode; ``quick_seeds`` in quick mode.
    full_needs_gpu: full mode is sized for a GPU (hours on a CPU); quick
      mode always runs on a CPU.
    requires: ``(module, install hint)`` pairs of optional dependencies
      that ``measure`` imports, e.g. ``(("PEPit", "pip install
      'boundlab[pep]'"),)``; without them the runner reads the experiment's
      claims inconclusive, saying what to install, instead of failing.
  """

  id: str
  config: Callable[[bool], dict]
  measure: Callable[[dict, Sequence[int]], list[dict]]
  seeds: int = 16
  quick_seeds: int = 8
  full_needs_gpu: bool = False
  requires: tuple[tuple[str, str], ...] = ()

  def __post_init__(self):
    _check_id("experiment", self.id)
    v.check_callable("config", self.config)
    v.check_callable("measure", self.measure)
    # Intervals need replicates.
    v.check_positive_int("seeds", self.seeds, minimum=2)
    v.check_positive_int("quick_seeds", self.quick_seeds, minimum=2)
    v.check_bool("full_needs_gpu", self.full_needs_gpu)
    if not all(isinstance(r, tuple) and len(r) == 2
               and all(isinstance(x, str) for x in r) for r in self.requires):
      raise ValueError("requires must be a tuple of (module, install hint) "
                       f"string pairs, got {self.requires!r}")

  def num_seeds(self, quick: bool) -> int:
    return self.quick_seeds if quick else self.seeds

  def missing_requirements(self) -> list[str]:
    """Install hints of the required modules that cannot be imported."""
    return [hint for module, hint in self.requires
            if importlib.util.find_spec(module) is None]


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """What ``Claim.evaluate`` returns; the runner adds the bound and verdict.

  Attributes:
    measured: point estimate of the measured quantity.
    ci: its interval (its kind is said in ``notes``).
    notes: the evidence in words: sample sizes, per-cell values, caveats.
    bound_values: values of the bound's ``from_evaluation`` symbols.
    tables: arrays the evaluation computed that the plot draws (and that go
      into the figure's sidecar).
    inconclusive_reason: set when a premise of the claim is not met by the
      experiment (e.g. "at similar accuracy"); the verdict is then
      ``inconclusive`` whatever the interval says, and the reason leads the
      notes.
    instances: for ``all-instances`` evidence, the number of independent
      instances checked when it is not the number of seeds (e.g. several
      random problems per seed).
    detectable_effect: required for ``non-rejection`` evidence: the
      smallest effect, in the measured quantity's units, that the test
      detects with 80% power at the claim's false-fail rate.
  """

  measured: float
  ci: tuple[float, float]
  notes: str = ""
  bound_values: Mapping[str, float] = dataclasses.field(default_factory=dict)
  tables: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  inconclusive_reason: str = ""
  instances: int | None = None
  detectable_effect: float | None = None

  def __post_init__(self):
    # NaN is allowed (an undetermined evaluation reads inconclusive).
    v.check_real("measured", self.measured)
    try:
      lo, hi = (float(x) for x in self.ci)
    except (TypeError, ValueError):
      raise ValueError("ci must be a pair (lo, hi) of real numbers, got "
                       f"{self.ci!r}") from None
    if lo > hi:
      raise ValueError(f"ci must have lo <= hi, got {self.ci!r}")
    if self.instances is not None:
      v.check_positive_int("instances", self.instances)
    if self.detectable_effect is not None:
      v.check_nonnegative("detectable_effect", self.detectable_effect)
    if not isinstance(self.notes, str):
      raise ValueError(f"notes must be a string, got {self.notes!r}")

  @classmethod
  def undetermined(cls, reason: str, notes: str = "", **kwargs) -> Evaluation:
    """No measurement could be formed (e.g. every run diverged): NaN, and
    ``reason`` leads the notes of an inconclusive verdict."""
    return cls(measured=math.nan, ci=(math.nan, math.nan), notes=notes,
               inconclusive_reason=reason, **kwargs)


@dataclasses.dataclass(frozen=True)
class Claim:
  """One checkable statement. See the module docstring for the functions.

  Attributes:
    id: ``<paper key>.<snake_case_name>``, e.g.
      ``chen2020.bias_le_wasserstein``.
    paper: the source.
    statement: the claim in one sentence, as the paper states it.
    measurement: what the experiment measures, in one sentence.
    bound: the stated bound (sympy, numeric value, citation).
    relation: measured ``<=`` / ``>=`` / ``approx`` bound.
    experiment: the runs it evaluates.
    tolerance: declared slack or tolerance (see :mod:`.verdict`), never fitted.
    tolerance_reason: why that tolerance (required when it is non-zero).
    false_fail_rate: declared probability that a true claim reads violated.
    evidence: what kind of evidence the verdict is
      (:class:`~boundlab.claims.verdict.Evidence`): a statistical interval,
      all sampled instances, an exact computation, an identity of our own
      implementation, or a failure to reject.
  """

  id: str
  paper: Paper
  statement: str
  measurement: str
  bound: Bound
  relation: Relation
  experiment: Experiment
  evaluate: Callable[[dict, Any, float], Evaluation]
  plot: Callable[[dict, Any, Evaluation], Any] | None = None
  false_fail_rate: float = 0.05
  tolerance: float = 0.0
  tolerance_reason: str = ""
  evidence: Evidence | None = None

  def __post_init__(self):
    _check_id("claim", self.id)
    v.check_instance("paper", self.paper, Paper, "a Paper")
    v.check_instance("bound", self.bound, Bound, "a Bound")
    v.check_callable("evaluate", self.evaluate)
    v.check_optional_callable("plot", self.plot)
    try:
      object.__setattr__(self, "relation", Relation(self.relation))
    except ValueError:
      raise ValueError(f"claim {self.id}: relation must be one of "
                       f"{[r.value for r in Relation]}, got "
                       f"{self.relation!r}") from None
    v.check_in_range("false_fail_rate", self.false_fail_rate, 0.0, 1.0,
                     closed="()")
    v.check_nonnegative("tolerance", self.tolerance)
    if self.evidence is None:
      raise ValueError(f"claim {self.id}: declare its evidence kind, one of "
                       f"{[e.value for e in Evidence]}")
    try:
      object.__setattr__(self, "evidence", Evidence(self.evidence))
    except ValueError:
      raise ValueError(f"claim {self.id}: evidence must be one of "
                       f"{[e.value for e in Evidence]}, got "
                       f"{self.evidence!r}") from None
    if not self.id.startswith(self.paper.key + "."):
      raise ValueError(f"claim id {self.id!r} must start with the paper key "
                       f"{self.paper.key!r}")
    if not isinstance(self.experiment, Experiment):
      raise ValueError(f"claim {self.id}: experiment must be an Experiment, "
                       f"got {type(self.experiment).__name__}")
    if self.tolerance and not self.tolerance_reason:
      raise ValueError(f"claim {self.id}: a non-zero tolerance needs a "
                       "tolerance_reason")

  @property
  def constants_verified(self) -> bool:
    return self.bound.citation.verified

  def config(self, quick: bool) -> dict:
    return self.experiment.config(quick)

  def num_seeds(self, quick: bool) -> int:
    return self.experiment.num_seeds(quick)
