"""Experiment families on synthetic records whose answer is known.

One contract for every family (as dp_accounting's accountant tests share
``PrivacyAccountantTest``): a subclass says how to make a claim, its config
and per-seed records; the contract checks that evaluation survives the JSON
round trip of the cache, is deterministic, yields a defined bound and a
finite (or honestly undetermined) measurement, and that the plot draws from
the evaluation's tables. Each subclass adds the checks of its own statistics,
with the answer planted in the synthetic records.
"""

import json
import math

import matplotlib
import numpy as np
import pytest

from boundlab import _jsonio, theory
from boundlab.claims import (Bound, Claim, Experiment, Paper, Records,
                             Relation, runner)
from boundlab.experiments import canary_audit, equal_loss
from boundlab.experiments.equal_loss import EqualLoss
from boundlab.experiments.horizon_sweep import HorizonSweep
from boundlab.experiments.monotone_sweep import MonotoneSweep
from boundlab.experiments.phase_diagram import OnlineSGDChains, PhaseDiagram
from boundlab.experiments.tuned_comparison import TunedComparison
from boundlab.theory import audit

PAPER = Paper(key="synthetic", title="t", authors="a", arxiv="0000.00000",
              version="v1")


def _claim(evaluate, plot, *, relation=Relation.LE, bound=0,
           evidence="statistical", **kwargs):
  # Every family evaluated here gives an interval at level 1 - alpha.
  return Claim(id="synthetic.claim", paper=PAPER, statement="s",
               measurement="m", relation=relation,
               bound=Bound("b", bound, PAPER.cite("Eq. 1")),
               experiment=Experiment("synthetic.runs", lambda q: {},
                                     lambda c, s: []),
               evaluate=evaluate, plot=plot, evidence=evidence, **kwargs)


def _round_trip(raw):
  return Records(json.loads(json.dumps(_jsonio.to_jsonable(raw))))


class FamilyContract:
  """Subclasses define ``make() -> (claim, config, raw records)``."""

  def make(self):
    raise NotImplementedError

  def test_evaluation_survives_the_json_round_trip_and_repeats(self):
    claim, config, raw = self.make()
    records = _round_trip(raw)
    verdict, evaluation = runner.judge(claim, config, records)
    again, _ = runner.judge(claim, config, _round_trip(raw))
    assert (again.measured, again.ci) == (verdict.measured, verdict.ci) or (
        math.isnan(again.measured) and math.isnan(verdict.measured))
    assert math.isfinite(verdict.bound)
    if not math.isfinite(verdict.measured):
      assert verdict.outcome.value == "inconclusive" and verdict.notes
    json.dumps(_jsonio.to_jsonable(evaluation.tables))

  def test_plot_draws_from_the_evaluation(self):
    claim, config, raw = self.make()
    records = _round_trip(raw)
    _, evaluation = runner.judge(claim, config, records)
    fig = claim.plot(config, records, evaluation)
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    matplotlib.pyplot.close(fig)


class TestPhaseDiagram(FamilyContract):
  """First-passage times tau = d^2 x lognormal: the fitted exponent is 2."""

  family = PhaseDiagram(
      "synthetic.phase", OnlineSGDChains("tensor_pca", 3, step_scale=0.5,
                                          step_power=1.5),
      expected_exponent=2.0, quick_dims=(16, 32, 64, 128), full_dims=(16,))

  def records(self, exponent=2.0, seeds=64):
    rng = np.random.default_rng(0)
    config = self.family.config(True)
    return config, [{"tau": {str(d): int(d ** exponent * rng.lognormal(0, 0.4))
                             for d in config["dims"]}} for _ in range(seeds)]

  def make(self):
    config, raw = self.records()
    claim = self.family.claim(
        id="synthetic.claim", paper=PAPER, statement="s", measurement="m",
        bound=Bound("2", 2, PAPER.cite("Eq. 1")), tolerance=0.25,
        tolerance_reason="synthetic", evidence="statistical")
    return claim, config, raw

  # Planted exponents whose thresholds stay inside the n-grid around d^2.
  @pytest.mark.parametrize("exponent", [1.8, 2.0, 2.2])
  def test_recovers_the_planted_exponent(self, exponent):
    config, raw = self.records(exponent)
    claim = self.make()[0]
    evaluation = claim.evaluate(config, Records(raw), 0.05)
    lo, hi = evaluation.ci
    assert lo <= exponent <= hi and hi - lo < 0.2
    assert abs(evaluation.measured - exponent) < 0.05

  def test_fewer_than_three_crossings_is_undetermined(self):
    config, raw = self.records()
    for record in raw:             # no chain ever succeeds at d >= 32
      for d in ("32", "64", "128"):
        record["tau"][d] = -1
    evaluation = self.make()[0].evaluate(config, Records(raw), 0.05)
    assert math.isnan(evaluation.measured)
    assert "Fewer than 3" in evaluation.inconclusive_reason


