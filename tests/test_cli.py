"""The command line: list, verify (report schema, cache, determinism, resume), repro."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from boundlab import cli
from boundlab.claims import Evaluation, Outcome, registry

SCHEMA_KEYS = {"id", "paper", "arxiv", "statement", "measured", "bound",
               "relation", "ci", "verdict", "seeds", "constants_verified",
               "figure"}


def test_list_shows_every_claim_with_citation(capsys):
  assert cli.main(["list"]) == 0
  out = capsys.readouterr().out
  assert "chen2020.bias_le_wasserstein" in out and "arXiv 2311.14632" in out
  assert sum(line.startswith(("chen2020.", "dicesgd2024.")) for line in
             out.splitlines()) >= 6


def test_report_follows_the_schema(quick_run):
  report = json.loads((quick_run / "quick_report.json").read_text())
  assert {"boundlab_version", "device", "created", "claims"} <= set(report)
  assert len(report["claims"]) >= 6
  for claim in report["claims"]:
    assert SCHEMA_KEYS <= set(claim)
    lo, hi = claim["ci"]
    assert lo is not None and hi is not None and lo <= hi
    assert claim["verdict"] in {o.value for o in Outcome}
    assert (quick_run / claim["figure"]).exists()
    sidecar = json.loads((quick_run / claim["figure"]).with_suffix(
        ".json").read_text())
    assert {"config", "seeds", "provenance", "data"} <= set(sidecar)
    assert {"verdict", "tables", "records"} <= set(sidecar["data"])
    assert sidecar["provenance"]["boundlab_version"]
  verdicts = {c["id"]: c["verdict"] for c in report["claims"]}
  # Deterministic arithmetic: clipped GD's limit is the clipped fixed point.
  assert verdicts["chen2020.stall_fixed_point"] == "holds"
  md = (quick_run / "report.md").read_text()
  assert "chen2020.stall_fixed_point -- holds" in md


def test_rerun_uses_the_cache(quick_run, capsys):
  assert cli.main(["verify", "--quick", "--out", str(quick_run), "--only",
                   "stall", "--no-progress"]) == 0
  assert "0 computed" in capsys.readouterr().out


def test_repro_writes_figures_with_sidecars(quick_run):
  assert cli.main(["repro", "chen2020", "--quick", "--out", str(quick_run),
                   "--no-progress"]) == 0
  for name in ("chen2020_example2_flat_zero_set", "chen2020_stall_instance",
               "chen2020.stall_fixed_point"):
    png = quick_run / "figures" / f"{name}.png"
    assert png.stat().st_size > 1000
    assert json.loads(png.with_suffix(".json").read_text())["data"]


def test_same_seed_gives_identical_values(tmp_path):
  values = []
  for run in ("a", "b"):
    out = tmp_path / run
    assert cli.main(["verify", "--quick", "--only", "perturbation_bias|stall",
                     "--out", str(out), "--seed", "3", "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    values.append([(c["id"], c["measured"], c["ci"], c["bound"])
                   for c in report["claims"]])
  assert values[0] == values[1]


def test_errors_exit_2_with_one_line(capsys):
  assert cli.main(["verify", "--only", "^no_such_claim"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "no claim id matches" in err
  assert cli.main(["verify", "--seed", "-1", "--only", "stall"]) == 2
  assert "--seed must be" in capsys.readouterr().err
  assert cli.main(["repro", "nope"]) == 2
  assert "unknown paper" in capsys.readouterr().err
  assert cli.main(["frobnicate"]) == 2
  assert capsys.readouterr().err.count("\n") == 1


def test_strict_exits_1_on_a_violated_claim(tmp_path, monkeypatch, capsys):
  import dataclasses
  violated = dataclasses.replace(
      registry.get_claim("chen2020.stall_fixed_point"),
      id="chen2020.deliberately_false", plot=None,
      evaluate=lambda config, records, alpha: Evaluation(
          measured=5.0, ci=(4.0, 6.0)))
  monkeypatch.setattr(registry, "select_claims", lambda pattern: [violated])
  args = ["verify", "--quick", "--out", str(tmp_path), "--no-progress"]
  assert cli.main(args) == 0
  assert cli.main(args + ["--strict"]) == 1
  assert "violated" in capsys.readouterr().out


def test_killed_run_resumes_without_losing_cells(tmp_path):
  out = tmp_path / "out"
  cmd = [sys.executable, "-m", "boundlab.cli", "verify", "--quick",
         "--no-progress", "--out", str(out), "--only",
         "stall|perturbation|symmetric_noise"]
  env = dict(os.environ, MPLBACKEND="Agg")
  proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  cache = out / "cache"
  deadline = time.time() + 300
  while time.time() < deadline and not list(cache.glob("*/*.json")):
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  before = {p: p.read_bytes() for p in cache.glob("*/*.json")}
  assert before, "no cell was written before the kill"
  assert not (out / "report.json").exists(), "the run finished before the kill"
  # A temporary file of an interrupted write may remain; it is never read.
  done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                        check=True)
  for path, content in before.items():
    assert path.read_bytes() == content      # nothing recomputed or lost
  report = json.loads((out / "report.json").read_text())
  assert len(report["claims"]) == 4
  reused = int(re.search(r"(\d+) from cache", done.stdout).group(1))
  assert reused >= len(before)


def test_verify_defaults_to_quick_and_checks_out_first(tmp_path, capsys):
  target = tmp_path / "a_file"
  target.write_text("")
  start = time.perf_counter()
  assert cli.main(["verify", "--out", str(target), "--no-progress"]) == 2
  assert "--out must be a directory" in capsys.readouterr().err
  assert time.perf_counter() - start < 30        # refused before any run
  assert cli.main(["verify", "--full", "--quick"]) == 2    # one mode only
  out = tmp_path / "out"
  assert cli.main(["verify", "--only", "stall", "--out", str(out),
                   "--no-progress"]) == 0
  assert "quick mode" in capsys.readouterr().err
  report = json.loads((out / "report.json").read_text())
  assert report["quick"] is True
  assert oct((out / "report.json").stat().st_mode & 0o044) == oct(0o044)


def test_list_filters_costs_and_json(quick_run, capsys):
  assert cli.main(["list", "^chen2020.stall", "--out", str(quick_run)]) == 0
  out = capsys.readouterr().out
  assert "chen2020.stall_fixed_point" in out and "bias_le" not in out
  assert max(len(line) for line in out.splitlines()) <= 100
  assert cli.main(["list", "benarous2021", "--json", "--out",
                   str(quick_run)]) == 0
  rows = json.loads(capsys.readouterr().out)
  assert {r["id"] for r in rows} >= {"benarous2021.tensor_pca_k3_exponent"}
  assert all(r["full_needs_gpu"] for r in rows)
  assert all(r["seconds"]["quick"] > 0 for r in rows)   # measured there


def test_cite_prints_bibtex(capsys):
  assert cli.main(["cite", "chen2020"]) == 0
  bib = capsys.readouterr().out
  assert bib.startswith("@inproceedings{chen2020,") and "eprint = {2006.15429}" \
      in bib and "author = {X. Chen and Z. S. Wu and M. Hong}" in bib
  assert cli.main(["cite", "nope"]) == 2
