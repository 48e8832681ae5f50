"""Lines a trained network paints along the picture's edges.

    python3 bench/edge_lines.py --network models/the_scream_mobile.keras [--network B.keras ...] \\
        --photos CORPUS/train [--count 12] [--size 256] [--inset 8]

For each network: its pictures of ``count`` photos (files, or the first by name under a
folder; each resized so its
short side is ``size`` and centre-cropped square, as a training crop), then per edge (left,
right, top, bottom) the mean over pictures and positions of the edge row or column minus the
one ``inset`` px in, per channel on the 0-255 scale. A clean picture is a few grey levels
either way; ``the_scream_mobile`` distilled from ``the_scream_johnson`` (models/README.md)
painted red +58 down the right edge, the shipped network -3.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EDGES = ("left", "right", "top", "bottom")


def edge_steps(pictures: np.ndarray, inset: int) -> dict:
    """Per edge, the mean RGB of the edge column/row minus the one ``inset`` px in.

    >>> p = np.zeros((1, 16, 16, 3)); p[:, :, -1, 0] = 100
    >>> edge_steps(p, 8)["right"].tolist(), edge_steps(p, 8)["left"].tolist()
    ([100.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    """
    p = np.asarray(pictures, np.float64)
    return {
        "left": (p[:, :, 0] - p[:, :, inset]).mean((0, 1)),
        "right": (p[:, :, -1] - p[:, :, -1 - inset]).mean((0, 1)),
        "top": (p[:, 0] - p[:, inset]).mean((0, 1)),
        "bottom": (p[:, -1] - p[:, -1 - inset]).mean((0, 1)),
    }


def crops(sources, count: int, size: int) -> np.ndarray:
    """The first ``count`` photos of ``sources`` (files, or folders searched by name): short
    side ``size``, centre square."""
    files = []
    for source in map(Path, sources):
        files += (sorted(p for p in source.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
                  if source.is_dir() else [source])
    files = files[:count]
    if not files:
        raise SystemExit(f"edge_lines: no photos in {', '.join(map(str, sources))}")
    out = []
    for path in files:
        img = Image.open(path).convert("RGB")
        k = size / min(img.size)
        img = img.resize((max(size, round(img.width * k)), max(size, round(img.height * k))), Image.BICUBIC)
        x, y = (img.width - size) // 2, (img.height - size) // 2
        out.append(np.asarray(img.crop((x, y, x + size, y + size)), np.float32))
    return np.stack(out)


def pictures(network, batch: np.ndarray, chunk: int = 4) -> np.ndarray:
    """``network``'s pictures of ``batch``, ``chunk`` photos per call."""
    return np.concatenate([np.asarray(network(batch[i:i + chunk])) for i in range(0, len(batch), chunk)])


def add_network_photo_arguments(ap: argparse.ArgumentParser) -> None:
    """The options this script shares with ``bench/shift_error.py``: networks and photos."""
    ap.add_argument("--network", action="append", required=True, help="a per-style .keras network (repeat)")
    ap.add_argument("--photos", type=Path, nargs="+", required=True, help="photo files or folders")
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--size", type=int, default=256)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_network_photo_arguments(ap)
    ap.add_argument("--inset", type=int, default=8)
    args = ap.parse_args(argv)
    from tf_style.train import load_network

    batch = crops(args.photos, args.count, args.size)
    print(f"{len(batch)} photos from {' '.join(map(str, args.photos))}, {args.size} px crops; edge minus {args.inset} px in (R, G, B)")
    print("| network | " + " | ".join(EDGES) + " |")
    print("| --- |" + " --: |" * len(EDGES))
    for path in args.network:
        steps = edge_steps(pictures(load_network(path, "network"), batch), args.inset)
        cells = " | ".join("{:+.0f}, {:+.0f}, {:+.0f}".format(*steps[e]) for e in EDGES)
        print(f"| {path} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
