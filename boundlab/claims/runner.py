"""The runner: claims -> cached per-seed records -> verdicts and figures.

Every (experiment, config, seed) cell is cached as one JSON file under
``<out>/cache`` (:mod:`boundlab.claims.cache`). Cells are written atomically
as soon as they are computed, so a run killed at any moment resumes where it
stopped; cached cells are reused unless ``force`` is set. Claims that share an
:class:`~boundlab.claims.claim.Experiment` read one set of runs, computed (or
loaded) once per invocation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from boundlab import _jsonio
from boundlab.claims.cache import CellCache, cell_key, code_fingerprint
from boundlab.claims.claim import Claim, Evaluation, Experiment
from boundlab.claims.records import Records
from boundlab.claims.verdict import (Evidence, Outcome, Verdict,
                                     all_instances_failure_bound, decide)
from boundlab.figures import save_figure
from boundlab.provenance import device_description


def cell_seeds(root_seed: int, experiment_id: str, count: int) -> list[int]:
  """Distinct, reproducible 31-bit seeds for an experiment's replicates."""
  out = []
  for index in range(count):
    digest = hashlib.sha256(f"{root_seed}:{experiment_id}:{index}".encode())
    out.append(int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF)
  return out


@dataclasses.dataclass
class ClaimRun:
  """A verdict with the config, records and evaluation it came from."""

  claim: Claim
  config: dict
  seeds: list[int]
  verdict: Verdict
  evaluation: Evaluation
  computed_cells: int
  cached_cells: int


@dataclasses.dataclass
class _Cells:
  """One experiment's cells in one invocation: keys, loaded records, and
  the seeds still to compute."""

  experiment: Experiment
  config: dict
  seeds: list[int]
  keys: dict
  records: dict
  missing: list[int]
  stacked: Records | None = None


def _plan(experiment, config, seeds, cache, force) -> _Cells:
  code = code_fingerprint(experiment.measure)
  keys = {s: cell_key(experiment.id, config, s, code) for s in seeds}
  records = {s: None if force else cache.load(experiment.id, keys[s])
             for s in seeds}
  return _Cells(experiment, config, list(seeds), keys, records,
                [s for s in seeds if records[s] is None])


def _store(cells: _Cells, new: list, cache: CellCache) -> None:
  if len(new) != len(cells.missing):
    raise RuntimeError(f"{cells.experiment.id}: measure returned {len(new)} "
                       f"records for {len(cells.missing)} seeds")
  for s, record in zip(cells.missing, new):
    # Through the JSON the cache stores (sorted keys, Python floats), so a
    # fresh record and a cached one are the same value, field order too.
    record = json.loads(json.dumps(_jsonio.to_jsonable(record),
                                   sort_keys=True))
    cache.store(cells.experiment.id, cells.keys[s], record)
    cells.records[s] = record


def _timing_path(cache_root: Path, experiment_id: str) -> Path:
  return Path(cache_root) / experiment_id / "timing.json"


def _record_timing(cache: CellCache, cells: _Cells, quick: bool,
                   seconds: float) -> None:
  """The wall time of a measurement of every seed, for ``boundlab list``."""
  if len(cells.missing) != len(cells.seeds):
    return     # a resumed run timed only some seeds
  path = _timing_path(cache.root, cells.experiment.id)
  try:
    timing = json.loads(path.read_text())
  except (OSError, ValueError):
    timing = {}
  timing["quick" if quick else "full"] = {
      "seconds": seconds, "seeds": len(cells.seeds),
      "device": device_description()}
  _jsonio.atomic_write_json(path, timing)


def measured_seconds(cache_root: Path, experiment_id: str,
                     quick: bool) -> float | None:
  """Seconds the last complete measurement of an experiment took (quick or
  full mode), as recorded under ``cache_root``; None if none was."""
  try:
    timing = json.loads(_timing_path(cache_root, experiment_id).read_text())
  except (OSError, ValueError):
    return None
  entry = timing.get("quick" if quick else "full")
  return None if entry is None else float(entry["seconds"])


def collect_records(experiment: Experiment, config: dict, seeds: Sequence[int],
                    cache: CellCache, *, force: bool) -> tuple[list[dict], int]:
  """Per-seed records from the cache, computing (and storing) missing ones."""
  cells = _plan(experiment, config, seeds, cache, force)
  if cells.missing:
    _store(cells, experiment.measure(config, cells.missing), cache)
  return [cells.records[s] for s in seeds], len(cells.missing)


