r"""Wei, Damian & Lee (ICLR 2026): Langevin dynamics with iterate averaging.

Improved high-dimensional estimation with Langevin dynamics and stochastic
weight averaging, arXiv 2603.06028. Abstract [V]: Langevin dynamics succeeds
with :math:`n \gtrsim d^{k^\star/2}` samples "if one considers the average
iterate" ("noise injection + iterate averaging emulates landscape
smoothing"), for tensor PCA and single-index models; the last iterate is
subject to the :math:`d^{k^\star-1}` barrier of gradient methods.

**Two estimators, two rates [R].** The fullest text available, an AI-written
summary of the paper (shared references, ``citation_findings.md`` items 1-2),
separates them: the time-averaged Langevin iterate *alone* (Algorithm 1)
succeeds at :math:`n \gtrsim d^{\lceil k^\star/2\rceil}` (Theorem 2, odd
:math:`k^\star`) and reaches only :math:`\Theta(d^{-1/4})` correlation at
:math:`d^{k^\star/2}`; the optimal :math:`d^{k^\star/2}` is reached by a warm
start from the average followed by online SGD (Corollary 1). The abstract's
sentence is compatible with that reading. So two claims (k = 3):

* ``langevin_average_exponent``: the averaged iterate alone, exponent
  :math:`\lceil k/2\rceil = 2`;
* ``two_stage_exponent``: the average, then online SGD from it, exponent
  :math:`k/2 = 1.5`.

**Chronology (this re-encoding is not independent of the data).** The first
encoding (exponent k/2 for the averaged iterate alone, our own schedule)
named the summary's ceil(k/2) as the competing reading before its H100 run
(commit 628596d, 2026-11-22 17:23; the run's commit 960e18b, 17:36). That
run measured 1.92 [1.70, 2.15]; the shared notes read afterwards cite it as
consistent with 2, and this encoding adopts the summary's reading of which
rate belongs to which estimator. So the change follows a source that was
read after the data, in favour of the reading the data leaned to; the
previous schedule's runs are therefore re-judged, not re-counted (they read
inconclusive against 1.5 and against 2 alike). Every citation stays
``verified=False``.

**Schedule as the summary describes it [R]**
(:class:`~boundlab.experiments.phase_diagram.AveragedLangevinSDE`):
continuous-time spherical Langevin :math:`d\theta = (-\frac{d-1}{2}\theta +
\varepsilon b(\theta))dt + P_\theta dW`, :math:`b = -\nabla L_n` on the
fixed-data loss :math:`L_n = -\langle\bar T, \theta^{\otimes k}\rangle`
(convention C, :math:`\bar T = v^{\otimes k} + W/\sqrt n`), uniform start,
average over the whole trajectory, horizon :math:`T = c\,d^{k}/\varepsilon^2`
with a small signal weight (noise-dominated: the iterate stays near the
equator); for even k the estimate is the top eigenvector of the averaged
:math:`\theta\theta^\top`. The constants are ours [U]: :math:`\varepsilon = 1`,
:math:`c = 1/2`, :math:`\Delta t = 1/(2d)`, online step :math:`\eta_2 =
d^{-5/4}/4` for n fresh samples. c and :math:`\Delta t` were changed twice
for cost (c = 1 to 1/4 to 1/2, :math:`\Delta t` = 1/(4d) to 1/(2d)) after
quick-mode success tables at d <= 12 had been looked at; the full-mode range
d = 8..48 and every constant were fixed before the one H200 run.

**What the two-stage claim can and cannot show.** At d <= 48 the warm
start's predicted overlap :math:`d^{-1/4}` (0.59 to 0.38) is at the 0.5
threshold itself, so the regime that separates the two estimators barely
exists at these sizes; with :math:`\eta_2 = d^{-5/4}/4` the online stage
passes 0.5 within the measured :math:`n_{1/2}` only from starts near 0.4
(an independent review's check at d = 48). Rerunning the second stage from
the recorded averages with 2x and 4x the online step
(``benchmarks/wei2026_stage2_sensitivity.py``; delta = 1/4 reproduces every
recorded cell) gives 1.89 [1.76, 2.06] and 1.90 [1.78, 2.08]: the reading
does not hinge on the step, but on the d range. Its full-mode "violated" is
a finding about this design at these d, not evidence against Corollary 1.

**The previous schedule, kept as a declared variant**
(``langevin_average_exponent_previous_schedule``, the same runs as the first
encoding): inverse temperature :math:`\beta = d` (a strong signal, not
noise-dominated), step :math:`\eta = 0.05\min(\beta/d, 1/(3\sqrt{3d/n} +
3))`, :math:`T = 100 d` steps, average over the second half, start
conditioned on :math:`m_0 > 0`; judged now against :math:`\lceil k/2\rceil`.
"""

from __future__ import annotations

import numpy as np
import sympy

from boundlab.claims import Bound, Paper
from boundlab.experiments.phase_diagram import (AveragedLangevinSDE,
                                                FixedDataLangevin,
                                                PhaseDiagram)

PAPER = Paper(
    key="wei2026",
    title="Improved high-dimensional estimation with Langevin dynamics and "
    "stochastic weight averaging", authors="S. Wei, A. Damian, J. D. Lee",
    arxiv="2603.06028", version="v1", venue="ICLR 2026")