def _tuned_records(seeds=8, rng_seed=0):
  """Method "a" is best at grid index 1 on the even seeds, at index 3 on the
  odd seeds (a choice made on the wrong half would differ); "b" is twice
  "a" at index 1 on every seed; index 4 diverged for "a" everywhere."""
  rng = np.random.default_rng(rng_seed)
  raw = []
  for s in range(seeds):
    best = 1 if s % 2 == 0 else 3
    score_a = 1.0 + (np.arange(5) - best) ** 2 + 0.01 * rng.random(5)
    score_a[4] = np.nan
    score_b = np.full(5, 2 * score_a[1])
    raw.append({"a": {"score": score_a, "grid_diverged_at":
                      [-1, -1, -1, -1, 17]},
                "b": {"score": score_b, "grid_diverged_at": [-1] * 5}})
  return {"learning_rates": [1e-3, 1e-2, 1e-1, 1.0, 10.0]}, raw


class TestTunedComparison(FamilyContract):

  family = TunedComparison(methods=("a", "b"), grid="learning_rates")

  def make(self):
    config, raw = _tuned_records()
    return (_claim(self.family.evaluate_log_ratio("a", "b"),
                   self.family.plot), config, raw)

  def test_chooses_on_the_selection_half_and_measures_on_the_other(self):
    config, raw = _tuned_records()
    records = Records(raw)
    tuned = self.family.tuned(records, "a")
    assert tuned.index.tolist() == [1]            # the even seeds' optimum
    odd = np.array([r["a"]["score"][1] for r in raw[1::2]])
    np.testing.assert_array_equal(tuned.values[:, 0], odd)
    evaluation = self.make()[0].evaluate(config, records, 0.05)
    ratio = np.log10(odd / np.array([r["b"]["score"][1] for r in raw[1::2]]))
    mean, ci = theory.mean_ci(ratio, 0.05)
    assert evaluation.measured == mean and evaluation.ci == ci
    assert "(8 diverged" in evaluation.notes     # index 4 of "a", every seed

  def test_per_seed_choice_and_grid_edges(self):
    config, raw = _tuned_records()
    family = TunedComparison(methods=("a", "b"), grid="learning_rates",
                             per_seed=True)
    tuned = family.tuned(Records(raw), "a")
    assert tuned.index[:, 0].tolist() == [1, 3] * 4
    assert not tuned.at_edge.any()
    for r in raw:
      r["a"]["score"][0] = -1.0                     # best at the grid edge
    assert family.tuned(Records(raw), "a").at_edge.all()
    higher = TunedComparison(methods=("a",), grid="learning_rates",
                             higher_is_better=True)
    assert higher.tuned(Records(raw), "a").index.tolist() == [3]

  def test_groups_take_the_largest_group_with_bonferroni(self):
    config, raw = _tuned_records()
    grouped = [{m: {k: np.stack([np.asarray(v, float), np.asarray(v, float)
                                 * (2.0 if m == "a" else 1.0)])
                    for k, v in r[m].items()} for m in r} for r in raw]
    family = TunedComparison(methods=("a", "b"), grid="learning_rates",
                             groups="clip_norms")
    config = {**config, "clip_norms": [0.1, 1.0]}
    evaluation = family.evaluate_log_ratio("a", "b")(config, Records(grouped),
                                                     0.05)
    ratio = family.log_ratio(Records(grouped), "a", "b")
    index, mean, ci = theory.extreme_mean_ci(ratio, 0.05, which="max")
    assert index == 1 and (evaluation.measured, evaluation.ci) == (mean, ci)