def judge(claim: Claim, config: dict,
          records: Records) -> tuple[Verdict, Evaluation]:
  """Evaluates the records, the bound, and the claim's decision rule."""
  evaluation = claim.evaluate(config, records, claim.false_fail_rate)
  ci = tuple(float(x) for x in evaluation.ci)
  measured = float(evaluation.measured)
  undetermined = not all(math.isfinite(x) for x in (*ci, measured))
  if undetermined and set(evaluation.bound_values) != set(
      claim.bound.from_evaluation):
    bound = math.nan     # no measurement, so no measured bound symbols
  else:
    bound = claim.bound.value(config, evaluation.bound_values)
  outcome = decide(claim.relation, ci, (bound, bound), claim.tolerance)
  notes = evaluation.notes
  diverged = records.diverged_at[records.diverged_at >= 0]
  if diverged.size:
    outcome = Outcome.DIVERGED
    notes = (f"{diverged.size}/{len(records)} seeds diverged (first "
             f"non-finite iterate at step {int(diverged.min())}). " + notes)
  elif evaluation.inconclusive_reason:
    outcome = Outcome.INCONCLUSIVE
    notes = f"{evaluation.inconclusive_reason} {notes}".strip()
  elif undetermined:
    outcome = Outcome.INCONCLUSIVE
  evidence = claim.evidence
  instances = failure_bound = p_value = None
  if evidence is Evidence.ALL_INSTANCES:
    instances = evaluation.instances or len(records)
    if outcome is Outcome.HOLDS:
      failure_bound = all_instances_failure_bound(instances,
                                                  claim.false_fail_rate)
  if evidence is Evidence.NON_REJECTION and evaluation.detectable_effect is None:
    raise ValueError(f"claim {claim.id}: a non-rejection claim's evaluation "
                     "must state detectable_effect (the smallest effect "
                     "its test detects with 80% power)")
  if evidence.stochastic and outcome is Outcome.VIOLATED:
    p_value = violation_p_value(claim, config, records)
  verdict = Verdict(
      claim_id=claim.id, outcome=outcome, measured=measured,
      ci=ci, bound=bound, bound_ci=(bound, bound), relation=claim.relation,
      tolerance=claim.tolerance, sample_size=len(records),
      false_fail_rate=claim.false_fail_rate, notes=notes, evidence=evidence,
      instances=instances, failure_probability_bound=failure_bound,
      detectable_effect=evaluation.detectable_effect, p_value=p_value)
  return verdict, evaluation


def violation_p_value(claim: Claim, config: dict, records: Records, *,
                      smallest: float = 1e-12, steps: int = 40) -> float:
  """The smallest false-fail rate at which the claim still reads violated.

  A claim's test is "violated at rate alpha": its interval at level 1 -
  alpha excludes the bound. Intervals widen as alpha falls, so the set of
  rates at which it is violated is an interval (alpha*, alpha]; alpha* is
  the test's p-value, found by bisection on log alpha (``steps`` halvings,
  a relative resolution of ``(alpha/smallest)^(2^-steps)``). Returns the
  claim's own rate if it is not violated there, and ``smallest`` if it is
  violated even there.
  """
  def violated(alpha):
    evaluation = claim.evaluate(config, records, alpha)
    bound = claim.bound.value(config, evaluation.bound_values)
    return decide(claim.relation, tuple(float(x) for x in evaluation.ci),
                  (bound, bound), claim.tolerance) is Outcome.VIOLATED
  high = claim.false_fail_rate
  if not violated(high):
    return high
  if violated(smallest):
    return smallest
  lo, hi = math.log(smallest), math.log(high)
  for _ in range(steps):
    mid = 0.5 * (lo + hi)
    if violated(math.exp(mid)):
      hi = mid
    else:
      lo = mid
  return math.exp(hi)


# Records or tables above this size stay out of a figure's sidecar: it then
# names the cache namespace instead of copying megabytes of raw scores.
SIDECAR_LIMIT_BYTES = 1_000_000


def sidecar_value(value, experiment_id: str):
  """``value`` as JSON for a figure's sidecar, or a pointer when it is large."""
  value = _jsonio.to_jsonable(value)
  size = len(json.dumps(value))
  if size <= SIDECAR_LIMIT_BYTES:
    return value
  return {"omitted": f"{size / 1e6:.1f} MB; recompute it from the cell cache",
          "cache_namespace": experiment_id}


