"""Convert a trained style network to TFLite (builtin ops only) for phones.

Usage (from the repository root):

    python3 export/tflite.py models/starry_night_mobile.keras starry_night.tflite \\
        [--quantize none|float16|dynamic|int8] [--size 384] [--calibration PHOTO ...] [--force]

The .tflite takes float32 [1, H, W, 3] in 0..255 at exactly --size (N or WxH); with
``--size any`` it takes any size after ``resize_tensor_input``. See docs/SERVING.md.
Same as ``tf-style export MODEL --tflite OUT.tflite`` (both run ``tf_style.export_job.run_export``). MODEL ``arbitrary`` (or a one-file
arbitrary-style .keras) writes OUT as a folder: style_predict.tflite and style_transfer.tflite
(docs/ARBITRARY.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit status 2 (as the tf-style command)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


from tf_style.config import DEFAULT_TFLITE_SIDE, QUANTIZATIONS  # noqa: E402  (TensorFlow-free: --help stays instant)


def _size(text: str):
    from tf_style.errors import OptionError
    from tf_style.export import parse_input_size

    try:
        return parse_input_size(text, option="--size")
    except OptionError as err:
        raise argparse.ArgumentTypeError(str(err).partition(": ")[2]) from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL.keras", help="trained network")
    parser.add_argument("out", metavar="OUT.tflite", help="output file")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default="none")
    parser.add_argument("--size", type=_size, default=DEFAULT_TFLITE_SIDE, metavar="N|WxH|any",
                        help=f"input size the .tflite takes (default {DEFAULT_TFLITE_SIDE})")
    parser.add_argument("--calibration", nargs="+", metavar="PHOTO",
                        help="real photos (files or folders) for --quantize int8")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.add_argument("--trust-model-code", action="store_true",
                        help="load a model holding Python code (Lambda layers); runs that code")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)

    from tf_style.errors import TfStyleError
    from tf_style.export_job import run_export

    try:
        # --calibration is ignored unless --quantize int8 (tf-style export refuses it).
        run_export(args.model, tflite=args.out, quantize=args.quantize, size=args.size,
                   calibration=args.calibration if args.quantize == "int8" else None, force=args.force,
                   trust_model_code=args.trust_model_code,
                   log=lambda message: print(f"tflite.py: {message}", file=sys.stderr))
    except TfStyleError as err:
        print(f"tflite.py: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
