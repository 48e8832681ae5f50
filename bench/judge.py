"""Quality judge: score stylized pictures with a network other than the one that made them.

    python3 bench/judge.py --photo PHOTO --painting PAINTING PICTURE [PICTURE ...]
                           [--judges vgg16-hed,vgg19] [--size 512] [--made-with B1,B2] [--json]
                           [--measures gram,meancov,sliced]

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

``--measures``: which statistic the style distance compares (default ``gram``, the column
above). A Gram distance favours pictures made with the Gram loss, so to compare style
losses fairly score each picture by all three: ``meancov`` (Wasserstein-2 between the fitted
Gaussians) and ``sliced`` (sliced Wasserstein on one fixed, seeded set of directions, as many
as the layer has channels), each normalized as tf-style's style term of that loss (style weight 1, ``STYLE_LOSS_SCALE``
included). A ``measure`` column is then added.
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
          makers=None, measures=("gram",)):
    """``[{picture, judge, style, content, own}]``; ``backbones`` caches loaded judges;
    ``makers`` names the backbone each picture was made with (default: its JSON)."""
    import tensorflow as tf

    from tf_style import backbones as bb
    from tf_style import image as im
    from tf_style.losses import PerceptualLoss

    backbones = {} if backbones is None else backbones
    losses = {m: PerceptualLoss(CONTENT_LAYERS, STYLE_LAYERS, content_weight=1.0, style_weight=1.0, tv_weight=0.0,
                                style_loss=m) for m in measures}
    photo_img, paint_img = im.read_image(photo), im.read_image(painting)
    rows = []
    for judge in judges:
        if judge not in backbones:
            backbones[judge] = bb.load_backbone(judge, CONTENT_LAYERS + STYLE_LAYERS, dtype="float32")
        net = backbones[judge]
        painting_features = net(tf.constant(im.to_array(im.resize_long_side(paint_img, size))[None]))
        # One target per measure, built once (sliced: one fixed, seeded set of directions).
        targets_of = {m: loss.style_targets(painting_features) for m, loss in losses.items()}
        entries = [("photo (reference)", photo_img, ""), ("painting (reference)", paint_img, "")]
        makers = list(makers or []) + [None] * len(pictures)
        entries += [(str(p), im.read_image(p), m or made_with(Path(p))) for p, m in zip(pictures, makers)]
        for measure, loss in losses.items():
            for label, image, maker in entries:
                x = im.resize_long_side(image, size)
                c = im.to_array(im.resize_to(photo_img, x.size))
                targets = loss.content_targets(net(tf.constant(c[None])))
                feats = net(tf.constant(im.to_array(x)[None]))
                _, terms = loss(feats, tf.constant(im.to_array(x)[None]), targets, targets_of[measure])
                row = {"picture": label, "judge": judge, "made_with": maker,
                       "own": bool(maker) and maker == judge,
                       "style": float(terms["style"]), "content": float(terms["content"])}
                if measures != ("gram",):
                    row["measure"] = measure
                rows.append(row)
    return rows


def table(rows) -> str:
    """Markdown; ``/ photo`` is the style distance over the photo's own (how much of the
    photo's style is left), ``/ painting`` the content distance over the painting's."""
    ref = {}
    for r in rows:
        if r["picture"].endswith("(reference)"):
            ref[(r["judge"], r.get("measure"), r["picture"].split()[0])] = r
    by_measure = any("measure" in r for r in rows)
    lines = ["| picture | made with | judge |" + (" measure |" if by_measure else "")
             + " style distance | / photo | content distance | / painting |",
             "| --- | --- | --- |" + (" --- |" if by_measure else "") + " --: | --: | --: | --: |"]
    for r in rows:
        judge = r["judge"] + (" (own loss network)" if r["own"] else "")
        m = r.get("measure")
        sp = r["style"] / max(ref[(r["judge"], m, "photo")]["style"], 1e-12)
        cp = r["content"] / max(ref[(r["judge"], m, "painting")]["content"], 1e-12)
        lines.append(f"| {r['picture']} | {r['made_with'] or '-'} | {judge} |" + (f" {m} |" if by_measure else "")
                     + f" {r['style']:.4f} | {sp:.4f} | {r['content']:.4f} | {cp:.3f} |")
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
    p.add_argument("--measures", default="gram", help="style distance by gram, meancov and/or sliced")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    makers = [m.strip() for m in args.made_with.split(",")] if args.made_with else None
    rows = score(args.pictures, args.photo, args.painting, judges=args.judges.split(","), size=args.size,
                 makers=makers, measures=tuple(args.measures.split(",")))
    print(json.dumps(rows) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
