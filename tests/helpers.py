"""Generated test pictures shared by the test modules (no binary files are committed)."""

import numpy as np


def photo(w: int = 48, h: int = 40, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with noise: an HxWx3 uint8 "photo"."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, np.full_like(xx, 128.0)], -1)
    return (base * 0.8 + rng.uniform(0, 50, size=(h, w, 3))).clip(0, 255).astype(np.uint8)


def painting(w: int = 40, h: int = 40, seed: int = 1) -> np.ndarray:
    """Coloured vertical stripes with noise: an HxWx3 uint8 "painting" with a clear texture."""
    rng = np.random.default_rng(seed)
    stripes = (np.sin(np.arange(w) / 1.5)[None, :, None] * 120 + 128) * np.array([1.0, 0.3, 0.6])
    return (np.broadcast_to(stripes, (h, w, 3)) + rng.normal(0, 10, (h, w, 3))).clip(0, 255).astype(np.uint8)
