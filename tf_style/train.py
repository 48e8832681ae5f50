"""Training fast style networks (Johnson, Alahi & Fei-Fei 2016) with the perceptual losses.

A :class:`~tf_style.networks.StyleTransformer` learns one style: every step it
stylizes a batch of random photo crops, and :class:`~tf_style.losses.PerceptualLoss`
compares the result with the crops (content, through the backbone's features) and
with the style image (style, through Gram matrices computed once). The criterion is the
optimizer's (:mod:`tf_style.criterion`): several style images are blended with
``style_blend`` by :class:`~tf_style.criterion.StyleTargets`, and ``style_layer_weights``
weigh the style layers.

A run lives in one folder (``RUN_DIR``)::

    RUN_DIR/run.json          what is being trained (config, style, data); checked on resume
    RUN_DIR/checkpoints/      tf.train.Checkpoint: model, optimizer, step, data position
    RUN_DIR/logs/             TensorBoard scalars and sample images
    RUN_DIR/samples/          step_000500.png ... (the sample photo, stylized)
    RUN_DIR/model.keras       the trained network, written when the run completes

Example:
    >>> from tf_style.train import train
    >>> r = train("starry_night.jpg", "photos/", "runs/starry", steps=2000,
    ...           architecture="mobile", size=256, batch=4)  # doctest: +SKIP
    >>> r.model_path  # doctest: +SKIP
    PosixPath('runs/starry/model.keras')

``architecture="arbitrary"`` fine-tunes Magenta's arbitrary-style networks
(:mod:`tf_style.arbitrary`, from the shipped weights) instead: ``style`` is painting files
and folders, each photo crop is paired with a painting crop, the predictor turns the
painting into a style vector and the transformer paints the photo with it, under the same
loss (the painting's Grams computed in the step). ``model.keras`` is then the one-file form
(:func:`tf_style.arbitrary.combine`; ``keras.saving.load_model`` + ``arbitrary.split``).

    >>> r = train(["paintings/", "starry_night.jpg"], "photos/", "runs/a",
    ...           architecture="arbitrary", steps=300, learning_rate=2e-4)  # doctest: +SKIP

Data order is a pure function of ``(seed, example index)`` (stateless shuffles, crops
and flips), and the index of the next example of each stream (photos; paintings) is stored in the
checkpoint, so a resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from tf_style import arbitrary
from tf_style import backbones as bb
from tf_style import fsio
from tf_style import runtime
from tf_style import image as im
from tf_style import networks, tfimage
# TrainConfig and its constants live in the TensorFlow-free config (the CLI reads their
# defaults); re-exported here, where they always were.
from tf_style.config import (
    ARBITRARY,
    ARBITRARY_STYLE_SIZE,
    TEACHER_WEIGHT,
    TRAIN_ARCHITECTURES,
    TrainConfig,
)
from tf_style.errors import (
    DataError,
    ModelLoadError,
    OptionError,
    OutputError,
    TfStyleError,
)
from tf_style.criterion import StyleTargets, build_criterion
from tf_style.losses import PerceptualLoss, finite_terms
from tf_style.precision import dtype_policy
from tf_style.progress import ProgressBar

__all__ = [
    "ARBITRARY",
    "DATA_EXTENSIONS",
    "PREDICTOR_SIZE",
    "TEACHER_WEIGHT",
    "TRAIN_ARCHITECTURES",
    "TrainConfig",
    "TrainResult",
    "DataScan",
    "scan_data",
    "scan_paintings",
    "arbitrary_loss",
    "make_dataset",
    "load_teacher",
    "shift_at",
    "shift_term",
    "default_strategy",
    "train",
]

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]

#: File name endings (case-insensitive) collected from the data folder.
DATA_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
#: Formats tf.io.decode_image decodes; a file whose content is another format is skipped.
_TF_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP")
#: Larger photos are skipped: decoding one would take gigabytes in the input pipeline.
MAX_DATA_PIXELS = 64_000_000
_RUN_FILE = "run.json"
_MODEL_FILE = "model.keras"
#: Options a resumed run must keep: the checkpoint's variables depend on the first three; the
#: upsampling is the network's graph; the blend and the layer weights decide which style the
#: network learns (changing them mid-run would train towards another target under the same
#: run). Left out on resume, they keep the saved values.
_FIXED_ON_RESUME = ("architecture", "width", "train_predictor", "upsample", "style_blend", "style_layer_weights")
#: Side the style predictor sees a painting crop at: predict_style's default style_size
#: (the size the shipped int8 graph was calibrated at), the same constant.
PREDICTOR_SIZE = ARBITRARY_STYLE_SIZE
# The painting stream's seed is the run's seed plus this, so its order is not the photos'.
_PAINTING_SEED = 1_000_003


# --------------------------------------------------------------------------- data


@dataclasses.dataclass
class DataScan:
    """The images of a data folder: usable ``files`` (sorted) and ``skipped`` ``(path, why)``."""

    root: Path
    files: List[str]
    skipped: List[Tuple[str, str]]


def _check_header(path: str) -> Optional[str]:
    """None if ``path`` looks decodable by TensorFlow, else why not (header only: fast)."""
    try:
        with Image.open(path) as img:
            fmt = img.format or "?"
            w, h = img.size
    except Exception as err:  # noqa: BLE001 - untrusted files: Pillow raises many types
        text = " ".join(str(err).split()) or type(err).__name__
        return f"not a readable image ({text})"
    if fmt not in _TF_FORMATS:
        return f"{fmt} content, which TensorFlow cannot decode"
    if min(w, h) < networks.MIN_SIZE:
        return f"image is {w}x{h}, smaller than {networks.MIN_SIZE} px on a side"
    if w * h > MAX_DATA_PIXELS:
        return f"image is {w}x{h}, more than {MAX_DATA_PIXELS} pixels"
    return None


def scan_data(data_dir: PathLike, *, exclude: Sequence[PathLike] = (), role: str = "data") -> DataScan:
    """Collect the training images under ``data_dir`` (recursive, sorted, headers checked).

    Files ending in .jpg/.jpeg/.png/.webp (any case) are candidates. Each candidate's
    header is read with Pillow (a few KB per file, in threads): files that are not
    images, have a format TensorFlow cannot decode, or are huge are skipped and listed.
    Folders in ``exclude`` (e.g. the run folder) are not searched. ``role`` names the
    folder in messages (``"data"``, ``"painting"``).
    A full decode of every file up front would cost as much as an epoch of training on a
    large set; files whose header is fine but whose data is corrupt are dropped by the
    input pipeline instead (and counted by :func:`train`).

    Raises :class:`DataError` when the folder is missing, holds no candidate file, or no
    candidate is readable.

    Example:
        >>> scan = scan_data("photos/")  # doctest: +SKIP
        >>> len(scan.files), scan.skipped[:1]  # doctest: +SKIP
        (82783, [('photos/broken.jpg', 'not a readable image (...)')])
    """
    root = Path(os.fspath(data_dir))
    if not root.exists():
        raise DataError(f"{root}: {role} folder does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (pass the folder that holds the training images)")
    skip_dirs = {os.path.realpath(os.fspath(p)) for p in exclude}
    candidates: List[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and os.path.realpath(os.path.join(dirpath, d)) not in skip_dirs
        )
        for name in sorted(filenames):
            if name.lower().endswith(DATA_EXTENSIONS) and not name.startswith("."):
                candidates.append(os.path.join(dirpath, name))
    candidates.sort()
    if not candidates:
        raise DataError(
            f"{root}: no images found (looked for {', '.join(DATA_EXTENSIONS)} files, recursively)"
        )
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        problems = list(pool.map(_check_header, candidates))
    files = [p for p, why in zip(candidates, problems) if why is None]
    skipped = [(p, why) for p, why in zip(candidates, problems) if why is not None]
    if not files:
        raise DataError(
            f"{root}: none of the {len(candidates)} image files is readable "
            f"(e.g. {skipped[0][0]}: {skipped[0][1]})"
        )
    return DataScan(root, files, skipped)


def scan_paintings(sources: Union[PathLike, Sequence[PathLike]], *,
                   exclude: Sequence[PathLike] = ()) -> DataScan:
    """The paintings of ``sources``: files and folders (searched as :func:`scan_data` does).

    A painting inside a folder that cannot be read is skipped and listed, as a broken
    photo under ``--data`` is; a file named on its own must be a readable image, as the
    single ``--style`` of a per-style network must (:class:`DataError` otherwise). An
    empty folder raises :class:`DataError`. Duplicates are kept once, in order.

    Example:
        >>> scan = scan_paintings(["starry_night.jpg", "paintings/"])  # doctest: +SKIP
        >>> len(scan.files)  # doctest: +SKIP
        42
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not isinstance(sources, (list, tuple)) or not sources or not all(
            isinstance(s, (str, os.PathLike)) for s in sources):
        raise OptionError(
            f"style: the arbitrary networks train on painting files or folders (paths), got "
            f"{type(sources).__name__ if not isinstance(sources, (list, tuple)) else list(sources)!r}"
        )
    files: List[str] = []
    skipped: List[Tuple[str, str]] = []
    for source in sources:
        path = Path(os.fspath(source))
        if path.is_dir():
            scan = scan_data(path, exclude=exclude, role="painting")
            files += scan.files
            skipped += scan.skipped
        elif not path.exists():
            raise DataError(f"{path}: painting file or folder does not exist")
        else:
            why = _check_header(str(path))
            if why is not None:
                raise DataError(f"{path}: {why}")
            files.append(str(path))
    unique = list(dict.fromkeys(files))
    root = Path(os.fspath(sources[0])) if len(sources) == 1 else Path(".")
    return DataScan(root, unique, skipped)


