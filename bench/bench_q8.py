"""What the offline VGG19's 8-bit quantization costs, measured without the float32 file.

    python3 bench/bench_q8.py [--size 512] [--stylize-size 256] [--iterations 60] [--seed 0]

Keras' exact float32 VGG19 cannot be downloaded here, so the error of the shipped copy
(every kernel k-means quantized to 256 values) is estimated two ways, on Tuebingen and
The Starry Night:

* **jitter**: each weight moved to a random point of its own k-means cell (uniform between
  the midpoints to the neighbouring centroids): a plausible float32 original, with the
  rounding error's size and spread. Compared with the shipped weights.
* **7-bit**: the shipped weights re-quantized to 128 values per layer (1-D k-means,
  weighted by the counts); one bit less. Uniform quantization error halves with each bit,
  so 8-bit against float32 is about half the 7-bit-against-8-bit figure.

For each it prints, per default layer, the relative feature error ``|F' - F| / |F|`` and
the relative Gram error ``|G' - G| / |G|`` on the photo and the painting; then one
stylization at ``--stylize-size`` with each weight set from the same start (float32,
L-BFGS-B, tf-style's default loss weights): the loss each picture reaches, judged by the
shipped copy, and the mean absolute pixel difference from the shipped copy's picture (0..255).
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
sys.path.insert(0, str(ROOT))
CONTENT = ROOT / "examples" / "images" / "tubingen.jpg"
STYLE = ROOT / "examples" / "images" / "starry_night.jpg"
LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block4_conv2", "block5_conv1")


def jittered(q, rng):
    import numpy as np

    out = {}
    for name in q.indices:
        table = q.tables[name]
        order = np.argsort(table)
        c = table[order]
        mids = (c[1:] + c[:-1]) / 2
        lo = np.concatenate([[c[0] - (mids[0] - c[0])], mids])
        hi = np.concatenate([mids, [c[-1] + (c[-1] - mids[-1])]])
        rank = np.empty(256, np.int64)
        rank[order] = np.arange(256)
        r = rank[q.indices[name]]
        w = rng.uniform(lo[r], hi[r]).astype(np.float32)
        out[name] = (w, q.biases[name])
    return out


def requantized(q, levels: int = 128, iters: int = 30):
    """1-D k-means of each layer's 256 values (weighted by counts) down to ``levels``."""
    import numpy as np

    out = {}
    for name in q.indices:
        table = q.tables[name].astype(np.float64)
        counts = np.bincount(q.indices[name].ravel(), minlength=256).astype(np.float64)
        centers = np.quantile(np.repeat(table, counts.astype(np.int64)), np.linspace(0, 1, levels))
        for _ in range(iters):
            assign = np.abs(table[:, None] - centers[None]).argmin(1)
            for k in range(levels):
                m = assign == k
                if counts[m].sum() > 0:
                    centers[k] = (table[m] * counts[m]).sum() / counts[m].sum()
        assign = np.abs(table[:, None] - centers[None]).argmin(1)
        out[name] = (centers[assign].astype(np.float32)[q.indices[name]], q.biases[name])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--stylize-size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from tf_style import backbones as bb
    from tf_style import image as im
    from tf_style import vgg19_q8
    from tf_style.losses import gram_matrix
    from tf_style.transfer import Stylizer

    q = vgg19_q8.load_shipped()
    variants = {"jitter": jittered(q, np.random.default_rng(args.seed)), "7-bit": requantized(q)}
    shipped = bb.load_backbone("vgg19", LAYERS, dtype="float32")
    print(f"weights: {shipped.weights_source}")

    def with_weights(values, layers=LAYERS):
        other = bb.load_backbone("vgg19", layers, dtype="float32")
        for name, (k, b) in (values or {}).items():
            try:
                other.model.get_layer(name).set_weights([k, b])
            except ValueError:
                pass  # a layer past the deepest one used
        return other

    images = {"photo": im.to_array(im.resize_long_side(im.read_image(CONTENT), args.size))[None],
              "painting": im.to_array(im.resize_long_side(im.read_image(STYLE), args.size))[None]}
    base = {k: shipped(tf.constant(v)) for k, v in images.items()}
    nets = {k: with_weights(v) for k, v in variants.items()}
    print(f"\nRelative errors against the shipped 8-bit weights at {args.size} px (feature | Gram):\n")
    header = "| layer | " + " | ".join(f"{v} {k}" for v in variants for k in images) + " |"
    print(header)
    print("| --- |" + " --: |" * (len(variants) * len(images)))
    feats = {(v, k): nets[v](tf.constant(x)) for v in variants for k, x in images.items()}
    for layer in LAYERS:
        cells = []
        for v in variants:
            for k in images:
                a, b = base[k][layer], feats[(v, k)][layer]
                fe = float(tf.norm(b - a) / tf.norm(a))
                ge = float(tf.norm(gram_matrix(b) - gram_matrix(a)) / tf.norm(gram_matrix(a)))
                cells.append(f"{fe:.4f} / {ge:.4f}")
        print(f"| {layer} | " + " | ".join(cells) + " |")

    print(f"\nStylization at {args.stylize_size} px, {args.iterations} L-BFGS-B evaluations, float32, "
          f"same start; pictures compared with the shipped weights' picture:\n")
    print("| weights | seconds | final loss (own net) | loss judged by shipped net | mean abs pixel diff |")
    print("| --- | --: | --: | --: | --: |")
    judge = Stylizer(STYLE, size=args.stylize_size, iterations=args.iterations, dtype="float32",
                     backbone=bb.load_backbone("vgg19", bb.DEFAULT_CONTENT_LAYERS + bb.DEFAULT_STYLE_LAYERS,
                                               dtype="float32"))
    pictures = {}
    for label, values in [("shipped 8-bit", None)] + list(variants.items()):
        net = with_weights(values, bb.DEFAULT_CONTENT_LAYERS + bb.DEFAULT_STYLE_LAYERS)
        s = Stylizer(STYLE, size=args.stylize_size, iterations=args.iterations, dtype="float32", backbone=net)
        t = time.perf_counter()
        r = s.stylize(CONTENT)
        secs = time.perf_counter() - t
        x = im.to_array(r.image)
        pictures[label] = x
        content = im.to_array(im.resize_to(im.read_image(CONTENT), r.image.size))
        obj = judge._objective(content[None], r.image.size)
        obj.image.assign(x[None])
        judged = float(obj.evaluate()[0]["total"])
        diff = float(np.abs(x - pictures["shipped 8-bit"]).mean())
        print(f"| {label} | {secs:.0f} | {r.final_terms['total']:.4f} | {judged:.4f} | {diff:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
