"""Mutation smoke check: plant small bugs, one at a time, and see the tests fail.

Each entry of :data:`MUTATIONS` is data: a name, a group, a source file, an
exact ``old`` snippet (it must occur exactly once in that file), the ``new``
snippet that replaces it, and the test selection that should catch it. For
every mutation the script copies the checkout (without ``.venv``, ``out``,
``site``, ``.git``, ``docs/generated``, caches and build outputs) into a
temporary directory, applies the mutation there, and runs

    python -m pytest -q -x -p no:cacheprovider <tests>

with ``PYTHONPATH=<copy>`` and the copy as the working directory. A small
plugin records which ``boundlab`` the tests imported; a run that imported
anything but the copy is an error, not a result.

Results:

* ``killed``: a test failed (pytest exit 1) or the run timed out;
* ``survived``: every selected test passed (exit 0);
* ``no-tests``: none of the selected test files exist in the checkout, or
  pytest collected nothing (exit 5);
* ``error``: anything else (collection error, wrong import, ...);
* ``n/a``: the mutated function does not exist in this checkout (the
  mutation declares a ``requires`` snippet and it is absent), e.g. an older
  commit.

The kill rate of a group is ``killed / (killed + survived + no-tests)``:
a mutation that no test exercises counts as not killed; errors and n/a are
listed but not counted. A mutation whose ``old`` snippet is missing or
ambiguous although its ``requires`` snippet is present is *stale*: the
script stops with a message naming it (``--allow-stale`` lists them as
errors and runs the rest) -- fix the snippet when the code moved.

Before any mutant runs, the unmutated copy runs the union of the selected
tests; if that fails the script aborts (a failing selection cannot tell a
mutant from the code).

Usage::

  .venv/bin/python tests/mutation_smoke.py --jobs 2
  .venv/bin/python tests/mutation_smoke.py --only verdict --json out.json
  .venv/bin/python tests/mutation_smoke.py --root /tmp/other-checkout
  .venv/bin/python tests/mutation_smoke.py --list

Test entries are paths relative to the checkout, globs (``tests/test_verdict*
.py``) or node ids (``tests/test_x.py::test_y``); an entry whose file (or,
for a node id, whose test function) is missing is skipped, so one list runs
on older checkouts too. With ``-x`` the first failure stops a run, so put the
test most likely to fail first.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

# --- test selections -----------------------------------------------------------

VERDICT = ("tests/test_verdict*.py", "tests/test_report_evidence.py",
           "tests/test_claims.py::test_decision_rule")
RUNNER = VERDICT
STATISTICS = ("tests/test_theory_core.py", "tests/test_statistics*.py",
              "tests/test_interval_coverage.py")
THRESHOLD = ("tests/test_linear_stability*.py",)
TWO_SIDED = "tests/test_two_sided_estimators.py"
HUTCHINSON = (TWO_SIDED,
              "tests/test_curvature.py::test_hutchinson_trace_interval_covers_the_trace",
              "tests/test_curvature.py::test_hutchinson_diagonal_is_unbiased")
DP_NOISE = (TWO_SIDED,
            "tests/test_private_step.py::test_noise_has_the_calibrated_standard_deviation",
            "tests/test_clipping_algorithms.py::test_dp_noise_has_the_stated_standard_deviation",
            "tests/test_private_adaptive.py")
DICE = ("tests/test_clipping_algorithms.py::test_dice_sgd_matches_step_by_step_algorithm_1",
        "tests/test_clipping_algorithms.py::test_dice_poisson_normalisation_equals_the_present_rows",
        TWO_SIDED)
CLIPPING = ("tests/test_clipping_algorithms.py::test_clip_factor_is_the_projection_scale",
            "tests/test_clipping_algorithms.py::test_clip_is_projection_formula_on_pytrees",
            "tests/test_clipping_algorithms.py::test_clipped_sum_matches_optax_per_example_clip",
            "tests/test_clipping_algorithms.py::test_dice_sgd_matches_step_by_step_algorithm_1",
            "tests/test_private_step.py::test_large_threshold_gives_the_plain_gradient_sum")
DIVERGENCE = ("tests/test_run_loop.py::test_divergence_is_reported_with_its_step_not_raised",
              "tests/test_run_loop.py::test_first_divergence",
              "tests/test_run_loop.py::test_divergence_step_is_exact")
LANCZOS = ("tests/test_curvature.py::test_lanczos_breakdown_on_low_rank_operator",
           "tests/test_curvature.py::test_lanczos_converges_fast_on_a_separated_top_eigenvalue",
           "tests/test_curvature.py::test_slq_moments_match_the_dense_spectrum")
POISSON = ("tests/test_run_loop.py::test_poisson_sampling_rate_and_dp_sgd_normalisation",
           TWO_SIDED)

VERDICT_PY = "boundlab/claims/verdict.py"
RUNNER_PY = "boundlab/claims/runner.py"
STATISTICS_PY = "boundlab/theory/statistics.py"
STABILITY_PY = "boundlab/theory/linear_stability.py"
FAILURE_BOUND = "def all_instances_failure_bound("
HOLM = "def holm_survivors("
P_VALUE = "def violation_p_value("
MULAYOFF_P = "p = (n - b) / (b * (n - 1)) if n > 1 else 0.0"


@dataclasses.dataclass(frozen=True)
class Mutation:
  """One planted bug: replace ``old`` (exactly once in ``file``) by ``new``."""

  name: str
  group: str          # verdict, statistics, threshold, estimators, algorithms
  file: str           # relative to the checkout
  old: str
  new: str
  tests: tuple[str, ...]
  why: str = ""       # what the bug would do
  requires: str = ""  # absent from the file: the mutation is n/a (older code)


M = Mutation
MUTATIONS: tuple[Mutation, ...] = (
    # --- verdict: decide ----------------------------------------------------------
    M("decide_le_holds_slack_doubled", "verdict", VERDICT_PY,
      "if hi <= b_lo + tolerance:", "if hi <= b_lo + 2 * tolerance:", VERDICT,
      "<= holds with twice the declared slack"),
    M("decide_le_holds_uses_upper_bound_end", "verdict", VERDICT_PY,
      "if hi <= b_lo + tolerance:", "if hi <= b_hi + tolerance:", VERDICT,
      "<= holds against the bound interval's upper end"),
    M("decide_le_violated_slack_dropped", "verdict", VERDICT_PY,
      "if lo > b_hi + tolerance:", "if lo > b_hi:", VERDICT,
      "<= violated within the declared slack"),
    M("decide_ge_holds_strict", "verdict", VERDICT_PY,
      "if lo >= b_hi - tolerance:", "if lo > b_hi - tolerance:", VERDICT,
      ">= does not hold when the interval touches the bound (exact claims)"),
    M("decide_ge_violated_slack_sign", "verdict", VERDICT_PY,
      "if hi < b_lo - tolerance:", "if hi < b_lo + tolerance:", VERDICT,
      ">= violated although within the slack"),
    M("decide_approx_violated_tolerance_dropped", "verdict", VERDICT_PY,
      "if hi < b_lo - tolerance or lo > b_hi + tolerance:",
      "if hi < b_lo or lo > b_hi:", VERDICT,
      "approx violated when the interval is within tol but off the bound"),
    M("decide_approx_holds_upper_tolerance_dropped", "verdict", VERDICT_PY,
      "if lo >= b_lo - tolerance and hi <= b_hi + tolerance:",
      "if lo >= b_lo - tolerance and hi <= b_hi:", VERDICT,
      "approx holds only without the upper tolerance"),
    M("decide_approx_holds_on_overlap", "verdict", VERDICT_PY,
      "if lo >= b_lo - tolerance and hi <= b_hi + tolerance:",
      "if hi >= b_lo - tolerance and lo <= b_hi + tolerance:", VERDICT,
      "approx holds when the intervals merely overlap"),
    M("decide_nan_check_removed", "verdict", VERDICT_PY,
      "if any(math.isnan(x) for x in (lo, hi, b_lo, b_hi)):",
      "if any(math.isnan(x) for x in ()):", VERDICT,
      "a NaN end can decide a verdict"),
    M("decide_nan_check_measured_only", "verdict", VERDICT_PY,
      "if any(math.isnan(x) for x in (lo, hi, b_lo, b_hi)):",
      "if any(math.isnan(x) for x in (lo, hi)):", VERDICT,
      "a NaN bound can decide a verdict"),
    M("decide_swapped_bound_ends", "verdict", VERDICT_PY,
      "b_lo, b_hi = bound_ci", "b_hi, b_lo = bound_ci", VERDICT,
      "the bound interval read backwards"),
    # --- verdict: all-instances failure bound ---------------------------------------
    M("failure_bound_rule_of_three_approximation", "verdict", VERDICT_PY,
      "return -math.expm1(math.log(alpha) / instances)",
      "return -math.log(alpha) / instances", VERDICT,
      "-ln(alpha)/N instead of the exact 1 - alpha^(1/N)",
      requires=FAILURE_BOUND),
    M("failure_bound_n_plus_one", "verdict", VERDICT_PY,
      "return -math.expm1(math.log(alpha) / instances)",
      "return -math.expm1(math.log(alpha) / (instances + 1))", VERDICT,
      "N + 1 instances counted", requires=FAILURE_BOUND),
    M("failure_bound_two_sided_alpha", "verdict", VERDICT_PY,
      "return -math.expm1(math.log(alpha) / instances)",
      "return -math.expm1(math.log(alpha / 2) / instances)", VERDICT,
      "a two-sided level for a one-sided bound", requires=FAILURE_BOUND),
    # --- verdict: Holm ------------------------------------------------------------
    M("holm_threshold_off_by_one", "verdict", VERDICT_PY,
      "if not p <= fwer / (family_size - j):",
      "if not p <= fwer / (family_size - j + 1):", VERDICT,
      "j-th threshold fwer/(m - j + 2) (1-based j used as 0-based)",
      requires=HOLM),
    M("holm_plain_bonferroni", "verdict", VERDICT_PY,
      "if not p <= fwer / (family_size - j):",
      "if not p <= fwer / family_size:", VERDICT,
      "no step-down: every p compared with fwer/m", requires=HOLM),
    M("holm_family_is_the_rejections", "verdict", VERDICT_PY,
      "if not p <= fwer / (family_size - j):",
      "if not p <= fwer / (len(p_values) - j):", VERDICT,
      "family size taken as the number of rejections", requires=HOLM),
    M("holm_no_early_stop", "verdict", VERDICT_PY,
      "      break\n    survivors.add(key)",
      "      continue\n    survivors.add(key)", VERDICT,
      "keeps testing after the first failure", requires=HOLM),
    M("holm_descending_order", "verdict", VERDICT_PY,
      "key=lambda kv: kv[1]))", "key=lambda kv: -kv[1]))", VERDICT,
      "p-values sorted largest first", requires=HOLM),
    # --- verdict: violation p-value (runner) ------------------------------------------
    M("p_value_bisection_inverted", "verdict", RUNNER_PY,
      "    if violated(math.exp(mid)):\n      hi = mid\n    else:\n      lo = mid",
      "    if violated(math.exp(mid)):\n      lo = mid\n    else:\n      hi = mid",
      RUNNER, "bisection moves the wrong end", requires=P_VALUE),
    M("p_value_coarse_bisection", "verdict", RUNNER_PY,
      "smallest: float = 1e-12, steps: int = 40",
      "smallest: float = 1e-12, steps: int = 4", RUNNER,
      "4 halvings: p-value off by up to a factor ~4.6", requires=P_VALUE),
    M("p_value_tolerance_dropped", "verdict", RUNNER_PY,
      "(bound, bound), claim.tolerance) is Outcome.VIOLATED",
      "(bound, bound), 0.0) is Outcome.VIOLATED", RUNNER,
      "p-value of a test without the claim's slack", requires=P_VALUE),
    # --- statistics -------------------------------------------------------------------
    M("mean_ci_ddof0", "statistics", STATISTICS_PY,
      "x.std(ddof=1)", "x.std(ddof=0)", STATISTICS,
      "biased standard deviation"),
    M("mean_ci_df_n", "statistics", STATISTICS_PY,
      "scipy.stats.t.ppf(1 - alpha / 2, len(x) - 1)",
      "scipy.stats.t.ppf(1 - alpha / 2, len(x))", STATISTICS,
      "n instead of n - 1 degrees of freedom"),
    M("mean_ci_one_sided_quantile", "statistics", STATISTICS_PY,
      "scipy.stats.t.ppf(1 - alpha / 2, len(x) - 1)",
      "scipy.stats.t.ppf(1 - alpha, len(x) - 1)", STATISTICS,
      "one-sided quantile for a two-sided interval"),
    M("mean_ci_normal_quantile", "statistics", STATISTICS_PY,
      "float(scipy.stats.t.ppf(1 - alpha / 2, len(x) - 1))",
      "float(scipy.stats.norm.ppf(1 - alpha / 2))", STATISTICS,
      "normal instead of Student-t quantile"),
    M("slope_ci_df_n_minus_1", "statistics", STATISTICS_PY,
      "len(x) - 2)) * fit.stderr", "len(x) - 1)) * fit.stderr", STATISTICS,
      "n - 1 instead of n - 2 degrees of freedom"),
    M("slope_ci_one_sided_quantile", "statistics", STATISTICS_PY,
      "scipy.stats.t.ppf(1 - alpha / 2, len(x) - 2)",
      "scipy.stats.t.ppf(1 - alpha, len(x) - 2)", STATISTICS,
      "one-sided quantile for a two-sided interval"),
    M("bootstrap_level_half_alpha", "statistics", STATISTICS_PY,
      "confidence_level=1 - alpha,", "confidence_level=1 - alpha / 2,",
      STATISTICS, "level 1 - alpha/2 (alpha split twice)"),
    M("bootstrap_level_double_alpha", "statistics", STATISTICS_PY,
      "confidence_level=1 - alpha,", "confidence_level=1 - 2 * alpha,",
      STATISTICS, "level 1 - 2 alpha"),
    M("simultaneous_cis_without_bonferroni", "statistics", STATISTICS_PY,
      "mean_ci(data[:, j], alpha / k)", "mean_ci(data[:, j], alpha)",
      STATISTICS, "k intervals each at level alpha"),
    M("extreme_mean_ci_without_bonferroni", "statistics", STATISTICS_PY,
      "  means, cis = simultaneous_mean_cis(samples, alpha)\n",
      "  means = np.asarray(samples, dtype=float).mean(0)\n"
      "  cis = np.array([mean_ci(c, alpha)[1]\n"
      "                  for c in np.asarray(samples, dtype=float).T])\n",
      STATISTICS, "the extreme of k means with per-column intervals"),
    M("extreme_mean_ci_min_picks_max_ends", "statistics", STATISTICS_PY,
      'pick = np.max if which == "max" else np.min', "pick = np.max",
      STATISTICS, "which='min' takes the largest interval ends"),
    M("norm_of_mean_ci_lower_end_ignores_zero", "statistics", STATISTICS_PY,
      "np.linalg.norm(np.clip(0.0, lo, hi))",
      "np.linalg.norm(np.minimum(np.abs(lo), np.abs(hi)))", STATISTICS,
      "lower end wrong for a coordinate interval that contains 0"),
    M("abs_interval_straddling_zero", "statistics", STATISTICS_PY,
      "return 0.0, max(-lo, hi)", "return min(-lo, hi), max(-lo, hi)",
      STATISTICS, "|mu| interval excludes 0 although mu's contains it"),
    # --- threshold: Mulayoff & Michaeli -----------------------------------------------
    M("mulayoff_p_over_b_n", "threshold", STABILITY_PY,
      MULAYOFF_P, "p = (n - b) / (b * n) if n > 1 else 0.0", THRESHOLD,
      "p = (n - B)/(B n): n instead of n - 1 (zero at B = n)"),
    M("mulayoff_p_without_batch", "threshold", STABILITY_PY,
      MULAYOFF_P, "p = (n - b) / (n - 1) if n > 1 else 0.0", THRESHOLD,
      "p = (n - B)/(n - 1): the 1/B dropped (zero at B = n)"),
    M("mulayoff_p_with_replacement", "threshold", STABILITY_PY,
      MULAYOFF_P, "p = 1 / b", THRESHOLD,
      "p = 1/B, sampling with replacement"),
    M("mulayoff_sum_weight_without_1_over_n", "threshold", STABILITY_PY,
      "(p / n) * sum(", "p * sum(", THRESHOLD,
      "per-example term weighted p instead of p/n (zero at B = n)"),
    M("mulayoff_mean_term_weight_dropped", "threshold", STABILITY_PY,
      "dmat = (1 - p) * np.kron(h, h)", "dmat = np.kron(h, h)", THRESHOLD,
      "H (x) H weighted 1 instead of 1 - p (zero at B = n)"),
    M("mulayoff_c_half_dropped", "threshold", STABILITY_PY,
      "c = 0.5 * (np.kron(h, eye) + np.kron(eye, h))",
      "c = np.kron(h, eye) + np.kron(eye, h)", THRESHOLD,
      "C without its 1/2 (threshold doubled)"),
    M("second_moment_oracle_sum_over_n", "threshold", STABILITY_PY,
      "step = np.eye(d) - eta * hs[list(batch)].mean(0)",
      "step = np.eye(d) - eta * hs[list(batch)].sum(0) / n", THRESHOLD,
      "the brute-force oracle's batch Hessian divided by n, not B"),
    # --- estimators ---------------------------------------------------------------------
    M("hutchinson_trace_bias_2pct", "estimators", "boundlab/theory/hutchinson.py",
      "return jnp.sum(u * hu)", "return 1.02 * jnp.sum(u * hu)",
      HUTCHINSON, "trace estimate 2% too large"),
    M("hutchinson_diagonal_bias_2pct", "estimators", "boundlab/theory/hutchinson.py",
      "mean=jnp.mean(samples, axis=0)", "mean=1.02 * jnp.mean(samples, axis=0)",
      HUTCHINSON, "diagonal estimate 2% too large"),
    M("private_gradient_noise_x095", "estimators",
      "boundlab/algorithms/private_step.py",
      "std = z * clip_norm", "std = 0.95 * z * clip_norm", DP_NOISE,
      "fast DP gradient: noise 5% too small (privacy overstated)"),
    M("dp_sgd_noise_x095", "estimators", "boundlab/algorithms/dp_sgd.py",
      "return clip_norm, z, key", "return clip_norm, 0.95 * z, key", DP_NOISE,
      "DP-SGD-GC and DP-Adam: noise 5% too small"),
    M("perturbed_clip_noise_x095", "estimators",
      "boundlab/algorithms/perturbed_clipping.py",
      "(z * clip_norm / batch)", "(0.95 * z * clip_norm / batch)", DP_NOISE,
      "perturbed clipping: DP noise 5% too small"),
    M("dice_noise_x095", "estimators", "boundlab/algorithms/dice_sgd.py",
      "noised = [d + sigma * jax.random.normal",
      "noised = [d + 0.95 * sigma * jax.random.normal", DICE,
      "DiceSGD: noise 5% too small"),
    # --- core algorithms -------------------------------------------------------------------
    M("clip_factor_threshold_x09", "algorithms", "boundlab/theory/clipping.py",
      "return clip_norm / jnp.maximum(norm, clip_norm)",
      "return 0.9 * clip_norm / jnp.maximum(norm, 0.9 * clip_norm)", CLIPPING,
      "ghost-norm clipping at 0.9 C"),
    M("clip_projection_threshold_x11", "algorithms", "boundlab/theory/clipping.py",
      "projection_l2_ball(tree, clip_norm)",
      "projection_l2_ball(tree, 1.1 * clip_norm)", CLIPPING,
      "per-example clipping at 1.1 C"),
    M("clipped_mean_sums", "algorithms", "boundlab/algorithms/clipping.py",
      "lambda g: jnp.mean(g, axis=0)", "lambda g: jnp.sum(g, axis=0)", CLIPPING,
      "clipped mean is a sum"),
    M("dice_error_sign_flipped", "algorithms", "boundlab/algorithms/dice_sgd.py",
      "optax.tree.sub(mean_grad, direction)", "optax.tree.sub(direction, mean_grad)",
      DICE, "e <- e + v - g instead of e + g - v"),
    M("dice_error_ignores_feedback_term", "algorithms",
      "boundlab/algorithms/dice_sgd.py",
      "optax.tree.sub(mean_grad, direction)", "optax.tree.sub(mean_grad, clipped)",
      DICE, "e <- e + g - clip-mean (clip(e, C2) not subtracted)"),
    M("dice_error_clipped_at_c1", "algorithms", "boundlab/algorithms/dice_sgd.py",
      "clip(state.error, c2)", "clip(state.error, c1)", DICE,
      "error feedback clipped at C1 instead of C2"),
    M("run_divergence_step_off_by_one", "algorithms",
      "boundlab/algorithms/run_loop.py",
      "(t + 1).astype(jnp.int32), diverged_at)", "t.astype(jnp.int32), diverged_at)",
      DIVERGENCE, "divergence reported one step early"),
    M("run_divergence_keeps_last_step", "algorithms",
      "boundlab/algorithms/run_loop.py",
      "jnp.where((diverged_at < 0) & ~_all_finite(params),",
      "jnp.where(~_all_finite(params),", DIVERGENCE,
      "the last non-finite step overwrites the first"),
    M("lanczos_off_diagonal_shifted", "algorithms", "boundlab/theory/lanczos.py",
      "jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)",
      "jnp.diag(betas[1:], 1) + jnp.diag(betas[1:], -1)", LANCZOS,
      "tridiagonal built from the wrong betas"),
    M("dp_poisson_normalisation_inverted", "algorithms",
      "boundlab/algorithms/dp_sgd.py",
      "return optax.scale(1.0 / q)", "return optax.scale(q)", POISSON,
      "Poisson-sampled DP-SGD divides by N/q instead of qN"),
)
del M

GROUPS = ("verdict", "statistics", "threshold", "estimators", "algorithms")

# Not copied into a mutant's checkout: environments, outputs, caches, VCS.
EXCLUDE_TOP = {".venv", "venv", "out", "site", ".git", ".cache", ".hypothesis",
               ".pytest_cache", ".whl", "build", "dist", "boundlab.egg-info"}
EXCLUDE_REL = {"docs/generated"}
EXCLUDE_ANY = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints",
               ".hypothesis"}

PLUGIN = textwrap.dedent('''\
    """mutation_smoke: records which boundlab the tests imported."""
    import json, os, sys

    def pytest_sessionfinish(session, exitstatus):
        mods = {name: getattr(sys.modules.get(name), "__file__", None)
                for name in ("boundlab", os.environ["MUTATION_SMOKE_MODULE"])
                if name}
        with open(os.environ["MUTATION_SMOKE_REPORT"], "w") as f:
            json.dump(mods, f)
    ''')


class StaleMutation(Exception):
  pass


# --- mechanics --------------------------------------------------------------------

def _ignore(root: Path):
  def ignore(directory, names):
    rel = Path(directory).resolve().relative_to(root).as_posix()
    skipped = {n for n in names if n in EXCLUDE_ANY or n.endswith(".pyc")}
    if rel == ".":
      skipped |= {n for n in names if n in EXCLUDE_TOP}
    skipped |= {n for n in names
                if (n if rel == "." else f"{rel}/{n}") in EXCLUDE_REL}
    return skipped
  return ignore


def copy_checkout(root: Path, dest: Path) -> Path:
  shutil.copytree(root, dest, ignore=_ignore(root.resolve()), symlinks=True)
  return dest


def applicability(m: Mutation, root: Path) -> str:
  """``"ok"``, ``"n/a"`` (required snippet absent) or a stale message."""
  path = root / m.file
  if not path.exists():
    return "n/a" if m.requires else f"{m.file} does not exist"
  text = path.read_text()
  if m.requires and m.requires not in text:
    return "n/a"
  count = text.count(m.old)
  if count != 1:
    return (f"`old` snippet occurs {count} times in {m.file} (must be "
            f"exactly once): {m.old!r}")
  return "ok"


def apply_mutation(m: Mutation, root: Path) -> None:
  path = root / m.file
  text = path.read_text()
  if text.count(m.old) != 1:
    raise StaleMutation(f"{m.name}: `old` occurs {text.count(m.old)} times")
  mutated = text.replace(m.old, m.new, 1)
  compile(mutated, str(path), "exec")  # a SyntaxError here is a bad mutation
  path.write_text(mutated)


def resolve_tests(entries, root: Path) -> list[str]:
  """Existing test entries, in order, without duplicates."""
  out = []
  for entry in entries:
    file_part, _, node = entry.partition("::")
    if any(ch in file_part for ch in "*?["):
      files = sorted(Path(p).relative_to(root).as_posix()
                     for p in glob.glob(str(root / file_part)))
    else:
      files = [file_part] if (root / file_part).is_file() else []
    for f in files:
      if node:
        head = re.split(r"[\[:]", node)[0]
        text = (root / f).read_text()
        if not re.search(rf"^\s*(def|class)\s+{re.escape(head)}\b", text,
                         re.MULTILINE):
          continue
        item = f"{f}::{node}"
      else:
        item = f
      if item not in out:
        out.append(item)
  return out


def _module_name(file: str) -> str:
  return file[:-3].replace("/", ".") if file.endswith(".py") else ""


def run_pytest(copy: Path, tests: list[str], timeout: float, module: str,
               extra_args=()) -> dict:
  """Runs pytest in ``copy``; returns exit code, seconds, output, imports."""
  work = copy.parent
  plugin_dir = work / "plugin"
  plugin_dir.mkdir(exist_ok=True)
  (plugin_dir / "mutation_smoke_plugin.py").write_text(PLUGIN)
  report = work / f"imports-{os.getpid()}-{time.monotonic_ns()}.json"
  env = dict(os.environ)
  env.update(PYTHONPATH=os.pathsep.join([str(copy), str(plugin_dir)]),
             PYTHONDONTWRITEBYTECODE="1",
             MUTATION_SMOKE_REPORT=str(report),
             MUTATION_SMOKE_MODULE=module)
  cmd = [sys.executable, "-m", "pytest", "-q", *extra_args,
         "-p", "no:cacheprovider", "-p", "mutation_smoke_plugin", *tests]
  start = time.monotonic()
  proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          start_new_session=True)
  try:
    output, _ = proc.communicate(timeout=timeout)
    code = proc.returncode
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)  # the group of the pytest we started
    output, _ = proc.communicate()
    code = None
  seconds = time.monotonic() - start
  imports = json.loads(report.read_text()) if report.exists() else {}
  return {"code": code, "seconds": seconds, "output": output or "",
          "imports": imports}


def _import_problem(result: dict, copy: Path) -> str | None:
  imports = result["imports"]
  if not imports:
    return None if result["code"] in (None, 5) else "no import report"
  for name, file in imports.items():
    if file is None:
      continue
    if not Path(file).resolve().is_relative_to(copy.resolve()):
      return f"{name} imported from {file}, not from the mutated copy"
  return None


def _first_failure(output: str) -> str:
  for line in output.splitlines():
    if line.startswith(("FAILED ", "ERROR ")):
      return line[:160]
  lines = [l for l in output.splitlines() if l.strip()]
  return lines[-1][:160] if lines else ""


def run_mutant(m: Mutation, root: Path, timeout: float, keep: bool) -> dict:
  work = Path(tempfile.mkdtemp(prefix=f"mutation_smoke_{m.name}_"))
  row = {"name": m.name, "group": m.group, "file": m.file, "why": m.why,
         "tests": list(m.tests)}
  try:
    copy = copy_checkout(root, work / "repo")
    tests = resolve_tests(m.tests, copy)
    row["tests_run"] = tests
    if not tests:
      row.update(status="no-tests", seconds=0.0,
                 detail="none of the selected test files exist")
      return row
    try:
      apply_mutation(m, copy)
    except (StaleMutation, SyntaxError) as e:
      row.update(status="error", seconds=0.0, detail=f"cannot apply: {e}")
      return row
    result = run_pytest(copy, tests, timeout, _module_name(m.file), ("-x",))
    row["seconds"] = round(result["seconds"], 1)
    problem = _import_problem(result, copy)
    code = result["code"]
    if problem:
      row.update(status="error", detail=problem)
    elif code is None:
      row.update(status="killed", detail=f"timed out after {timeout:.0f} s")
    elif code == 1:
      row.update(status="killed", detail=_first_failure(result["output"]))
    elif code == 0:
      row.update(status="survived", detail="all selected tests passed")
    elif code == 5:
      row.update(status="no-tests", detail="pytest collected no tests")
    else:
      row.update(status="error",
                 detail=f"pytest exit {code}: {_first_failure(result['output'])}")
    if row["status"] == "error":
      row["output_tail"] = result["output"][-3000:]
    return row
  finally:
    if keep:
      row["kept"] = str(work)
    else:
      shutil.rmtree(work, ignore_errors=True)


def baseline(mutations, root: Path, jobs: int, timeout: float) -> dict:
  """The union of the selections on the unmutated copy; must pass."""
  work = Path(tempfile.mkdtemp(prefix="mutation_smoke_baseline_"))
  try:
    copy = copy_checkout(root, work / "repo")
    tests = resolve_tests([t for m in mutations for t in m.tests], copy)
    if not tests:
      return {"ok": True, "tests": [], "seconds": 0.0, "detail": "no tests"}
    chunks = [tests[i::jobs] for i in range(min(jobs, len(tests)))]
    with concurrent.futures.ThreadPoolExecutor(len(chunks)) as pool:
      results = list(pool.map(
          lambda chunk: run_pytest(copy, chunk, timeout, "boundlab"), chunks))
    problems = []
    for chunk, r in zip(chunks, results):
      problem = _import_problem(r, copy)
      if problem:
        problems.append(problem)
      elif r["code"] != 0:
        failed = [l for l in r["output"].splitlines()
                  if l.startswith(("FAILED ", "ERROR "))]
        problems.append(f"exit {r['code']} on {' '.join(chunk)}:\n    " +
                        "\n    ".join(failed or r["output"].splitlines()[-15:]))
    return {"ok": not problems, "tests": tests,
            "seconds": round(max(r["seconds"] for r in results), 1),
            "detail": "\n".join(problems)}
  finally:
    shutil.rmtree(work, ignore_errors=True)


# --- reporting ----------------------------------------------------------------------

COUNTED = ("killed", "survived", "no-tests")


def summarize(rows) -> dict:
  out = {}
  for group in (*GROUPS, "overall"):
    sel = [r for r in rows if group == "overall" or r["group"] == group]
    if not sel:
      continue
    counts = {s: sum(r["status"] == s for r in sel)
              for s in ("killed", "survived", "no-tests", "error", "n/a")}
    denominator = sum(counts[s] for s in COUNTED)
    counts["rate"] = (round(counts["killed"] / denominator, 4)
                      if denominator else None)
    out[group] = counts
  return out


def print_table(rows, summary) -> None:
  width = max(len(r["name"]) for r in rows)
  print(f"\n{'group':<11} {'mutation':<{width}} {'result':<9} {'s':>6}  detail")
  for r in rows:
    seconds = f"{r.get('seconds', 0.0):6.1f}" if r.get("seconds") else "     -"
    print(f"{r['group']:<11} {r['name']:<{width}} {r['status']:<9} {seconds}  "
          f"{r.get('detail', '')}")
  print("\nkill rate = killed / (killed + survived + no-tests)")
  print(f"{'group':<11} {'killed':>6} {'surv.':>6} {'none':>6} {'error':>6} "
        f"{'n/a':>6}  rate")
  for group, c in summary.items():
    rate = "-" if c["rate"] is None else f"{100 * c['rate']:.0f}%"
    print(f"{group:<11} {c['killed']:>6} {c['survived']:>6} {c['no-tests']:>6} "
          f"{c['error']:>6} {c['n/a']:>6}  {rate}")


def _git_head(root: Path) -> str | None:
  try:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True
                          ).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return None


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--root", type=Path,
                      default=Path(__file__).resolve().parents[1],
                      help="checkout to mutate (default: this script's repo)")
  parser.add_argument("--jobs", type=int, default=1,
                      help="mutants run in parallel (default 1)")
  parser.add_argument("--only", metavar="REGEX",
                      help="mutations whose name or group matches")
  parser.add_argument("--timeout", type=float, default=300.0,
                      help="seconds per mutant; a timeout counts as killed")
  parser.add_argument("--baseline-timeout", type=float, default=1200.0)
  parser.add_argument("--json", type=Path, metavar="PATH",
                      help="write the results here")
  parser.add_argument("--allow-stale", action="store_true",
                      help="report stale mutations as errors and go on")
  parser.add_argument("--keep", action="store_true",
                      help="keep each mutant's copy (paths in the JSON)")
  parser.add_argument("--fail-under", type=float, metavar="PCT",
                      help="exit 1 if the overall kill rate is below PCT")
  parser.add_argument("--list", action="store_true",
                      help="list the mutations and exit")
  args = parser.parse_args(argv)
  root = args.root.resolve()

  names = [m.name for m in MUTATIONS]
  assert len(names) == len(set(names)), "duplicate mutation names"
  assert all(m.group in GROUPS for m in MUTATIONS)
  selected = [m for m in MUTATIONS if not args.only or
              re.search(args.only, m.name) or re.search(args.only, m.group)]
  if args.list:
    for m in selected:
      state = applicability(m, root)
      state = state if state in ("ok", "n/a") else "STALE"
      print(f"{m.group:<11} {m.name:<45} {state:<5} {m.file}  -- {m.why}")
    return 0
  if not selected:
    print(f"no mutation matches {args.only!r}", file=sys.stderr)
    return 2

  rows, runnable, stale = [], [], []
  for m in selected:
    state = applicability(m, root)
    if state == "ok":
      runnable.append(m)
    elif state == "n/a":
      rows.append({"name": m.name, "group": m.group, "file": m.file,
                   "why": m.why, "tests": list(m.tests), "status": "n/a",
                   "detail": f"{m.requires or m.file} not in this checkout"})
    else:
      stale.append((m, state))
  if stale:
    print("Stale mutations (the code moved; fix their `old` snippets):",
          file=sys.stderr)
    for m, msg in stale:
      print(f"  {m.name}: {msg}", file=sys.stderr)
    if not args.allow_stale:
      return 2
    rows += [{"name": m.name, "group": m.group, "file": m.file, "why": m.why,
              "tests": list(m.tests), "status": "error",
              "detail": f"stale: {msg}"} for m, msg in stale]

  print(f"root {root} ({_git_head(root) or 'no git'}); {len(runnable)} "
        f"mutations to run, {len(rows)} not run; jobs {args.jobs}")
  print("baseline: the unmutated copy runs every selected test ...", flush=True)
  base = baseline(runnable, root, max(1, args.jobs), args.baseline_timeout)
  if not base["ok"]:
    print(f"ABORT: the selected tests fail on the unmutated checkout, so no "
          f"mutant can be judged:\n{base['detail']}", file=sys.stderr)
    return 2
  print(f"baseline passes ({len(base['tests'])} test entries, "
        f"{base['seconds']} s)", flush=True)

  start = time.monotonic()
  with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
    futures = {pool.submit(run_mutant, m, root, args.timeout, args.keep): m
               for m in runnable}
    for future in concurrent.futures.as_completed(futures):
      row = future.result()
      rows.append(row)
      print(f"  {row['status']:<9} {row['name']} ({row.get('seconds', 0)} s)",
            flush=True)
  order = {m.name: i for i, m in enumerate(MUTATIONS)}
  rows.sort(key=lambda r: order[r["name"]])
  summary = summarize(rows)
  print_table(rows, summary)
  print(f"\n{len(runnable)} mutants in {time.monotonic() - start:.0f} s "
        f"(+ baseline {base['seconds']} s)")
  if args.json:
    args.json.write_text(json.dumps({
        "root": str(root), "commit": _git_head(root),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "jobs": args.jobs, "timeout_s": args.timeout,
        "baseline": {k: base[k] for k in ("tests", "seconds")},
        "rate_definition": "killed / (killed + survived + no-tests)",
        "summary": summary, "mutations": rows}, indent=1) + "\n")
    print(f"results written to {args.json}")
  overall = summary["overall"]["rate"]
  if args.fail_under is not None and (overall is None or
                                      100 * overall < args.fail_under):
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