def run_claims(claims: Sequence[Claim], out_dir: Path, *, quick: bool,
               seed: int = 0, force: bool = False,
               on_claim: Callable[[Claim], None] | None = None,
               figures: bool = True, executor=None) -> list[ClaimRun]:
  """Runs ``claims`` and returns their verdicts (figures under ``out_dir``).

  With ``executor`` (a Dask client, :mod:`boundlab.claims.parallel`), every
  experiment with missing cells is measured as one task on the cluster, all
  at once; this process stores the cells as the tasks finish (atomically, so
  workers need no shared filesystem) and then judges the claims in order.
  Without, experiments are measured here, claim by claim.
  """
  out_dir = Path(out_dir)
  cache = CellCache(out_dir / "cache")
  plans: dict[str, _Cells] = {}
  unavailable = {}
  for claim in claims:
    experiment = claim.experiment
    if experiment.missing_requirements():
      unavailable[experiment.id] = experiment.missing_requirements()
      continue
    if experiment.id in plans:
      if plans[experiment.id].experiment is not experiment:
        raise ValueError(f"two different experiments share the id "
                         f"{experiment.id!r}")
      continue
    plans[experiment.id] = _plan(
        experiment, experiment.config(quick),
        cell_seeds(seed, experiment.id, experiment.num_seeds(quick)), cache,
        force)
  computed = {i: len(p.missing) for i, p in plans.items()}
  if executor is not None:
    from boundlab.claims import parallel
    todo = [p for p in plans.values() if p.missing]
    # Longest first (by the last measured time; unmeasured ones first of
    # all) so that a long experiment does not start last.
    last = [measured_seconds(cache.root, p.experiment.id, quick) for p in todo]
    for cells, new, seconds in parallel.measure_all(
        executor, todo,
        priorities=[math.inf if t is None else t for t in last]):
      _store(cells, new, cache)
      _record_timing(cache, cells, quick, seconds)
  runs, reported = [], set()
  for claim in claims:
    if on_claim is not None:
      on_claim(claim)
    if claim.experiment.id in unavailable:
      runs.append(_not_run(claim, quick, seed, unavailable[
          claim.experiment.id]))
      continue
    cells = plans[claim.experiment.id]
    if any(cells.records[s] is None for s in cells.seeds):
      start = time.perf_counter()
      _store(cells, cells.experiment.measure(cells.config, cells.missing),
             cache)
      _record_timing(cache, cells, quick, time.perf_counter() - start)
    config, seeds = cells.config, cells.seeds
    records = _records(cells)
    verdict, evaluation = judge(claim, config, records)
    if figures and claim.plot is not None:
      fig = claim.plot(config, records, evaluation)
      _caption(fig, claim)
      path, _ = save_figure(
          fig, out_dir / "figures" / f"{claim.id}.png",
          data={"verdict": dataclasses.asdict(verdict),
                "tables": sidecar_value(evaluation.tables, claim.experiment.id),
                "records": sidecar_value(list(records.raw),
                                         claim.experiment.id)},
          config=config, seeds=seeds)
      verdict = dataclasses.replace(
          verdict, figure=str(path.relative_to(out_dir)))
    # A shared experiment's cells count as computed for its first claim.
    new = 0 if claim.experiment.id in reported else computed[
        claim.experiment.id]
    reported.add(claim.experiment.id)
    runs.append(ClaimRun(claim, config, seeds, verdict, evaluation, new,
                         len(seeds) - new))
  return runs


def _not_run(claim: Claim, quick: bool, seed: int,
             hints: list[str]) -> ClaimRun:
  """An inconclusive verdict for a claim whose experiment needs an optional
  dependency that is not installed."""
  reason = (f"Not run: its experiment needs an optional dependency ("
            f"{'; '.join(hints)}).")
  evaluation = Evaluation.undetermined(reason)
  seeds = cell_seeds(seed, claim.experiment.id,
                     claim.experiment.num_seeds(quick))
  verdict = Verdict(
      claim_id=claim.id, outcome=Outcome.INCONCLUSIVE, measured=math.nan,
      ci=(math.nan, math.nan), bound=math.nan, bound_ci=(math.nan, math.nan),
      relation=claim.relation, tolerance=claim.tolerance, sample_size=0,
      false_fail_rate=claim.false_fail_rate, notes=reason,
      evidence=claim.evidence)
  return ClaimRun(claim, claim.experiment.config(quick), seeds, verdict,
                  evaluation, 0, 0)


def _records(cells: _Cells) -> Records:
  if cells.stacked is None:
    cells.stacked = Records([cells.records[s] for s in cells.seeds],
                            cells.seeds)
  return cells.stacked


def _caption(fig, claim: Claim) -> None:
  """The claim's own statement above its figure: claims that share an
  experiment (and a plot) still each show what they claim."""
  fig.suptitle("\n".join(textwrap.wrap(f"{claim.id}: {claim.statement}",
                                       110)), fontsize=6, x=0.01, ha="left",
               y=1.0, va="bottom")


def summary_counts(runs: Sequence[ClaimRun]) -> dict[str, int]:
  counts = {o.value: 0 for o in Outcome}
  for r in runs:
    counts[r.verdict.outcome.value] += 1
  return counts
