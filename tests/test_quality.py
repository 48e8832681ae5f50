"""Quality with the real offline backbone (vgg16-hed) at 128 px: the style actually transfers."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT, SHIPPED_NETWORKS, load_script
from tf_style import backbones as bb
from tf_style import image as im
from tf_style.losses import gram_matrix
from tf_style.transfer import Stylizer

pytestmark = pytest.mark.slow

IMAGES = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "images"
CONTENT, STYLE = str(IMAGES / "tubingen.jpg"), str(IMAGES / "starry_night.jpg")


@pytest.fixture(scope="module")
def hed():
    return bb.load_backbone("vgg16-hed", bb.DEFAULT_CONTENT_LAYERS + bb.DEFAULT_STYLE_LAYERS)


def _gram_distance(backbone, a, b):
    """Normalized Gram distance over the style layers between two same-size images."""
    fa = backbone(tf.constant(im.to_array(a)[None]))
    fb = backbone(tf.constant(im.to_array(b)[None]))
    out = 0.0
    for name in bb.DEFAULT_STYLE_LAYERS:
        ga, gb = gram_matrix(fa[name]).numpy(), gram_matrix(fb[name]).numpy()
        out += ((ga - gb) ** 2).mean() / (gb**2).mean()
    return out / len(bb.DEFAULT_STYLE_LAYERS)


@pytest.mark.parametrize("optimizer, iterations, factor", [("lbfgs", 40, 15.0), ("adam", 80, 5.0)])
def test_style_transfers_with_both_optimizers(hed, optimizer, iterations, factor):
    # Gram: the thresholds and the judge below measure Gram distances.
    s = Stylizer(STYLE, backbone=hed, size=128, iterations=iterations, pyramid=1, optimizer=optimizer,
                 style_loss="gram")
    r = s.stylize(CONTENT)
    assert r.image.size == (128, 96)
    # L-BFGS: 19.8x since its objective is scaled (it now trades a little more content for a
    # lower total, 2.76 -> 0.50); 15x leaves room for other CPUs' rounding.
    assert r.final_terms["style"] < r.history[0]["style"] / factor, (r.history[0], r.final_terms)
    assert r.final_terms["total"] < 0.3 * r.history[0]["total"], (r.history[0], r.final_terms)
    # The content is still there: far closer to the photo than the painting is.
    photo = im.resize_to(im.read_image(CONTENT), r.image.size)
    painting = im.resize_to(im.read_image(STYLE), r.image.size)
    d_out = _gram_distance(hed, r.image, painting)
    d_photo = _gram_distance(hed, photo, painting)
    assert d_out < 0.25 * d_photo, (d_out, d_photo)
    diff_out = np.abs(np.asarray(r.image, np.float32) - np.asarray(photo, np.float32)).mean()
    diff_painting = np.abs(np.asarray(painting, np.float32) - np.asarray(photo, np.float32)).mean()
    assert diff_out < diff_painting


def test_preserve_color_keeps_the_photos_chroma(hed):
    s = Stylizer(STYLE, backbone=hed, size=128, iterations=20, pyramid=1, preserve_color=True)
    r = s.stylize(CONTENT)
    photo = im.to_array(im.resize_to(im.read_image(CONTENT), r.image.size))
    out = im.to_array(r.image)
    yiq_out, yiq_photo = im.rgb_to_yiq(out), im.rgb_to_yiq(photo)
    chroma_err = np.abs(yiq_out[..., 1:] - yiq_photo[..., 1:]).mean()
    luma_change = np.abs(yiq_out[..., 0] - yiq_photo[..., 0]).mean()
    assert chroma_err < 2.0, chroma_err  # rounding and clipping only
    assert luma_change > 5 * chroma_err  # while the luminance was stylized


def test_same_seed_same_pixels(hed):
    def run(seed):
        s = Stylizer(STYLE, backbone=hed, size=64, iterations=5, pyramid=1, init="noise", seed=seed)
        return np.asarray(s.stylize(CONTENT).image)

    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def _judge(hed, size):
    """The float32 objective at ``size`` (width, height): one judge for every contender."""
    s = Stylizer(STYLE, backbone=hed, size=max(size), pyramid=1)
    content = im.to_array(im.resize_to(im.read_image(CONTENT), size))[None]
    objective = s._objective(content, size)

    def loss(picture):
        objective.image.assign(im.to_array(picture)[None])
        return float(objective.evaluate()[0]["total"])

    return loss


def test_bfloat16_reaches_the_float32_loss(hed):
    """Convolutions in bfloat16 (losses and pixels float32): judged by the float32
    objective, the picture is as good as float32's."""
    h16 = bb.load_backbone("vgg16-hed", bb.DEFAULT_CONTENT_LAYERS + bb.DEFAULT_STYLE_LAYERS, dtype="bfloat16")
    options = dict(size=128, iterations=20, pyramid=1)
    a = Stylizer(STYLE, backbone=hed, **options).stylize(CONTENT)
    b = Stylizer(STYLE, backbone=h16, **options).stylize(CONTENT)
    judge = _judge(hed, (128, 96))
    start = judge(im.resize_to(im.read_image(CONTENT), (128, 96)))
    assert judge(a.image) < 0.3 * start
    assert judge(b.image) < 1.15 * judge(a.image), (start, judge(a.image), judge(b.image))
    diff = np.abs(np.asarray(a.image, np.float32) - np.asarray(b.image, np.float32)).mean()
    assert diff < 12, diff  # mean per-channel difference, out of 255


