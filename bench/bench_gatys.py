"""Gatys optimization benchmark: per-step time and peak memory against the FLOP floor.

    python3 bench/bench_gatys.py [--sizes 256,512,1024] [--backbone vgg16-hed] [--repeats 3]
                                 [--grads forward,tf] [--allocators bfc,malloc] [--rounds 1]
                                 [--style-losses gram,meancov,sliced] [--paddings zeros,reflect]

Each (size, optimizer, dtype, input gradient, allocator) runs in a fresh subprocess so its
peak RSS is its own. The floor is the FLOPs of the layers actually run divided by the
3x3-convolution throughput: the convolutions (forward, plus the same again for the gradient
with respect to the image) and the style layers' Gram matrices (``F^T F``, 2·HW·C² each, and
the same again for their gradient ``F·dG``), which is how the issue counts its 397 GFLOP for
VGG19 at 512x512 through block5_conv1 (``--flops`` prints that check). ``x conv floor`` is
the ratio to the convolutions alone, the stricter figure earlier runs reported. The
subprocess measures that throughput between every two steps (3 timed convolutions, not
counted in the steps); each step is compared with the higher of the throughputs measured
just before and just after it (the stricter floor), and a row reports the median step
time and the median of the steps' ratios. This shared
machine has phases, seconds to minutes long, when everything runs at half speed; a floor
measured beside each step moves with them.

``--rounds N`` runs every row N times, the rows interleaved, and ends with a table of the
median over rounds of each row's time and ratio to its floor.

``--style-losses``: the style term (``tf_style.losses``): ``gram`` (default), ``meancov``,
``sliced``. The floor counts the Gram's FLOPs for every loss (meancov adds its C x C
matrix square root, sliced its sorts: their cost shows as a higher ``x floor``).

``--paddings``: how the backbone's convolutions pad (``tf_style.config.PADDINGS``): ``zeros``
(default here, as earlier runs) or ``reflect`` (the optimizer's default since 2026-12-03: a
``tf.pad`` of each convolution's input, then a "valid" convolution).

``--allocators``: TensorFlow's CPU allocator, ``bfc`` (``TF_CPU_ALLOCATOR_USE_BFC=true``, what
the ``tf-style`` command sets) or ``malloc`` (TensorFlow's default).

``--grads``: how the convolutions' input gradient is computed: ``forward`` (a forward
convolution with the rotated kernel, tf-style's choice where TensorFlow's own kernel is
slow), ``tf`` (TensorFlow's ``Conv2DBackpropInput``), ``auto`` (what tf-style picks here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYERS = ("block4_conv2",)


_CONVS: dict = {}  # dtype -> (compiled conv, input, kernel): traced once per process


def conv_throughput(dtype: str, repeats: int = 9) -> float:
    """GFLOP/s of a large 3x3 convolution (forward) in ``dtype``."""
    import tensorflow as tf

    if dtype not in _CONVS:
        x = tf.random.uniform([1, 128, 128, 256], dtype=tf.float32)
        w = tf.random.uniform([3, 3, 256, 256], dtype=tf.float32)
        _CONVS[dtype] = (tf.function(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME")),
                         tf.cast(x, dtype), tf.cast(w, dtype))
    f, x, w = _CONVS[dtype]
    f(x, w).numpy()
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        f(x, w).numpy()
        best.append(time.perf_counter() - t)
    flops = 2 * 128 * 128 * 9 * 256 * 256
    return flops / sorted(best)[len(best) // 2] / 1e9


def step_flops(model, height: int, width: int, style_layers=STYLE_LAYERS) -> tuple:
    """``(conv, gram)`` FLOPs of one loss+gradient evaluation, forward plus gradient each.

    Convolutions: ``2·H·W·k·k·Cin·Cout`` forward, the same again for the input gradient.
    Gram matrices of ``style_layers``: ``2·H·W·C²`` for ``F^T F``, the same again for ``F·dG``.
    """
    import keras

    conv = gram = 0
    h, w = height, width
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel.shape
            conv += 2 * h * w * k[0] * k[1] * k[2] * k[3]
            if layer.name in style_layers:
                gram += 2 * h * w * k[3] * k[3]
        elif isinstance(layer, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D)):
            h, w = h // 2, w // 2
    return 2.0 * conv, 2.0 * gram


def check_flops(size: int = 512) -> str:
    """The issue's figure: VGG19 through block5_conv1 at ``size`` x ``size`` (no weights)."""
    from tf_style import backbones as bb

    model = bb.build_vgg_features([2, 2, 4, 4, 4], [64, 128, 256, 512, 512], ["block5_conv1"], seed=0)
    conv, gram = step_flops(model, size, size)
    return (f"VGG19 to block5_conv1 at {size}x{size}, style {','.join(STYLE_LAYERS)}: "
            f"convolutions {conv / 1e9:.1f} + Gram matrices {gram / 1e9:.1f} = {(conv + gram) / 1e9:.1f} GFLOP per step")


