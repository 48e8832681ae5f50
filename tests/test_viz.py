"""Labelled grids, labels and loss plots (tf_style.viz), and the loss plot of ``tf-style stylize --plot``.

The grids and plots need no model; the ``--plot`` runs use the tiny stand-in backbone.
"""

import sys

import numpy as np
import pytest
from PIL import Image

from helpers import TINY_LAYERS, picture_files, region
from tf_style import viz
from tf_style.cli import main
from tf_style.config import StylizeConfig
from tf_style.errors import OptionError

WHITE = 255


# --------------------------------------------------------------------------- grids


def test_grid_has_every_tile_in_its_cell_and_the_right_size():
    colours = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)], [(10, 10, 10), (200, 0, 200), (0, 120, 120)]]
    tiles = [[Image.new("RGB", (32, 24), c) for c in row] for row in colours]
    g = viz.make_grid(tiles, [["a", "b", "c"], ["d", "e", "f"]], pad=5)
    assert (g.rows, g.cols, g.cell) == (2, 3, (32, 24))
    assert g.image.size == (3 * 32 + 4 * 5, 2 * (24 + g.strip) + 3 * 5)
    for r, row in enumerate(colours):
        for c, colour in enumerate(row):
            cell = region(g.image, g.tile_box(r, c))
            assert (cell == np.array(colour, np.uint8)).all(), (r, c)


def test_tiles_of_other_sizes_are_fitted_into_the_cell_and_empty_cells_stay_white():
    wide, tall = Image.new("RGB", (64, 16), "red"), Image.new("RGB", (16, 64), "blue")
    g = viz.make_grid([[wide, tall, None]], cell=(32, 32), pad=2)
    assert g.strip == 0 and g.image.size == (3 * 32 + 4 * 2, 32 + 2 * 2)
    red = region(g.image, g.tile_box(0, 0))
    assert (red[12:20, :, 0] > 200).all() and (red[:6] == WHITE).all()  # 32x8, centred vertically
    blue = region(g.image, g.tile_box(0, 1))
    assert (blue[:, 12:20, 2] > 200).all() and (blue[:, :6] == WHITE).all()
    assert (region(g.image, g.tile_box(0, 2)) == WHITE).all()


def test_labels_are_black_text_on_a_white_strip_and_differ():
    tile = Image.new("RGB", (96, 64), (90, 90, 90))
    g = viz.make_grid([[tile, tile, tile]], [["alpha/beta 1", "alpha/beta 0.01", None]])
    assert g.strip > 0
    strips = [region(g.image, g.label_box(0, c)) for c in range(3)]
    for s in strips[:2]:
        assert (s < 100).all(axis=-1).sum() > 20  # dark text pixels
        assert (s == WHITE).all(axis=-1).mean() > 0.5  # on a white strip
    assert not np.array_equal(strips[0], strips[1])
    assert (strips[2] == WHITE).all()  # no label, no ink
    # The tile itself is untouched by its label.
    assert (region(g.image, g.tile_box(0, 0)) == 90).all()


def test_a_label_too_wide_for_its_cell_stays_inside_it():
    tile = Image.new("RGB", (40, 30), "black")
    g = viz.make_grid([[tile, tile]], [["x" * 80, None]], pad=4)
    ink = (np.asarray(g.image) < 100).all(axis=-1)
    x0, y0, x1, y1 = g.label_box(0, 0)
    assert ink[y0:y1, x0:x1].any()
    ink[y0:y1, x0:x1] = False
    for r, c in [(0, 0), (0, 1)]:
        bx0, by0, bx1, by1 = g.tile_box(r, c)
        ink[by0:by1, bx0:bx1] = False
    assert not ink.any()


def test_label_tile_adds_a_strip_under_the_image():
    image = Image.new("RGB", (64, 48), (0, 128, 0))
    out = viz.label_tile(image, "conv1_1")
    assert out.size[0] == 64 and out.size[1] > 48
    assert (np.asarray(out)[:48] == np.asarray(image)).all()
    assert (np.asarray(out)[48:] < 100).all(axis=-1).any()


def test_multi_line_labels_get_a_taller_strip():
    tile = Image.new("RGB", (64, 48))
    one = viz.make_grid([[tile]], [["a"]])
    two = viz.make_grid([[tile]], [["a\nconv1_1"]])
    assert two.strip > one.strip



