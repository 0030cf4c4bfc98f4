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


def _execute(path, tmp_path, monkeypatch):
  jupytext = pytest.importorskip("jupytext")
  nbclient = pytest.importorskip("nbclient")
  monkeypatch.delenv("MPLBACKEND", raising=False)
  notebook = jupytext.read(path)
  # Last, the backend the notebook ended with: a library that forced one on
  # import would show here (Jupyter may still flush figures under Agg).
  notebook.cells.append(jupytext.reads(
      "import matplotlib\nprint('BACKEND', matplotlib.get_backend())",
      fmt="py:percent").cells[0])
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
  backend = "".join(o.get("text", "") for o in code[-1].get("outputs", []))
  assert "inline" in backend, backend
  code = code[:-1]
  figure_cells = [cell for cell in code if MAKES_FIGURE.search(cell.source)]
  assert figure_cells, f"{path.name} draws no figure"
  for cell in figure_cells:
    images = [o for o in cell.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, (f"{path.name}: a cell that makes a figure showed no "
                    f"image:\n{cell.source[:200]}")


def test_there_is_a_notebook():
  assert NOTEBOOKS
