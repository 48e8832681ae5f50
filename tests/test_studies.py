"""Sweeps and sheets (tf_style.studies) and their CLI commands ``tf-style sweep`` and ``tf-style sheet``.

Units run on a tiny stand-in backbone and 48 px images; one CLI smoke test uses the
real vgg16-hed backbone and is marked slow.
"""

import json

import numpy as np
import pytest
from PIL import Image

import helpers
from helpers import EXAMPLES, TINY_LAYERS, picture_files, region
from tf_style import image as im
from tf_style import studies
from tf_style.cli import main
from tf_style.errors import LayerNameError, ModelLoadError, OptionError

WHITE = 255


_photo, _painting = helpers.photo, helpers.painting  # tests/helpers.py


@pytest.fixture
def spy_stylize(monkeypatch):
    """Records every Stylizer.stylize call (one optimizer run each)."""
    from tf_style import transfer

    calls = []
    real = transfer.Stylizer.stylize

    def spy(self, *a, **k):
        calls.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(transfer.Stylizer, "stylize", spy)
    return calls


@pytest.fixture
def fake_loader(monkeypatch, tiny):
    """load_backbone replaced by a counter that hands out the tiny backbone."""
    from tf_style import backbones as bb

    calls = []

    def load(name, layers, **kwargs):
        calls.append((name, tuple(layers)))
        return tiny

    monkeypatch.setattr(bb, "load_backbone", load)
    return calls


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("text, expected", [("1,0.1", (1.0, 0.1)), ("1e-2, 0", (0.01, 0.0)), ([3, 0.5], (3.0, 0.5))])
def test_parse_ratios(text, expected):
    assert studies.parse_ratios(text) == expected


@pytest.mark.parametrize("text", ["", "1,,2", "x", "-1", "inf", "nan", "1;2"])
def test_parse_ratios_rejects(text):
    with pytest.raises(OptionError, match=r"^--ratios: "):
        studies.parse_ratios(text)


def test_parse_layer_sets_and_the_gatys_preset():
    assert studies.parse_layer_sets("conv1_1; conv1_1 ,conv2_1") == (("conv1_1",), ("conv1_1", "conv2_1"))
    sets = studies.parse_layer_sets("gatys")
    assert len(sets) == 5 and sets[0] == ("block1_conv1",) and sets[-1][-1] == "block5_conv1"
    assert all(len(s) == k + 1 for k, s in enumerate(sets))
    for bad in ("a;;b", ";", "a,,b", ""):
        with pytest.raises(OptionError, match=r"^--layers: "):
            studies.parse_layer_sets(bad)


def test_ratio_weights_and_labels():
    assert studies.ratio_weights(0.25) == (1.0, 4.0)
    assert studies.ratio_weights(0) == (0.0, 1.0)
    assert studies.short_layer_name("block3_conv1") == "conv3_1"
    assert studies.short_layer_name("weird") == "weird"


def test_cli_default_ratios_match_the_library():
    from tf_style import cli

    assert studies.parse_ratios(cli._SWEEP_RATIOS) == studies.DEFAULT_RATIOS


# --------------------------------------------------------------------------- sweeps


def test_sweep_loads_one_backbone_runs_once_per_tile_and_builds_targets_once_per_level(
    fake_loader, spy_stylize, monkeypatch
):
    from tf_style import transfer

    objectives = []
    real_init = transfer.ImageObjective.__init__

    def record(self, *a, **k):
        real_init(self, *a, **k)
        objectives.append(self.shape)

    monkeypatch.setattr(transfer.ImageObjective, "__init__", record)
    r = studies.sweep(
        _photo(256, 200), _painting(), ratios="1,0.1,0.01",
        layer_sets="block1_conv1;conv1_1,conv2_1,block3_conv1", backbone="vgg16-hed",
        size=256, pyramid=2, iterations=2, tv_weight=0.0, content_layers=("block2_conv1",),
    )
    assert len(fake_loader) == 1 and r.backbone_loads == 1
    name, layers = fake_loader[0]
    assert name == "vgg16-hed" and set(layers) == {"block1_conv1", "block2_conv1", "block3_conv1"}
    assert len(spy_stylize) == 6  # 2 layer sets x 3 ratios, one optimizer run each
    assert len(objectives) == 6 * 2  # two pyramid levels per tile
    assert r.style_target_builds == 2  # once per level for the whole grid, not per tile
    assert [len(row) for row in r.tiles] == [3, 3]
    assert r.tiles[1][0].style_layers == ("block1_conv1", "block2_conv1", "block3_conv1")
    assert (r.tiles[0][2].content_weight, r.tiles[0][2].style_weight) == (1.0, 100.0)
    assert r.grid.rows == 2 and r.grid.cols == 3 and r.grid.cell == (256, 200)
    assert r.image.size == (r.grid.width, r.grid.height)
    assert r.tiles[1][2].label == "alpha/beta 0.01\nconv1_1 ... conv3_1"
    assert r.tiles[0][0].label == "alpha/beta 1\nconv1_1"
    d = r.to_dict("grid.png")
    assert len(d["tiles"]) == 6 and d["style_target_builds"] == 2 and d["backbone_loads"] == 1


