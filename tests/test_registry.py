"""The registry: built-in and outside paper modules enter by one door, and the
cache key follows each experiment's own code."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from boundlab import cli
from boundlab.claims import cache, registry

OUTSIDE = Path(__file__).parent / "outside_papers" / "toy2026.py"
CLAIM_ID = "toy2026.gd_contracts_on_a_quadratic"


def _boundlab(*args, env=None, cwd=None):
  """The command line in a fresh process (a fresh registry and module
  table), with its stdout."""
  env = dict(os.environ, MPLBACKEND="Agg", **(env or {}))
  done = subprocess.run([sys.executable, "-m", "boundlab.cli", *args],
                        env=env, cwd=cwd, capture_output=True, text=True,
                        timeout=600)
  assert done.returncode == 0, done.stderr
  return done.stdout


def _computed(stdout) -> int:
  return int(re.search(r"cells: (\d+) computed", stdout).group(1))


def test_outside_module_by_path_is_listed_run_cached_and_invalidated(tmp_path):
  module = tmp_path / "toy2026.py"
  shutil.copy(OUTSIDE, module)
  listing = _boundlab("list", "--papers", str(module))
  assert CLAIM_ID in listing and "chen2020.stall_fixed_point" in listing
  out = tmp_path / "out"
  verify = ["verify", "--quick", "--no-progress", "--papers", str(module),
            "--only", "toy2026", "--out", str(out)]
  first = _boundlab(*verify)
  assert _computed(first) == 3 and "holds" in first
  report = json.loads((out / "report.json").read_text())
  assert [c["id"] for c in report["claims"]] == [CLAIM_ID]
  assert _computed(_boundlab(*verify)) == 0                 # cached
  # Editing the outside module (its measure's source) recomputes its cells.
  module.write_text(module.read_text().replace(
      "del alpha  # deterministic", "del alpha  # (edited) deterministic"))
  assert _computed(_boundlab(*verify)) == 3


def test_outside_module_through_an_installed_entry_point(tmp_path):
  # What `pip install` of a package declaring the entry point leaves behind.
  package = tmp_path / "toypapers"
  package.mkdir()
  (package / "__init__.py").write_text("")
  shutil.copy(OUTSIDE, package / "toy2026.py")
  info = tmp_path / "toypapers-0.1.dist-info"
  info.mkdir()
  (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toypapers\n"
                                 "Version: 0.1\n")
  (info / "entry_points.txt").write_text(
      f"[{registry.ENTRY_POINT_GROUP}]\ntoy2026 = toypapers.toy2026\n")
  env = {"PYTHONPATH": os.pathsep.join(
      [str(tmp_path), os.environ.get("PYTHONPATH", "")])}
  assert CLAIM_ID in _boundlab("list", env=env)
  out = tmp_path / "out"
  stdout = _boundlab("verify", "--quick", "--no-progress", "--only",
                     "toy2026", "--out", str(out), env=env)
  assert "holds" in stdout and (out / "cache" / "toy2026.gd_runs").is_dir()


def test_list_takes_papers_and_rejects_bad_ones(capsys):
  assert cli.main(["list", "--papers", str(OUTSIDE)]) == 0
  assert CLAIM_ID in capsys.readouterr().out
  registry.unregister("toy2026")
  assert cli.main(["list", "--papers", "no.such.module"]) == 2
  assert "cannot import 'no.such.module'" in capsys.readouterr().err
  assert cli.main(["list", "--papers", "missing_file.py"]) == 2
  assert "no such file" in capsys.readouterr().err


def _module(name, **attributes):
  module = types.ModuleType(name)
  module.__dict__.update(attributes)
  return module


def test_register_checks_the_module():
  registry.discover()
  with pytest.raises(ValueError, match="must define PAPER"):
    registry.register(_module("bad"))
  chen = registry.paper_module("chen2020")
  with pytest.raises(ValueError, match="must define CLAIMS"):
    registry.register(_module("bad", PAPER=chen.PAPER, CLAIMS=()))
  with pytest.raises(ValueError, match="already registered"):
    registry.register(_module("copy", PAPER=chen.PAPER, CLAIMS=chen.CLAIMS))
  assert registry.register(chen) is chen                    # idempotent
  other = registry.paper_module("cohen2021")
  with pytest.raises(ValueError, match="not the module's PAPER"):
    registry.register(_module("mixed", PAPER=other.PAPER, CLAIMS=chen.CLAIMS))


def test_built_in_papers_register_through_the_same_door():
  from boundlab import paper_repro
  papers = registry.papers()
  assert list(papers)[:len(paper_repro.MODULES)] == list(paper_repro.MODULES)
  claims = registry.all_claims()
  assert len({c.id for c in claims}) == len(claims) >= 59
  experiments = {}
  for claim in claims:
    assert experiments.setdefault(claim.experiment.id,
                                  claim.experiment) is claim.experiment


def _load(tmp_path, name, source):
  path = tmp_path / f"{name}.py"
  path.write_text(source)
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  return module


def test_cache_key_hashes_the_library_and_each_measure_own_module(tmp_path):
  # The library fingerprint leaves the paper modules out ...
  assert cache._in_library("boundlab.claims.runner")
  assert cache._in_library("boundlab.experiments.phase_diagram")
  assert not cache._in_library("boundlab.paper_repro.chen2020")
  files = {p.relative_to(cache._ROOT).as_posix()
           for p in cache._library_files()}
  assert "claims/runner.py" in files and "theory/clipping.py" in files
  assert not {"cli.py", "claims/report.py", "paper_repro/__init__.py",
              "paper_repro/lu2024.py"} & files
  # ... a paper's measure reaches its module, and through module-level
  # names the helpers of its package (chen2020's noise_law) ...
  measure = registry.get_claim("chen2020.symmetric_noise_rate").experiment.measure
  assert cache.measure_modules(measure) >= {
      "boundlab.paper_repro.chen2020", "boundlab.paper_repro.chen2020.rates"}
  # ... and a family's measure is library code (its config is hashed).
  phase = registry.get_claim("damian2023.smoothed_sgd_he3_exponent")
  assert cache.measure_modules(phase.experiment.measure) == set()
  # Outside modules: a measure that calls a helper module by name, or a
  # function imported from it, changes its key when the helper changes; an
  # unrelated module's edit does not.
  names = ("helper_mod", "paper_a", "paper_b")
  try:
    _load(tmp_path, "helper_mod", "def simulate(seeds):\n  return []\n")
    a = _load(tmp_path, "paper_a", "import helper_mod\n"
              "def measure(config, seeds):\n  return helper_mod.simulate("
              "seeds)\n")
    b = _load(tmp_path, "paper_b", "from helper_mod import simulate\n"
              "def measure(config, seeds):\n  return simulate(seeds)\n")
    before = {m: cache.code_fingerprint(m.measure) for m in (a, b)}
    (tmp_path / "paper_b.py").write_text(
        "from helper_mod import simulate\ndef measure(config, seeds):\n"
        "  return simulate(seeds)  # edited\n")
    assert cache.code_fingerprint(a.measure) == before[a]
    assert cache.code_fingerprint(b.measure) != before[b]
    (tmp_path / "helper_mod.py").write_text(
        "def simulate(seeds):\n  return [{}]\n")
    assert cache.code_fingerprint(a.measure) != before[a]
  finally:
    for name in names:
      sys.modules.pop(name, None)


def test_cache_key_of_code_without_a_file_follows_its_bytecode():
  namespace = {"__name__": "__main__"}
  exec("def measure(config, seeds):\n  return [{'x': 1}]\n", namespace)
  first = cache.code_fingerprint(namespace["measure"])
  exec("def measure(config, seeds):\n  return [{'x': 2}]\n", namespace)
  assert cache.code_fingerprint(namespace["measure"]) != first
