"""Quality judge: score stylized pictures with a network other than the one that made them.

    python3 bench/judge.py --photo PHOTO --painting PAINTING PICTURE [PICTURE ...]
                           [--judges vgg16-hed,vgg19] [--size 512] [--made-with B1,B2] [--json]

For each picture and each judge network it prints

* **style distance**: the Gram-matrix distance to the painting, averaged over the judge's
  ``block1_conv1 .. block5_conv1`` (each layer's mean squared Gram error divided by the
  painting's mean squared Gram entry: tf-style's normalized style term, weight 1);
* **content distance**: the feature distance to the photo at ``block4_conv2`` (mean
  squared error divided by the photo's mean squared feature: the normalized content term).

Lower is closer. Both come from ``tf_style.losses.PerceptualLoss`` (content weight 1,
style weight 1, no TV) on the judge backbone, so they are the loss tf-style minimizes,
measured by another network: ``vgg16-hed`` (VGG16 fine-tuned for edges) judges pictures
made with ``vgg19``, and ``vgg19`` judges pictures made with ``vgg16-hed``. A network
judging its own pictures is flagged ``(own loss network)``; its figures are what it was
optimized for, not an independent view. Every picture is resized to ``--size`` (long side);
the photo to the picture's size, the painting to the same long side. The photo and the
painting themselves are scored as reference rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYERS = ("block4_conv2",)


def made_with(picture: Path) -> str:
    """The backbone a picture was made with, from the --json file beside it, if any."""
    meta = picture.with_suffix(".json")
    try:
        return str(json.loads(meta.read_text()).get("backbone", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def score(pictures, photo, painting, *, judges=("vgg16-hed", "vgg19"), size=512, backbones=None,
          makers=None):
    """``[{picture, judge, style, content, own}]``; ``backbones`` caches loaded judges;
    ``makers`` names the backbone each picture was made with (default: its JSON)."""
    import tensorflow as tf

    from tf_style import backbones as bb
    from tf_style import image as im
    from tf_style.losses import PerceptualLoss

    backbones = {} if backbones is None else backbones
    loss = PerceptualLoss(CONTENT_LAYERS, STYLE_LAYERS, content_weight=1.0, style_weight=1.0, tv_weight=0.0)
    photo_img, paint_img = im.read_image(photo), im.read_image(painting)
    rows = []
    for judge in judges:
        if judge not in backbones:
            backbones[judge] = bb.load_backbone(judge, CONTENT_LAYERS + STYLE_LAYERS, dtype="float32")
        net = backbones[judge]
        grams = loss.style_targets(net(tf.constant(im.to_array(im.resize_long_side(paint_img, size))[None])))
        entries = [("photo (reference)", photo_img, ""), ("painting (reference)", paint_img, "")]
        makers = list(makers or []) + [None] * len(pictures)
        entries += [(str(p), im.read_image(p), m or made_with(Path(p))) for p, m in zip(pictures, makers)]
        for label, image, maker in entries:
            x = im.resize_long_side(image, size)
            c = im.to_array(im.resize_to(photo_img, x.size))
            targets = loss.content_targets(net(tf.constant(c[None])))
            feats = net(tf.constant(im.to_array(x)[None]))
            _, terms = loss(feats, tf.constant(im.to_array(x)[None]), targets, grams)
            rows.append({"picture": label, "judge": judge, "made_with": maker,
                         "own": bool(maker) and maker == judge,
                         "style": float(terms["style"]), "content": float(terms["content"])})
    return rows


def table(rows) -> str:
    """Markdown; ``/ photo`` is the style distance over the photo's own (how much of the
    photo's style is left), ``/ painting`` the content distance over the painting's."""
    ref = {}
    for r in rows:
        if r["picture"].endswith("(reference)"):
            ref[(r["judge"], r["picture"].split()[0])] = r
    lines = ["| picture | made with | judge | style distance | / photo | content distance | / painting |",
             "| --- | --- | --- | --: | --: | --: | --: |"]
    for r in rows:
        judge = r["judge"] + (" (own loss network)" if r["own"] else "")
        sp = r["style"] / max(ref[(r["judge"], "photo")]["style"], 1e-12)
        cp = r["content"] / max(ref[(r["judge"], "painting")]["content"], 1e-12)
        lines.append(f"| {r['picture']} | {r['made_with'] or '-'} | {judge} | {r['style']:.4f} | {sp:.4f} "
                     f"| {r['content']:.4f} | {cp:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pictures", nargs="+", type=Path)
    p.add_argument("--photo", type=Path, required=True)
    p.add_argument("--painting", type=Path, required=True)
    p.add_argument("--judges", default="vgg16-hed,vgg19")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--made-with", default="", help="comma list: the backbone of each picture, when "
                   "no PICTURE.json beside it says (empty entries: read the JSON)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    makers = [m.strip() for m in args.made_with.split(",")] if args.made_with else None
    rows = score(args.pictures, args.photo, args.painting, judges=args.judges.split(","), size=args.size,
                 makers=makers)
    print(json.dumps(rows) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