def test_a_sweep_tile_equals_a_fresh_run_with_its_weights_and_layers(tiny):
    from tf_style.transfer import stylize

    opts = dict(size=48, pyramid=1, iterations=12, tv_weight=0.0, content_layers=("block2_conv1",))
    r = studies.sweep(_photo(), _painting(), ratios=(1.0, 0.01), layer_sets=[["block1_conv1"], ["block3_conv1"]],
                      backbone=tiny, **opts)
    for row, layers in [(0, ("block1_conv1",)), (1, ("block3_conv1",))]:
        for col, (cw, sw) in enumerate([(1.0, 1.0), (1.0, 100.0)]):
            fresh = stylize(_photo(), _painting(), backbone=tiny, content_weight=cw, style_weight=sw,
                            style_layers=layers, **opts)
            tile = np.asarray(r.tiles[row][col].image, np.float32)
            assert np.abs(tile - np.asarray(fresh.image, np.float32)).mean() < 0.5, (row, col)
    # The tiles really differ: the weights and layers were applied.
    a, b, c = (np.asarray(r.tiles[i][j].image, np.float32) for i, j in [(0, 0), (0, 1), (1, 1)])
    assert np.abs(a - b).mean() > 2 and np.abs(b - c).mean() > 2


def test_sweep_without_layer_sets_is_one_row_of_the_config_layers(tiny, spy_stylize, tmp_path):
    out = tmp_path / "row.png"
    r = studies.sweep(_photo(), _painting(), ratios="1,0", backbone=tiny, output=out,
                      size=48, pyramid=1, iterations=2, **TINY_LAYERS)
    assert len(spy_stylize) == 2 and r.backbone_loads == 0
    assert r.tiles[0][1].label == "style only" and r.tiles[0][1].content_weight == 0.0
    assert r.tiles[0][0].style_layers == TINY_LAYERS["style_layers"]
    with Image.open(out) as saved:
        assert saved.size == r.image.size


def test_one_ratio_lays_the_layer_sets_side_by_side(tiny, spy_stylize):
    r = studies.sweep(_photo(), _painting(), ratios="0", layer_sets="block1_conv1;block1_conv1,block2_conv1;block3_conv1",
                      backbone=tiny, size=48, pyramid=1, iterations=2, init="noise", content_layers=("block2_conv1",))
    assert len(spy_stylize) == 3 and [len(row) for row in r.tiles] == [1, 1, 1]
    assert (r.grid.rows, r.grid.cols) == (1, 3)
    for c in range(3):
        cell = region(r.image, r.grid.tile_box(0, c))
        assert (cell == np.asarray(r.tiles[c][0].image)).all()


def test_sweep_rejects_unknown_layers_before_running(tiny, spy_stylize):
    with pytest.raises(LayerNameError, match=r"^layers: .*block5_conv1"):
        studies.sweep(_photo(), _painting(), layer_sets="block1_conv1;block5_conv1", backbone=tiny,
                      size=48, pyramid=1, iterations=2, content_layers=("block2_conv1",))
    with pytest.raises(OptionError, match=r"^ratios: "):
        studies.sweep(_photo(), _painting(), ratios="1,-2", backbone=tiny, size=48, **TINY_LAYERS)
    assert spy_stylize == []


# --------------------------------------------------------------------------- sheets


def test_sheet_puts_originals_on_top_and_each_result_under_its_style(fake_loader, spy_stylize, monkeypatch):
    import tf_style.apply

    class FakeModel:
        def stylize(self, image, size=None):
            arr = 255 - np.asarray(image)
            return Image.fromarray(arr.astype(np.uint8))

    loaded = []
    monkeypatch.setattr(tf_style.apply, "load_stylizer", lambda p: loaded.append(p) or FakeModel())
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    r = studies.sheet(_photo(), [_painting(), red], models=["m.keras"], backbone="vgg16-hed",
                      size=48, pyramid=1, iterations=2, **TINY_LAYERS)
    assert len(fake_loader) == 1 and len(spy_stylize) == 2 and loaded == ["m.keras"]
    assert (r.grid.rows, r.grid.cols, r.grid.cell) == (2, 4, (48, 40))
    g = r.image
    assert (region(g, r.grid.tile_box(0, 0)) == _photo()).all()
    assert (region(g, r.grid.tile_box(1, 0)) == WHITE).all()  # nothing under the photo
    assert (region(g, r.grid.tile_box(0, 3)) == WHITE).all()  # a model has no style image
    assert (region(g, r.grid.tile_box(1, 3)) == 255 - _photo()).all()
    assert (region(g, r.grid.tile_box(1, 1)) == np.asarray(r.results[0].image)).all()
    assert r.labels[0][0].startswith("photo") and r.labels[1][3].startswith("model")
    for c in (1, 2):
        assert (region(g, r.grid.label_box(1, c)) < 100).all(axis=-1).any()


