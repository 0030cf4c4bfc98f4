r"""Zhang, Bu, Wu & Hong (ICLR 2024): DiceSGD, private SGD without clipping bias.

Differentially Private SGD Without Clipping Bias: An Error-Feedback Approach,
arXiv 2311.14632 (v2). DiceSGD (Algorithm 1) feeds the clipping error back
through a second clipped channel: its fixed points are stationary points of f
for any clipping threshold C_1, where DP-SGD with gradient clipping
(DP-SGD-GC) keeps an O(1) bias. Confirmed: the abstract ("without the O(1)
term caused by clipping", "arbitrary choice of clipping threshold independent
of the problem" [V]); Algorithm 1 as transcribed by two independent sources
[V, secondary]. Theorem numbers: in v2 (the version cited) the convergence
theorem is Theorem 3.6, proved in its Appendix A.1 from smoothness
(Assumption 3.2) and Assumptions 3.4-3.5 [V, the appendix heading and its
first lines only]; reviews of the ICLR submission number the convergence
theorem (strongly convex f) 3.7 and the privacy theorem 3.8 [R], so those
numbers belong to the submission, and the privacy theorem's number in v2 was
not read [U]. In the privacy theorem sigma_1 is a noise standard deviation,
not a multiplier of the sensitivity [R, a review]; its formula was not found,
so nothing here uses it: the DP noise of the sweeps is a stated multiple z of
the sensitivity C_1 + C_2 of the released update (noise std z (C_1 + C_2)),
the equal-privacy claims use the official code's recipe, and every citation
is ``verified=False``. The sweep claims fit no family: they bound the norm of
a mean vector in every (problem, C1, z) cell, not a tuned comparison or trend.
"""

from __future__ import annotations

from boundlab import algorithms, figures, landscapes
from boundlab.claims import Paper

PAPER = Paper(
    key="dicesgd2024", title="Differentially Private SGD Without Clipping "
    "Bias: An Error-Feedback Approach", authors="X. Zhang, Z. Bu, Z. S. Wu, "
    "M. Hong", arxiv="2311.14632", version="v2", venue="ICLR 2024")

# One module per experiment; they import PAPER from here.
from boundlab.paper_repro.dicesgd2024 import privacy, sweep  # noqa: E402

CLAIMS = (sweep.NO_CLIPPING_BIAS, sweep.GC_KEEPS_BIAS,
          sweep.ERROR_STATE_BOUNDED, sweep.ERROR_STATE_FIXED_POINT,
          privacy.EQUAL_EPSILON, privacy.CANARY_EPSILON)


def example_figures(out_dir, quick: bool = True):
  """Trajectories of x_t and e_t on the stall instance, GC vs DiceSGD."""
  config = {"points": [-3.0, -3.0, 9.0], "clip_norm": 1.0, "eta": 0.1,
            "steps": 4000 if quick else 20000}
  land = landscapes.mean_of_squares(config["points"], init=5.0)
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  runs = {label: algorithms.run(land, opt, [0], steps=config["steps"],
                                record_every=10, metrics=metrics)
          for label, opt, metrics in (
              ("DP-SGD-GC", algorithms.dp_sgd_gc(0.1, 1.0),
               lambda p, s: {"x": p}),
              ("DiceSGD", algorithms.dice_sgd(0.1, 1.0, 1.0),
               lambda p, s: {"x": p, "e": s[0].error}))}
  for (label, result), color in zip(runs.items(), ("alternative", "measured")):
    for ax, x in zip(axes[0], result.metrics.values()):    # GC has no e
      ax.plot(result.record_steps, x[0], label=label,
              color=figures.PALETTE[color])
  figures.horizontal_reference(axes[0, 0], 1.0, label="x* = 1",
                               color=figures.PALETTE["reference"], style=":")
  figures.horizontal_reference(axes[0, 0], -2.5, label="clipped fixed point")
  for ax, name in zip(axes[0], ("x_t", "DiceSGD error e_t")):
    ax.set(xlabel="step", ylabel=name)
    ax.legend()
  data = {label: {k: x[0][::10] for k, x in r.metrics.items()}
          for label, r in runs.items()}
  return [figures.save_figure(fig, out_dir / "dicesgd2024_trajectories.png",
                              data=data, config=config, seeds=[0])[0]]

