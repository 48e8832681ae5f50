"""The old home of the grids, plots and studies: re-exports :mod:`tf_style.viz` and :mod:`tf_style.studies`.

Code that imports ``tf_style.gallery`` keeps working; new code imports the two modules:
``viz`` (labelled grids, loss plots; no TensorFlow) and ``studies`` (sweeps and sheets).

Example:
    >>> from tf_style import gallery, studies, viz
    >>> gallery.make_grid is viz.make_grid and gallery.sweep is studies.sweep
    True
"""

from __future__ import annotations

from tf_style import studies as _studies
from tf_style import viz as _viz
from tf_style.studies import (
    DEFAULT_RATIOS,
    GATYS_LAYER_SETS,
    SheetResult,
    SweepResult,
    SweepTile,
    parse_layer_sets,
    parse_ratios,
    ratio_weights,
    sheet,
    short_layer_name,
    sweep,
)
from tf_style.viz import Grid, label_tile, level_boundaries, make_grid, plot_history, require_matplotlib

__all__ = [*_studies.__all__, *_viz.__all__]
