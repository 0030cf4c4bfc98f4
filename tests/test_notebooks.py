"""Every jupytext notebook under notebooks/ executes through a real kernel,
with Jupyter's own (inline) plotting backend, and shows its figures.

The kernel does not inherit the tests' ``MPLBACKEND=Agg``: a notebook must
produce image outputs the way a user's Jupyter does, so a library that set a
non-interactive backend on import would fail here.
"""

import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.py"))
# A cell that makes a figure: pyplot's or boundlab's figure constructors.
MAKES_FIGURE = re.compile(r"\b(plt\.(subplots|figure)|new_figure)\(")


# Run first in the kernel: every figure shown must have labeled axes (a
# colorbar, or an axis without data, is exempt).
_LABEL_CHECK = """
import matplotlib.pyplot as _plt
_UNLABELED, _show = [], _plt.show
def _checked_show(*args, **kwargs):
  for num in _plt.get_fignums():
    for ax in _plt.figure(num).axes:
      if ax.get_label() == "<colorbar>" or not ax.has_data():
        continue
      if not (ax.get_xlabel() and ax.get_ylabel()):
        _UNLABELED.append(ax.get_title() or f"figure {num}")
  return _show(*args, **kwargs)
_plt.show = _checked_show
"""
# Run last: the backend the notebook ended with (a library that forced one on
# import would show here; Jupyter may still flush figures under Agg), and
# the axes shown without labels.
_REPORT = ("import matplotlib\nprint('BACKEND', matplotlib.get_backend())\n"
           "print('UNLABELED', _UNLABELED)")
# Imports a notebook may use: boundlab's public packages and their public
# modules (what the API reference documents), never a paper module.
_IMPORT = re.compile(r"^\s*(?:from|import)\s+(boundlab[\w.]*)", re.M)
PUBLIC = ("algorithms", "landscapes", "theory", "claims", "experiments",
          "testing", "figures")


def _execute(path, tmp_path, monkeypatch):
  jupytext = pytest.importorskip("jupytext")
  nbclient = pytest.importorskip("nbclient")
  monkeypatch.delenv("MPLBACKEND", raising=False)
  notebook = jupytext.read(path)
  cell = lambda source: jupytext.reads(source, fmt="py:percent").cells[0]
  notebook.cells.insert(0, cell(_LABEL_CHECK))
  notebook.cells.append(cell(_REPORT))
  client = nbclient.NotebookClient(
      notebook, timeout=300, kernel_name="python3",
      resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  return notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_and_shows_its_figures(path, tmp_path, monkeypatch):
  notebook = _execute(path, tmp_path, monkeypatch)
  code = [cell for cell in notebook.cells if cell.cell_type == "code"]
  errors = [o for cell in code for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]
  assert not errors, errors
  report = "".join(o.get("text", "") for o in code[-1].get("outputs", []))
  assert "BACKEND" in report and "inline" in report, report
  assert "UNLABELED []" in report, f"{path.name}: axes without labels: {report}"
  code = code[1:-1]
  figure_cells = [cell for cell in code if MAKES_FIGURE.search(cell.source)]
  assert figure_cells, f"{path.name} draws no figure"
  for cell in figure_cells:
    images = [o for o in cell.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, (f"{path.name}: a cell that makes a figure showed no "
                    f"image:\n{cell.source[:200]}")


def test_there_is_a_notebook():
  assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_imports_only_the_public_api(path):
  for module in _IMPORT.findall(path.read_text()):
    parts = module.split(".")
    assert len(parts) == 1 or parts[1] in PUBLIC, (path.name, module)
    assert not any(p.startswith("_") for p in parts), (path.name, module)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_exercises_with_expected_outcomes_and_solutions(path):
  text = path.read_text()
  exercises = re.findall(r"\*\*Try this \d+\.\*\*", text)
  assert "## Exercises" in text and exercises, path.name
  assert text.count("*Expected:*") >= len(exercises), path.name
  assert "### Solutions" in text, path.name
