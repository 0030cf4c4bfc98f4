r"""Richtarik, Sokolov & Fatkhullin (NeurIPS 2021): EF21.

EF21: A New, Simpler, Theoretically Better, and Practically Faster Error
Feedback, arXiv 2106.05203. For n clients with :math:`L_i`-smooth
:math:`f_i`, f L-smooth and any :math:`\alpha`-contractive compressor, EF21
with :math:`\gamma \le 1/(L + \tilde L\xi(\alpha))`, :math:`\tilde L =
L_{QM}`, decreases :math:`\Phi^t = f(x^t) - f^{\inf} + \frac{\gamma}{2\theta}
G^t` by :math:`\frac\gamma2\|\nabla f(x^t)\|^2` per step, hence the averaged
rate :math:`\frac1T\sum_{t<T}\|\nabla f(x^t)\|^2 \le 2\Phi^0/(\gamma T)`
(:mod:`boundlab.theory.error_feedback`). With the deterministic Top-K the
contraction holds on every path, so both hold on every run; PEPit checks
the one-step inequality over the whole class.
"""

from __future__ import annotations

from boundlab.claims import Bound, Claim, Paper, Relation
from boundlab.experiments import error_feedback as ef
from boundlab.theory.pep import SOLVER_TOLERANCE

PAPER = Paper(key="richtarik2021", title="EF21: A New, Simpler, Theoretically "
              "Better, and Practically Faster Error Feedback",
              authors="P. Richtarik, I. Sokolov, I. Fatkhullin",
              arxiv="2106.05203", version="v1", venue="NeurIPS 2021")
_THEOREM = PAPER.cite(
    "Theorem 1 (nonconvex; Theorem 2 on the authors' poster)",
    "Algorithm 1 (update order, g_i^0 = C(grad f_i(x^0))), the contractive "
    "class, theta = 1 - sqrt(1 - alpha), beta = (1 - alpha)/(1 - sqrt(1 - "
    "alpha)), the step 1/(L + L_QM sqrt(beta/theta)) and the averaged bound "
    "read in the authors' poster and code [V: IgorSokoloff/"
    "ef21_experiments_source_code@805c9d7, poster.pdf and Logistic "
    "regression/bdfg_distributed_stable.py, which computes L_QM = "
    "sqrt(mean L_i^2) and the step]; the arXiv theorem number from a "
    "follow-up's citation [R]; the one-step inequality is the telescoped "
    "step of the proof [D].", verified=True)
_RUNS, _PEP = ef.TOPK_RUNS, ef.PEP_CERTIFICATES
_UNIFORM = ("ef21_qm",)

LYAPUNOV_DESCENT = Claim(
    id="richtarik2021.lyapunov_descent", paper=PAPER,
    statement="With gamma <= 1/(L + L_QM xi(alpha)), every EF21 step "
    "decreases Phi = f - f^inf + gamma/(2 theta) G by at least gamma/2 "
    "||grad f(x^t)||^2.",
    measurement="Worst (Phi^{t+1} - Phi^t + gamma/2 ||grad f(x^t)||^2) / "
    "Phi^0 over every step of EF21 with Top-K at gamma = 1/(L + L_QM xi) on "
    "random quadratics (L = 1, 1, 1, 100), logistic and nonconvex logistic "
    "regression.",
    bound=Bound(name="one-step Lyapunov slack <= 0", expression=0,
                citation=_THEOREM, statement_latex=r"\Phi^{t+1} \le \Phi^t - "
                r"\frac{\gamma}{2}\|\nabla f(x^t)\|^2"),
    relation=Relation.LE, experiment=_RUNS.experiment,
    evaluate=_RUNS.evaluate_lyapunov(_UNIFORM),
    plot=_RUNS.plot_runs(_UNIFORM, "EF21 at 1/(L + L_QM xi)", 0.0),
    evidence="all-instances", tolerance=1e-12,
    tolerance_reason="float64 rounding of Phi: |f| / Phi^0 stays below ~1e2 "
    "on these instances (the notes give it), unit roundoff 1.1e-16.")

AVERAGED_RATE = Claim(
    id="richtarik2021.averaged_rate", paper=PAPER,
    statement="(1/T) sum_{t<T} ||grad f(x^t)||^2 <= 2 (f(x^0) - f^inf) / "
    "(gamma T) + G^0 / (theta T).",
    measurement="Worst ratio of the averaged squared gradient norm to the "
    "bound on the same runs (T steps, Top-K).",
    bound=Bound(name="averaged ||grad f||^2 / bound <= 1", expression=1,
                citation=_THEOREM, statement_latex=r"\frac1T\sum_{t<T}\|\nabla"
                r" f(x^t)\|^2 \le \frac{2(f(x^0)-f^{\inf})}{\gamma T} + "
                r"\frac{G^0}{\theta T}"),
    relation=Relation.LE, experiment=_RUNS.experiment,
    evaluate=_RUNS.evaluate_rate(_UNIFORM),
    plot=_RUNS.plot_runs(_UNIFORM, "EF21's averaged rate", 1.0),
    evidence="all-instances")

PEP_CERTIFIED = Claim(
    id="richtarik2021.pep_one_step_certified", paper=PAPER,
    statement="The one-step descent of Phi holds for every L_i-smooth f_i and "
    "every alpha-contractive compressor at gamma = 1/(L + L_QM xi(alpha)).",
    measurement="PEPit's tight worst case of Phi^1 - Phi^0 + gamma/2 "
    "||grad f(x^0)||^2 (normalised) over that class (L := L_AM, the "
    "smoothness the L_i imply for f; compressors contracting every input), "
    "at random smoothness profiles and contractions.",
    bound=Bound(name="worst-case one-step slack <= 0", expression=0,
                citation=_THEOREM, statement_latex=r"\sup_{f_i, \mathcal C}"
                r"\big(\Phi^1 - \Phi^0 + \tfrac\gamma2\|\nabla f(x^0)\|^2"
                r"\big) \le 0"),
    relation=Relation.LE, experiment=_PEP.experiment,
    evaluate=_PEP.evaluate_certified(_UNIFORM), plot=_PEP.plot,
    evidence="all-instances", tolerance=SOLVER_TOLERANCE,
    tolerance_reason="the SDP solver's accuracy (Clarabel, ~1e-8 relative; "
    "theory.pep.SOLVER_TOLERANCE).")

CLAIMS = (LYAPUNOV_DESCENT, AVERAGED_RATE, PEP_CERTIFIED)