def make_objective(backbone, height: int, width: int, style_loss: str = "gram"):
    """The benchmarks' objective: targets from a seeded random image ``x0`` (returned too),
    tf-style's default layers and weights (content 1, style 3, tv 1e-5)."""
    import tensorflow as tf

    from tf_style.losses import PerceptualLoss
    from tf_style.optimize import ImageObjective

    loss = PerceptualLoss(CONTENT_LAYERS, STYLE_LAYERS, style_weight=3.0, tv_weight=1e-5, style_loss=style_loss)
    x0 = tf.random.uniform([1, height, width, 3], 0, 255, seed=1)
    feats = backbone(x0)
    obj = ImageObjective(backbone, loss, loss.content_targets(feats), loss.style_targets(feats),
                         (1, height, width, 3))
    return obj, x0.numpy()


def worker(size: int, optimizer: str, dtype: str, grad: str, backbone: str, repeats: int,
           style_loss: str = "gram", padding: str = "zeros") -> dict:
    from tf_style import backbones as bb

    if grad != "auto":
        bb.native_input_grad_is_slow = lambda: grad == "forward"
    from tf_style.optimize import adam, lbfgs

    h, w = size * 3 // 4, size  # the 4:3 of the example photo
    b = bb.load_backbone(backbone, CONTENT_LAYERS + STYLE_LAYERS, dtype=dtype, padding=padding)
    obj, x0 = make_objective(b, h, w, style_loss)
    start = x0[0] * 0.5 + 60
    run = lbfgs if optimizer == "lbfgs" else adam
    run(obj, start, 2)  # trace and warm up
    conv_flops, gram_flops = step_flops(b.model, h, w)
    flops = conv_flops + gram_flops
    # The floor of each step comes from the convolution throughput measured right before
    # and right after that step (the higher: the stricter floor). Slow phases of this
    # shared machine last seconds to minutes, so a floor measured minutes away from a step
    # can be off by 20%; one measured beside it moves with it.
    rates = [conv_throughput(dtype, repeats=3)]
    steps: list = []
    mark = {"t": 0.0}

    def between_steps(done, terms, image):
        steps.append(time.perf_counter() - mark["t"])
        rates.append(conv_throughput(dtype, repeats=3))
        mark["t"] = time.perf_counter()

    mark["t"] = time.perf_counter()
    run(obj, start, repeats, callback=between_steps)
    # GFLOP/s beside each step: the faster of the measurements just before and after it.
    beside = [max(a, b) for a, b in zip(rates, rates[1:])]
    ratios = [t * r * 1e9 / flops for t, r in zip(steps, beside)]
    conv_ratios = [t * r * 1e9 / conv_flops for t, r in zip(steps, beside)]
    return {
        "size": f"{w}x{h}",
        "optimizer": optimizer,
        "dtype": dtype,
        "grad": grad,
        "style_loss": style_loss,
        "padding": padding,
        "s_per_step": median(steps),
        "x_floor": median(ratios),
        "x_conv_floor": median(conv_ratios),
        "gflop_per_step": flops / 1e9,
        "conv_gflop_per_step": conv_flops / 1e9,
        "conv_gflops": [min(rates), max(rates)],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="256,512,1024")
    p.add_argument("--optimizers", default="lbfgs,adam")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--backbone", default="vgg16-hed")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--grads", default="forward,tf")
    p.add_argument("--allocators", default="bfc,malloc")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--style-losses", default="gram", help="comma list of gram, meancov, sliced")
    p.add_argument("--paddings", default="zeros", help="comma list of zeros, reflect")
    p.add_argument("--flops", action="store_true", help="print the FLOP count of VGG19 at 512 px and exit")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.flops:
        print(check_flops(512))
        return 0
    if args.worker:
        size, opt, dtype, grad, style_loss, padding = args.worker.split(":")
        print(json.dumps(worker(int(size), opt, dtype, grad, args.backbone, args.repeats, style_loss, padding)))
        return 0

    def child(flags, allocator):
        env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true" if allocator == "bfc" else "false")
        return subprocess.run([sys.executable, __file__, *flags], capture_output=True, text=True, env=env)

    allocators = args.allocators.split(",")
    print(f"backbone {args.backbone}; threads: TensorFlow default; {os.cpu_count()} CPUs\n")
    print("| round | size | optimizer | dtype | input grad | allocator | style loss | padding | s/step | GFLOP/step (conv + Gram) | conv GFLOP/s | x floor | x conv floor | peak RSS GiB |")
    print("| --: | --- | --- | --- | --- | --- | --- | --- | --: | --: | --: | --: | --: | --: |")
    results: dict = {}
    for rnd in range(1, args.rounds + 1):
        for size in args.sizes.split(","):
            for opt in args.optimizers.split(","):
                for dtype in args.dtypes.split(","):
                    for grad in args.grads.split(","):
                        for alloc, sl, pad in [(a, sl, pad) for a in allocators for sl in args.style_losses.split(",")
                                               for pad in args.paddings.split(",")]:
                            key = (size, opt, dtype, grad, alloc, sl, pad)
                            res = child(["--worker", f"{size}:{opt}:{dtype}:{grad}:{sl}:{pad}", "--backbone",
                                         args.backbone, "--repeats", str(args.repeats)], alloc)
                            if res.returncode != 0:
                                tail = (res.stderr.strip().splitlines() or ["?"])[-1]
                                print(f"| {rnd} | {size} | {opt} | {dtype} | {grad} | {alloc} | {sl} | {pad} | failed: {tail[:80]} | | | | | |")
                                continue
                            r = json.loads(res.stdout.strip().splitlines()[-1])
                            low, high = r["conv_gflops"]
                            results.setdefault(key, []).append((r["s_per_step"], r["x_floor"], r))
                            print(f"| {rnd} | {r['size']} | {opt} | {dtype} | {grad} | {alloc} | {sl} | {pad} | {r['s_per_step']:.3f} | "
                                  f"{r['conv_gflop_per_step']:.0f} + {r['gflop_per_step'] - r['conv_gflop_per_step']:.0f} | "
                                  f"{low:.0f}-{high:.0f} | {r['x_floor']:.2f} | {r['x_conv_floor']:.2f} | "
                                  f"{r['peak_rss_gib']:.2f} |", flush=True)
    if args.rounds > 1:
        print(f"\nMedian over {args.rounds} rounds:\n")
        print("| size | optimizer | dtype | input grad | allocator | style loss | padding | s/step | x floor | x conv floor | peak RSS GiB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --: | --: | --: | --: |")
        for (size, opt, dtype, grad, alloc, sl, pad), rows in results.items():
            print(f"| {rows[0][2]['size']} | {opt} | {dtype} | {grad} | {alloc} | {sl} | {pad} | {median([x[0] for x in rows]):.3f} | "
                  f"{median([x[1] for x in rows]):.2f} | {median([x[2]['x_conv_floor'] for x in rows]):.2f} | "
                  f"{max(x[2]['peak_rss_gib'] for x in rows):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
