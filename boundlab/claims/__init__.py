"""The claims framework: claim, experiment, bound, verdict, runner, cache,
report and registry.

Above the math (:mod:`boundlab.theory`, :mod:`boundlab.algorithms`,
:mod:`boundlab.landscapes`) and :mod:`boundlab.figures`; below
:mod:`boundlab.experiments` and :mod:`boundlab.paper_repro`. A claim flows
config -> measure (per seed, cached) -> :class:`Records` (stacked) ->
evaluate -> :class:`Evaluation` + the :class:`Bound`'s value -> decide ->
:class:`Verdict` -> report.
"""

from boundlab.claims.bound import Bound
from boundlab.claims.claim import (Claim, Evaluation, Experiment,
                                   float64_measure)
from boundlab.claims.paper import Citation, Paper
from boundlab.claims.records import Records
from boundlab.claims.registry import (all_claims, get_claim, load,
                                      paper_module, papers, register,
                                      select_claims)
from boundlab.claims.verdict import (Evidence, Outcome, Relation, Verdict,
                                     decide)

__all__ = [
    "Bound", "Citation", "Claim", "Evaluation", "Evidence", "Experiment",
    "Outcome",
    "Paper", "Records", "Relation", "Verdict", "all_claims", "decide",
    "get_claim", "load", "paper_module", "papers", "register",
    "select_claims", "float64_measure",
]
