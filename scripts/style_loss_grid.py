"""A grid comparing the style losses (gram, meancov, sliced) at the same time budget.

    PYTHONPATH=. python3 scripts/style_loss_grid.py -o examples/gallery/style_losses.jpg \\
        --photos examples/images/tubingen.jpg,examples/images/chelsea.png,examples/images/astronaut.png \\
        --paintings examples/images/starry_night.jpg,examples/images/the_scream.jpg \\
        --size 256 --budget 200 [--losses gram,meancov,sliced] [--pictures DIR] [--json FILE]

One row per photo x painting: the photo, the painting, then the photo in the painting's
style by each loss (``tf-style stylize`` with its defaults otherwise). Every loss gets the
same time: ``--budget`` evaluations of the Gram loss, converted into each loss's own
number of evaluations by its cost per evaluation relative to the Gram's, measured here
first (a few evaluations of each loss, interleaved, at ``--size``, on the first photo and
painting; tracing excluded), or given with ``--evaluations gram=80,meancov=67,sliced=32``
(on a shared machine a short measurement is noisy). ``--pictures DIR`` also writes each picture as PNG (for
``bench/judge.py``), and with ``--reuse`` takes the ones already there (finishing an interrupted
grid); ``--json`` the costs, evaluations and seconds of every picture.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def step_seconds(stylizer, photo, evaluations: int = 6) -> list:
    """Seconds of each evaluation after the first (which includes tracing)."""
    marks = []
    stylizer.stylize(photo, on_step=lambda *_: marks.append(time.perf_counter()))
    return [b - a for a, b in zip(marks, marks[1:])]


def measure(losses, photos, paintings, base, backbone, args):
    """Evaluations of each loss worth ``args.budget`` Gram evaluations, by the median cost
    of a few evaluations of each, interleaved (``args.rounds`` rounds)."""
    from tf_style.transfer import Stylizer

    costs = {loss: [] for loss in losses}
    probe = {loss: Stylizer(paintings[0], base.with_options(style_loss=loss, iterations=8), backbone=backbone)
             for loss in losses}
    for _ in range(args.rounds):
        for loss in losses:
            costs[loss] += step_seconds(probe[loss], photos[0])
    per_step = {loss: sorted(v)[len(v) // 2] for loss, v in costs.items()}
    gram_step = per_step.get("gram", per_step[losses[0]])
    evaluations = {loss: max(1, round(args.budget * gram_step / per_step[loss])) for loss in losses}
    print("s/evaluation:", {k: round(v, 3) for k, v in per_step.items()}, "evaluations:", evaluations, flush=True)
    return evaluations, per_step


def main(argv=None) -> int:
    from tf_style import backbones as bb
    from tf_style import image as im
    from tf_style.config import StylizeConfig
    from tf_style.viz import make_grid
    from tf_style.transfer import Stylizer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--photos", required=True)
    p.add_argument("--paintings", required=True)
    p.add_argument("--losses", default="gram,meancov,sliced")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--budget", type=int, default=200, help="Gram-loss evaluations' worth of time per picture")
    p.add_argument("--style-weight", type=float, default=None, help="(default: stylize's)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the cost measurement")
    p.add_argument("--evaluations", default=None, help="loss=N,...: evaluations of each loss (no measurement)")
    p.add_argument("--pictures", default=None, help="folder for each picture as PNG")
    p.add_argument("--json", default=None)
    p.add_argument("--reuse", action="store_true",
                   help="take a picture already in --pictures instead of making it again (an interrupted run)")
    args = p.parse_args(argv)
    photos, paintings = args.photos.split(","), args.paintings.split(",")
    losses = args.losses.split(",")
    base = StylizeConfig(size=args.size)
    if args.style_weight is not None:
        base = base.with_options(style_weight=args.style_weight)
    arch = bb.resolve_name(base.backbone, log=print)
    backbone = bb.load_backbone(arch, base.content_layers + base.style_layers, dtype=base.dtype, log=print)

    if args.evaluations:
        evaluations = {k: int(v) for k, v in (item.split("=") for item in args.evaluations.split(","))}
        per_step: dict = {}
    else:
        evaluations, per_step = measure(losses, photos, paintings, base, backbone, args)
    rows, labels, records = [], [], []

    for painting in paintings:
        stylizers = {loss: Stylizer(painting, base.with_options(style_loss=loss, iterations=evaluations[loss]),
                                    backbone=backbone) for loss in losses}
        for photo in photos:
            row = [im.resize_long_side(im.read_image(x), args.size) for x in (photo, painting)]
            label = [Path(photo).stem, Path(painting).stem]
            for loss in losses:
                png = Path(args.pictures or ".") / f"{Path(photo).stem}_{Path(painting).stem}_{loss}.png"
                if args.reuse and args.pictures and png.exists():
                    row.append(im.read_image(png))
                    label.append(f"{loss}: {evaluations[loss]} ev")
                    records.append({"photo": photo, "painting": painting, "style_loss": loss, "reused": str(png)})
                    print(records[-1], flush=True)
                    continue
                r = stylizers[loss].stylize(photo)
                row.append(r.image)
                label.append(f"{loss}: {r.iterations} ev, {r.seconds:.0f} s")
                records.append({"photo": photo, "painting": painting, "style_loss": loss,
                                "iterations": r.iterations, "seconds": round(r.seconds, 2),
                                "final": r.final_terms})
                print(records[-1], flush=True)
                if args.pictures:
                    Path(args.pictures).mkdir(parents=True, exist_ok=True)
                    r.image.save(png)
            rows.append(row)
            labels.append(label)
    grid = make_grid(rows, labels)
    im.save_image(grid.image, args.output)
    print(f"wrote {args.output} {grid.image.size}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "size": args.size, "budget_gram_evaluations": args.budget, "backbone": backbone.name,
            "weights": backbone.weights_source, "s_per_evaluation": per_step, "evaluations": evaluations,
            "pictures": records}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
