"""Saving a figure with its data sidecar.

Every PNG gets a JSON sidecar with the data drawn, the config, the seeds, and
provenance (boundlab/jax versions, device, git commit), so a figure can be
re-plotted or audited without rerunning the experiment. PNG metadata omits the
software tag so that regenerated files differ only when the pixels do.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.figure
import matplotlib.pyplot as plt

from boundlab import _jsonio
from boundlab import _validation as v
from boundlab.provenance import provenance
from boundlab.figures.style import style


def save_figure(fig, path: Path, *, data: dict, config: dict,
                seeds=None) -> tuple[Path, Path]:
  """Writes ``path`` (PNG) and ``path.with_suffix('.json')``; closes ``fig``.

  Both writes are atomic (temp file + rename).
  """
  v.check_instance("fig", fig, matplotlib.figure.Figure, "a matplotlib Figure")
  if not isinstance(path, (str, Path)) or not str(path):
    raise ValueError(f"path must be a file path, got {path!r}")
  v.check_mapping("data", data)
  v.check_mapping("config", config)
  path = Path(path).with_suffix(".png")

  def write(f):
    with style():
      fig.savefig(f, format="png", metadata={"Software": None})

  try:
    _jsonio.atomic_write_bytes(path, write)
  finally:
    plt.close(fig)
  sidecar = path.with_suffix(".json")
  _jsonio.atomic_write_json(sidecar, {
      "figure": path.name, "config": config,
      "seeds": list(seeds) if seeds is not None else None,
      "provenance": provenance(), "data": data})
  return path, sidecar