class TestMonotoneSweep(FamilyContract):

  def raw(self, means, seeds=10):
    rng = np.random.default_rng(1)
    return [{"bias": (np.asarray(means) + 0.01 * rng.standard_normal(
        len(means))).tolist()} for _ in range(seeds)]

  def make(self):
    sweep = MonotoneSweep("scales", "bias", decreasing=True, absolute=True)
    return (_claim(sweep.evaluate, sweep.plot(yscale="symlog")),
            {"scales": [0.0, 1.0, 3.0]}, self.raw([-1.0, -0.5, 0.1]))

  def test_interval_is_the_bonferroni_difference_of_neighbours(self):
    claim, config, raw = self.make()
    evaluation = claim.evaluate(config, Records(raw), 0.05)
    data = np.abs(np.array([r["bias"] for r in raw]))
    means, cis = theory.simultaneous_mean_cis(
        np.array([r["bias"] for r in raw]), 0.05)
    abs_cis = np.array([theory.abs_interval(tuple(ci)) for ci in cis])
    steps = np.diff(np.abs(means))
    assert evaluation.measured == pytest.approx(steps.max(), rel=1e-14)
    assert evaluation.ci[1] == pytest.approx(
        max(abs_cis[1:, 1] - abs_cis[:-1, 0]), rel=1e-14)
    assert evaluation.measured < 0 and data.shape == (10, 3)

  def test_increasing_reads_the_smallest_increase(self):
    sweep = MonotoneSweep("scales", "bias", decreasing=False)
    evaluation = sweep.evaluate({"scales": [1, 2, 3]},
                                Records(self.raw([0.0, 1.0, 1.5])), 0.05)
    assert evaluation.measured == pytest.approx(0.5, abs=0.05)
    assert evaluation.ci[0] < evaluation.measured < evaluation.ci[1]


class TestEqualLoss(FamilyContract):
  """Loss curves 1/(t+1); the compared value is loss^0.5 x (1 for "sgd",
  0.8 for "sam"): log10 ratio -0.097 at every level, exactly."""

  family = EqualLoss(methods=("sgd", "sam"), reference="sgd")

  def raw(self, seeds=4):
    levels = [0.1, 0.03]
    raw = []
    for s in range(seeds):
      record = {}
      for m, factor in (("sgd", 1.0), ("sam", 0.8)):
        loss = 1.0 / (np.arange(60) + 1.0 + 0.1 * s)
        record[m] = equal_loss.crossings(loss, levels,
                                         lambda j: factor * loss[j] ** 0.5)
      raw.append(record)
    return {"loss_levels": levels}, raw

  def make(self):
    config, raw = self.raw()
    return (_claim(self.family.evaluate_below_reference("sam"),
                   self.family.plot()), config, raw)

  def test_interpolation_is_exact_on_a_log_log_line(self):
    config, raw = self.raw()
    ratios = self.family.log_ratios(config, Records(raw), "sam")
    np.testing.assert_allclose(ratios, np.log10(0.8), rtol=1e-12)
    # A bracket that is not symmetric in log loss (weight 0.30 on 0.02).
    np.testing.assert_allclose(equal_loss.value_at_level(
        np.array([0.2, 0.02]), np.array([0.2, 0.02]) ** 0.5, 0.1), 0.1 ** 0.5,
        rtol=1e-14)
    assert equal_loss.first_crossing([1.0, 0.5, 0.2, 0.05], 0.1) == 3
    assert equal_loss.first_crossing([1.0, 0.5], 0.1) == -1
    assert equal_loss.first_crossing([0.05, 0.01], 0.1) == -1

  def test_the_figure_draws_the_verdicts_intervals(self):
    config, raw = self.raw()
    records = Records(raw)
    evaluation = self.family.evaluate_below_reference("sam")(config, records,
                                                             0.05)
    means, cis = theory.simultaneous_mean_cis(
        self.family.log_ratios(config, records, "sam"), 0.05)
    row = evaluation.tables["levels"]["sam"]
    np.testing.assert_array_equal(row["cis"], cis)
    assert evaluation.ci == (cis[:, 0].max(), cis[:, 1].max())
    assert evaluation.measured == means.max() == row["means"].max()

  def test_a_level_never_reached_makes_it_inconclusive(self):
    config, raw = self.raw()
    config = {"loss_levels": [0.1, 1e-6]}
    for r in raw:
      for m in ("sgd", "sam"):
        loss = np.asarray(r[m]["loss"])
        r[m] = equal_loss.crossings(loss, config["loss_levels"], lambda j: 1.0)
    evaluation = self.family.evaluate_below_reference("sam")(
        config, Records(raw), 0.05)
    assert "never reached" in evaluation.inconclusive_reason
    assert "premise not met" in equal_loss.loss_premise([1e-12, 0.5], 1e-10)
    assert equal_loss.loss_premise([1e-12, 1e-11], 1e-10) == ""


