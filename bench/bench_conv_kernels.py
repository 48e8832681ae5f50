"""TensorFlow's 3x3 convolution kernels on VGG's layer shapes: forward vs input gradient,
Eigen vs oneDNN.

    python3 bench/bench_conv_kernels.py [--size 512] [--rounds 3]

For a stride-1 "same" convolution, the forward with kernel K equals the input gradient
(``Conv2DBackpropInput``) of a convolution with K rotated by 180 degrees and its channels
swapped, and vice versa; so either kernel can compute either direction, and tf-style can
pick the faster one (``backbones.FeatureConv2D``). oneDNN is switched on or off per
process (``TF_ENABLE_ONEDNN_OPTS``, read when TensorFlow is imported), so each round runs
one subprocess per setting, alternating. Prints GFLOP/s (median over rounds of each
process's median of 5 timings) per layer shape.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gatys import median  # noqa: E402

# (height, width, in channels, out channels) at 512x384, VGG16's conv layers (x1/2/4/8/16).
def shapes(size: int):
    h, w = size * 3 // 4, size
    return [
        (h, w, 3, 64), (h, w, 64, 64), (h, w, 64, 3),
        (h // 2, w // 2, 64, 128), (h // 2, w // 2, 128, 128),
        (h // 4, w // 4, 128, 256), (h // 4, w // 4, 256, 256),
        (h // 8, w // 8, 256, 512), (h // 8, w // 8, 512, 512),
        (h // 16, w // 16, 512, 512),
    ]


def worker(size: int) -> dict:
    import tensorflow as tf

    def med(f, *a, n=5):
        f(*a).numpy()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            f(*a).numpy()
            ts.append(time.perf_counter() - t)
        return sorted(ts)[n // 2]

    out = {}
    for (h, w, ci, co) in shapes(size):
        x = tf.random.normal((1, h, w, ci))
        k = tf.random.normal((3, 3, ci, co)) * 0.05
        rotated = tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2])
        forward = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
        transposed = tf.function(lambda x, r, h=h, w=w, co=co: tf.raw_ops.Conv2DBackpropInput(
            input_sizes=[1, h, w, co], filter=r, out_backprop=x, strides=[1, 1, 1, 1], padding="SAME"))
        err = float(tf.reduce_max(tf.abs(forward(x, k) - transposed(x, rotated))))
        flops = 2 * 9 * ci * co * h * w / 1e9
        out[f"{w}x{h} {ci}->{co}"] = [flops / med(forward, x, k), flops / med(transposed, x, rotated), err]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.size)))
        return 0
    runs: dict = {"0": [], "1": []}
    for _ in range(args.rounds):
        for onednn in ("0", "1"):
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="3",
                       TF_CPU_ALLOCATOR_USE_BFC=os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "true"))
            res = subprocess.run([sys.executable, __file__, "--worker", "--size", str(args.size)],
                                 capture_output=True, text=True, env=env, check=True)
            runs[onednn].append(json.loads(res.stdout.strip().splitlines()[-1]))

    print(f"GFLOP/s, median of {args.rounds} rounds; BFC allocator "
          f"{os.environ.get('TF_CPU_ALLOCATOR_USE_BFC', 'true')}\n")
    print("| layer | Eigen forward | Eigen input-grad kernel | oneDNN forward | oneDNN input-grad kernel | max abs diff |")
    print("| --- | --: | --: | --: | --: | --: |")
    for key in runs["0"][0]:
        cells = []
        for onednn in ("0", "1"):
            for i in (0, 1):
                cells.append(f"{median([r[key][i] for r in runs[onednn]]):.0f}")
        err = max(r[key][2] for rs in runs.values() for r in rs)
        print(f"| {key} | {' | '.join(cells)} | {err:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