# --------------------------------------------------------------------------- plots


def _history(n=30):
    return [{"total": 10.0 / (i + 1), "content": 0.1 * i + 0.01, "style": 5.0 / (i + 1) ** 2, "tv": 0.0}
            for i in range(n)]


def test_plot_history_writes_a_png_of_the_requested_size(tmp_path):
    out = viz.plot_history(_history(), tmp_path / "loss.png", title="t")
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (800, 500)
        arr = np.asarray(png.convert("RGB"))
    assert arr.std() > 10  # something was drawn
    out2 = viz.plot_history([{"step": float(s), "total": 1.0 / s} for s in (10, 20, 30)],
                                tmp_path / "train.png", size=(640, 400), xlabel="step")
    with Image.open(out2) as png:
        assert png.size == (640, 400)


def test_level_boundaries():
    assert viz.level_boundaries([0, 0, 1, 1, 1, 2]) == [2.5, 5.5]
    assert viz.level_boundaries([0, 0, 0]) == []


def test_plot_history_rejects_what_it_cannot_plot(tmp_path):
    with pytest.raises(OptionError, match="history"):
        viz.plot_history([], tmp_path / "a.png")
    with pytest.raises(OptionError, match="positive"):
        viz.plot_history([{"tv": 0.0}], tmp_path / "a.png")
    with pytest.raises(OptionError, match="positive"):  # weight 0: nothing left to show
        viz.plot_history([{"style": 1.0}], tmp_path / "a.png", weights={"style": 0})
    with pytest.raises(OptionError, match="^weights: "):
        viz.plot_history(_history(), tmp_path / "a.png", weights={"style": -1})
    assert not list(tmp_path.iterdir())


def test_plot_history_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(OptionError, match=r"needs matplotlib: pip install 'tf-style\[plot\]'"):
        viz.plot_history(_history(), tmp_path / "loss.png")


@pytest.fixture
def tiny_cli(monkeypatch, tiny):
    """The CLI's Stylizer, on the tiny backbone (the CLI builds real backbones by name)."""
    from tf_style import transfer

    real = transfer.Stylizer
    made = []

    def stylizer(style, config, log=None):
        made.append(config)
        return real(style, config.with_options(**TINY_LAYERS), backbone=tiny, log=log)

    monkeypatch.setattr(transfer, "Stylizer", stylizer)
    return made


def test_stylize_plot_writes_the_loss_plot(tmp_path, tiny_cli, capsys, monkeypatch):
    real, seen = viz.plot_history, []
    # The CLI draws through tf_style.viz (imported when it plots).
    monkeypatch.setattr(viz, "plot_history", lambda h, p, **k: seen.append((len(h), k)) or real(h, p, **k))
    content, style = picture_files(tmp_path)
    out, plot = tmp_path / "out.png", tmp_path / "loss.png"
    rc = main(["stylize", content, style, "-o", str(out), "--size", "256", "--iterations", "3",
               "--pyramid", "2", "--style-weight", "7", "--plot", str(plot), "--quiet"])
    assert rc == 0 and len(tiny_cli) == 1 and out.is_file()
    with Image.open(plot) as png:
        assert png.format == "PNG" and png.size == (800, 500)
    (n, kwargs), = seen
    assert n == 6 + 3 and kwargs["boundaries"] == [6.5]  # 128 px level, then 256 px
    assert kwargs["weights"] == {"content": 1.0, "style": 7.0, "tv": StylizeConfig().tv_weight}


def test_stylize_plot_without_matplotlib_fails_before_the_run(tmp_path, tiny_cli, capsys, monkeypatch):
    content, style = picture_files(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out, plot = tmp_path / "out.png", tmp_path / "loss.png"
    rc = main(["stylize", content, style, "-o", str(out), "--size", "64", "--pyramid", "1", "--plot", str(plot)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == "tf-style: error: --plot needs matplotlib: pip install 'tf-style[plot]'\n"
    assert tiny_cli == [] and not out.exists() and not plot.exists()


def test_stylize_plot_that_equals_the_output_is_refused(tmp_path, tiny_cli, capsys):
    content, style = picture_files(tmp_path)
    out = tmp_path / "out.png"
    rc = main(["stylize", content, style, "-o", str(out), "--plot", str(out)])
    assert rc == 2 and "same file" in capsys.readouterr().err and tiny_cli == []
