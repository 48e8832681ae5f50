"""Judge trained per-style networks the way a user would: beside the optimizer, on photos they never saw.

    python3 bench/eval_networks.py --network models/starry_night_mobile.keras \\
        --painting examples/images/starry_night.jpg \\
        --photos examples/images/tubingen.jpg examples/images/holdout/*.jpg \\
        --pictures examples/out/optimizer -o examples/gallery/network_vs_optimizer_starry.jpg [--size 512] [--json]

For each photo: the photo, the network's picture (``tf-style apply``) and the optimizer's
picture of the same pair (``tf-style stylize`` with its defaults at ``--size``), in one row of
a labelled grid; then one table row per picture with the quality judge's numbers
(``bench/judge.py``: style distance to the painting as a fraction of the photo's own, and
content distance to the photo as a fraction of the painting's, measured by ``vgg16-hed``, a
network other than the loss network). The last column is the network's style distance over
the optimizer's for the same photo: the goal is 1.5 or less at a similar content distance.

The optimizer's pictures take minutes each, so they are kept in ``--pictures`` (named after
the photo, the painting and the size; the README's are committed in
``examples/out/optimizer/``) and reused on the next run; the network's are remade each time
(in a temporary folder, or ``--network-pictures DIR`` to keep them).
``--network`` may be repeated (each gets its own column and rows). Without ``--pictures`` the
optimizer is left out and the last column compares each network with the first one (to judge
two trainings on many held-out photos, where making the optimizer's pictures would take hours);
the table then ends with each network's geometric means over the photos.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

JUDGE = "vgg16-hed"


def optimizer_picture(photo: Path, painting: Path, size: int, cache: Path, log) -> Path:
    """The optimizer's picture of ``photo`` in ``painting``'s style (defaults, long side
    ``size``), made once and kept in ``cache``."""
    from tf_style import stylize

    path = cache / f"{photo.stem}__{painting.stem}__{size}.png"
    if not path.exists():
        started = time.perf_counter()
        cache.mkdir(parents=True, exist_ok=True)
        stylize(photo, painting, size=size, output=path)
        log(f"optimizer: {path.name} in {time.perf_counter() - started:.0f} s")
    return path


@functools.lru_cache(maxsize=None)
def _stylizer(network: Path):
    # One load and one trace per network, not one per photo.
    from tf_style import load_stylizer

    return load_stylizer(network)


def network_picture(network: Path, photo: Path, size: int, out_dir: Path) -> Path:
    """The network's picture of ``photo`` at long side ``size`` (``tf-style apply``), in ``out_dir``."""
    from tf_style import image as im

    path = out_dir / f"{photo.stem}__{network.parent.name}_{network.stem}__{size}.png"
    im.save_image(_stylizer(network).stylize(photo, size=size), path)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", type=Path, action="append", required=True)
    p.add_argument("--painting", type=Path, required=True)
    p.add_argument("--photos", type=Path, nargs="+", required=True)
    p.add_argument("--pictures", type=Path,
                   help="folder of the optimizer's pictures (made once, reused); left out: no optimizer, "
                        "the networks against the first")
    p.add_argument("--network-pictures", type=Path, help="keep the networks' pictures in this folder")
    p.add_argument("-o", "--output", type=Path, help="the grid (JPEG or PNG)")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--tile", type=int, default=256, help="grid cell long side")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from judge import score
    from tf_style import image as im
    from tf_style.viz import make_grid

    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    scratch = tempfile.TemporaryDirectory()
    made_dir = args.network_pictures or Path(scratch.name)
    made_dir.mkdir(parents=True, exist_ok=True)
    rows, tiles, labels = [], [], []
    judges: dict = {}
    last = "style_vs_optimizer" if args.pictures else "style_vs_first"  # the first picture's style is 1
    for photo in args.photos:
        optimized = ([optimizer_picture(photo, args.painting, args.size, args.pictures, log)]
                     if args.pictures else [])
        made = [network_picture(n, photo, args.size, made_dir) for n in args.network]
        scores = score([*optimized, *made], photo, args.painting, judges=(JUDGE,), size=args.size,
                       backbones=judges, makers=["vgg19"] * (len(optimized) + len(made)))
        ref = {r["picture"].split()[0]: r for r in scores if r["picture"].endswith("(reference)")}
        pictures = [r for r in scores if not r["picture"].endswith("(reference)")]
        base_style = pictures[0]["style"]
        names = ["optimizer (stylize)"] * len(optimized) + [_name(n) for n in args.network]
        for r, name in zip(pictures, names):
            rows.append({"photo": photo.name, "picture": name,
                         "style_vs_photo": r["style"] / ref["photo"]["style"],
                         "content_vs_painting": r["content"] / ref["painting"]["content"],
                         last: r["style"] / base_style})
        tiles.append([im.resize_long_side(im.read_image(x), args.tile) for x in (photo, *made, *optimized)])
        labels.append([photo.stem[:28], *[f"{_name(n)} (apply)" for n in args.network],
                       *["optimizer (stylize)"] * len(optimized)])

    if args.output:
        im.save_image(make_grid(tiles, labels).image, args.output)
        log(f"wrote {args.output}")
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"| photo | picture | style / photo's ({JUDGE}) | content / painting's | "
              f"style / {'optimizer' if args.pictures else 'first network'}'s |")
        print("| --- | --- | --: | --: | --: |")
        for r in rows:
            print(f"| {r['photo']} | {r['picture']} | {r['style_vs_photo']:.4f} | "
                  f"{r['content_vs_painting']:.3f} | {r[last]:.2f} |")
        if not args.pictures:
            for name in dict.fromkeys(r["picture"] for r in rows):
                mine = [r for r in rows if r["picture"] == name]
                print(f"| {len(mine)} photos, geometric mean | {name} | {_gmean(r['style_vs_photo'] for r in mine):.4f} | "
                      f"{_gmean(r['content_vs_painting'] for r in mine):.3f} | {_gmean(r[last] for r in mine):.2f} |")
    return 0


def _name(network: Path) -> str:
    """The network's label: its file name, with its folder when that is all that tells two apart
    (every run writes ``model.keras``)."""
    return f"{network.parent.name}/{network.stem}" if network.stem == "model" else network.stem


def _gmean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


if __name__ == "__main__":
    raise SystemExit(main())