_k = sympy.Symbol("k", positive=True, integer=True)
_SUMMARY = ("an AI-written summary of the paper [R] (shared references, "
            "citation_findings.md)")
_TOLERANCE = dict(tolerance=0.25, tolerance_reason="Half the gap between "
                  "k/2 = 1.5 and ceil(k/2) = 2: finite-d and polylog "
                  "corrections within it still leave the readings separable.")


def _exponent_bound(name, expression, latex, where, note):
  return Bound(name=name, expression=expression, statement_latex=latex,
               constants=lambda config: {"k": config["order"]},
               symbol_meanings={"k": "tensor order"},
               citation=PAPER.cite(where, note))


def _average_alone_bound(note):
  """Theorem 2's ceil(k/2) for the average alone; ``note`` says how the
  schedule relates to the paper's."""
  return _exponent_bound(
      "averaged-iterate exponent = ceil(k/2)", sympy.ceiling(_k / 2),
      r"n_{1/2}(d) \asymp d^{\lceil k/2\rceil}",
      "Theorem 2 (odd k*), as " + _SUMMARY + " states it", note)


SDE = PhaseDiagram(
    experiment_id="wei2026.averaged_sde_runs",
    sampler=AveragedLangevinSDE(order=3), expected_exponent=1.5,
    quick_dims=(6, 8, 12), full_dims=(8, 12, 16, 24, 32, 48),
    # n = factor x d^{1.5}: 10 values over 2.2 decades, reaching past the
    # average's d^2 / 9 (linear response [D]) at every d.
    grid_factors=tuple(np.geomspace(0.05, 8.0, 10).tolist()),
    seeds=64, quick_seeds=16)

AVERAGE_ALONE = SDE.claim(
    id="wei2026.langevin_average_exponent", series="average",
    expected_exponent=2, paper=PAPER,
    statement="The time-averaged iterate of noise-dominated Langevin "
    "dynamics on order-k tensor PCA (odd k) recovers the spike from n ~ "
    "d^ceil(k/2) samples (k = 3: d^2).",
    measurement="Fitted exponent of the 50% sample size (overlap >= 0.5) of "
    "the normalised trajectory average of the spherical Langevin SDE, "
    "eps = 1, T = d^3/2, dt = 1/(2d), uniform start, fixed data (quick: d = 6-12; full: "
    "8-48).",
    bound=_average_alone_bound(
        "Rate d^{ceil(k*/2)} for Algorithm 1's average alone and the "
        "schedule (uniform start, whole-trajectory average, T >~ d^k*/eps^2, "
        "small eps) from " + _SUMMARY + "; the abstract [V] gives d^{k*/2} "
        "for 'the average iterate', compatible with the two-stage reading. "
        "eps, c, dt are ours [U]."), **_TOLERANCE)

TWO_STAGE = SDE.claim(
    id="wei2026.two_stage_exponent", series="two_stage", paper=PAPER,
    statement="Online SGD warm-started from the time-averaged Langevin "
    "iterate recovers the spike of order-k tensor PCA from n ~ d^(k/2) "
    "samples (k = 3: d^1.5).",
    measurement="Fitted exponent of the 50% sample size of the two-stage "
    "estimator (the average of the same runs, then spherical online SGD on "
    "n fresh samples, eta = d^-1.25 / 4; success: overlap >= 0.5 within n "
    "steps) (quick: d = 6-12; full: 8-48).",
    bound=_exponent_bound(
        "two-stage exponent = k/2", _k / 2,
        r"n_{1/2}(d) \asymp d^{k/2}",
        "Corollary 1, as " + _SUMMARY + " states it; abstract [V]",
        "Rate d^{k*/2} from the abstract [V] ('if one considers the average "
        "iterate'), attributed to the warm start + online SGD by "
        + _SUMMARY + ". The online step and the n fresh samples are ours "
        "[U]."), **_TOLERANCE)

PREVIOUS = PhaseDiagram(
    experiment_id="wei2026.langevin_runs", sampler=FixedDataLangevin(order=3),
    expected_exponent=1.5, quick_dims=(16, 24, 32),
    full_dims=(32, 64, 128, 192),
    grid_factors=tuple(np.geomspace(0.05, 4.0, 8).tolist()),
    seeds=64, quick_seeds=16)

PREVIOUS_SCHEDULE = PREVIOUS.claim(
    id="wei2026.langevin_average_exponent_previous_schedule",
    series="average", expected_exponent=2, paper=PAPER,
    statement="The window-averaged Langevin iterate on order-k tensor PCA, "
    "under the schedule declared before the source was read, recovers the "
    "spike from n ~ d^ceil(k/2) samples (k = 3: d^2).",
    measurement="Fitted exponent of the 50% sample size of the window-"
    "averaged Langevin iterate (overlap >= 0.5) over d, fixed data, beta = "
    "d, 100 d steps, second-half average, start with m0 > 0 (quick: d = "
    "16-32; full: 32-192); the last iterate of the same runs is the "
    "control.",
    bound=_average_alone_bound(
        "The rate of the average alone from " + _SUMMARY + "; this "
        "schedule (low temperature beta = d, sign-conditioned start, second"
        "-half window) is ours, not the paper's [U]."), **_TOLERANCE)

CLAIMS = (AVERAGE_ALONE, TWO_STAGE, PREVIOUS_SCHEDULE)
