"""The ``tf-style`` command line.

Every user error prints one line on stderr and exits with status 2; an
interrupted run exits with 130 after keeping its last complete picture.
``main(argv)`` returns the exit status, so tests call it directly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Callable, Dict, List, Optional, Sequence

from tf_style.config import (
    DEFAULT_MAX_DECODE_PIXELS,
    DEFAULT_TFLITE_SIDE,
    DEFAULT_UPSAMPLE,
    MIN_IMAGE_SIDE,
    NETWORK_UPSAMPLES,
    QUANTIZATIONS,
    SWEEP_RATIOS,
)
from tf_style.errors import MemoryBudgetError, OptionError, TfStyleError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``tf-style: error: ...``) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog.split()[0]}: error: {message}\n")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _names(text: str) -> List[str]:
    names = [t.strip() for t in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated layer names, got {text!r}")
    return names


#: ``tf-style stylize`` options that only the optimizer (``--method gatys``) reads: (dest, flag).
#: Their argparse default is None, so giving one with ``--method arbitrary`` is an error
#: instead of being ignored; left out, they take the StylizeConfig defaults.
_OPTIMIZER_ONLY = (
    ("iterations", "--iterations"), ("pyramid", "--pyramid"), ("optimizer", "--optimizer"),
    ("learning_rate", "--learning-rate"), ("content_weight", "--content-weight"),
    ("style_weight", "--style-weight"), ("tv_weight", "--tv-weight"),
    ("content_layers", "--content-layers"), ("style_layers", "--style-layers"),
    ("style_layer_weights", "--style-layer-weights"), ("init", "--init"), ("backbone", "--backbone"),
    ("weights", "--weights"), ("pooling", "--pooling"), ("padding", "--padding"), ("seed", "--seed"),
    ("tile", "--tile"),
    ("tile_iterations", "--tile-iterations"), ("save_every", "--save-every"),
    ("plot", "--plot"), ("style_loss", "--style-loss"),
)
#: ... and those only ``--method arbitrary`` reads.
_ARBITRARY_ONLY = (("strength", "--strength"),)
#: StylizeConfig fields among _OPTIMIZER_ONLY (the rest are the command's own).
_OPTIMIZER_FIELDS = (
    "iterations", "pyramid", "optimizer", "learning_rate", "content_weight", "style_weight", "tv_weight",
    "init", "backbone", "weights", "pooling", "padding", "seed", "tile", "tile_iterations", "dtype", "style_loss",
)
#: Comma-separated number lists of stylize and train, (dest, flag): argparse keeps the text and
#: :func:`tf_style.config.parse_float_list` reads it, so a bad value is one line naming the flag.
_FLOAT_LISTS = (("style_layer_weights", "--style-layer-weights"), ("style_blend", "--style-blend"))


def _add_style_weights(p, defaults, *, layer_tag: str = "", blend_help: str) -> None:
    """``--style-layer-weights`` and ``--style-blend``, their defaults shown from the config
    instance ``defaults`` (StylizeConfig or TrainConfig); :func:`_float_lists` reads them."""
    def shown(value) -> str:
        return "equal" if value is None else ",".join(f"{v:g}" for v in value)

    p.add_argument("--style-layer-weights", default=None, metavar="W1,W2,...",
                   help=f"{layer_tag}one weight per style layer, in --style-layers order "
                        f"(default {shown(defaults.style_layer_weights)})")
    p.add_argument("--style-blend", default=None, metavar="W1,W2,...",
                   help=f"weights of several styles (normalized; default {shown(defaults.style_blend)}). {blend_help}")


def _float_lists(args: argparse.Namespace) -> Dict[str, object]:
    """The given :data:`_FLOAT_LISTS` options as tuples of floats (an empty text is left out)."""
    from tf_style.config import parse_float_list

    return {dest: parse_float_list(flag, getattr(args, dest)) for dest, flag in _FLOAT_LISTS
            if getattr(args, dest, None)}


def _add_style_loss(p, default: Optional[str], shown: str, *, gatys: bool = False) -> None:
    """``--style-loss`` with argparse default ``default`` (None: the config decides), help saying ``shown``."""
    from tf_style.config import STYLE_LOSSES

    # No argparse `choices`: a bad value goes through the config's check, one line naming the flag.
    p.add_argument("--style-loss", default=default, metavar="LOSS",
                   help=f"{'[gatys] ' if gatys else ''}{', '.join(STYLE_LOSSES)}: Gram matrices (Gatys), mean and covariance "
                        f"(Wasserstein-2 of Gaussians) or sliced Wasserstein (default {shown})")


def _layers(names: Sequence[str]) -> str:
    """Default layers as help text: ``block1_conv1,...,block5_conv1`` (first and last of a long list)."""
    return ",".join(names) if len(names) <= 2 else f"{names[0]},...,{names[-1]}"


def _one_of(values: Sequence[str], default: str) -> str:
    """``"avg (default) or max"``: the choices with the default marked."""
    shown = [f"{v} (default)" if v == default else v for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _add_stylize(sub) -> None:
    from tf_style.config import (
        ARBITRARY_STYLE_SCALE,
        ARBITRARY_STYLE_SIZE,
        BACKBONES,
        DEFAULT_METHOD,
        DTYPE_OPTIONS,
        METHODS,
        OPTIMIZERS,
        PADDINGS,
        POOLINGS,
        ArbitraryConfig,
        StylizeConfig,
    )

    D = StylizeConfig()  # defaults live in one place: the config
    A = ArbitraryConfig()
    p = sub.add_parser(
        "stylize",
        help="style transfer of one photo: optimization (Gatys et al.) or one pass of the arbitrary-style networks",
        description="Render CONTENT in the style of STYLE (several STYLEs are blended). "
        "--method gatys (default) optimizes the picture (Gatys et al.); --method arbitrary paints it "
        "in one forward pass of Magenta's arbitrary-style networks (Ghiasi et al. 2017), with no iterations. "
        "Options marked [gatys] or [arbitrary] apply to that method only; giving one with the other "
        "method is an error.",
    )
    p.add_argument("content", metavar="CONTENT", help="the photo")
    p.add_argument("style", metavar="STYLE", nargs="+", help="one or more style images")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (.png, .jpg, .webp)")
    p.add_argument("--method", default=DEFAULT_METHOD, metavar="|".join(METHODS),
                   help=f"gatys: optimization (iterations); arbitrary: one forward pass of the "
                        f"arbitrary-style networks (default {DEFAULT_METHOD})")
    p.add_argument("--size", type=_int, default=D.size,
                   help=f"output long side in px; the photo is resized to it first (default {D.size})")
    p.add_argument("--strength", type=_float, default=None,
                   help=f"[arbitrary] 0 = the photo's own style vector, 1 = the painting's; in between, "
                        f"the two interpolated (default {A.strength:g})")
    p.add_argument("--iterations", type=_int, default=None,
                   help=f"[gatys] loss evaluations at the final size; coarser levels get 2x per halving (default {D.iterations})")
    p.add_argument("--pyramid", type=_int, default=None, help=f"[gatys] coarse-to-fine levels, 1 = off (default {D.pyramid})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help=f"[gatys] (default {D.optimizer})")
    _add_style_loss(p, None, D.style_loss, gatys=True)
    p.add_argument("--learning-rate", type=_float, default=None, help=f"[gatys] Adam step in pixel units (default {D.learning_rate:g})")
    p.add_argument("--content-weight", type=_float, default=None, metavar="W", help=f"[gatys] alpha (default {D.content_weight:g})")
    p.add_argument("--style-weight", type=_float, default=None, metavar="W", help=f"[gatys] beta (default {D.style_weight:g})")
    p.add_argument("--tv-weight", type=_float, default=None, metavar="W", help=f"[gatys] total variation (default {D.tv_weight:g})")
    p.add_argument("--content-layers", type=_names, default=None, metavar="L1,L2",
                   help=f"[gatys] default {_layers(D.content_layers)} (aliases conv4_2/relu4_2 work)")
    p.add_argument("--style-layers", type=_names, default=None, metavar="L1,L2,...",
                   help=f"[gatys] default {_layers(D.style_layers)}")
    _add_style_weights(p, D, layer_tag="[gatys] ",
                       blend_help="gatys blends their Gram targets, arbitrary their style vectors")
    p.add_argument("--style-scale", type=_float, default=D.style_scale,
                   help="the style image's size as the network sees it: gatys, relative to the output (> 1 = "
                        f"bigger strokes); arbitrary, relative to the predictor's {ARBITRARY_STYLE_SIZE} px shorter "
                        f"side, {ARBITRARY_STYLE_SCALE[0]:g}-{ARBITRARY_STYLE_SCALE[1]:g} (< 1 = bolder, coarser marks; > 1 = finer, fainter texture) (default {D.style_scale:g})")
    p.add_argument("--init", default=None, help=f"[gatys] content, style, noise or an image path (default {D.init})")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the photo's colours (gatys: luminance-only transfer, Gatys et al. 2016; "
                        "arbitrary: the result's luminance with the photo's colours)")
    p.add_argument("--backbone", default=None, help=f"[gatys] {', '.join(BACKBONES)} (default {D.backbone})")
    p.add_argument("--weights", default=None, metavar="PATH", help="[gatys] local .h5 of Keras VGG weights")
    p.add_argument("--pooling", default=None,
                   help=f"[gatys] {_one_of(POOLINGS, D.pooling)}: the backbone's pooling (avg is Gatys' choice)")
    p.add_argument("--padding", default=None,
                   help=f"[gatys] {_one_of(PADDINGS, D.padding)}: how the backbone's convolutions see past the "
                   "picture's edge (reflect: the picture mirrored; zeros: black, which paints a frame)")
    p.add_argument("--seed", type=_int, default=None, help=f"[gatys] (default {D.seed})")
    p.add_argument("--tile", type=_int, default=None, metavar="PX",
                   help=f"[gatys] optimize levels longer than 2 x PX in PX x PX tiles, for pictures larger than "
                        f"memory allows; 0 = never (default {D.tile})")
    p.add_argument("--tile-iterations", type=_int, default=None, metavar="N",
                   help=f"[gatys] loss evaluations per tile (default {D.tile_iterations})")
    p.add_argument("--dtype", default=None,
                   help=f"{_one_of(DTYPE_OPTIONS, D.dtype)} convolutions; auto: bfloat16 where the GPU/CPU "
                        "runs it natively, else float32")
    p.add_argument("--save-every", type=_int, default=None, metavar="N",
                   help="[gatys] write the current picture to OUT every N evaluations")
    p.add_argument("--plot", default=None, metavar="PATH",
                   help="[gatys] also write a plot of the loss terms against iterations (log scale; needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the run's figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    p.set_defaults(run=_cmd_stylize)


def _refuse_options(args: argparse.Namespace, options, method: str, other: str) -> None:
    """An option of the other method given explicitly: an error naming it, never ignored."""
    for dest, flag in options:
        if getattr(args, dest) is not None:
            raise OptionError(f"{flag}: only used with --method {other}, not with --method {method}")


def _cmd_stylize(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    from tf_style.config import check_method

    method = check_method(args.method)
    if method == "arbitrary":
        _refuse_options(args, _OPTIMIZER_ONLY, "arbitrary", "gatys")
        return _cmd_stylize_arbitrary(args, log)
    _refuse_options(args, _ARBITRARY_ONLY, "gatys", "arbitrary")
    from tf_style import image as im
    from tf_style.config import INIT_KINDS, StylizeConfig

    options: Dict[str, object] = dict(
        size=args.size, style_scale=args.style_scale, preserve_color=args.preserve_color,
    )
    options.update({k: getattr(args, k) for k in _OPTIMIZER_FIELDS if getattr(args, k) is not None})
    if args.content_layers:
        options["content_layers"] = tuple(args.content_layers)
    if args.style_layers:
        options["style_layers"] = tuple(args.style_layers)
    options.update(_float_lists(args))
    config = StylizeConfig(**options)  # type: ignore[arg-type]
    save_every = 0 if args.save_every is None else args.save_every
    if save_every < 0:
        raise OptionError(f"--save-every: expected an integer >= 0, got {save_every}")
    if args.weights is not None and not os.path.isfile(args.weights):
        raise OptionError(f"--weights: no such file: {args.weights!r}")
    inputs = [args.content, *args.style]
    if config.init not in INIT_KINDS:
        if not os.path.exists(config.init):
            raise OptionError(
                f"--init: expected content, style, noise or an existing image path, got {config.init!r}"
            )
        inputs.append(config.init)
    im.check_output_path(args.output, inputs=inputs)
    if args.plot is not None:  # before the long run: a missing matplotlib fails at once
        from tf_style.viz import require_matplotlib

        require_matplotlib("--plot")
        im.check_output_path(args.plot, inputs=[*inputs, args.output])
    # Read every input before loading TensorFlow models: bad files fail in milliseconds.
    content = im.read_image(args.content)
    im.check_min_size(content, MIN_IMAGE_SIDE, name=args.content)
    for path in inputs[1:]:
        im.read_image(path)

    _load_tensorflow()
    from tf_style.transfer import Stylizer

    stylizer = Stylizer(args.style, config, log=log)
    levels: List[int] = []  # pyramid level of each evaluation, for --plot

    stop = getattr(args, "stop", None)

    def on_step(level: int, *_: object) -> None:
        if stop is not None:
            stop.check()
        levels.append(level)

    result = stylizer.stylize(
        content, output=args.output, save_every=save_every,
        progress=not args.quiet, protect=inputs, on_step=on_step,
    )
    if args.plot is not None and result.history:
        from tf_style.viz import level_boundaries, plot_history

        plot_history(
            result.history, args.plot, inputs=[*inputs, args.output],
            weights={"content": config.content_weight, "style": config.style_weight, "tv": config.tv_weight},
            boundaries=level_boundaries(levels),
            title=f"{os.path.basename(args.content)} x {', '.join(os.path.basename(s) for s in args.style)} "
            f"({result.backbone}, {config.optimizer})",
        )
        log(f"wrote {args.plot}")
    if args.json:
        print(json.dumps(result.to_dict(args.output)))
    elif not args.quiet:
        terms = result.final_terms
        loss = f"; loss {result.initial_loss:.4g} -> {terms['total']:.4g}" if terms else ""
        log(f"wrote {args.output} ({result.image.size[0]}x{result.image.size[1]}) in {result.seconds:.1f} s{loss}")
    if result.interrupted:
        log(f"interrupted after {result.iterations} evaluations; kept the last picture in {args.output}")
        return EXIT_INTERRUPTED
    return 0


def _cmd_stylize_arbitrary(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    """One forward pass; a Ctrl-C before the atomic write leaves no file (exit 130 in main)."""
    from tf_style import one_pass
    from tf_style.config import ArbitraryConfig

    options: Dict[str, object] = dict(size=args.size, style_scale=args.style_scale,
                                      preserve_color=args.preserve_color)
    if args.strength is not None:
        options["strength"] = args.strength
    if args.dtype is not None:
        options["dtype"] = args.dtype
    options.update(_float_lists(args))  # --style-layer-weights was refused above
    config = ArbitraryConfig(**options)  # type: ignore[arg-type]
    # Options, output path and every input are checked before TensorFlow loads.
    job = one_pass.prepare(args.content, args.style, config, output=args.output)
    _load_tensorflow()
    result = one_pass.run(job, output=args.output, log=log)
    if args.json:
        print(json.dumps(result.to_dict(args.output)))
    else:
        w, h = result.image.size
        log(f"wrote {args.output} ({w}x{h}) in {result.seconds:.1f} s")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="versions and which backbones' weights are available here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_info)


def _cmd_info(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    _load_tensorflow()
    import platform

    import keras
    import numpy
    import PIL
    import tensorflow as tf

    import tf_style
    from tf_style.backbones import backbone_status

    info = {
        "tf_style": tf_style.__version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "backbones": backbone_status(),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    for key in ("tf_style", "python", "tensorflow", "keras", "numpy", "pillow"):
        print(f"{key:11s} {info[key]}")
    print(f"{'gpus':11s} {', '.join(info['gpus']) or 'none'}")
    print("backbones:")
    for b in info["backbones"]:
        mark = "yes" if b["available"] else "no "
        print(f"  {b['name']:10s} {mark} {b['weights']}")
    return 0


def _add_train(sub) -> None:
    from tf_style.config import (ARBITRARY, BACKBONES, DTYPE_OPTIONS, NETWORK_ARCHITECTURES, PADDINGS, POOLINGS,
                                 TrainConfig)

    T = TrainConfig()  # defaults live in one place: the config (TensorFlow-free)
    p = sub.add_parser(
        "train",
        help="train a fast style network (Johnson et al. 2016) for one style, "
        "or fine-tune the arbitrary-style networks",
        description="Train a feed-forward network that paints photos in the style of STYLE; with "
        "--architecture arbitrary, fine-tune the shipped arbitrary-style networks on the paintings "
        "given by --style (files or folders, repeatable). "
        "Options left out take their defaults, or with --resume the run's saved values.",
    )
    p.add_argument("--style", required=True, action="extend", nargs="+", metavar="STYLE",
                   help="the style image, or several blended by --style-blend; with --architecture "
                   "arbitrary, painting files or folders (searched recursively); several paths after "
                   "one --style or --style repeated")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training photos (searched recursively)")
    p.add_argument("--out", required=True, metavar="RUN_DIR",
                   help="run folder: checkpoints, samples, logs and model.keras at the end")
    p.add_argument("--size", type=_int, default=None, help=f"training crop side in px (default {T.size})")
    p.add_argument("--batch", type=_int, default=None, help=f"photos per step (default {T.batch})")
    p.add_argument("--steps", type=_int, default=None, help=f"total training steps (default {T.steps})")
    p.add_argument("--lr", "--learning-rate", dest="learning_rate", type=_float, default=None,
                   help=f"Adam learning rate (default {T.learning_rate:g})")
    p.add_argument("--final-lr", "--final-learning-rate", dest="final_learning_rate", type=_float, default=None,
                   metavar="LR", help="let the learning rate fall along a half cosine to LR at the last step "
                   "(default: constant)")
    p.add_argument("--content-weight", type=_float, default=None, metavar="W", help=f"(default {T.content_weight:g})")
    p.add_argument("--style-weight", type=_float, default=None, metavar="W", help=f"(default {T.style_weight:g})")
    p.add_argument("--tv-weight", type=_float, default=None, metavar="W", help=f"(default {T.tv_weight:g})")
    p.add_argument("--content-layers", type=_names, default=None, metavar="L1,L2",
                   help=f"default {_layers(T.content_layers)}")
    p.add_argument("--style-layers", type=_names, default=None, metavar="L1,L2,...",
                   help=f"default {_layers(T.style_layers)}")
    _add_style_weights(p, T, blend_help=f"The network learns their blended targets; not for {ARBITRARY}")
    _add_style_loss(p, None, T.style_loss)
    p.add_argument("--style-size", type=_int, default=None,
                   help="long side of the style image for its targets (default: --size)")
    p.add_argument("--architecture", default=None,
                   help=f"{', '.join(NETWORK_ARCHITECTURES)} or {ARBITRARY} (fine-tune the arbitrary-style networks) "
                        f"(default {T.architecture})")
    p.add_argument("--width", type=_float, default=None,
                   help=f"channel multiplier (default {T.width:g}); not for {ARBITRARY}")
    p.add_argument("--upsample", default=None,
                   help=f"{_one_of(NETWORK_UPSAMPLES, DEFAULT_UPSAMPLE)}: how the network's decoder upsamples; "
                   f"not for {ARBITRARY}")
    p.add_argument("--train-predictor", action="store_true", default=None,
                   help=f"{ARBITRARY} only: train the style predictor too (default: only the transformer)")
    p.add_argument("--predictor-size", type=_int, default=None,
                   help=f"{ARBITRARY} only: side of the painting crops the style predictor sees "
                        f"(default {T.predictor_size})")
    p.add_argument("--teacher", default=None, metavar=f"{ARBITRARY}|MODEL.keras",
                   help=f"also learn to reproduce this network's pictures (distillation): '{ARBITRARY}' (the "
                   "arbitrary-style networks with STYLE's vector) or a trained per-style .keras network")
    p.add_argument("--teacher-weight", type=_float, default=None, metavar="W",
                   help="weight of the teacher term, the mean squared pixel difference on a 0..1 scale "
                   f"(default {T.teacher_weight:g}); 0 turns the teacher off (e.g. on --resume)")
    p.add_argument("--init", default=None, metavar="MODEL.keras",
                   help="start a new run from this trained network's weights (same architecture and width; "
                   "fine-tuning; Adam starts afresh); ignored when resuming from a checkpoint")
    p.add_argument("--backbone", default=None, help=f"{', '.join(BACKBONES)} (default {T.backbone})")
    p.add_argument("--pooling", default=None, help=f"{_one_of(POOLINGS, T.pooling)}: the loss network's pooling")
    p.add_argument("--padding", default=None,
                   help=f"{_one_of(PADDINGS, T.padding)}: how the loss network's convolutions see past the edge")
    p.add_argument("--dtype", default=None,
                   help=f"{_one_of(DTYPE_OPTIONS, T.dtype)}: the loss network's convolutions")
    p.add_argument("--loss-margin", type=_int, default=None, metavar="PX",
                   help="pixels on each side of the crops that the perceptual loss does not see, so the network "
                   f"gains nothing by painting the picture's edges (default {T.loss_margin})")
    p.add_argument("--shift-weight", type=_float, default=None, metavar="W",
                   help="weight of the shift term: the picture of a crop moved by 0-3 px must be the picture "
                   "moved the same, against patterns fixed to the network's 4 px lattice; per-style networks "
                   f"(default {T.shift_weight:g}: none)")
    p.add_argument("--network-dtype", default=None,
                   help=f"{_one_of(DTYPE_OPTIONS, T.network_dtype)}: the trained network's convolutions "
                   "(mixed precision; model.keras is float32 either way); not for " + ARBITRARY)
    p.add_argument("--checkpoint-every", type=_int, default=None, metavar="K",
                   help=f"(default {T.checkpoint_every})")
    p.add_argument("--sample-every", type=_int, default=None, metavar="K",
                   help=f"0 = never (default {T.sample_every})")
    p.add_argument("--log-every", type=_int, default=None, metavar="K", help=f"(default {T.log_every})")
    p.add_argument("--seed", type=_int, default=None, help=f"(default {T.seed})")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in RUN_DIR from its last checkpoint (starts one if none)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="write the loss terms against steps to PNG (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the run's figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    p.set_defaults(run=_cmd_train)


_TRAIN_OPTIONS = (
    "size", "batch", "steps", "learning_rate", "final_learning_rate", "content_weight", "style_weight", "tv_weight",
    "content_layers", "style_layers", "style_loss", "style_size", "architecture", "width", "upsample",
    "train_predictor", "predictor_size", "teacher", "teacher_weight", "init", "loss_margin",
    "shift_weight", "backbone", "pooling", "padding", "dtype", "network_dtype", "checkpoint_every",
    "sample_every", "log_every", "seed",
)


def _cmd_train(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    if args.plot is not None:  # before the long run: a missing matplotlib fails at once
        from tf_style import image as im
        from tf_style.viz import require_matplotlib

        require_matplotlib("--plot")
        im.check_output_path(args.plot, inputs=list(args.style))
    from tf_style.config import ARBITRARY, TrainConfig

    if args.architecture == ARBITRARY and args.width is not None:
        raise OptionError("width: means nothing with --architecture arbitrary (its networks have a fixed "
                          f"width); leave it out, got {args.width:g}")
    options = {k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None}
    for k in ("content_layers", "style_layers"):
        if k in options:
            options[k] = tuple(options[k])
    options.update(_float_lists(args))
    # Checked before TensorFlow loads; on resume the saved run is the base (checked in train).
    config = None if args.resume else TrainConfig(**options)
    _load_tensorflow()  # tf_style.train imports it; the data and style images are checked right after
    from tf_style.train import train

    style = args.style[0] if len(args.style) == 1 else list(args.style)
    result = train(
        style, args.data, args.out, config, resume=args.resume, log=log,
        progress=not args.quiet, **({} if config is not None else options),
    )
    if args.plot is not None and result.history:
        from tf_style.viz import plot_history

        plot_history(result.history, args.plot, title="tf-style train", xlabel="step",
                     weights={"content": result.config.content_weight,
                              "style": result.config.style_weight, "tv": result.config.tv_weight},
                     inputs=list(args.style))
    if args.json:
        print(json.dumps(result.to_dict()))
    elif not args.quiet and result.final_terms:
        terms = " ".join(f"{k} {v:.4g}" for k, v in result.final_terms.items())
        log(f"step {result.step}: {terms}; {result.steps_per_second:.2f} steps/s")
    return EXIT_INTERRUPTED if result.interrupted else 0


def _add_apply(sub) -> None:
    p = sub.add_parser(
        "apply",
        help="stylize photos with a trained fast style network",
        description="Stylize IMAGEs with MODEL (from tf-style train or export) in one forward pass each.",
    )
    p.add_argument("model", metavar="MODEL",
                   help="trained network: a .keras file, or a SavedModel folder / .tflite from tf-style export; "
                   "'arbitrary' (the shipped arbitrary-style networks) or its export needs --style")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="photos to stylize")
    p.add_argument("--style", metavar="PAINTING", default=None,
                   help="the painting, for arbitrary-style models only (required there)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file for one image; a folder for several (created; names IMAGE stem + .png)")
    p.add_argument("--size", type=_int, default=None, help="resize each photo to this long side first")
    p.add_argument("--strength", type=_float, default=1.0,
                   help="0 = the photo, 1 = fully stylized (default 1); for arbitrary-style models the "
                   "style vector s*painting + (1-s)*photo")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    p.add_argument("--trust-model-code", action="store_true",
                   help="load a .keras model that holds Python code (Lambda layers); runs that code")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outputs and timings")
    p.add_argument("--quiet", action="store_true", help="no log lines")
    p.set_defaults(run=_cmd_apply)


def _cmd_apply(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    import time

    from tf_style.errors import ModelLoadError

    if not os.path.exists(args.model) and args.model != "arbitrary":  # fails before TensorFlow loads
        raise ModelLoadError(f"{args.model}: no such model file or folder")
    if args.style is not None and not os.path.isfile(args.style):
        raise OptionError(f"--style: {args.style}: no such file")
    _load_tensorflow()
    from tf_style.apply import apply_files

    start = time.perf_counter()
    outputs = apply_files(
        args.model, args.images, args.output, size=args.size, strength=args.strength,
        preserve_color=args.preserve_color, log=log, trust_code=args.trust_model_code, style=args.style,
    )
    if args.json:
        print(json.dumps({"model": args.model, "style": args.style, "outputs": outputs,
                          "seconds": round(time.perf_counter() - start, 3)}))
    return 0


_EXPORT_QUANTIZATIONS = QUANTIZATIONS  # the one tuple (tf_style.config); tests import this name


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained network for TF Serving (SavedModel) and phones (TFLite)",
        description="Export MODEL (a .keras file from tf-style train, or 'arbitrary': the shipped "
        "arbitrary-style networks) as a SavedModel directory and/or TFLite. For TF Serving write "
        "the SavedModel to BASE/1 (a version folder). An arbitrary-style model's --tflite is a "
        "folder: style_predict.tflite and style_transfer.tflite.",
    )
    p.add_argument("model", metavar="MODEL",
                   help="trained network: a .keras file, or 'arbitrary' (the shipped arbitrary-style networks)")
    p.add_argument("--saved-model", metavar="DIR", help="write a SavedModel here (any image size)")
    p.add_argument("--tflite", metavar="FILE|DIR",
                   help="write a TFLite model here (builtin ops only); a folder of two files for "
                   "arbitrary-style models")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default=QUANTIZATIONS[0],
                   help="TFLite precision: none, float16 (half size), dynamic (int8 weights) or "
                   "int8 (full integer, needs --calibration); default none")
    p.add_argument("--size", default=str(DEFAULT_TFLITE_SIDE), metavar="N|WxH|any",
                   help=f"TFLite input size; the .tflite takes only this size (default {DEFAULT_TFLITE_SIDE}); "
                   "any = dynamic height and width")
    p.add_argument("--calibration", nargs="+", metavar="IMAGE",
                   help="real photos (files or folders) to calibrate --quantize int8")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    side = round(DEFAULT_MAX_DECODE_PIXELS ** 0.5)
    p.add_argument("--max-pixels", type=_int, default=DEFAULT_MAX_DECODE_PIXELS, metavar="N",
                   help="largest image the SavedModel's serve_image_bytes decodes, checked from its "
                        f"header (default {DEFAULT_MAX_DECODE_PIXELS} = {side}x{side})")
    p.add_argument("--trust-model-code", action="store_true",
                   help="load a .keras model that holds Python code (Lambda layers); runs that code")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outputs")
    p.add_argument("--quiet", action="store_true", help="no log lines")
    p.set_defaults(run=_cmd_export)


def _cmd_export(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    from tf_style.export_job import run_export

    result = run_export(
        args.model, saved_model=args.saved_model, tflite=args.tflite, quantize=args.quantize,
        size=args.size, calibration=args.calibration, force=args.force, max_pixels=args.max_pixels,
        trust_model_code=args.trust_model_code, log=log,
    )
    if args.json:
        print(json.dumps(result))
    return 0


def _add_study_run_options(p, *, weights: bool) -> None:
    """Options that sweep and sheet share with stylize (smaller default --size: many tiles)."""
    from tf_style.config import BACKBONES, OPTIMIZERS, PADDINGS, POOLINGS, StylizeConfig

    D = StylizeConfig()
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the grid image (.png, .jpg, .webp)")
    p.add_argument("--size", type=_int, default=256, help="long side of each tile in px (default 256)")
    p.add_argument("--iterations", type=_int, default=D.iterations,
                   help=f"loss evaluations per tile at the final size (default {D.iterations})")
    p.add_argument("--pyramid", type=_int, default=D.pyramid, help=f"coarse-to-fine levels, 1 = off (default {D.pyramid})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=D.optimizer)
    _add_style_loss(p, D.style_loss, D.style_loss)
    p.add_argument("--learning-rate", type=_float, default=D.learning_rate, help=f"Adam step (default {D.learning_rate:g})")
    if weights:
        p.add_argument("--content-weight", type=_float, default=D.content_weight, metavar="W", help=f"alpha (default {D.content_weight:g})")
        p.add_argument("--style-weight", type=_float, default=D.style_weight, metavar="W", help=f"beta (default {D.style_weight:g})")
        p.add_argument("--style-layers", type=_names, default=None, metavar="L1,L2,...",
                       help=f"default {_layers(D.style_layers)}")
    p.add_argument("--tv-weight", type=_float, default=D.tv_weight, metavar="W", help=f"total variation (default {D.tv_weight:g})")
    p.add_argument("--content-layers", type=_names, default=None, metavar="L1,L2",
                   help=f"default {_layers(D.content_layers)}")
    p.add_argument("--style-scale", type=_float, default=D.style_scale, help="style image size relative to the output")
    p.add_argument("--init", default=D.init, help="content, style, noise or an image path")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    p.add_argument("--backbone", default=D.backbone, help=f"{', '.join(BACKBONES)} (default {D.backbone})")
    p.add_argument("--weights", default=None, metavar="PATH", help="local .h5 of Keras VGG weights")
    p.add_argument("--pooling", default=D.pooling, help=_one_of(POOLINGS, D.pooling))
    p.add_argument("--padding", default=D.padding, help=_one_of(PADDINGS, D.padding))
    p.add_argument("--seed", type=_int, default=D.seed)
    p.add_argument("--json", action="store_true", help="print one JSON object with the run's figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines")


def _study_config(args: argparse.Namespace):
    from tf_style.config import StylizeConfig

    options: Dict[str, object] = dict(
        size=args.size, iterations=args.iterations, pyramid=args.pyramid, optimizer=args.optimizer,
        learning_rate=args.learning_rate, tv_weight=args.tv_weight, style_scale=args.style_scale,
        init=args.init, preserve_color=args.preserve_color, backbone=args.backbone,
        weights=args.weights, pooling=args.pooling, padding=args.padding, seed=args.seed,
        style_loss=args.style_loss,
    )
    for name in ("content_weight", "style_weight"):
        if hasattr(args, name):
            options[name] = getattr(args, name)
    for name in ("content_layers", "style_layers"):
        if getattr(args, name, None):
            options[name] = tuple(getattr(args, name))
    if args.weights is not None and not os.path.isfile(args.weights):
        raise OptionError(f"--weights: no such file: {args.weights!r}")
    return StylizeConfig(**options)  # type: ignore[arg-type]


#: studies.DEFAULT_RATIOS as the flag's text (from the config: building the parser imports no numpy/PIL).
_SWEEP_RATIOS = ",".join(f"{r:g}" for r in SWEEP_RATIOS)


def _add_sweep(sub) -> None:
    default = _SWEEP_RATIOS
    p = sub.add_parser(
        "sweep",
        help="a labelled grid of CONTENT in the style of STYLE for several weight ratios (and layer sets)",
        description="One row per style-layer set, one column per alpha/beta ratio "
        "(content_weight/style_weight with content_weight 1). One backbone and one set of "
        "style targets serve every tile.",
    )
    p.add_argument("content", metavar="CONTENT", help="the photo")
    p.add_argument("style", metavar="STYLE", help="the style image")
    p.add_argument("--ratios", default=default, metavar="R1,R2,...",
                   help=f"alpha/beta ratios, one column each; 0 = style only (default {default})")
    p.add_argument("--layers", default=None, metavar="L1,L2;L1,...",
                   help="style-layer sets, one row each: sets split by ';', layers by ','; "
                   "'gatys' = conv1_1; conv1_1,conv2_1; ... up to conv5_1 (default: one row, the usual five)")
    _add_study_run_options(p, weights=False)
    p.set_defaults(run=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    from tf_style import image as im
    from tf_style import studies

    ratios = studies.parse_ratios(args.ratios, "--ratios")
    layer_sets = None if args.layers is None else studies.parse_layer_sets(args.layers, "--layers")
    config = _study_config(args)
    inputs = [args.content, args.style]
    im.check_output_path(args.output, inputs=inputs)
    for path in inputs:  # bad files fail before any model loads
        im.check_min_size(im.read_image(path), MIN_IMAGE_SIDE, name=path)
    result = studies.sweep(
        args.content, args.style, ratios=ratios, layer_sets=layer_sets, config=config,
        output=args.output, progress=not args.quiet, log=log,
    )
    if args.json:
        print(json.dumps(result.to_dict(args.output)))
    else:
        w, h = result.image.size
        log(f"wrote {args.output} ({w}x{h}, {sum(len(r) for r in result.tiles)} tiles) in {result.seconds:.1f} s")
    return EXIT_INTERRUPTED if result.interrupted else 0


def _add_sheet(sub) -> None:
    p = sub.add_parser(
        "sheet",
        help="CONTENT in each STYLE (and each trained --model), with the originals on top",
        description="First row: the photo and each style image; second row: the photo in each "
        "style (optimized), then one column per --model (a network from tf-style train).",
    )
    p.add_argument("content", metavar="CONTENT", help="the photo")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="style images")
    p.add_argument("--model", dest="models", action="append", default=[], metavar="MODEL",
                   help="a trained network (.keras) to apply too; repeat for several")
    p.add_argument("--arbitrary", action="store_true",
                   help="add a row: the photo in each style by the arbitrary-style network (one pass)")
    _add_study_run_options(p, weights=True)
    p.set_defaults(run=_cmd_sheet)


def _cmd_sheet(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    from tf_style import image as im
    from tf_style import studies

    config = _study_config(args)
    inputs = [args.content, *args.styles, *args.models]
    im.check_output_path(args.output, inputs=inputs)
    for path in [args.content, *args.styles]:
        im.check_min_size(im.read_image(path), MIN_IMAGE_SIDE, name=path)
    result = studies.sheet(
        args.content, args.styles, models=args.models, arbitrary=args.arbitrary, config=config,
        output=args.output, progress=not args.quiet, log=log,
    )
    if args.json:
        print(json.dumps(result.to_dict(args.output)))
    else:
        w, h = result.image.size
        log(f"wrote {args.output} ({w}x{h}) in {result.seconds:.1f} s")
    return EXIT_INTERRUPTED if result.interrupted else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tf-style", description="Neural style transfer for TensorFlow/Keras.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_stylize(sub)
    _add_info(sub)
    _add_train(sub)
    _add_apply(sub)
    _add_export(sub)
    _add_sweep(sub)
    _add_sheet(sub)
    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


#: Sub-command registrars added by other modules of the CLI layer (train, apply, export).
_EXTRA_COMMANDS: List[Callable] = []


def _version() -> str:
    from tf_style import __version__

    return __version__


def _load_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter hidden (TF_STYLE_DEBUG=1 shows it).

    Commands call this right before their first TensorFlow import, after validating
    their inputs, so a bad file or option fails without paying for TensorFlow.

    TensorFlow 2.21 logs through absl before any log level applies (e.g. "Could not find
    cuda drivers"), so the only way to keep our one-line errors one line is to point
    file descriptor 2 elsewhere while it loads.
    """
    if os.environ.get("TF_STYLE_DEBUG") or "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:
        return
    try:
        with open(os.devnull, "w") as devnull:
            sys.stderr.flush()
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow

                tensorflow.config.list_physical_devices()  # CUDA probing logs here too
            finally:
                os.dup2(saved, 2)
    except ImportError:
        pass  # reported properly where tensorflow is first used
    finally:
        os.close(saved)


