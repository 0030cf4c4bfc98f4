"""One plot style, reusable plot functions, figures saved with data sidecars."""

from boundlab.figures.plots import band, horizontal_reference, intervals
from boundlab.figures.sidecar import save_figure
from boundlab.figures.style import PALETTE, new_figure, style

__all__ = ["band", "horizontal_reference", "intervals", "save_figure", "PALETTE", "new_figure", "style"]
