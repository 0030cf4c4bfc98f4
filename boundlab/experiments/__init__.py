"""Reusable experiment families: each a frozen dataclass whose ``measure``,
``evaluate_*`` and ``plot`` make the experiment, the evaluation and the figure
of a whole kind of claim, so that a claim on a family is mostly the paper's
words.

* :mod:`~boundlab.experiments.phase_diagram` -- sample-complexity exponents
  from success over (d, n).
* :mod:`~boundlab.experiments.horizon_sweep` -- a convergence measure over a
  grid of horizons T: decay exponents, the worst ratio to a stated bound.
* :mod:`~boundlab.experiments.tuned_comparison` -- methods x hyperparameter
  grid x seeds, tuned on half the seeds and compared on the other half.
* :mod:`~boundlab.experiments.equal_loss` -- a quantity compared where each
  run crosses declared loss levels.
* :mod:`~boundlab.experiments.monotone_sweep` -- a quantity along a swept
  parameter, with Bonferroni intervals.
* :mod:`~boundlab.experiments.canary_audit` -- white-box gradient-canary
  audits of private training.
* :mod:`~boundlab.experiments.error_feedback` -- EF21 / EF21-W on random
  distributed finite sums (pathwise Lyapunov descent, rate bound, iterate
  identity), a step-size sweep, and PEPit certificates at random
  smoothness profiles.
"""
