r"""Wei, Damian & Lee (ICLR 2026): Langevin + iterate averaging reaches d^(k*/2).

Improved high-dimensional estimation with Langevin dynamics and stochastic
weight averaging, arXiv 2603.06028. Abstract [V]: Langevin dynamics succeeds
with :math:`n \gtrsim d^{k^\star/2}` samples if the *average* iterate is
output instead of the last one ("noise injection + iterate averaging
emulates landscape smoothing"), for tensor PCA and single-index models; the
last iterate is subject to the :math:`d^{k^\star-1}` barrier of gradient
methods. An AI-written summary states :math:`d^{\lceil k^\star/2\rceil}`
instead: for k = 3 that is 2, not 1.5, so the measured exponent of the
averaged iterate is what separates them (shared references [U]).

Measured on order-3 tensor PCA with fixed data :math:`\bar T = v^{\otimes 3}
+ W/\sqrt n` (convention C, unit per-sample signal), spherical Langevin
(:mod:`boundlab.algorithms.langevin`) from a uniform start with
:math:`m_0 > 0`, for each (d, n) a fresh spike, tensor and start per seed.
The schedule is ours, declared before the runs, because the paper's is not
recorded [U]: inverse temperature :math:`\beta = d`, step
:math:`\eta = 0.05\min(\beta/d, 1/(3\sqrt{3d/n} + 3))`, :math:`T = 100 d`
steps, average over the second half. Success: overlap >= 0.5 of the
normalised average (and, as the control in the same runs, of the last
iterate). ``verified=False``.
"""

from __future__ import annotations

import numpy as np
import sympy

from boundlab.claims import Bound, Paper
from boundlab.experiments.phase_diagram import FixedDataLangevin, PhaseDiagram

PAPER = Paper(
    key="wei2026",
    title="Improved high-dimensional estimation with Langevin dynamics and "
    "stochastic weight averaging", authors="S. Wei, A. Damian, J. D. Lee",
    arxiv="2603.06028", version="v1", venue="ICLR 2026")

_k = sympy.Symbol("k", positive=True, integer=True)

AVERAGED_ITERATE = PhaseDiagram(
    experiment_id="wei2026.langevin_runs", sampler=FixedDataLangevin(order=3),
    expected_exponent=1.5, quick_dims=(16, 24, 32),
    full_dims=(32, 64, 128, 192),
    # n = factor x d^{1.5}: 8 values over ~2 decades around d^{k/2}.
    grid_factors=tuple(np.geomspace(0.05, 4.0, 8).tolist()),
    seeds=64, quick_seeds=16).claim(
    id="wei2026.langevin_average_exponent", series="average", paper=PAPER,
    statement="Langevin dynamics on order-k tensor PCA recovers the spike "
    "from n ~ d^(k/2) samples when the averaged iterate is output (k = 3: "
    "d^1.5).",
    measurement="Fitted exponent of the 50% sample size of the window-"
    "averaged Langevin iterate (overlap >= 0.5) over d, fixed data, our "
    "declared schedule (quick: d = 16-32; full: 32-192); the last iterate of "
    "the same runs is the control.",
    bound=Bound(
        name="averaged-iterate exponent = k/2", expression=_k / 2,
        statement_latex=r"n_{1/2}(d) \asymp d^{k/2}",
        constants=lambda config: {"k": config["order"]},
        symbol_meanings={"k": "tensor order"},
        citation=PAPER.cite(
            "Main theorem (tensor PCA; number unverified)",
            "Rate d^{k*/2} for the averaged iterate from the abstract [V]; "
            "the temperature, step, horizon and window are not recorded [U] "
            "and are ours; a secondary summary's ceil(k*/2) is the competing "
            "reading.")),
    tolerance=0.25, evidence="statistical",   # bootstrap CI at 1 - alpha
    tolerance_reason="Half the gap between k/2 = 1.5 and the competing "
    "ceil(k/2) = 2 (and k-1 = 2): finite-d and polylog corrections within "
    "it still leave the readings separable.")

CLAIMS = (AVERAGED_ITERATE,)