def test_sheet_arbitrary_row_is_the_arbitrary_network_at_the_same_size(fake_loader, spy_stylize, tmp_path):
    from tf_style.arbitrary import stylize_arbitrary

    r = studies.sheet(_photo(), [_painting()], arbitrary=True, backbone="vgg16-hed",
                      size=48, pyramid=1, iterations=2, **TINY_LAYERS)
    assert (r.grid.rows, r.grid.cols) == (3, 2) and len(r.arbitrary_images) == 1
    want = stylize_arbitrary(im.resize_to(Image.fromarray(_photo()), r.grid.cell), _painting())
    assert r.arbitrary_images[0].size == r.results[0].image.size
    assert (region(r.image, r.grid.tile_box(2, 1)) == want).all()
    assert (region(r.image, r.grid.tile_box(2, 0)) == WHITE).all()
    assert r.labels[2][1].startswith("arbitrary: ")
    assert len(r.to_dict()["arbitrary"]) == 1

def test_sheet_loads_models_before_any_long_run(tiny, spy_stylize, monkeypatch):
    import tf_style.apply

    def broken(path):
        raise ModelLoadError(f"{path}: not a model")

    monkeypatch.setattr(tf_style.apply, "load_stylizer", broken)
    with pytest.raises(ModelLoadError):
        studies.sheet(_photo(), [_painting()], models=["bad.keras"], backbone=tiny, size=48, **TINY_LAYERS)
    assert spy_stylize == []


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "args, option",
    [
        (["--ratios", "1,x"], "--ratios"),
        (["--ratios", "-0.1"], "--ratios"),
        (["--ratios", ""], "--ratios"),
        (["--ratios", "nan"], "--ratios"),
        (["--layers", "block1_conv1;;block2_conv1"], "--layers"),
        (["--layers", "block1_conv1,"], "--layers"),
        (["--layers", "block1_conv1;block9_conv1"], "--layers"),  # unknown: named before any model loads
    ],
)
def test_bad_sweep_values_exit_2_with_one_line_naming_the_option(tmp_path, capsys, args, option, monkeypatch):
    from tf_style import backbones as bb

    monkeypatch.setattr(bb, "load_backbone", lambda *a, **k: pytest.fail("loaded a backbone"))
    out = tmp_path / "grid.png"
    rc = main(["sweep", str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg"), "-o", str(out),
               "--backbone", "vgg16-hed", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith(f"tf-style: error: {option}: "), err
    assert not out.exists()


def test_sweep_cli_with_a_stand_in_backbone(tmp_path, fake_loader, spy_stylize, capsys):
    content, style = picture_files(tmp_path)
    out = tmp_path / "grid.jpg"
    rc = main(["sweep", content, style, "-o", str(out), "--backbone", "vgg16-hed", "--size", "64",
               "--iterations", "2", "--pyramid", "1", "--ratios", "1,0.1", "--layers", "conv1_1;conv1_1,conv3_1",
               "--content-layers", "block2_conv1", "--json", "--quiet"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["backbone_loads"] == 1 and len(fake_loader) == 1 and len(spy_stylize) == 4
    assert [t["ratio"] for t in d["tiles"]] == [1.0, 0.1, 1.0, 0.1]
    assert d["layer_sets"] == [["block1_conv1"], ["block1_conv1", "block3_conv1"]]
    with Image.open(out) as jpg:
        assert jpg.format == "JPEG" and list(jpg.size) == d["size"]


def test_sheet_cli_with_a_stand_in_backbone(tmp_path, fake_loader, spy_stylize, capsys):
    content, style = picture_files(tmp_path)
    out = tmp_path / "sheet.png"
    rc = main(["sheet", content, style, style, "-o", str(out), "--backbone", "vgg16-hed", "--size", "64",
               "--iterations", "2", "--pyramid", "1", "--content-layers", "block2_conv1",
               "--style-layers", "block1_conv1,block2_conv1", "--json", "--quiet"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["backbone_loads"] == 1 and len(fake_loader) == 1 and len(spy_stylize) == 2
    assert len(d["styles"]) == 2 and out.is_file()


@pytest.mark.slow
def test_sweep_cli_smoke_with_the_real_backbone(tmp_path, capsys, monkeypatch):
    from tf_style import backbones as bb

    loads = []
    real = bb.load_backbone
    monkeypatch.setattr(bb, "load_backbone", lambda *a, **k: loads.append(a) or real(*a, **k))
    out = tmp_path / "grid.png"
    rc = main(["sweep", str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg"), "-o", str(out),
               "--backbone", "vgg16-hed", "--size", "64", "--iterations", "2", "--pyramid", "1",
               "--ratios", "1,0.01", "--json", "--quiet"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert len(loads) == 1 and d["backbone"] == "vgg16-hed" and len(d["tiles"]) == 2
    assert d["style_target_builds"] == 1
    with Image.open(out) as png:
        assert png.size == tuple(d["size"]) and png.size[0] > 2 * 64
