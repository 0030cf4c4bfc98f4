"""benchmarks/multi_gpu.py's identity check: a run matches the one-device
run only if every cell and the verdict are the same."""

import importlib.util
import json
from pathlib import Path

_PATH = Path(__file__).parent.parent / "benchmarks" / "multi_gpu.py"
_spec = importlib.util.spec_from_file_location("multi_gpu", _PATH)
multi_gpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(multi_gpu)


def _write_run(root: Path, cells: dict, measured: float, seconds: float):
  folder = root / "cache" / multi_gpu.CLAIM
  folder.mkdir(parents=True)
  for name, value in cells.items():
    (folder / name).write_text(json.dumps({"key": name, "value": value}))
  # Wall times and the device differ between runs and must not count.
  (folder / "timing.json").write_text(json.dumps({"seconds": seconds}))
  (root / "report.json").write_text(json.dumps({"claims": [
      {"id": multi_gpu.CLAIM, "verdict": "holds", "measured": measured,
       "ci": [measured - 0.1, measured + 0.1]}]}))


def test_identical_runs_match_despite_their_timings(tmp_path):
  cells = {"a.json": [1.0, 2.0], "b.json": [3.0]}
  _write_run(tmp_path / "one", cells, 2.03, seconds=10.0)
  _write_run(tmp_path / "two", cells, 2.03, seconds=5.0)
  result = multi_gpu.identical_to(tmp_path / "one", tmp_path / "two")
  assert result["identical"] and result["cells"] == 2


def test_one_differing_cell_or_verdict_breaks_identity(tmp_path):
  _write_run(tmp_path / "one", {"a.json": [1.0], "b.json": [3.0]}, 2.03, 1)
  _write_run(tmp_path / "cell", {"a.json": [1.0], "b.json": [3.0000001]},
             2.03, 1)
  _write_run(tmp_path / "missing", {"a.json": [1.0]}, 2.03, 1)
  _write_run(tmp_path / "verdict", {"a.json": [1.0], "b.json": [3.0]},
             2.04, 1)
  cell = multi_gpu.identical_to(tmp_path / "one", tmp_path / "cell")
  assert not cell["identical"] and cell["differing_cells"] == ["b.json"]
  missing = multi_gpu.identical_to(tmp_path / "one", tmp_path / "missing")
  assert not missing["identical"] and missing["differing_cells"] == ["b.json"]
  assert not multi_gpu.identical_to(tmp_path / "one",
                                    tmp_path / "verdict")["identical"]
