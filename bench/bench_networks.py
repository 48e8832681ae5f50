"""Benchmark the style transformer networks: size, FLOPs, Keras and TFLite CPU latency.

Usage (from the repository root):

    python3 bench/bench_networks.py                 # johnson + every padding of mobile
    python3 bench/bench_networks.py --runs 9 --threads 4 --variants mobile:border,mobile:same

Prints a markdown table. Latencies are wall-clock per image (batch 1) at --size,
median (and minimum) of --runs warm runs, taken round-robin over all variants so that a
busy shared machine slows them alike; there, trust the minimum and the ratios more.
Keras: the model in one ``tf.function`` with a fixed input signature. TFLite: float32,
exported with ``model.export(format="tf_saved_model")``, converted with builtin ops only
and run with ``ai_edge_litert`` (XNNPACK) on --threads threads.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

from tf_style import networks  # noqa: E402

DEFAULT_VARIANTS = "johnson:reflect,mobile:reflect,mobile:same,mobile:border"


def _keras_call(model: keras.Model, image: np.ndarray):
    spec = tf.TensorSpec(image.shape, tf.float32)
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    x = tf.constant(image)
    return lambda: fn(x).numpy()


def _tflite_call(model: keras.Model, image: np.ndarray, threads: int):
    """(call, .tflite MB, max abs difference from the Keras model)."""
    from ai_edge_litert.interpreter import Interpreter

    with tempfile.TemporaryDirectory() as tmp:
        model.export(
            tmp,
            format="tf_saved_model",
            verbose=False,
            input_signature=[tf.TensorSpec(image.shape, tf.float32)],
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]

    def call():
        interpreter.set_tensor(inp, image)
        interpreter.invoke()
        return interpreter.get_tensor(out)

    diff = float(np.abs(call() - model(image).numpy()).max())
    return call, len(flatbuffer) / 1e6, diff


def _timed_round_robin(calls: dict, runs: int) -> dict:
    """{key: [ms, ...]}: one warm-up each, then ``runs`` rounds calling every entry in turn,
    so that load from other processes on a shared machine hits all variants alike."""
    for call in calls.values():
        call()
    times = {key: [] for key in calls}
    for _ in range(runs):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append(1000.0 * (time.perf_counter() - start))
    return times


def _fmt(times: list[float] | None) -> str:
    return "-" if not times else f"{statistics.median(times):.0f} ({min(times):.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help=f"architecture:padding,... (default {DEFAULT_VARIANTS})")
    parser.add_argument("--size", type=int, default=512, help="latency image side (default 512)")
    parser.add_argument("--runs", type=int, default=5, help="timed warm runs (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="TFLite threads (default 2)")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1)")
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras latency")
    parser.add_argument("--no-tflite", action="store_true", help="skip TFLite conversion/latency")
    args = parser.parse_args(argv)

    variants = [v.split(":") for v in args.variants.split(",")]
    image = np.random.default_rng(0).uniform(0, 255, (1, args.size, args.size, 3)).astype("float32")
    s = args.size
    print(f"# tf_style.networks benchmark: TF {tf.__version__}, Keras {keras.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"# latency: batch 1, {s}x{s}, median (min) of {args.runs} warm runs; "
          f"TFLite float32 with {args.threads} threads\n")
    header = ("| architecture | padding | params | GFLOP@256 | GFLOP@512 "
              f"| Keras ms@{s} | TFLite ms@{s} | .tflite MB | max abs diff |")
    print(header)
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    rows, calls = [], {}
    for arch, padding in variants:
        model = networks.StyleTransformer(arch, args.width, padding=padding, seed=0)
        gflop = [networks.count_flops(model, n, n) / 1e9 for n in (256, 512)]
        row = {"arch": arch, "padding": padding, "params": model.count_params(), "gflop": gflop,
               "mb": "-", "diff": "-"}
        if not args.no_keras:
            calls[arch, padding, "keras"] = _keras_call(model, image)
        if not args.no_tflite:
            calls[arch, padding, "tflite"], mb, diff = _tflite_call(model, image, args.threads)
            row.update(mb=f"{mb:.2f}", diff=f"{diff:.4f}")
        rows.append(row)
    times = _timed_round_robin(calls, args.runs)
    for row in rows:
        key = (row["arch"], row["padding"])
        print(f"| {row['arch']} | {row['padding']} | {row['params']:,} | {row['gflop'][0]:.2f} "
              f"| {row['gflop'][1]:.2f} | {_fmt(times.get(key + ('keras',)))} "
              f"| {_fmt(times.get(key + ('tflite',)))} | {row['mb']} | {row['diff']} |")
    print("\n# GFLOP = 2 x multiply-accumulates of the convolutions (tf_style.networks.count_flops).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