def make_dataset(
    files: Sequence[str], size: int, batch: int, *, seed: int = 0, start: int = 0
) -> tf.data.Dataset:
    """Endless batches ``(images [batch, size, size, 3] float32 0..255, indices [batch] int64)``.

    Example ``i`` (counting from 0 over the whole run) is the file at position ``i % n`` of
    epoch ``i // n``'s shuffle, resized (short side clipped to [size, 2 * size], so small
    photos are enlarged and large ones are not reduced to a texture patch), randomly
    cropped to ``size`` x ``size`` and randomly flipped. Shuffles, crops and flips are
    stateless functions of ``(seed, i)``, so the stream starting at ``start`` is exactly
    the tail of the stream starting at 0. Decoding runs in parallel, in order; examples
    that fail to decode are dropped (a batch's indices then skip them).
    """
    n = len(files)
    if n == 0:
        raise DataError("no training images")
    paths = tf.constant(list(files))
    size_t = tf.constant(size, tf.int32)
    seed_t = tf.constant(seed, tf.int64)

    def epoch(e):
        perm = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([seed_t, e])
        )
        return tf.data.Dataset.from_tensor_slices((e * n + tf.range(n, dtype=tf.int64), perm))

    def load(i, k):
        raw = tf.io.read_file(tf.gather(paths, k))
        # Upright and transparency on white, as the photos stylize and apply read.
        img = tfimage.decode_image_bytes(raw, max_pixels=MAX_DATA_PIXELS)
        hw = tf.cast(tf.shape(img)[:2], tf.float32)
        short = tf.reduce_min(hw)
        target = tf.clip_by_value(short, tf.cast(size_t, tf.float32), 2.0 * tf.cast(size_t, tf.float32))
        new_hw = tf.maximum(tf.cast(tf.round(hw * target / short), tf.int32), size_t)
        img = tf.image.resize(tf.cast(img, tf.float32), new_hw, method="bilinear", antialias=True)
        crop = tf.image.stateless_random_crop(img, [size, size, 3], seed=tf.stack([2 * seed_t, i]))
        crop = tf.image.stateless_random_flip_left_right(crop, seed=tf.stack([2 * seed_t + 1, i]))
        return tf.clip_by_value(crop, 0.0, 255.0), i

    ds = tf.data.Dataset.range(start // n, np.iinfo(np.int64).max).flat_map(epoch).skip(start % n)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors()
    ds = ds.batch(batch, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- result


@dataclasses.dataclass
class TrainResult:
    """What a training run did."""

    run_dir: Path
    model_path: Optional[Path]
    config: TrainConfig
    start_step: int
    step: int
    seconds: float
    history: List[Dict[str, float]]
    images: int
    skipped: List[Tuple[str, str]]
    dropped_examples: int
    backbone: str
    weights_source: str
    replicas: int
    interrupted: bool = False
    checkpoint: Optional[str] = None
    #: architecture "arbitrary": the paintings used and those skipped ``(path, why)``.
    paintings: int = 0
    skipped_paintings: List[Tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def final_terms(self) -> Dict[str, float]:
        """Loss terms of the last logged step (empty if no step ran)."""
        return {k: v for k, v in self.history[-1].items() if k != "step"} if self.history else {}

    @property
    def steps_per_second(self) -> float:
        done = self.step - self.start_step
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """A JSON-ready summary (what ``tf-style train --json`` prints)."""
        options = self.config.to_dict()
        return {
            "run_dir": str(self.run_dir),
            "model": None if self.model_path is None else str(self.model_path),
            "checkpoint": self.checkpoint,
            "architecture": self.config.architecture,
            "width": self.config.width,
            "size": self.config.size,
            "batch": self.config.batch,
            "style_loss": self.config.style_loss,
            **{k: options[k] for k in ("style_layer_weights", "style_blend")},
            "start_step": self.start_step,
            "step": self.step,
            "steps": self.config.steps,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(self.steps_per_second, 4),
            "images": self.images,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "dropped_examples": self.dropped_examples,
            "backbone": self.backbone,
            "weights": self.weights_source,
            "replicas": self.replicas,
            "interrupted": self.interrupted,
            "loss": self.final_terms,
            **({"train_predictor": self.config.train_predictor, "predictor_size": self.config.predictor_size,
                "paintings": self.paintings,
                "skipped_paintings": [{"path": p, "reason": r} for p, r in self.skipped_paintings]}
               if self.config.architecture == ARBITRARY else {}),
        }


# --------------------------------------------------------------------------- helpers


def default_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over all GPUs when there are several, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def _writing(what: str, path: PathLike, after: str = "") -> Iterator[None]:
    """Any failure in the block (full disk, quota, I/O) -> one :class:`OutputError`."""
    try:
        yield
    except TfStyleError:
        raise
    except Exception as err:  # noqa: BLE001 - TF and OS errors alike
        raise OutputError(
            f"cannot write {what} {os.fsdecode(os.fspath(path))}: {im.write_error_reason(err)}{after}"
        ) from None


def _write_json_atomic(path: Path, data: dict) -> None:
    with _writing("the run description", path), fsio.atomic_file(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def save_model_atomic(model: keras.Model, path: PathLike) -> Path:
    """``model.save(path)`` through a temporary file and ``os.replace``: never a partial file.

    A failed write raises :class:`OutputError` and leaves an existing ``path`` as it was.
    """
    out = Path(os.fspath(path))
    with _writing("the model", out), fsio.atomic_path(out, suffix=".tmp.keras") as tmp:
        model.save(tmp, overwrite=True)
    return out


def _save_checkpoint(manager: tf.train.CheckpointManager, step: int) -> None:
    """``manager.save`` at ``step``; on failure the partial files of ``step`` are removed,
    the previous checkpoint stays the latest, and an OutputError says so."""
    folder = Path(manager.directory)
    previous = manager.latest_checkpoint
    after = (f"; the checkpoint of step {previous.rsplit('-', 1)[-1]} is intact (free space, then --resume)"
             if previous else "")
    try:
        with _writing(f"the checkpoint of step {step} in", folder, after):
            manager.save(checkpoint_number=step)
    except OutputError:
        for partial in list(folder.glob(f"ckpt-{step}.*")) + list(folder.glob(f"ckpt-{step}_temp*")):
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)
        raise




def _name(source: object) -> str:
    return os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag checked between steps (a second signal aborts).

    A step is never cut in half: the model, the optimizer and the step counter in the
    checkpoint always agree.
    """

    def __init__(self) -> None:
        self.stop = False
        self._previous: Dict[int, object] = {}

    def _handler(self, signum, frame) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._previous[sig] = signal.signal(sig, self._handler)
                except (ValueError, OSError):  # pragma: no cover - exotic embedders
                    pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _run_state(out: Path, resume: bool) -> Tuple[Optional[str], Optional[dict]]:
    """(latest checkpoint or None, saved run.json or None), refusing to overwrite a run."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    # Before any model loads: the nearest existing folder must let us create the run in it.
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{out}: cannot create the run folder: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot create the run folder: {existing} is not writable")
    latest = tf.train.latest_checkpoint(str(out / "checkpoints")) if out.is_dir() else None
    saved = None
    run_file = out / _RUN_FILE
    if run_file.is_file():
        try:
            saved = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            if resume:
                raise OutputError(f"{run_file}: unreadable run description ({err}); cannot resume") from None
    if not resume and (latest is not None or (out / _MODEL_FILE).exists()):
        what = "checkpoints" if latest is not None else "a trained model"
        raise OutputError(
            f"{out}: holds {what} of an earlier run; pass --resume to continue it, "
            f"or choose another --out"
        )
    return latest, saved


# --------------------------------------------------------------------------- training


def train(
    style: Union[im.ImageLike, Sequence[PathLike]],
    data_dir: PathLike,
    out_dir: PathLike,
    config: Optional[TrainConfig] = None,
    *,
    backbone: Union[str, bb.Backbone, None] = None,
    resume: bool = False,
    strategy: Optional[tf.distribute.Strategy] = None,
    log: Optional[Log] = None,
    progress: bool = False,
    **options: object,
) -> TrainResult:
    """Train a fast style network for ``style`` on the photos under ``data_dir``.

    With ``architecture="arbitrary"`` it fine-tunes the shipped arbitrary-style networks
    instead: ``style`` is then painting files and/or folders (see :func:`scan_paintings`),
    and every step pairs each photo crop with a painting crop.

    Args:
        style: the style image (path, PIL image or uint8 array), or a list of them whose
            targets are blended with ``style_blend`` (normalized; default equal), as the
            optimizer blends them; for ``arbitrary``, a path or a list of paths (painting
            files or folders).
        data_dir: folder of training photos (searched recursively, see :func:`scan_data`).
        out_dir: the run folder (created); see the module docstring for its layout.
        config: a :class:`TrainConfig`; ``options`` override its fields. On resume without
            ``config``, the run's saved configuration is the base instead of the defaults.
        backbone: a backbone name (sets ``config.backbone``) or a ready
            :class:`~tf_style.backbones.Backbone` (tests pass ``tiny_backbone()``).
        resume: continue from the last checkpoint in ``out_dir`` (model, optimizer, step and
            data position); starts afresh when there is none. Without it, a folder holding
            checkpoints or a model raises :class:`OutputError`.
        strategy: a ``tf.distribute.Strategy``; default :func:`default_strategy`.
        log: receives one-line progress messages.
        progress: draw a progress bar on stderr.

    Ctrl-C or SIGTERM stops after the current step, saves a checkpoint and returns with
    ``interrupted=True`` (``model.keras`` is written only by a run that completes).

    Example:
        >>> r = train("starry.jpg", "photos/", "runs/s", architecture="mobile", steps=4000)  # doctest: +SKIP
        >>> r.step, r.final_terms["style"]  # doctest: +SKIP
        (4000, 0.12)
        >>> r = train(["starry.jpg", "scream.jpg"], "photos/", "runs/b", style_blend=(3, 1),
        ...           style_layer_weights=(1, 1, 1, 0.5, 0.5), architecture="mobile")  # doctest: +SKIP
        >>> r = train(["paintings/"], "photos/", "runs/a", architecture="arbitrary",
        ...           steps=300, learning_rate=1e-4)  # doctest: +SKIP
    """
    log = log or (lambda message: None)
    out = Path(os.fspath(out_dir))
    latest, saved = _run_state(out, bool(resume))
    if isinstance(backbone, str):
        options["backbone"] = backbone
        backbone = None
    cfg = _run_config(out, config, options, saved if resume else None, latest)
    arb = cfg.architecture == ARBITRARY

    # Cheap checks first: data and style fail before any model is built.
    scan = scan_data(data_dir, exclude=[out])
    for path, why in scan.skipped:
        log(f"data: skipping {path}: {why}")
    if arb:
        paintings = scan_paintings(style, exclude=[out])
        for path, why in paintings.skipped:
            log(f"style: skipping {path}: {why}")
        style_names: object = [_name(s) for s in ([style] if isinstance(style, (str, os.PathLike)) else style)]
    else:
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise OptionError("style: expected at least one style image, got none")
        blend = cfg.blend_weights(len(styles))  # as the optimizer: several images, one blend
        style_imgs = [im.read_image(s) for s in styles]
        for source, img in zip(styles, style_imgs):
            im.check_min_size(img, networks.MIN_SIZE, name=_name(source))
        style_names = _name(styles[0]) if len(styles) == 1 else [_name(s) for s in styles]
    sample_img = _sample_image(scan, cfg.size, log)
    # For arbitrary, also makes sure one painting decodes fully (the stream cannot spin).
    painting_img = _sample_image(paintings, cfg.predictor_size, log) if arb else None

    strategy = strategy or default_strategy()
    replicas = int(strategy.num_replicas_in_sync)
    if cfg.batch % replicas:
        raise OptionError(
            f"batch: {cfg.batch} cannot be split evenly over {replicas} devices; use a multiple of {replicas}"
        )

    teacher = None
    if cfg.teacher is not None and cfg.teacher_weight > 0:
        teacher = load_teacher(cfg.teacher, [im.to_array(img) for img in style_imgs], log, blend=blend)

    # Read before the run folder is written: a bad file leaves nothing behind.
    init = _init_network(cfg, log) if cfg.init is not None and latest is None else None

    pinned = saved.get("backbone") if (latest is not None and saved) else None
    backbone, loss = _criterion(cfg, backbone, pinned, log)
    style_side = cfg.style_size or cfg.size
    style_grams = None
    if not arb:
        style_grams = StyleTargets(style_imgs, blend, backbone, loss).at(style_side)
        if cfg.style_loss == "gram":
            style_grams = {k: tf.constant(v) for k, v in style_grams.items()}

    with _writing("the run folder", out):
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)

    step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    with strategy.scope():
        job: _Job = (_ArbitraryJob(cfg, backbone, loss, painting_img) if arb
                     else _StyleJob(cfg, backbone, loss, style_grams, teacher, step=step_var))
        optimizer = keras.optimizers.Adam(cfg.learning_rate)
        optimizer.build(job.variables)
    # One position per input stream: the photos ("data_position"), and for arbitrary the paintings.
    streams = [("data_position", scan.files, cfg.size, cfg.seed)]
    if arb:
        streams.append(("style_position", paintings.files, style_side, cfg.seed + _PAINTING_SEED))
    positions = {name: tf.Variable(0, dtype=tf.int64, trainable=False, name=name) for name, *_ in streams}
    checkpoint = tf.train.Checkpoint(**job.objects, optimizer=optimizer, step=step_var, **positions)
    manager = tf.train.CheckpointManager(checkpoint, str(out / "checkpoints"), max_to_keep=cfg.keep_checkpoints)

    if latest is not None:
        try:
            checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            text = " ".join(str(err).split())[:300]
            raise OptionError(
                f"architecture: cannot resume from {latest}: it does not match {job.what} ({text})"
            ) from None
        log(f"resuming from step {int(step_var.numpy())} ({latest})")
    else:
        if resume:
            log(f"no checkpoint in {out / 'checkpoints'}; starting a new run")
        if init is not None:
            job.model.set_weights(init.get_weights())

    description = {
        "format": 1,
        "style": style_names,
        "data": os.fsdecode(os.fspath(data_dir)),
        "images": len(scan.files),
        "skipped": len(scan.skipped),
        "backbone": backbone.name,
        "config": cfg.to_dict(),
    }
    if arb:
        description.update(paintings=len(paintings.files), skipped_paintings=len(paintings.skipped))
    _write_json_atomic(out / _RUN_FILE, description)

    start_step = int(step_var.numpy())
    datasets = [make_dataset(files, size, cfg.batch, seed=seed, start=int(positions[name].numpy()))
                for name, files, size, seed in streams]
    dataset = datasets[0] if len(datasets) == 1 else tf.data.Dataset.zip(tuple(datasets))
    dist_dataset = strategy.experimental_distribute_dataset(dataset)
    position_vars = list(positions.values())

    def replica_step(batch):
        inputs, indices = job.unpack(batch)
        context = job.prepare(inputs)  # the targets: no gradient needed
        with tf.GradientTape() as tape:
            total, terms = job.loss(context)
            # Gradients are summed over replicas: scale so the sum is the global mean.
            scaled = total / tf.cast(tf.distribute.get_replica_context().num_replicas_in_sync, tf.float32)
        grads = tape.gradient(scaled, job.variables)
        optimizer.apply_gradients(zip(grads, job.variables))
        return terms, [tf.reduce_max(i) for i in indices]

    # autograph=False: no data-dependent Python control flow here, and converting Keras'
    # optimizer code per variable made tracing several times slower.
    @tf.function(input_signature=[dist_dataset.element_spec], autograph=False)
    def train_step(batch):
        terms, lasts = strategy.run(replica_step, args=(batch,))
        terms = {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in terms.items()}
        for var, last in zip(position_vars, lasts):
            # ReduceOp has no MAX; the per-replica values are scalars, so stack them here.
            var.assign(tf.reduce_max(tf.stack(strategy.experimental_local_results(last))) + 1)
        step_var.assign_add(1)
        return terms

    writer = tf.summary.create_file_writer(str(out / "logs"))
    history: List[Dict[str, float]] = []
    step = start_step
    dropped = 0
    interrupted = False
    saved_at = start_step if latest is not None else -1
    bar = ProgressBar(max(cfg.steps - start_step, 1), label=f"train {cfg.architecture} ") if progress else None
    data_text = f"{len(scan.files)} images" + (f" and {len(paintings.files)} paintings" if arb else "")
    log(
        f"training {job.description} on {data_text}, "
        f"{cfg.size}px crops, batch {cfg.batch}, {replicas} replica(s), steps {start_step}->{cfg.steps}"
    )

    def save_checkpoint() -> None:
        nonlocal saved_at
        if saved_at != step:
            _save_checkpoint(manager, step)
            saved_at = step

    def total_position() -> int:
        return sum(int(v.numpy()) for v in position_vars)

    start = time.perf_counter()
    iterator = iter(dist_dataset)
    with _StopFlag() as flag, writer.as_default():
        try:
            while step < cfg.steps:
                if flag.stop:
                    interrupted = True
                    break
                position_before = total_position()
                # Every step, so a resumed run takes its new rate; a variable, not a schedule
                # object: the compiled step does not retrace.
                optimizer.learning_rate.assign(cfg.learning_rate_at(step))
                terms_t = train_step(next(iterator))
                step = int(step_var.numpy())
                if loss.redraw_every and step % loss.redraw_every == 0:
                    loss.redraw(style_grams)  # sliced: fresh directions, read through variables
                terms = finite_terms(terms_t, where=f" at step {step}",
                                     advice="lower --learning-rate or --style-weight, then --resume "
                                            "(the last checkpoint predates it)")
                dropped += total_position() - position_before - len(position_vars) * cfg.batch
                if bar is not None:
                    bar.update(step - start_step, terms)
                if step % cfg.log_every == 0 or step == cfg.steps:
                    history.append({"step": float(step), **terms})
                    for k, v in terms.items():
                        _summary_scalar(f"loss/{k}", v, step)
                    _summary_scalar("learning_rate", float(optimizer.learning_rate.numpy()), step)
                if cfg.sample_every and (step % cfg.sample_every == 0 or step == cfg.steps):
                    _write_sample(job.stylize(sample_img), out, step)
                if step % cfg.checkpoint_every == 0:
                    save_checkpoint()
        except KeyboardInterrupt:  # a second Ctrl-C: still keep the finished steps
            interrupted = True
        finally:
            if bar is not None:
                bar.close()
            try:
                writer.flush()
            except Exception as err:  # noqa: BLE001 - TensorBoard logs are best effort
                log(f"could not write the TensorBoard log: {im.write_error_reason(err)}")
        # Not in `finally`: after an error (a non-finite loss above all) the weights may be
        # bad, and the previous checkpoint is the one to resume from.
        step = int(step_var.numpy())
        save_checkpoint()
    seconds = time.perf_counter() - start

    model_path = None
    if not interrupted:
        model_path = save_model_atomic(job.final_model(), out / _MODEL_FILE)
        log(f"wrote {model_path} after {step} steps")
    else:
        log(f"interrupted at step {step}; checkpoint saved, continue with --resume")
    if dropped:
        log(f"data: {dropped} examples failed to decode and were skipped")
    return TrainResult(
        run_dir=out, model_path=model_path, config=cfg, start_step=start_step, step=step,
        seconds=seconds, history=history, images=len(scan.files), skipped=scan.skipped,
        dropped_examples=dropped, backbone=backbone.name, weights_source=backbone.weights_source,
        replicas=replicas, interrupted=interrupted, checkpoint=manager.latest_checkpoint,
        paintings=len(paintings.files) if arb else 0, skipped_paintings=paintings.skipped if arb else [],
    )


def _run_config(out: Path, config: Optional[TrainConfig], options: Dict[str, object],
                saved: Optional[dict], latest: Optional[str]) -> TrainConfig:
    """The run's configuration: ``config`` (or, on resume, the saved one) with ``options``.

    A resumed run must keep :data:`_FIXED_ON_RESUME`: what its checkpoint's variables depend
    on, and which style the network is learning.
    """
    saved_config: Optional[TrainConfig] = None
    if saved is not None and isinstance(saved.get("config"), dict):
        try:
            saved_config = TrainConfig.from_dict(saved["config"])
        except TfStyleError as err:
            raise OutputError(f"{out / _RUN_FILE}: invalid saved configuration ({err})") from None
    base = config if config is not None else (saved_config or TrainConfig())
    cfg = base.with_options(**options) if options else base
    if latest is not None and saved_config is not None:
        for field in _FIXED_ON_RESUME:
            if getattr(cfg, field) != getattr(saved_config, field):
                raise OptionError(
                    f"{field}: the run in {out} was trained with {field} "
                    f"{getattr(saved_config, field)!r}; resuming needs the same, got {getattr(cfg, field)!r} "
                    f"(start a new run in another folder to change it)"
                )
    return cfg


def _criterion(cfg: TrainConfig, backbone: Optional[bb.Backbone], pinned: Optional[str],
               log: Log) -> Tuple[bb.Backbone, PerceptualLoss]:
    """The loss network (``backbone``, or the one ``cfg`` names) and the perceptual loss,
    built as the optimizer builds them (:func:`tf_style.criterion.build_criterion`).

    ``pinned``: the backbone a resumed run started with, kept whatever ``auto`` picks today.
    """
    name = pinned if cfg.backbone == "auto" and pinned in ("vgg19", "vgg16", "vgg16-hed") else cfg.backbone
    return build_criterion(
        backbone=backbone, backbone_name=name, content_layers=cfg.content_layers, style_layers=cfg.style_layers,
        pooling=cfg.pooling, padding=cfg.padding, dtype=cfg.dtype, content_weight=cfg.content_weight,
        style_weight=cfg.style_weight, tv_weight=cfg.tv_weight, style_layer_weights=cfg.style_layer_weights,
        style_loss=cfg.style_loss, seed=cfg.seed, log=log,
    )


class _Job:
    """What one kind of training learns: the networks, their loss, samples and final model.

    ``objects`` are checkpointed under their keys; ``variables`` are trained; a batch of the
    input stream(s) is ``unpack``-ed to (inputs, index tensors, one per stream);
    ``prepare`` computes the targets outside the gradient tape, ``loss`` the terms inside it.
    """

    what: str
    description: str
    objects: Dict[str, tf.Module]
    variables: List[tf.Variable]

    def unpack(self, batch):  # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, inputs):  # pragma: no cover - interface
        raise NotImplementedError

    def loss(self, context):  # pragma: no cover - interface
        raise NotImplementedError

    def stylize(self, sample: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def final_model(self) -> keras.Model:  # pragma: no cover - interface
        raise NotImplementedError


def load_teacher(teacher: str, style: Union[np.ndarray, Sequence[np.ndarray]], log: Log, *,
                 blend: Optional[Sequence[float]] = None) -> Callable[[tf.Tensor], tf.Tensor]:
    """The teacher of a distilled run (``TrainConfig.teacher``): photos ``[N, H, W, 3]`` in
    [0, 255] -> its pictures, same shape and range.

    ``"arbitrary"``: the shipped arbitrary-style networks with ``style``'s vector (one image,
    or several whose vectors are averaged with ``blend``; computed once here, as ``stylize
    --method arbitrary`` does); else a trained per-style ``.keras`` network (safe mode).

    Raises:
        ModelLoadError: the file is missing or not a per-style network.
    """
    if teacher == ARBITRARY:
        predictor, transformer = arbitrary.load_style_predictor(), arbitrary.load_style_transformer()
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        # One painting or several: style_vector blends them as stylize --method arbitrary does.
        vector = tf.constant(arbitrary.style_vector(styles, blend=blend, predictor=predictor), tf.float32)
        what = "style images' blended vector" if len(styles) > 1 else "style image's vector"
        log(f"teacher: the arbitrary-style networks with the {what}")

        def forward(images):
            vectors = tf.repeat(vector[None], tf.shape(images)[0], axis=0)
            return tf.cast(transformer([images, vectors], training=False), tf.float32)
        return forward
    model = load_network(teacher, "teacher")
    log(f"teacher: {teacher} ({model.architecture}, width {model.width:g})")
    model.trainable = False
    return lambda images: tf.cast(model(images, training=False), tf.float32)


def load_network(path: Union[str, os.PathLike], option: str) -> networks.StyleTransformer:
    """The per-style network in the ``.keras`` file ``path`` (safe mode), for the option ``option``.

    Raises:
        ModelLoadError: the file is missing, unreadable or not a per-style network; the
            message starts with ``option``.
    """
    if not Path(path).is_file():
        raise ModelLoadError(f"{option}: {os.fspath(path)} does not exist or is not a file")
    try:
        model = runtime.load_keras(Path(path))  # safe mode: a file holding code is refused
    except ModelLoadError as err:
        raise ModelLoadError(f"{option}: {os.fspath(path)} is not a readable .keras network ({err})") from None
    if not isinstance(model, networks.StyleTransformer):
        raise ModelLoadError(f"{option}: {os.fspath(path)} is not a per-style network from tf-style train "
                             f"(got {type(model).__name__})")
    return model


def _init_network(cfg: TrainConfig, log: Log) -> networks.StyleTransformer:
    """The network ``cfg.init`` names, checked against the run's architecture and width."""
    source = load_network(cfg.init, "init")
    for field in ("architecture", "width"):
        if getattr(source, field) != getattr(cfg, field):
            raise OptionError(f"init: {cfg.init} is a network of {field} {getattr(source, field)!r}; this run "
                              f"trains {field} {getattr(cfg, field)!r}")
    changed = f" (it upsampled {source.upsample}; this run {cfg.upsample})" if source.upsample != cfg.upsample else ""
    log(f"init: starting from the weights of {cfg.init}{changed}")
    return source


def _inside(images: tf.Tensor, margin: int) -> tf.Tensor:
    """``images`` without ``margin`` px on each side (``TrainConfig.loss_margin``): what the
    perceptual loss sees of a crop."""
    return images[:, margin:-margin, margin:-margin] if margin else images


#: The shift term's moves (``TrainConfig.shift_weight``): the per-style networks halve the
#: resolution twice, so their lattice repeats every 4 px; moves of 0-3 px down and right (not
#: both 0) reach every phase of it.
_SHIFT_PERIOD = 4
#: Pixels on each side of the moved window where its picture is not compared: there the two
#: pictures see different borders.
_SHIFT_MARGIN = 16


def shift_at(seed: int, step: tf.Tensor) -> tf.Tensor:
    """The shift term's move at training ``step``: ``[down, right]``, each 0-3 px, not both 0;
    a function of the run's seed and the step, so a resumed run makes the same moves.

    >>> sorted({tuple(shift_at(0, s).numpy()) for s in range(300)}) == [
    ...     (y, x) for y in range(4) for x in range(4) if y or x]
    True
    """
    seed_pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
    k = tf.random.stateless_uniform([], seed=seed_pair, minval=1, maxval=_SHIFT_PERIOD ** 2, dtype=tf.int32)
    return tf.stack([k // _SHIFT_PERIOD, k % _SHIFT_PERIOD])


def shift_term(model: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor, picture: tf.Tensor,
               shift: tf.Tensor, count: Optional[int] = None) -> tf.Tensor:
    """The shift term of ``TrainConfig.shift_weight``: the mean squared difference (pixels in
    [0, 1]) between ``model``'s picture of ``images`` moved by ``shift`` (``[down, right]``)
    and ``picture`` (its picture of ``images``) moved the same, away from the window's edges.
    The first ``count`` crops are moved (default half the batch, at least one: the term needs
    the pattern, not every crop).

    A network that paints the same pattern on every 4 px whatever the photo pays for it; one
    whose picture moves with the photo pays nothing:

    >>> import numpy as np, tensorflow as tf
    >>> images = tf.constant(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)), tf.float32)
    >>> grid = np.zeros((1, 64, 64, 1), np.float32); grid[:, ::4, ::4] = 40
    >>> lattice = lambda x: x + grid[:, :x.shape[1], :x.shape[2]]
    >>> float(shift_term(lambda x: 0.5 * x, images, 0.5 * images, tf.constant([1, 2])))
    0.0
    >>> round(float(shift_term(lattice, images, lattice(images), tf.constant([1, 2]))) / (40 / 255) ** 2, 4)
    0.125
    """
    side = min(int(images.shape[1]), int(images.shape[2]))
    window = (side - _SHIFT_PERIOD) // _SHIFT_PERIOD * _SHIFT_PERIOD
    # Even, so the compared square spans whole lattice periods (window is a multiple of 4).
    margin = min(_SHIFT_MARGIN, window // 8 * 2)
    n = max(1, int(images.shape[0]) // 2) if count is None else int(count)
    inner = window - 2 * margin
    zero = tf.zeros([], tf.int32)
    moved = tf.slice(images[:n], tf.stack([zero, shift[0], shift[1], zero]), [n, window, window, 3])
    seen = tf.cast(model(moved), tf.float32)[:, margin:margin + inner, margin:margin + inner]
    expected = tf.slice(tf.cast(picture[:n], tf.float32),
                        tf.stack([zero, shift[0] + margin, shift[1] + margin, zero]), [n, inner, inner, 3])
    return tf.reduce_mean(tf.square((seen - expected) / 255.0))


class _StyleJob(_Job):
    """One per-style network (johnson or mobile) against fixed style targets; with a
    teacher, also against the teacher's pictures of the same crops (distillation)."""

    def __init__(self, cfg: TrainConfig, backbone: bb.Backbone, loss: PerceptualLoss,
                 style_grams: Mapping[str, tf.Tensor],
                 teacher: Optional[Callable[[tf.Tensor], tf.Tensor]] = None,
                 step: Optional[tf.Variable] = None) -> None:
        self.network_dtype = bb.resolve_dtype(cfg.network_dtype)
        with dtype_policy(self.network_dtype):
            self.model = networks.StyleTransformer(cfg.architecture, cfg.width, upsample=cfg.upsample,
                                                   seed=cfg.seed)
        self.backbone, self.criterion, self.style_grams = backbone, loss, style_grams
        self.teacher = teacher if cfg.teacher_weight > 0 else None
        self.teacher_weight = cfg.teacher_weight
        self.margin = cfg.loss_margin
        self.shift_weight, self.seed = cfg.shift_weight, cfg.seed
        self.step = step if step is not None else tf.Variable(0, dtype=tf.int64, trainable=False)
        # Pure distillation needs no loss network: skip its passes.
        self.perceptual = bool(cfg.content_weight or cfg.style_weight)
        self.what = f"a {cfg.architecture!r} network of width {cfg.width:g}"
        self.description = f"{cfg.architecture} (width {cfg.width:g}, {self.network_dtype})" + \
            (f", distilled from {cfg.teacher} (weight {cfg.teacher_weight:g})" if self.teacher else "") + \
            (f", shift term {cfg.shift_weight:g}" if self.shift_weight else "")
        self.objects = {"model": self.model}
        self.variables = self.model.trainable_variables

    def unpack(self, batch):
        images, indices = batch
        return images, (indices,)

    def prepare(self, images):
        targets = (self.criterion.content_targets(self.backbone(_inside(images, self.margin)))
                   if self.perceptual else None)
        taught = tf.stop_gradient(self.teacher(images)) if self.teacher is not None else None
        return images, targets, taught

    def loss(self, context):
        images, content_targets, taught = context
        styled = self.model(images, training=True)
        # With both perceptual weights 0 the loss reads no features: no loss-network pass.
        seen = _inside(styled, self.margin)
        features = self.backbone(seen) if self.perceptual else {}
        total, terms = self.criterion(features, seen, content_targets, self.style_grams)
        if taught is not None:
            teacher = tf.reduce_mean(tf.square((styled - taught) / 255.0))
            total = total + self.teacher_weight * teacher
            terms = dict(terms, total=total, teacher=teacher)
        if self.shift_weight:
            shifted = shift_term(lambda x: self.model(x, training=True), images, styled,
                                 shift_at(self.seed, self.step))
            total = total + self.shift_weight * shifted
            terms = dict(terms, total=total, shift=shifted)
        return total, terms

    def stylize(self, sample: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(sample[None], training=False))[0]

    def final_model(self) -> keras.Model:
        if self.network_dtype == "float32":
            return self.model
        # The saved network computes in float32 whatever it trained in (exports expect it).
        with dtype_policy("float32"):
            model = networks.StyleTransformer.from_config(self.model.get_config())
        model.set_weights(self.model.get_weights())
        return model


class _ArbitraryJob(_Job):
    """Magenta's style predictor and transformer, from the shipped weights.

    Every batch element pairs a photo crop with its own painting crop: the transformer's
    conditional instance norm is per example, so one painting per element shows it
    ``batch`` styles per step instead of one. The painting's Grams are computed in the step
    (style targets change with every painting); the predictor sees the painting crop at
    ``predictor_size``. Strength is 1 (the painting's own vector).
    """

    def __init__(self, cfg: TrainConfig, backbone: bb.Backbone, loss: PerceptualLoss,
                 painting: Optional[np.ndarray] = None, *,
                 networks_pair: Optional[Tuple[keras.Model, keras.Model]] = None) -> None:
        # Fresh copies: arbitrary's cached shipped pair must never be changed by training.
        if networks_pair is None:
            networks_pair = arbitrary.load_style_predictor(), arbitrary.load_style_transformer()
        self.predictor, self.transformer = networks_pair
        self.backbone, self.criterion = backbone, loss
        self.train_predictor = cfg.train_predictor
        self.predictor_size = cfg.predictor_size
        self.margin = cfg.loss_margin
        self.painting = painting
        trained = "transformer and predictor" if self.train_predictor else "transformer; predictor frozen"
        self.what = f"the {ARBITRARY!r} networks with train_predictor={self.train_predictor}"
        self.description = f"{ARBITRARY} ({trained})"
        self.objects = {"transformer": self.transformer}
        self.variables = list(self.transformer.trainable_variables)
        if self.train_predictor:
            self.objects["predictor"] = self.predictor
            self.variables += list(self.predictor.trainable_variables)

    def unpack(self, batch):
        (photos, photo_indices), (paintings, painting_indices) = batch
        return (photos, paintings), (photo_indices, painting_indices)

    def prepare(self, inputs):
        photos, paintings = inputs
        content_targets = self.criterion.content_targets(self.backbone(_inside(photos, self.margin)))
        grams = self.criterion.style_targets(self.backbone(paintings))
        seen = paintings
        if paintings.shape[1] != self.predictor_size:  # static: the crops have one size
            size = [self.predictor_size, self.predictor_size]
            seen = tf.image.resize(paintings, size, method="bilinear", antialias=True)
        vector = None if self.train_predictor else tf.stop_gradient(self.predictor(seen, training=False))
        return photos, seen, vector, content_targets, grams

    def loss(self, context):
        photos, seen, vector, content_targets, grams = context
        if vector is None:
            vector = self.predictor(seen, training=True)
        styled = self.transformer([photos, vector], training=True)
        seen = _inside(styled, self.margin)
        return self.criterion(self.backbone(seen), seen, content_targets, grams)

    def stylize(self, sample: np.ndarray) -> np.ndarray:
        # As stylize_arbitrary does: the whole painting, short side predictor_size.
        vector = arbitrary.predict_style(self.painting, style_size=self.predictor_size, predictor=self.predictor)
        return np.asarray(self.transformer([sample[None], vector[None]], training=False))[0]

    def final_model(self) -> keras.Model:
        return arbitrary.combine(self.predictor, self.transformer)


def arbitrary_loss(
    stylizer: keras.Model,
    photos: np.ndarray,
    paintings: np.ndarray,
    config: Optional[TrainConfig] = None,
    *,
    backbone: Union[str, bb.Backbone, None] = None,
    log: Optional[Log] = None,
) -> Dict[str, float]:
    """The training loss terms of an arbitrary stylizer on fixed batches (no training).

    ``stylizer``: the one-file form (:func:`tf_style.arbitrary.combine`, or a loaded
    ``model.keras`` of an arbitrary run); ``photos`` ``[N, H, W, 3]`` and ``paintings``
    ``[N, s, s, 3]``, float in [0, 255], paired by position. The criterion is the one
    ``config`` (architecture ``arbitrary``) trains with, so a held-out batch measures what
    fine-tuning changed.

    Example:
        >>> before = arbitrary_loss(arbitrary.shipped_stylizer(), photos, paintings, cfg)  # doctest: +SKIP
        >>> before["total"]  # doctest: +SKIP
        3.1
    """
    cfg = config or TrainConfig(architecture=ARBITRARY)
    if cfg.architecture != ARBITRARY:
        raise OptionError(f"architecture: arbitrary_loss needs {ARBITRARY!r}, got {cfg.architecture!r}")
    if isinstance(backbone, str):
        cfg = cfg.with_options(backbone=backbone)
        backbone = None
    backbone, loss = _criterion(cfg, backbone, None, log or (lambda message: None))
    job = _ArbitraryJob(cfg, backbone, loss, networks_pair=arbitrary.split(stylizer))
    photos_t = tf.convert_to_tensor(np.asarray(photos, np.float32))
    paintings_t = tf.convert_to_tensor(np.asarray(paintings, np.float32))
    _, terms = job.loss(job.prepare((photos_t, paintings_t)))
    return {k: float(v) for k, v in terms.items()}


def _sample_image(scan: DataScan, size: int, log: Log) -> np.ndarray:
    """The first fully decodable data image, long side ``2 * size``: the photo in every sample.

    Twice the crop size, because the network is then used on photos larger than its crops.

    Also guarantees that at least one file decodes completely, so the endless input
    pipeline cannot spin forever on a folder of files with valid headers only.
    """
    for path in scan.files:
        try:
            img = im.read_image(path)
        except TfStyleError as err:
            log(f"data: {err}")
            continue
        img = im.resize_long_side(img, 2 * size)
        if min(img.size) < networks.MIN_SIZE:
            scale = networks.MIN_SIZE / min(img.size)
            img = im.resize_to(img, tuple(max(networks.MIN_SIZE, round(s * scale)) for s in img.size))
        return im.to_array(img)
    raise DataError(f"{scan.root}: none of the {len(scan.files)} image files decodes completely")


def _write_sample(arr: np.ndarray, out: Path, step: int) -> None:
    im.save_image(arr, out / "samples" / f"step_{step:06d}.png")
    _summary_image("sample", np.clip(np.rint(arr), 0, 255).astype(np.uint8), step)


# TensorBoard's own tf.summary.scalar/image need the tensorboard package; tf.summary.write
# is in TensorFlow itself and writes the same records given the plugin's name.
def _plugin(name: str):
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = name
    return meta


def _summary_scalar(tag: str, value: float, step: int) -> None:
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=_plugin("scalars"))


def _summary_image(tag: str, pixels: np.ndarray, step: int) -> None:
    h, w = pixels.shape[:2]
    png = tf.io.encode_png(pixels)
    tensor = tf.stack([tf.as_string(w), tf.as_string(h), png])
    tf.summary.write(tag, tensor, step=step, metadata=_plugin("images"))
