"""How much of a flat patch's texture sits on a network's 4-px lattice (the "weave").

    python3 bench/lattice.py PICTURE [PICTURE ...] [--x 200 --y 8 --n 64] [--tile 512]

For each picture: the share of the AC energy of an ``n`` x ``n`` patch (grey levels, top-left
corner at ``x``, ``y``) that lies at the frequencies of a 4-px period, i.e. the 2-D FFT bins
whose row and column are multiples of ``n / 4`` (DC left out). A stride-2, stride-2 network
that paints texture where its input is flat can only repeat it on that lattice, so this share
grows with the weave; a painting or the optimizer's picture has well under 1% there.
``--tile W`` splits a side-by-side strip into W-px-wide pictures and measures each at the
same place (one row per strip). Used in models/README.md (Tuebingen's sky: ``--x 200 --y 8``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image


def lattice_share(patch: np.ndarray) -> float:
    """Share (0..1) of ``patch``'s AC energy at the 4-px lattice frequencies.

    >>> y, x = np.mgrid[0:64, 0:64]
    >>> round(lattice_share(np.stack([(x % 4 == 0) * 255.0] * 3, -1)), 3)
    1.0
    """
    grey = np.asarray(patch, np.float64)
    grey = grey.mean(-1) if grey.ndim == 3 else grey
    n = grey.shape[0]
    if grey.shape != (n, n) or n % 4:
        raise ValueError(f"expected a square patch whose side is a multiple of 4, got {grey.shape}")
    energy = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    lattice = np.zeros_like(energy, bool)
    lattice[:: n // 4, :: n // 4] = True
    lattice[0, 0] = False
    total = energy.sum()
    return float(energy[lattice].sum() / total) if total else 0.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pictures", nargs="+")
    p.add_argument("--x", type=int, default=200)
    p.add_argument("--y", type=int, default=8)
    p.add_argument("--n", type=int, default=64, help="patch side, a multiple of 4 (default 64)")
    p.add_argument("--tile", type=int, default=0, help="split a side-by-side strip into pictures this wide")
    args = p.parse_args(argv)
    for path in args.pictures:
        pixels = np.asarray(Image.open(path).convert("RGB"), np.float64)
        width = args.tile or pixels.shape[1]
        parts = [pixels[:, i : i + width] for i in range(0, pixels.shape[1] - width + 1, width)]
        if args.x < 0 or args.y < 0 or args.x + args.n > width or args.y + args.n > pixels.shape[0]:
            p.error(f"the {args.n} px patch at x={args.x}, y={args.y} does not fit in {path} "
                    f"({width}x{pixels.shape[0]} px per picture)")
        shares = [lattice_share(q[args.y : args.y + args.n, args.x : args.x + args.n]) for q in parts]
        print(path, " ".join(f"{100 * s:.2f}%" for s in shares))
    return 0


if __name__ == "__main__":
    sys.exit(main())
