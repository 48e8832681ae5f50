"""tf_style.gallery, the old home of the grids, plots and studies, still gives every name it gave.

The grids and plots are tested in test_viz.py, the sweeps and sheets in test_studies.py.
"""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tf_style import gallery, studies, viz

ROOT = Path(__file__).resolve().parents[1]

OLD_NAMES = {
    "DEFAULT_RATIOS", "GATYS_LAYER_SETS", "Grid", "make_grid", "label_tile", "parse_ratios", "parse_layer_sets",
    "ratio_weights", "short_layer_name", "SweepTile", "SweepResult", "sweep", "SheetResult", "sheet",
    "require_matplotlib", "level_boundaries", "plot_history",
}


def test_gallery_reexports_every_old_name_from_viz_or_studies():
    assert set(gallery.__all__) == OLD_NAMES
    for name in OLD_NAMES:
        home = viz if name in viz.__all__ else studies
        assert name in home.__all__, name
        assert getattr(gallery, name) is getattr(home, name), name


def test_old_calls_through_gallery_still_work():
    g = gallery.make_grid([[Image.new("RGB", (32, 24), "red")]], [["a"]])
    assert isinstance(g, gallery.Grid) and g.image.size[0] == 32 + 2 * 6
    assert gallery.parse_ratios("1,0.1") == (1.0, 0.1) and gallery.level_boundaries([0, 1]) == [1.5]


def test_viz_and_gallery_load_no_tensorflow():
    """What setup.cfg's contract checks statically, seen at run time in a fresh interpreter."""
    code = "import sys, tf_style.viz, tf_style.gallery; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
