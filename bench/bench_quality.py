"""Time to quality: wall time until the loss at the output size drops below a bar.

    python3 bench/bench_quality.py [--size 512] [--bar-iterations 500] [--baseline-steps 1000]

Every contender minimizes the same loss (tf-style's defaults: vgg16-hed or --backbone,
content block4_conv2, style block1..5_conv1, weights 1 / 3 / 1e-5) for Tuebingen in the
style of Starry Night, and is judged on the same thing: the loss of a valid image
(pixels in 0..255) at the output size. The bar is the lowest loss that ``--bar-iterations``
L-BFGS-B evaluations at the output size reach from the photo.

Contenders, run one after the other in this process:

* ``lbfgs-full``: the bar run itself (L-BFGS-B at full size from the photo);
* ``tf-style default``: the default pipeline (coarse to fine, 50 final evaluations),
  continued with L-BFGS-B at the final size until it passes the bar;
* ``tutorial Adam``: the TensorFlow tutorial's loop: pixels in [0, 1], one
  ``tf.function`` per step, ``Adam(0.02, beta_1=0.99, epsilon=0.1)``, clip to [0, 1],
  content init, ``--baseline-steps`` steps. Adam only depends on the loss scale through
  epsilon, so the loss is multiplied by K = (gradient RMS of the tutorial's own loss, with
  its weights 1e4 / 1e-2 and no normalization) / (gradient RMS of ours), both at the photo:
  the tutorial's epsilon then weighs what it weighs in the tutorial.

Prints a table: seconds to the bar, evaluations, final loss, and each time as a ratio to
tf-style's.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_STYLE_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "examples" / "images" / "tubingen.jpg"
STYLE = ROOT / "examples" / "images" / "starry_night.jpg"


class _Reached(Exception):
    pass


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--bar-iterations", type=int, default=500)
    p.add_argument("--baseline-steps", type=int, default=1000)
    p.add_argument("--backbone", default="vgg16-hed")
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

    rows = []

    # -- the bar: L-BFGS-B at full size from the photo
    t0 = time.perf_counter()
    full = lbfgs(objective, content, args.bar_iterations)
    full_s = time.perf_counter() - t0
    bar = min(hh["total"] for hh in full.history)
    print(f"bar: {bar:.4f} = best loss of {args.bar_iterations} L-BFGS-B evaluations at {w}x{h} "
          f"({full_s:.0f} s)", flush=True)
    rows.append(("lbfgs-full", full_s, full.evaluations, bar))

    # -- tf-style's default pipeline, continued at the final size until it passes the bar
    seen = {"n": 0, "t": None}

    def on_step(level, levels, done, total, terms):
        seen["n"] = done
        if level == levels - 1 and terms["total"] < bar and seen["t"] is None:
            seen["t"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = stylizer.stylize(CONTENT, on_step=on_step)
    evaluations = result.iterations
    x = im.to_array(result.image)
    if seen["t"] is None:
        def stop(done, terms, current):
            if terms["total"] < bar:
                seen["t"] = time.perf_counter() - t0
                raise KeyboardInterrupt  # lbfgs returns what it has
        more = lbfgs(objective, x, args.bar_iterations, callback=stop)
        evaluations += more.evaluations
        x = more.image
    ours_s = seen["t"] if seen["t"] is not None else math.nan
    rows.append(("tf-style default (+ L-BFGS-B at full size)", ours_s, evaluations, judge(x)))
    print(f"tf-style: {ours_s:.1f} s, {evaluations} evaluations", flush=True)

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

    # At the photo the content term is 0: compare with the style term's gradient alone.
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
        return total

    t0 = time.perf_counter()
    reached, best = math.nan, math.inf
    for step in range(args.baseline_steps):
        before = image.numpy()[0] * 255.0
        value = float(train_step())  # the loss of `before`, a valid image
        best = min(best, value)
        if value < bar and math.isnan(reached):
            reached = time.perf_counter() - t0
            break
        if step % 100 == 0:
            print(f"  tutorial step {step}: {value:.4f}", flush=True)
    tut_steps = step + 1
    rows.append((f"tutorial Adam (K={k:.3g})", reached, tut_steps, best))
    del before

    print(f"\n{w}x{h}, backbone {backbone.name}, bar {bar:.4f} "
          f"(best of {args.bar_iterations} L-BFGS-B evaluations at full size)\n")
    print("| contender | seconds to the bar | evaluations | best loss | time / tf-style's |")
    print("| --- | --: | --: | --: | --: |")
    for name, seconds, n, final in rows:
        shown = "not reached" if math.isnan(seconds) else f"{seconds:.1f}"
        ratio = "" if math.isnan(seconds) or math.isnan(ours_s) else f"{seconds / ours_s:.2f}x"
        if math.isnan(seconds) and not math.isnan(ours_s) and name.startswith("tutorial"):
            elapsed = time.perf_counter() - t0
            ratio = f"> {elapsed / ours_s:.1f}x ({n} steps, {elapsed:.0f} s)"
        print(f"| {name} | {shown} | {n} | {final:.4f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