class _Stop:
    """SIGINT/SIGTERM stop a long run like Ctrl-C, keeping what was saved.

    The handler raises ``KeyboardInterrupt``; Python drops an exception raised while a
    ``__del__`` runs (TensorFlow has many), so the flag makes the next step raise it again.
    """

    def __init__(self) -> None:
        self.requested = False

    def handler(self, signum, frame):
        self.requested = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``tf-style`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    quiet = getattr(args, "quiet", False)

    def log(message: str) -> None:
        if not quiet:
            print(f"tf-style: {message}", file=sys.stderr, flush=True)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow's CPU allocator is malloc, which maps and zeroes every large tensor afresh
    # (a 512 px VGG activation is 50 MB: about 26 ms of page faults each time); its BFC
    # allocator reuses them: 5-10% faster per 512 px step, lower peak RSS (bench/README.md).
    # Read when TensorFlow first runs an op, so this is the place; users may set it false.
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    stop = _Stop()
    args.stop = stop
    previous = {}
    # SIGINT only where it has Python's default handler: a run started with SIGINT
    # ignored (a background job) keeps ignoring it.
    wanted = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT) is signal.default_int_handler else [])
    try:
        for sig in wanted:
            previous[sig] = signal.signal(sig, stop.handler)
    except ValueError:  # not the main thread
        pass
    try:
        return args.run(args, log)
    except TfStyleError as e:
        message = _one_line(e)
        if isinstance(e, (OptionError, MemoryBudgetError)):
            message = _as_flag(message)
        print(f"tf-style: error: {message}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tf-style: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _as_flag(message: str) -> str:
    """``"style_weight: expected ..."`` -> ``"--style-weight: expected ..."``."""
    field, sep, rest = message.partition(":")
    if sep and field.isidentifier():
        return "--" + field.replace("_", "-") + sep + rest
    return message


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