class TestCanaryAudit(FamilyContract):
  """Gaussian scores N(0, 1) vs N(mu, 1): the GDP reading recovers mu and the
  audit's lower bound stays below the canary's exact epsilon."""

  mu = 1.5
  family = canary_audit.CanaryAudit("synthetic.audit", "dp_sgd")

  def raw(self, seeds=4, trials=4000):
    rng = np.random.default_rng(2)
    cell = {"method": "dp_sgd", "steps": 2, "ratio": 0.0,
            "noise_multiplier": math.sqrt(2) / self.mu}
    return {"trials": trials, "method": "dp_sgd"}, [{"cells": [{
        **cell, "out": rng.standard_normal(trials).tolist(),
        "in": (self.mu + rng.standard_normal(trials)).tolist()}]}
        for _ in range(seeds)]

  def make(self):
    config, raw = self.raw()
    return (_claim(self.family.evaluate_gdp_epsilon,
                   self.family.plot_gdp_epsilon, bound=1), config, raw)

  def test_gdp_reading_recovers_mu_and_the_audit_is_sound(self):
    config, raw = self.raw()
    records = Records(raw)
    row = self.family.gdp_rows(records, 0.05)[0]
    assert row["mu"][1] < self.mu < row["mu"][2]
    assert row["mu_predicted"] == pytest.approx(self.mu, rel=1e-12)
    exact = float(audit.epsilon_from_gdp_mu(self.mu, canary_audit.DELTA))
    (result,) = self.family.audits(records, 0.05)
    assert 0 <= result["lower_bound"] <= exact


class TestHorizonSweep(FamilyContract):
  """measure = 0.5 / sqrt(T) + bias; the bound 1 / sqrt(T) + bias: the
  exponent is -1/2 without bias and the ratio below 1."""

  family = HorizonSweep(landscape=None, optimizer=None, step_metrics=None,
                        estimated="bias",
                        rhs=lambda c, r, t, b: 1 / np.sqrt(t) + b)

  def raw(self, bias=0.0, seeds=8):
    rng = np.random.default_rng(4)
    t = np.array([2.0**e for e in range(6, 12)])
    return {"horizons": t.tolist()}, [{
        "lhs": 0.5 / np.sqrt(t) * np.exp(0.01 * rng.standard_normal(6))
        + bias, "bias": np.full(6, bias) + 1e-4 * rng.standard_normal(6)}
        for _ in range(seeds)]

  def make(self):
    config, raw = self.raw(bias=0.01)
    return (_claim(self.family.evaluate_ratio("lhs"), self.family.plot(
        "lhs", xlabel="T", ylabel="measure", rhs_label="bound")), config, raw)

  def test_exponent_of_a_power_law(self):
    config, raw = self.raw()
    evaluation = self.family.evaluate_exponent("lhs")(config, Records(raw),
                                                      0.05)
    assert evaluation.ci[0] < -0.5 < evaluation.ci[1]
    local = self.family.evaluate_exponent("lhs", window=3)(
        config, Records(raw), 0.05)
    assert abs(local.measured + 0.5) < 0.05

  def test_ratio_pairs_the_estimate_conservatively(self):
    config, raw = self.raw(bias=0.01)
    records = Records(raw)
    evaluation = self.family.evaluate_ratio("lhs")(config, records, 0.05)
    t = np.asarray(config["horizons"])
    m, m_ci = theory.simultaneous_mean_cis(records["lhs"], 0.025)
    b, b_ci = theory.simultaneous_mean_cis(records["bias"], 0.025)
    lows = m_ci[:, 0] / (1 / np.sqrt(t) + b_ci[:, 1])
    highs = m_ci[:, 1] / (1 / np.sqrt(t) + b_ci[:, 0])
    assert evaluation.ci == (lows.max(), highs.max())
    assert evaluation.measured == (m / (1 / np.sqrt(t) + b)).max() < 1
