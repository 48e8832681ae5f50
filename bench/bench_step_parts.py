"""Where one Gatys step's time goes: forward, + image gradient, + loss, + L-BFGS-B, per input gradient.

    python3 bench/bench_step_parts.py [--size 512] [--repeats 5]
    TF_CPU_ALLOCATOR_USE_BFC=true python3 bench/bench_step_parts.py   # as the tf-style command runs

Times three compiled functions and an L-BFGS-B run (its evaluations timed between callbacks,
SciPy's ``setulb`` timed apart) at one size (median of ``--repeats`` after a warm-up), each
with the convolutions' input gradient computed both ways (``forward``: a forward
convolution with the rotated kernel; ``tf``: TensorFlow's ``Conv2DBackpropInput``), and
the FLOP floor (convolutions; for the loss rows also the Gram matrices, as in
``bench_gatys.py``) from the 3x3-convolution throughput measured in the same process before
and after the timings (the higher of the two, as in ``bench_gatys.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--backbone", default="vgg16-hed")
    args = p.parse_args(argv)

    import tensorflow as tf

    import bench_gatys as bg
    from tf_style import backbones as bb

    h, w = args.size * 3 // 4, args.size

    def median(fn) -> float:
        tf.nest.map_structure(lambda a: a.numpy(), fn())
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            tf.nest.map_structure(lambda a: a.numpy(), fn())
            times.append(time.perf_counter() - t)
        return sorted(times)[len(times) // 2]

    from tf_style import optimize

    find_setulb = optimize._setulb
    setulb = find_setulb()

    def lbfgs_step(obj, x0) -> tuple:
        """Median seconds per L-BFGS-B evaluation, and SciPy's ``setulb`` share of it."""
        spent: list = []

        def timed(*a):
            t = time.perf_counter()
            out = setulb(*a)
            spent.append(time.perf_counter() - t)
            return out

        optimize._setulb = lambda: timed if setulb is not None else None
        try:
            start = x0[0] * 0.5 + 60
            optimize.lbfgs(obj, start, 2)
            spent.clear()
            marks = [time.perf_counter()]
            out = optimize.lbfgs(obj, start, args.repeats, callback=lambda *_: marks.append(time.perf_counter()))
        finally:
            optimize._setulb = find_setulb
        return bg.median([b - a for a, b in zip(marks, marks[1:])]), sum(spent) / out.evaluations

    before = bg.conv_throughput("float32")
    rows = {}
    conv = gram = None
    for grad in ("forward", "tf"):
        bb.native_input_grad_is_slow = lambda: grad == "forward"
        b = bb.load_backbone(args.backbone, bg.CONTENT_LAYERS + bg.STYLE_LAYERS)
        conv, gram = (f / 1e9 for f in bg.step_flops(b.model, h, w))
        obj, x0 = bg.make_objective(b, h, w)
        obj.image.assign(x0)
        image = obj.image

        @tf.function
        def forward():
            return b(image)

        @tf.function
        def forward_and_grad():
            with tf.GradientTape() as tape:
                s = tf.add_n([tf.reduce_sum(v) for v in b(image).values()])
            return tape.gradient(s, image)

        rows[grad] = [median(forward), median(forward_and_grad), median(obj.evaluate), *lbfgs_step(obj, x0)]
    tput = max(before, bg.conv_throughput("float32"))
    # The backbone rows run no Gram matrices: their floor counts the convolutions alone.
    conv_floor, floor = conv / tput, (conv + gram) / tput
    alloc = "bfc" if os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("1", "true") else "malloc"
    print(f"{w}x{h}, {args.backbone}, float32, {alloc} allocator: {conv:.0f} GFLOP of convolutions + {gram:.0f} "
          f"of Gram matrices per step, conv throughput {tput:.0f} GFLOP/s, floor {floor:.3f} s (convolutions "
          f"alone: {conv_floor:.3f} s, their forward: {conv_floor / 2:.3f} s)\n")
    print("| part | forward input grad | tf input grad |")
    print("| --- | --: | --: |")
    names = ["forward through the backbone", "+ gradient with respect to the image",
             "+ loss = one objective evaluation", "+ L-BFGS-B's host work = one L-BFGS evaluation"]
    for i, name in enumerate(names):
        f, which = (conv_floor, "conv floor") if i < 2 else (floor, "floor")
        print(f"| {name} | {rows['forward'][i]:.3f} s ({rows['forward'][i] / f:.2f}x {which}) | "
              f"{rows['tf'][i]:.3f} s ({rows['tf'][i] / f:.2f}x {which}) |")
    print(f"| of which SciPy's setulb | {rows['forward'][4] * 1e3:.0f} ms | {rows['tf'][4] * 1e3:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
