"""``stylize(method="arbitrary")``: one forward pass of the arbitrary-style networks.

The thin layer between ``tf_style.stylize`` / ``tf-style stylize --method arbitrary`` and
:mod:`tf_style.arbitrary` (where the style vectors are blended, interpolated and scaled):
it reads and checks every input, resizes the photo to the output size, times the stages
and writes the picture atomically. Importing it loads no TensorFlow: :func:`prepare`
checks everything first (a bad file fails in milliseconds), :func:`run` loads the networks.

Example:
    >>> from tf_style.config import ArbitraryConfig
    >>> job = prepare("tubingen.jpg", ["the_scream.jpg"], ArbitraryConfig(strength=0.8))  # doctest: +SKIP
    >>> run(job, output="out.png").to_dict("out.png")["timings"]  # doctest: +SKIP
    {'read': 0.05, 'import': 0.0, 'load': 2.9, 'predict': 0.21, 'transfer': 0.55, 'save': 0.03, 'total': 3.74}
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from tf_style import image as im
from tf_style.config import ARBITRARY_MIN_SIDE, ARBITRARY_STYLE_SIZE, ArbitraryConfig
from tf_style.errors import MemoryBudgetError, OptionError

PathLike = Union[str, "os.PathLike[str]"]

#: What ``backbone`` says for the arbitrary method: Magenta's two networks (``tf_style.arbitrary``).
ARBITRARY_NETWORKS = "magenta-arbitrary (MobileNetV2 style predictor + style transformer)"


@dataclasses.dataclass
class ArbitraryResult:
    """What one pass of the arbitrary-style networks produced (``stylize(method="arbitrary")``).

    Has the attributes of :class:`tf_style.transfer.StylizeResult` that apply (``image``,
    ``config``, ``backbone``, ``weights_source``, ``seconds``, ``sizes``, ``to_dict``);
    ``iterations`` is 0 and ``history`` empty. ``timings`` holds the seconds of each stage:
    ``read`` (reading, checking and resizing the inputs), ``import`` (between
    :func:`prepare` and :func:`run`, where the CLI imports TensorFlow; about 0 from
    Python), ``load`` (importing Keras where not yet done and building the networks;
    about 0 once cached in the process), ``predict`` (the style vectors), ``transfer``
    (the transformer's pass and the colour step), ``save``, and ``total`` (= ``seconds``,
    the sum: the whole call).
    """

    image: Image.Image
    config: ArbitraryConfig
    weights_source: str
    seconds: float
    timings: Dict[str, float]
    sizes: List[Tuple[int, int]]
    content_size: Tuple[int, int]
    #: The paintings' shorter side (px) as fed to the style predictor.
    style_side: int
    blend: Tuple[float, ...]
    backbone: str = ARBITRARY_NETWORKS
    method: str = "arbitrary"
    iterations: int = 0
    history: List[Dict[str, float]] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    dtype: str = "float32"
    final: Optional[Dict[str, float]] = None

    @property
    def final_terms(self) -> Dict[str, float]:
        """No loss: a forward pass (kept for :class:`StylizeResult` compatibility)."""
        return {}

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        """A JSON-ready summary (what ``tf-style stylize --method arbitrary --json`` prints)."""
        return {
            "output": None if output is None else str(output),
            "method": self.method,
            "size": list(self.image.size),
            "content_size": list(self.content_size),
            "backbone": self.backbone,
            "weights": self.weights_source,
            "dtype": self.dtype,
            "strength": self.config.strength,
            "style_blend": list(self.blend),
            "style_scale": self.config.style_scale,
            "style_side": self.style_side,
            "preserve_color": self.config.preserve_color,
            "iterations": 0,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "interrupted": False,
        }


@dataclasses.dataclass(frozen=True)
class Job:
    """Checked inputs of one run (from :func:`prepare`)."""

    photo: np.ndarray  # the resized photo, HxWx3 float32 [0, 255]
    paintings: Tuple[np.ndarray, ...]
    blend: Tuple[float, ...]
    config: ArbitraryConfig
    content_size: Tuple[int, int]
    inputs: Tuple[PathLike, ...]
    started: float
    prepared: float


def _name(source: object) -> str:
    return os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__


def prepare(content: im.ImageLike, styles: Sequence[im.ImageLike], config: ArbitraryConfig, *,
            output: Optional[PathLike] = None) -> Job:
    """Check the options, the output path and every input (read, sizes); loads no network.

    Raises the ``tf_style.errors`` exception that names the problem: :class:`OptionError`,
    :class:`OutputError`, :class:`ImageReadError`, :class:`ImageSizeError`.
    """
    started = time.perf_counter()
    if not isinstance(config, ArbitraryConfig):
        raise OptionError(f"config: expected an ArbitraryConfig, got {type(config).__name__}")
    styles = list(styles)
    if not styles:
        raise OptionError("style: expected at least one style image, got none")
    blend = config.blend_weights(len(styles))
    inputs = tuple(p for p in (content, *styles) if isinstance(p, (str, os.PathLike)))
    if output is not None:
        im.check_output_path(output, inputs=inputs)
    photo = im.read_image(content)
    im.check_min_size(photo, ARBITRARY_MIN_SIDE, name=_name(content))
    paintings = []
    for s in styles:
        picture = im.read_image(s)
        im.check_min_size(picture, ARBITRARY_MIN_SIDE, name=_name(s))
        paintings.append(im.to_array(picture))
    resized = im.resize_long_side(photo, config.size)
    w, h = resized.size
    if min(w, h) < ARBITRARY_MIN_SIDE:
        raise OptionError(
            f"size: {config.size} gives a {w}x{h} output for this {photo.size[0]}x{photo.size[1]} photo; "
            f"each side must be >= {ARBITRARY_MIN_SIDE} px (use a larger --size)"
        )
    return Job(im.to_array(resized), tuple(paintings), blend, config, photo.size, inputs, started,
               time.perf_counter())


def run(job: Job, *, output: Optional[PathLike] = None,
        log: Optional[Callable[[str], None]] = None) -> ArbitraryResult:
    """Load the networks (cached), predict the style vector, transfer, and write ``output``.

    Raises :class:`MemoryBudgetError` before the pass when the picture would need more
    memory than is available (:func:`tf_style.arbitrary.estimate_pass_bytes`).
    """
    log = log or (lambda msg: None)
    config = job.config
    t = time.perf_counter()
    # Between prepare() and run() the CLI imports TensorFlow (about 0 from Python, where it is loaded).
    timings: Dict[str, float] = {"read": job.prepared - job.started, "import": t - job.prepared}
    from tf_style import arbitrary as arb  # Keras (and TensorFlow, if not yet imported)
    from tf_style import system

    h, w = job.photo.shape[:2]
    need, avail = arb.estimate_pass_bytes(h, w), system.available_memory()
    if avail is not None and need > avail:
        raise MemoryBudgetError(
            f"size: a {w}x{h} pass needs about {need / 2**30:.1f} GiB but only {avail / 2**30:.1f} GiB "
            f"is available; use a smaller --size"
        )
    from tf_style.backbones import resolve_dtype

    dtype = resolve_dtype(config.dtype, log=log)
    predictor, transformer = arb._shipped_models(False, dtype)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    vector = arb.style_vector(list(job.paintings), job.photo, strength=config.strength, blend=job.blend,
                              style_scale=config.style_scale, predictor=predictor)
    timings["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    out = arb.stylize_with_vector(job.photo, vector, preserve_color=config.preserve_color,
                                  transformer=transformer)
    timings["transfer"] = time.perf_counter() - t
    picture = im.to_pil(out)
    t = time.perf_counter()
    if output is not None:
        im.save_image(picture, output, inputs=job.inputs)
    timings["save"] = time.perf_counter() - t
    seconds = time.perf_counter() - job.started
    timings["total"] = seconds
    files = ", ".join(str(arb.asset_path(f)) for f in (arb.PREDICT_FILE, arb.TRANSFORM_FILE))
    log(f"arbitrary networks: load {timings['load']:.2f} s, predict {timings['predict']:.2f} s, "
        f"transfer {timings['transfer']:.2f} s")
    return ArbitraryResult(
        image=picture, config=config, weights_source=files, seconds=seconds, timings=timings,
        sizes=[picture.size], content_size=job.content_size,
        style_side=round(ARBITRARY_STYLE_SIZE * config.style_scale), blend=job.blend, dtype=dtype,
    )


def stylize_arbitrary_result(content: im.ImageLike, styles: Sequence[im.ImageLike], config: ArbitraryConfig, *,
                             output: Optional[PathLike] = None,
                             log: Optional[Callable[[str], None]] = None) -> ArbitraryResult:
    """:func:`prepare` then :func:`run`: what ``tf_style.stylize(method="arbitrary")`` does."""
    return run(prepare(content, styles, config, output=output), output=output, log=log)


__all__ = ["ARBITRARY_NETWORKS", "ArbitraryResult", "Job", "prepare", "run", "stylize_arbitrary_result"]
