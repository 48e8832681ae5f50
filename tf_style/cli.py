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

from tf_style.errors import OptionError, TfStyleError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``tf-style: error: ...``) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


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


def _add_stylize(sub) -> None:
    from tf_style.config import StylizeConfig

    D = StylizeConfig()  # defaults live in one place: the config
    p = sub.add_parser(
        "stylize",
        help="optimization-based style transfer (Gatys et al.)",
        description="Render CONTENT in the style of STYLE (several STYLEs are blended).",
    )
    p.add_argument("content", metavar="CONTENT", help="the photo")
    p.add_argument("style", metavar="STYLE", nargs="+", help="one or more style images")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (.png, .jpg, .webp)")
    p.add_argument("--size", type=_int, default=D.size, help=f"output long side in px (default {D.size})")
    p.add_argument("--iterations", type=_int, default=D.iterations,
                   help=f"loss evaluations at the final size; coarser levels get 2x per halving (default {D.iterations})")
    p.add_argument("--pyramid", type=_int, default=D.pyramid, help=f"coarse-to-fine levels, 1 = off (default {D.pyramid})")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    p.add_argument("--learning-rate", type=_float, default=D.learning_rate, help=f"Adam step in pixel units (default {D.learning_rate:g})")
    p.add_argument("--content-weight", type=_float, default=D.content_weight, metavar="W", help=f"alpha (default {D.content_weight:g})")
    p.add_argument("--style-weight", type=_float, default=D.style_weight, metavar="W", help=f"beta (default {D.style_weight:g})")
    p.add_argument("--tv-weight", type=_float, default=D.tv_weight, metavar="W", help=f"total variation (default {D.tv_weight:g})")
    p.add_argument("--content-layers", type=_names, default=None, metavar="L1,L2",
                   help="default block4_conv2 (aliases conv4_2/relu4_2 work)")
    p.add_argument("--style-layers", type=_names, default=None, metavar="L1,L2,...",
                   help="default block1_conv1,...,block5_conv1")
    p.add_argument("--style-layer-weights", default=None, metavar="W1,W2,...")
    p.add_argument("--style-blend", default=None, metavar="W1,W2,...", help="weights of several styles")
    p.add_argument("--style-scale", type=_float, default=1.0, help="style image size relative to the output")
    p.add_argument("--init", default="content", help="content, style, noise or an image path")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the photo's colours (luminance-only transfer, Gatys et al. 2016)")
    p.add_argument("--backbone", default="auto", help="auto, vgg19, vgg16, vgg16-hed (default auto)")
    p.add_argument("--weights", default=None, metavar="PATH", help="local .h5 of Keras VGG weights")
    p.add_argument("--pooling", default="avg", help="avg (Gatys' choice, default) or max")
    p.add_argument("--seed", type=_int, default=0)
    p.add_argument("--save-every", type=_int, default=0, metavar="N",
                   help="write the current picture to OUT every N evaluations")
    p.add_argument("--json", action="store_true", help="print one JSON object with the run's figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    p.set_defaults(run=_cmd_stylize)


def _cmd_stylize(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    from tf_style.config import StylizeConfig, parse_float_list
    from tf_style import image as im

    options: Dict[str, object] = dict(
        size=args.size, iterations=args.iterations, pyramid=args.pyramid, optimizer=args.optimizer,
        learning_rate=args.learning_rate, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, style_scale=args.style_scale,
        init=args.init, preserve_color=args.preserve_color, backbone=args.backbone,
        weights=args.weights, pooling=args.pooling, seed=args.seed,
    )
    if args.content_layers:
        options["content_layers"] = tuple(args.content_layers)
    if args.style_layers:
        options["style_layers"] = tuple(args.style_layers)
    if args.style_layer_weights:
        options["style_layer_weights"] = parse_float_list("--style-layer-weights", args.style_layer_weights)
    if args.style_blend:
        options["style_blend"] = parse_float_list("--style-blend", args.style_blend)
    config = StylizeConfig(**options)  # type: ignore[arg-type]
    if args.save_every < 0:
        raise OptionError(f"--save-every: expected an integer >= 0, got {args.save_every}")
    if args.weights is not None and not os.path.isfile(args.weights):
        raise OptionError(f"--weights: no such file: {args.weights!r}")
    inputs = [args.content, *args.style]
    im.check_output_path(args.output, inputs=inputs)
    # Read every input before loading TensorFlow models: bad files fail in milliseconds.
    content = im.read_image(args.content)
    im.check_min_size(content, 16, name=args.content)

    from tf_style.transfer import Stylizer

    stylizer = Stylizer(args.style, config, log=log)
    result = stylizer.stylize(
        content, output=args.output, save_every=args.save_every,
        progress=not args.quiet, protect=inputs,
    )
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


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="versions and which backbones' weights are available here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_info)


def _cmd_info(args: argparse.Namespace, log: Callable[[str], None]) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tf-style", description="Neural style transfer for TensorFlow/Keras.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_stylize(sub)
    _add_info(sub)
    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


#: Sub-command registrars added by other modules of the CLI layer (train, apply, export).
_EXTRA_COMMANDS: List[Callable] = []


def _version() -> str:
    from tf_style import __version__

    return __version__


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter is not ours to show; users can override.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: keep what was saved
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

    _quiet_tensorflow()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        pass
    try:
        return args.run(args, log)
    except TfStyleError as e:
        message = _one_line(e)
        if isinstance(e, OptionError):
            message = _as_flag(message)
        print(f"tf-style: error: {message}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tf-style: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


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