def test_coarse_to_fine_reaches_the_full_size_loss_bound(hed):
    """128 -> 256 (80 evaluations at 128, a quarter of the cost each, then 40 at 256)
    against 60 evaluations at 256 from the photo: the same computation, and a loss as low
    by the same judge (bench/bench_quality.py measures the time to a quality bar)."""
    pyramid = Stylizer(STYLE, backbone=hed, size=256, iterations=40, pyramid=2).stylize(CONTENT)
    full = Stylizer(STYLE, backbone=hed, size=256, iterations=60, pyramid=1).stylize(CONTENT)
    assert pyramid.sizes == [(128, 96), (256, 192)]
    judge = _judge(hed, (256, 192))
    start = judge(im.resize_to(im.read_image(CONTENT), (256, 192)))
    assert judge(pyramid.image) < 0.3 * start
    assert judge(pyramid.image) < 1.15 * judge(full.image), (judge(pyramid.image), judge(full.image))


@pytest.mark.parametrize("style_loss, fall", [("meancov", 3.5), ("gram", 10.0)])
def test_the_default_vgg19_offline_copy_transfers_style_judged_by_another_network(hed, tmp_path, monkeypatch,
                                                                                  style_loss, fall):
    """The default backbone with no Keras cache (vgg19 from the shipped 8-bit copy) and the
    default loss weights, judged by vgg16-hed, a network it was not optimized with: the
    default style loss (meancov) and Gram. Each loss's own term falls by its own factor
    (meancov 5.1x measured in 40 evaluations, gram ~13x); the judge's Gram distance and
    content features are the same yardstick for both."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    s = Stylizer(STYLE, size=128, iterations=40, dtype="float32", style_loss=style_loss)
    assert s.backbone.name == "vgg19" and s.backbone.weights_source.startswith("imagenet-q8 (")
    r = s.stylize(CONTENT)
    assert r.final_terms["style"] < r.history[0]["style"] / fall, (r.history[0], r.final_terms)
    photo = im.resize_to(im.read_image(CONTENT), r.image.size)
    painting = im.resize_to(im.read_image(STYLE), r.image.size)
    d_out = _gram_distance(hed, r.image, painting)
    d_photo = _gram_distance(hed, photo, painting)
    assert d_out < 0.35 * d_photo, (d_out, d_photo)
    # ...and the photo is still there, by the judge's content features
    judge = hed(tf.constant(np.stack([im.to_array(x) for x in (r.image, photo, painting)])))["block4_conv2"]
    to_photo = float(tf.reduce_mean(tf.square(judge[0] - judge[1])))
    painting_to_photo = float(tf.reduce_mean(tf.square(judge[2] - judge[1])))
    # 0.78 measured at 128 px (the judge, an edge detector, sees the strokes replace the
    # photo's edges; 0.85 at 512 px, bench/README.md); the painting itself is 1.0.
    assert to_photo < 0.9 * painting_to_photo, (to_photo, painting_to_photo)
    diff_out = np.abs(im.to_array(r.image) - im.to_array(photo)).mean()
    diff_painting = np.abs(im.to_array(painting) - im.to_array(photo)).mean()
    assert diff_out < 0.75 * diff_painting, (diff_out, diff_painting)


# --------------------------------------------------------------------------- the shipped networks

# Judged on Tuebingen at 512 px by vgg16-hed (bench/eval_networks.py), measured against the
# optimizer's pictures with reflect padding (2026-12-03): style distance over the optimizer's /
# content distance over the painting's: starry_night_mobile 4.66 / 0.896 (trained from scratch with
# the shift term, 2026-12-04; the one it replaced 3.75 / 0.865), the_scream_mobile
# 1.88 / 0.757 (both with the 32 px border; the_scream_mobile distilled from the_scream_johnson
# with --loss-margin 16), starry_night_johnson 6.95 / 0.903 (trained with the shift term,
# 2026-12-04; the one it replaced 7.01 / 0.913), the_scream_johnson 1.25 / 0.884 (300 more
# steps at style weight 64, 2026-12-04; the one it replaced 1.48 / 0.882)
# (the optimizer's content distance there: 0.837 and 1.009; against its zero-padded pictures
# the ratios were 3.95 (the starry_night_mobile replaced on 2026-12-04), 1.93, 7.39 and 1.58;
# the 1900-step demo they replaced: 3.2 / 0.963, a
# picture that had lost the photo). The bounds
# leave room for other CPUs' rounding and catch a network that paints the photo away or
# barely paints it.
BOUNDS = {"starry_night_mobile": (6.0, 0.92), "the_scream_mobile": (3.5, 0.92),
          "starry_night_johnson": (9.0, 0.95), "the_scream_johnson": (2.5, 0.92)}


@pytest.mark.parametrize("network", sorted(SHIPPED_NETWORKS))
def test_shipped_networks_paint_the_style_and_keep_the_photo(network, capsys):
    """What bench/eval_networks.py reports for the README, checked: near the optimizer's style,
    far closer to the photo than the painting is."""
    import json

    painting = IMAGES / f"{SHIPPED_NETWORKS[network]}.jpg"
    pictures = ROOT / "examples" / "out" / "optimizer"
    reference = pictures / f"tubingen__{painting.stem}__512.png"
    assert reference.is_file(), f"{reference}: the optimizer's committed picture is missing"
    module = load_script("bench/eval_networks.py")
    argv = ["--network", str(ROOT / "models" / f"{network}.keras"), "--painting", str(painting),
            "--photos", CONTENT, "--pictures", str(pictures), "--json"]
    assert module.main(argv) == 0
    rows = {r["picture"]: r for r in json.loads(capsys.readouterr().out)}
    ours = rows[network]
    max_style, max_content = BOUNDS[network]
    assert ours["style_vs_optimizer"] < max_style, ours
    assert ours["style_vs_photo"] < 0.05, ours  # the photo's own statistics are 1
    assert ours["content_vs_painting"] < max_content, ours


@pytest.mark.parametrize("network", sorted(n for n in SHIPPED_NETWORKS if n.endswith("_mobile")))
def test_shipped_border_networks_paint_no_edge_stripe(network):
    """A ``border`` network's edge pixels are what they would be if the photo went on: the
    margin is wider than what it learnt about its zero-padded edge (networks.BORDER)."""
    from tf_style import networks
    from tf_style.runtime import load_keras_model

    model = load_keras_model(ROOT / "models" / f"{network}.keras")
    assert model.padding == "border"
    photo = im.read_image(CONTENT)
    x = im.to_array(photo.resize((512, 512 * photo.height // photo.width)))
    far = 96  # the picture continued by reflection far beyond the network's own margin
    y = model(x[None]).numpy()[0]
    ref = model(np.pad(x, ((far, far), (far, far), (0, 0)), mode="reflect")[None]).numpy()[0, far:-far, far:-far]
    d = np.abs(y - ref)
    worst = max(d[:, -16:].mean(), d[:, :16].mean(), d[-16:].mean(), d[:16].mean())
    # Measured 11.3 (The Scream; 6.9 after its segment 8, 2026-12-04) and 7.3 (The Starry Night) with BORDER 32; with 8 px,
    # 39.1 and 16.3 (The Scream's orange stripe down the right edge). Out of 255.
    assert worst < 15.0, (network, networks.BORDER, worst)


@pytest.mark.parametrize("network", sorted(SHIPPED_NETWORKS))
def test_shipped_networks_paint_no_edge_line(network):
    """No line down any edge (bench/edge_lines.py): per edge and channel, the edge row or
    column differs from the one 8 px in by less than 24 grey levels, on average over the
    example photos' 256 px crops."""
    from tf_style.runtime import load_keras_model

    module = load_script("bench/edge_lines.py")
    photos = [IMAGES / n for n in ("tubingen.jpg", "astronaut.png", "chelsea.png", "coffee.png")] + [IMAGES / "holdout"]
    batch = module.crops(photos, 12, 256)
    model = load_keras_model(ROOT / "models" / f"{network}.keras")
    steps = module.edge_steps(module.pictures(model, batch), 8)
    worst = max((abs(float(v)), edge) for edge, rgb in steps.items() for v in rgb)
    # Measured (worst edge and channel): the_scream_mobile 12 (2026-12-04; earlier 9 and 10), starry_night_mobile 12
    # (bottom; 2026-12-04, the one it replaced 10),
    # the_scream_johnson 5 (both versions), starry_night_johnson 18 (bottom; the one it replaced also 18); the distilled
    # the_scream_mobile trained without --loss-margin painted red +29 (step 600) and +45 (900).
    assert worst[0] < 24.0, (network, worst, {k: v.round(1).tolist() for k, v in steps.items()})


# --------------------------------------------------------------------------- the optimizer's edges

def test_reflect_padding_keeps_the_optimizer_from_framing_the_picture():
    """With VGG's zero padding the optimizer paints a line down the picture's edges (The
    Scream on the held-out storm: red down the right edge); mirrored padding, the default,
    does not. Per edge and channel, the edge column or row minus the one 8 px in
    (bench/edge_lines.py), default backbone and weights, 256 px, 100 evaluations."""
    module = load_script("bench/edge_lines.py")
    worst = {}
    for padding in ("zeros", "reflect"):
        s = Stylizer(str(IMAGES / "the_scream.jpg"), size=256, iterations=100, padding=padding)
        steps = module.edge_steps(im.to_array(s.stylize(str(IMAGES / "holdout" / "storm.jpg")).image)[None], 8)
        worst[padding] = max(abs(float(v)) for rgb in steps.values() for v in rgb)
    # Measured on a Zen 4 (bfloat16 convolutions): zeros 122 (red, right edge), reflect 42.
    assert worst["reflect"] < 0.5 * worst["zeros"] and worst["reflect"] < 60, worst
