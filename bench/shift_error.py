"""How far a trained network's picture fails to move with the photo.

    python3 bench/shift_error.py --network models/starry_night_johnson.keras [--network B.keras ...] \\
        --photos CORPUS/train [--count 12] [--size 256]

For each network: its pictures of ``count`` photos (centre squares of side ``size`` + 4, as
``bench/edge_lines.py`` crops them), and for each of the 15 moves of 0-3 px down and right
(not both 0) its picture of the moved crops against its picture moved the same, 16 px inside
the edges: ``tf_style.train.shift_term``, what ``tf-style train --shift-weight`` adds to the
loss. Prints the root mean square difference in grey levels (0-255), over all moves and
for the worst move. A network whose strokes follow the photo scores near 0; one that paints a
pattern fixed to its 4-px lattice (starry_night_johnson's sky grid, models/README.md) scores
high whatever the photo.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MOVES = [(y, x) for y in range(4) for x in range(4) if y or x]


def shift_errors(network, batch: np.ndarray, chunk: int = 4) -> dict:
    """Per move ``(down, right)``, the rms difference in grey levels between ``network``'s
    picture of the moved crops and its picture moved the same (``batch`` in chunks).

    >>> batch = np.random.default_rng(0).uniform(0, 255, (2, 36, 36, 3)).astype(np.float32)
    >>> max(shift_errors(lambda x: 0.5 * x, batch).values())
    0.0
    """
    import tensorflow as tf

    from tf_style.train import shift_term

    sums = {m: 0.0 for m in MOVES}
    for i in range(0, len(batch), chunk):
        part = tf.constant(batch[i:i + chunk])
        picture = network(part)
        for m in MOVES:
            sums[m] += float(shift_term(network, part, picture, tf.constant(m), count=len(part))) * len(part)
    return {m: 255.0 * float(np.sqrt(v / len(batch))) for m, v in sums.items()}


def main(argv=None) -> int:
    from edge_lines import add_network_photo_arguments, crops

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_network_photo_arguments(ap)
    args = ap.parse_args(argv)

    from tf_style.train import load_network

    batch = crops(args.photos, args.count, args.size + 4)
    print(f"{len(batch)} photos from {' '.join(map(str, args.photos))}, {args.size + 4} px crops; "
          "rms difference, grey levels, over the 15 moves of 0-3 px")
    print("| network | all moves | worst move |")
    print("| --- | --: | --: |")
    for path in args.network:
        errors = shift_errors(load_network(path, "network"), batch)
        worst = max(errors, key=errors.get)
        overall = float(np.sqrt(np.mean([v ** 2 for v in errors.values()])))
        print(f"| {path} | {overall:.1f} | {errors[worst]:.1f} at {worst} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
