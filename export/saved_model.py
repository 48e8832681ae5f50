"""Export a trained style network as a SavedModel for TF Serving.

Usage (from the repository root):

    python3 export/saved_model.py models/starry_night_mobile.keras serving/starry_night/1 [--force]

Signatures: serving_default(images), stylize_with_strength(images, strength) and
serve_image_bytes(image_bytes); see docs/SERVING.md. Same as
``tf-style export MODEL --saved-model OUT_DIR`` (both run ``tf_style.export_job.run_export``). MODEL ``arbitrary`` (or a one-file
arbitrary-style .keras) gets the arbitrary model's signatures (docs/ARBITRARY.md).
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL.keras", help="trained network")
    parser.add_argument("out", metavar="OUT_DIR",
                        help="SavedModel directory (for TF Serving: BASE/1)")
    parser.add_argument("--force", action="store_true", help="replace an existing SavedModel")
    parser.add_argument("--max-pixels", type=int, default=16_777_216, metavar="N",
                        help="largest image serve_image_bytes decodes, checked from its header "
                             "(default 16777216 = 4096x4096)")
    parser.add_argument("--trust-model-code", action="store_true",
                        help="load a model holding Python code (Lambda layers); runs that code")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)

    from tf_style.errors import TfStyleError
    from tf_style.export_job import run_export

    try:
        run_export(args.model, saved_model=args.out, force=args.force, max_pixels=args.max_pixels,
                   trust_model_code=args.trust_model_code,
                   log=lambda message: print(f"saved_model.py: {message}", file=sys.stderr))
    except TfStyleError as err:
        print(f"saved_model.py: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
