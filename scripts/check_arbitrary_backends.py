"""Compare the arbitrary-style networks across Keras backends (TensorFlow here, JAX elsewhere).

    python3 scripts/check_arbitrary_backends.py save /tmp/arb_ref.npz                 # TensorFlow
    KERAS_BACKEND=jax JAXENV/bin/python scripts/check_arbitrary_backends.py compare /tmp/arb_ref.npz

The second run needs only jax, keras, numpy and pillow (no TensorFlow), e.g. a venv made with
``python3 -m venv JAXENV && JAXENV/bin/pip install jax keras numpy pillow``. It runs the
shipped predictor and transformer on a fixed random 98x133 content (not a multiple of 4: the
pad/crop path) and 120x96 painting, and prints the largest differences.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from tf_style import arbitrary as A  # noqa: E402


def main(argv) -> int:
    if len(argv) != 2 or argv[0] not in ("save", "compare"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = argv
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (1, 98, 133, 3)).astype("float32")
    style = rng.uniform(0, 255, (1, 120, 96, 3)).astype("float32")
    vector = keras.ops.convert_to_numpy(A.load_style_predictor()(style))
    image = keras.ops.convert_to_numpy(A.load_style_transformer()([content, vector]))
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}")
    if mode == "save":
        np.savez(path, vector=vector, image=image)
        return 0
    ref = np.load(path)
    print(f"style vector max diff {np.abs(ref['vector'] - vector).max():.3g}; "
          f"picture max diff {np.abs(ref['image'] - image).max():.3g} (0-255)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
