"""One fast-network training step, side by side: architecture x the network's precision.

    python3 bench/bench_train_step.py                      # johnson and mobile, float32 and bfloat16, 256 px
    python3 bench/bench_train_step.py --sizes 128,256 --repeats 7 --variants johnson:bfloat16
    python3 bench/bench_train_step.py --variants mobile:float32,mobile:float32:16   # --loss-margin 16
    python3 bench/bench_train_step.py --variants johnson:bfloat16,johnson:bfloat16:0:20   # --shift-weight 20

What ``tf-style train`` runs each step for a per-style network: the network's forward and
backward pass, the loss network (vgg19, its convolutions in ``--loss-dtype``) on the
network's pictures and on the photos (content targets), the ``meancov`` style loss and
Adam's update (a third field ``:PX`` adds ``--loss-margin PX``: the loss sees the crops
without PX on each side, as training does; a fourth ``:W`` adds ``--shift-weight W``, the
network's second pass on half the batch moved by 1 px), in one ``tf.function`` with a fixed input signature, on random photos of
``--batch`` x size x size. Median (and minimum) of ``--repeats`` timed steps after two
warm-up steps, taken round-robin over the variants so that a busy machine slows them alike:
compare the ratios. Prints a markdown table and the CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    extras = [f for f in ("avx512_bf16", "amx_bf16", "avx512_vnni") if f in flags]
    return (f"{fields.get('model name', '?')}, family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')}, {os.cpu_count()} CPUs, {' '.join(extras) or 'no bfloat16 instructions'}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default="johnson:float32,johnson:bfloat16,mobile:float32,mobile:bfloat16",
                   help="ARCHITECTURE:DTYPE[:LOSS_MARGIN[:SHIFT_WEIGHT]], comma-separated")
    p.add_argument("--sizes", default="256", help="crop sides, comma-separated")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--loss-dtype", default="auto", help="the loss network's convolutions")
    args = p.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from tf_style import networks
    from tf_style.backbones import resolve_dtype
    from tf_style.config import TrainConfig
    from tf_style.criterion import build_criterion
    from tf_style.precision import dtype_policy
    from tf_style.train import _inside, shift_term

    d = TrainConfig()
    backbone, loss = build_criterion(
        backbone_name="vgg19", content_layers=d.content_layers, style_layers=d.style_layers,
        dtype=args.loss_dtype, style_weight=10.0, tv_weight=1e-4, style_loss="meancov")
    rng = np.random.default_rng(0)
    painting = tf.constant(rng.uniform(0, 255, (1, 256, 256, 3)).astype("float32"))
    targets = loss.style_targets(backbone(painting))

    steps = {}
    for size in (int(s) for s in args.sizes.split(",")):
        photos = tf.constant(rng.uniform(0, 255, (args.batch, size, size, 3)).astype("float32"))
        for variant in args.variants.split(","):
            arch, dtype, *rest = variant.split(":")
            margin = int(rest[0]) if rest else 0
            shift = float(rest[1]) if len(rest) > 1 else 0.0
            dtype = resolve_dtype(dtype)
            with dtype_policy(dtype):
                model = networks.StyleTransformer(arch, 1.0, seed=0)
            optimizer = keras.optimizers.Adam(1e-3)
            optimizer.build(model.trainable_variables)

            def make(model=model, optimizer=optimizer, margin=margin, shift=shift):
                @tf.function(input_signature=[tf.TensorSpec(photos.shape, tf.float32)], autograph=False)
                def step(images):
                    content = loss.content_targets(backbone(_inside(images, margin)))
                    with tf.GradientTape() as tape:
                        styled = model(images, training=True)
                        seen = _inside(styled, margin)
                        total, _ = loss(backbone(seen), seen, content, targets)
                        if shift:
                            moved = shift_term(lambda x: model(x, training=True), images, styled,
                                               tf.constant([1, 0]))
                            total = total + shift * moved
                    grads = tape.gradient(total, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
                    return total
                return step

            step = make()
            for _ in range(2):
                step(photos).numpy()
            steps[(arch, dtype, size, margin, shift)] = (step, photos, [])
    for _ in range(args.repeats):
        for step, photos, times in steps.values():
            t = time.perf_counter()
            step(photos).numpy()
            times.append(time.perf_counter() - t)

    print(f"CPU: {_cpu()}; TensorFlow {tf.__version__}; batch {args.batch}; "
          f"loss network vgg19 ({resolve_dtype(args.loss_dtype)}); {args.repeats} steps each\n")
    print("| network | precision | crop | loss margin | shift weight | s/step, median | min | "
          "vs its network's first row |")
    print("| --- | --- | --: | --: | --: | --: | --: | --: |")
    for (arch, dtype, size, margin, shift), (_, _, times) in steps.items():
        med = statistics.median(times)
        base = next(v for k, v in steps.items() if k[0] == arch and k[2] == size)
        ratio = f"{statistics.median(base[2]) / med:.2f}x"
        print(f"| {arch} | {dtype} | {size} | {margin} | {shift:g} | {med:.3f} | {min(times):.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
