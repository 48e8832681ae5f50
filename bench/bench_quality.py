"""Time to quality: wall time until the loss at the output size drops below a bar.

    python3 bench/bench_quality.py [--size 512] [--bar-iterations 500] [--baseline-steps 1000]
                                   [--continue-to 1.0] [--baseline-seconds S]

Every contender minimizes the same loss (tf-style's defaults: --backbone, default vgg19,
content block4_conv2, style block1..5_conv1, weights 1 / 30 / 1e-4) for Tuebingen in the
style of Starry Night, and is judged on the same thing: the loss of a valid image
(pixels in 0..255) at the output size. The bar is the lowest loss that ``--bar-iterations``
L-BFGS-B evaluations at the output size reach from the photo.

Contenders, run one after the other in this process:

* ``lbfgs-full``: the bar run itself (L-BFGS-B at full size from the photo);
* ``tf-style default``: the pipeline with ``StylizeConfig``'s defaults (since the fourth
  session: no pyramid, L-BFGS-B at the output size from the photo; 200 evaluations since
  the ninth),
  continued with L-BFGS-B at the final size until it passes the bar;
* ``tutorial Adam``: the TensorFlow tutorial's loop: pixels in [0, 1], one
  ``tf.function`` per step, ``Adam(0.02, beta_1=0.99, epsilon=0.1)``, clip to [0, 1],
  content init, ``--baseline-steps`` steps. Adam only depends on the loss scale through
  epsilon, so the loss is multiplied by K = (gradient RMS of the tutorial's own loss, with
  its weights 1e4 / 1e-2 and no normalization) / (gradient RMS of ours), both at the photo:
  the tutorial's epsilon then weighs what it weighs in the tutorial.

``--continue-to F`` stops the default pipeline's continuation at F x bar, and
``--baseline-seconds S`` stops the tutorial's loop after S seconds: a threshold it has not
reached by then shows as "not in S s", so its ratio is a lower bound.

Prints a table: for several multiples of the bar (a good picture is reached long before
the last percent of loss), the seconds and evaluations each contender needed, and the
ratio of its time to tf-style's default.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_STYLE_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "examples" / "images" / "tubingen.jpg"
STYLE = ROOT / "examples" / "images" / "starry_night.jpg"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--bar-iterations", type=int, default=500)
    p.add_argument("--baseline-steps", type=int, default=1000)
    p.add_argument("--backbone", default="vgg19")
    p.add_argument("--continue-to", type=float, default=1.0)
    p.add_argument("--baseline-seconds", type=float, default=None)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from tf_style import image as im
    from tf_style.config import StylizeConfig
    from tf_style.losses import PerceptualLoss
    from tf_style.optimize import lbfgs
    from tf_style.transfer import Stylizer

    cfg = StylizeConfig(size=args.size, backbone=args.backbone)
    stylizer = Stylizer(STYLE, cfg)
    photo = im.read_image(CONTENT)
    w, h = im.resize_long_side(photo, args.size).size
    content = im.to_array(im.resize_to(photo, (w, h)))
    objective = stylizer._objective(content[None], (w, h))  # the shared judge

    def judge(x: np.ndarray) -> float:
        objective.image.assign(np.clip(x, 0, 255)[None].astype(np.float32))
        return float(objective.evaluate()[0]["total"])

    # Each contender's trajectory: (seconds since its start, loss of a valid image at the
    # output size), one point per evaluation at that size.
    curves = {}

    # -- the bar: L-BFGS-B at full size from the photo
    judge(content)  # trace outside the timing (tf-style's own run pays for its coarse level's)
    curve = []
    t0 = time.perf_counter()
    lbfgs(objective, content, args.bar_iterations,
                 callback=lambda d, terms, cur: curve.append((time.perf_counter() - t0, terms["total"])))
    bar = min(v for _, v in curve)
    curves[f"L-BFGS-B at full size ({args.bar_iterations} evaluations)"] = curve
    print(f"bar: {bar:.4f} = best loss of {args.bar_iterations} L-BFGS-B evaluations at {w}x{h} "
          f"({curve[-1][0]:.0f} s)", flush=True)

    # -- tf-style's default pipeline, continued at the final size until it passes the bar
    curve = []

    def on_step(level, levels, done, total, terms):
        if level == levels - 1:
            curve.append((time.perf_counter() - t0, terms["total"]))

    t0 = time.perf_counter()
    result = stylizer.stylize(CONTENT, on_step=on_step)
    pipeline_s = time.perf_counter() - t0

    def stop(done, terms, current):
        curve.append((time.perf_counter() - t0, terms["total"]))
        if terms["total"] < args.continue_to * bar:
            raise KeyboardInterrupt  # lbfgs returns what it has

    if min(v for _, v in curve) >= args.continue_to * bar:
        lbfgs(objective, im.to_array(result.image), args.bar_iterations, callback=stop)
    levels = " + ".join(f"{n}@{s[0]}" for n, s in zip(
        [cfg.iterations * 2 ** (len(result.sizes) - 1 - k) for k in range(len(result.sizes))], result.sizes))
    curves[f"tf-style default ({levels}, {pipeline_s:.0f} s), then L-BFGS-B at full size"] = curve
    print(f"tf-style default pipeline: {pipeline_s:.1f} s, loss {result.final_terms['total']:.4f}", flush=True)

    # -- the TensorFlow tutorial's Adam loop, on the same loss
    backbone, loss = stylizer.backbone, stylizer.loss
    tutorial_loss = PerceptualLoss(loss.content_layers, loss.style_layers, content_weight=1e4,
                                   style_weight=1e-2, normalize=False)
    content_t = loss.content_targets(backbone(tf.constant(content[None])))
    grams = stylizer.style_grams(max(w, h))

    def grad_rms(fn) -> float:
        x01 = tf.Variable(content[None] / 255.0)
        with tf.GradientTape() as tape:
            total, _ = fn(backbone(x01 * 255.0), x01 * 255.0, content_t, grams)
        g = tape.gradient(total, x01)
        return float(tf.sqrt(tf.reduce_mean(tf.square(g))))

    # At the photo the content term is 0: this compares the style terms' gradients.
    k = grad_rms(tutorial_loss) / max(grad_rms(loss), 1e-30)
    image = tf.Variable(content[None] / 255.0)
    opt = tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=0.1)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            total, terms = loss(backbone(image * 255.0), image * 255.0, content_t, grams)
            scaled = k * total
        opt.apply_gradients([(tape.gradient(scaled, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return total  # the loss of the image before the step: a valid image

    train_step.get_concrete_function()  # trace outside the timing
    curve = []
    t0 = time.perf_counter()
    for step in range(args.baseline_steps):
        value = float(train_step())
        curve.append((time.perf_counter() - t0, value))
        if value < bar or (args.baseline_seconds and curve[-1][0] > args.baseline_seconds):
            break
        if step % 100 == 0:
            print(f"  tutorial step {step}: {value:.4f}", flush=True)
    curves[f"TensorFlow tutorial: Adam(0.02, beta_1=0.99, epsilon=0.1) on [0, 1], loss x {k:.3g}"] = curve

    print(f"\n{w}x{h}, backbone {backbone.name}; bar = {bar:.4f}, the best loss of "
          f"{args.bar_iterations} L-BFGS-B evaluations at full size from the photo. Seconds "
          f"until the loss of a valid image at {w}x{h} is below each multiple of the bar "
          f"(evaluations in brackets); ratios are to tf-style's default.\n")
    factors = (2.0, 1.5, 1.25, 1.1, 1.0)
    print("| contender | " + " | ".join(f"{f:g} x bar" for f in factors) + " | best loss |")
    print("| --- | " + " | ".join("--:" for _ in factors) + " | --: |")

    def reach(curve, level):
        return next(((t, i + 1) for i, (t, v) in enumerate(curve) if v <= level), None)

    names = list(curves)
    ours = curves[names[1]]
    for name in names:
        cells = []
        for f in factors:
            hit, mine = reach(curves[name], f * bar), reach(ours, f * bar)
            if hit is None:
                cells.append(f"not in {curves[name][-1][0]:.0f} s ({len(curves[name])})")
                continue
            ratio = f", {hit[0] / mine[0]:.2f}x" if mine and name != names[1] else ""
            cells.append(f"{hit[0]:.0f} s ({hit[1]}){ratio}")
        print(f"| {name} | " + " | ".join(cells) + f" | {min(v for _, v in curves[name]):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
