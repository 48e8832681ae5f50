"""Perceptual losses of Gatys et al. (2015), shared by the optimizer and training.

Pure functions first (each tested against a NumPy reference), then a thin
composite, :class:`PerceptualLoss`, that returns ``(total, {term: value})``.

Normalization (chosen so that one set of weights works at every image size and
in the image pyramid):

* ``gram_matrix``: ``G = F^T F / (H W)``, the mean over positions of the outer
  product of the feature vectors. Gatys' ``E_l = 1/(4 N^2 M^2) sum (G - A)^2``
  with unnormalized Grams equals ``mean((G - A)^2) / 4`` with this one, so our
  style term is Gatys' up to the constant 4.
* ``content_loss``: mean squared error of the feature maps (Gatys sums; the mean
  removes the dependence on image size).
* ``total_variation``: mean squared difference of neighbouring pixels.

Three style losses (``PerceptualLoss(style_loss=...)``, :data:`tf_style.config.STYLE_LOSSES`):

* ``gram`` (Gatys et al.): squared error of the Gram matrices (second moments).
* ``meancov``: the squared Wasserstein-2 distance between the Gaussians fitted to the
  two feature distributions (mean and covariance), per channel, as crowsonkb's
  style-transfer-pytorch ``StyleLossW2``. Its ``tr(sqrt(.))`` has a closed-form gradient
  (:func:`trace_sqrtm`): by eigendecomposition on a CPU, or Newton-Schulz (matmuls only).
* ``sliced``: sliced Wasserstein (Heitz et al., CVPR 2021): project the features on random
  unit directions, sort, and compare with the painting's sorted projections; a painting
  with another number of positions is resampled at the same quantiles.

The composite also divides each layer's term by the mean square of its target
(``normalize=True``, the default). An ImageNet VGG's raw activations differ by
orders of magnitude between layers (block1's Gram error is ~1e5 times block5's
on Tuebingen vs Starry Night), so plain sums let the first layers decide
everything; Gatys et al. avoided this by rescaling their VGG so each filter's
mean activation is 1. Dividing by the target's energy does the same job without
touching the weights, and makes one set of loss weights work for every backbone
(vgg19's and vgg16-hed's activations differ in scale too).
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tf_style.config import check_style_loss
from tf_style.errors import NonFiniteLossError

#: Newton-Schulz iterations of :func:`sqrtm_newton_schulz`: the iteration converges for an
#: eigenvalue ``l`` (relative to the matrix's Frobenius norm) after about
#: ``log1.5(1 / sqrt(l))`` steps, so 15 resolve every eigenvalue above ~5e-6 of the norm
#: (smaller ones add little to a trace). Each costs 3 C x C matmuls: at 512 channels and
#: 256 px, 20 iterations differentiated by autodiff cost more than VGG19's own step.
SQRTM_ITERATIONS = 15
#: How ``meancov`` takes ``tr(sqrt(.))`` of its C x C matrix (see :func:`trace_sqrtm`).
TRACE_SQRTM_METHOD = "eigh"
#: Ridge added to the covariances of ``meancov`` (relative to their mean variance): keeps the
#: square root away from the rank-deficient matrices of sparse ReLU features.
COVARIANCE_RIDGE = 1e-4
#: Each style loss is divided by the target's mean squared feature and multiplied by this,
#: so that one ``style_weight`` (30 in stylize) suits all three. ``sliced``: at the photo (the
#: start of a ``content``-initialized run) its term is 2.6-3.5x smaller than the Gram's over 3
#: photos x 2 paintings with vgg19 at 256 px, and at 3.0 its pictures are stylized as
#: strongly as the Gram's. ``meancov``: that ratio is 1.3-1.4, but at 1.4 a 256 px sweep
#: dissolved the town at style weight 30 and looked like the Gram's 30 at 10, hence 0.5
#: (docs/GALLERY.md, "Style losses").
STYLE_LOSS_SCALE = {"gram": 1.0, "meancov": 0.5, "sliced": 3.0}
#: ``sliced``: fresh random directions every this many loss evaluations (an L-BFGS restart,
#: see ``tf_style.optimize``): a fixed set lets the optimizer match only those marginals.
SLICED_REDRAW_EVERY = 50


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Gram matrix of ``[N, H, W, C]`` features, normalized by ``H * W``: ``[N, C, C]``.

    >>> gram_matrix(tf.ones([1, 2, 2, 3])).shape
    TensorShape([1, 3, 3])
    """
    features = tf.cast(features, tf.float32)
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
    positions = tf.cast(shape[1] * shape[2], tf.float32)
    return _self_outer(flat) / positions


@tf.custom_gradient
def _self_outer(flat: tf.Tensor) -> tf.Tensor:
    """``flat^T flat`` whose gradient is one matmul, not the two TensorFlow derives."""
    out = tf.matmul(flat, flat, transpose_a=True)

    def grad(upstream):
        return tf.matmul(flat, upstream + tf.linalg.matrix_transpose(upstream))

    return out, grad


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared error between feature maps (a scalar)."""
    return tf.reduce_mean(tf.square(tf.cast(features, tf.float32) - target))


def style_loss(gram: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
    """Mean squared error between Gram matrices (a scalar)."""
    return tf.reduce_mean(tf.square(gram - target_gram))


def mean_covariance(features: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Mean ``[N, C]`` and covariance ``[N, C, C]`` (normalized by ``H * W``) of ``[N, H, W, C]``.

    >>> [t.shape for t in mean_covariance(tf.ones([1, 2, 2, 3]))]
    [TensorShape([1, 3]), TensorShape([1, 3, 3])]
    """
    features = tf.cast(features, tf.float32)
    mean = tf.reduce_mean(features, axis=[1, 2])
    return mean, covariance(mean, gram_matrix(features))


def covariance(mean: tf.Tensor, second_moment: tf.Tensor) -> tf.Tensor:
    """``E[f f^T] - m m^T``: the covariance ``[N, C, C]`` from the mean ``[N, C]`` and the
    second moment (the normalized Gram matrix) ``[N, C, C]``."""
    return second_moment - mean[:, :, None] * mean[:, None, :]


def sqrtm_newton_schulz(matrix: tf.Tensor, iterations: int = SQRTM_ITERATIONS) -> tf.Tensor:
    """Square root of symmetric positive semi-definite ``[..., C, C]`` matrices (Newton-Schulz).

    Only matmuls: fast on any device and differentiable without an eigendecomposition
    (whose gradient is unstable for the repeated eigenvalues of feature covariances).

    >>> float(sqrtm_newton_schulz(tf.constant([[4.0, 0.0], [0.0, 9.0]]))[1, 1])  # doctest: +ELLIPSIS
    3.0...
    """
    return _newton_schulz(tf.convert_to_tensor(matrix, tf.float32), iterations)[0]


def _newton_schulz(matrix: tf.Tensor, iterations: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """``(sqrt(matrix), inverse sqrt(matrix))`` by the coupled Newton-Schulz iteration."""
    norm = tf.sqrt(tf.reduce_sum(tf.square(matrix), axis=[-2, -1], keepdims=True)) + 1e-30
    eye = tf.eye(tf.shape(matrix)[-1], batch_shape=tf.shape(matrix)[:-2], dtype=tf.float32)
    y, z = matrix / norm, eye
    for _ in range(int(iterations)):
        t = 0.5 * (3.0 * eye - tf.matmul(z, y))
        y, z = tf.matmul(y, t), tf.matmul(t, z)
    return y * tf.sqrt(norm), z / tf.sqrt(norm)


def trace_sqrtm(matrix: tf.Tensor, method: str = TRACE_SQRTM_METHOD,
                iterations: int = SQRTM_ITERATIONS) -> tf.Tensor:
    """``tr(sqrt(matrix))`` of symmetric PSD ``[..., C, C]`` matrices: ``[...]``.

    The gradient is the closed form ``0.5 * matrix^(-1/2)``, which both methods compute
    alongside the root (never differentiating an eigendecomposition, whose gradient is
    unstable, nor every Newton-Schulz iteration, 3x the forward cost). ``method``:
    ``eigh`` (exact; 4x faster than 15 Newton-Schulz iterations at C = 512 on a CPU) or
    ``newton-schulz`` (matmuls only: the faster one on a GPU).

    >>> float(trace_sqrtm(tf.constant([[4.0, 0.0], [0.0, 9.0]])))  # doctest: +ELLIPSIS
    5.0...
    """
    if method not in ("eigh", "newton-schulz"):
        raise ValueError(f"method: expected eigh or newton-schulz, got {method!r}")
    return _trace_sqrtm(tf.convert_to_tensor(matrix, tf.float32), method, int(iterations))


def _trace_sqrtm(matrix: tf.Tensor, method: str, iterations: int) -> tf.Tensor:
    @tf.custom_gradient
    def inner(m):
        if method == "eigh":
            values, vectors = tf.linalg.eigh(m)
            # Rounding leaves tiny negative eigenvalues of a PSD matrix; the floor bounds the
            # gradient 1 / sqrt(l) there.
            floor = 1e-10 * tf.reduce_max(tf.abs(values), axis=-1, keepdims=True) + 1e-30
            values = tf.maximum(values, floor)
            rootvals = tf.sqrt(values)

            def grad(upstream):
                g = tf.matmul(vectors * (0.5 / rootvals)[..., None, :], vectors, transpose_b=True)
                return upstream[..., None, None] * g

            return tf.reduce_sum(rootvals, axis=-1), grad
        root, inverse = _newton_schulz(m, iterations)

        def grad(upstream):
            g = 0.5 * (inverse + tf.linalg.matrix_transpose(inverse)) / 2.0
            return upstream[..., None, None] * g

        return tf.linalg.trace(root), grad

    return inner(matrix)


def sqrtm_eigh(matrix: tf.Tensor) -> tf.Tensor:
    """Square root of symmetric PSD matrices by eigendecomposition (targets: no gradient needed)."""
    values, vectors = tf.linalg.eigh(tf.convert_to_tensor(matrix, tf.float32))
    root = tf.sqrt(tf.maximum(values, 0.0))
    return tf.matmul(vectors * root[..., None, :], vectors, transpose_b=True)


def meancov_loss(
    mean: tf.Tensor, cov: tf.Tensor, target_mean: tf.Tensor, target_cov: tf.Tensor,
    target_cov_sqrt: tf.Tensor,
) -> tf.Tensor:
    """Squared Wasserstein-2 distance between two Gaussians, per channel (a scalar).

    ``(|m - m_t|^2 + tr(S + S_t - 2 (S_t^1/2 S S_t^1/2)^1/2)) / C``, averaged over the batch.
    ``target_cov_sqrt`` is ``S_t^1/2`` (computed once with the target).
    """
    channels = tf.cast(tf.shape(mean)[-1], tf.float32)
    mean_term = tf.reduce_sum(tf.square(mean - target_mean), axis=-1)
    cross = trace_sqrtm(tf.matmul(tf.matmul(target_cov_sqrt, cov), target_cov_sqrt))
    cov_term = tf.linalg.trace(cov) + tf.linalg.trace(target_cov) - 2.0 * cross
    return tf.reduce_mean(mean_term + cov_term) / channels


def random_directions(channels: int, count: int, seed: object = None) -> np.ndarray:
    """``[channels, count]`` float32 unit vectors, uniform on the sphere (columns).

    >>> np.allclose(np.linalg.norm(random_directions(4, 3, seed=0), axis=0), 1.0)
    True
    """
    d = np.random.default_rng(seed).normal(size=(channels, count))
    return (d / np.linalg.norm(d, axis=0, keepdims=True)).astype(np.float32)


def sorted_projections(features: tf.Tensor, directions: tf.Tensor) -> tf.Tensor:
    """``[N, K, H*W]``: the features ``[N, H, W, C]`` projected on ``directions`` ``[C, K]``, sorted."""
    features = tf.cast(features, tf.float32)
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
    projected = tf.linalg.matrix_transpose(tf.matmul(flat, directions))
    return tf.sort(projected, axis=-1)


def resample_sorted(values: tf.Tensor, count: int) -> tf.Tensor:
    """Sorted ``[..., Q]`` values read at ``count`` evenly spaced quantiles: ``[..., count]``.

    Linear interpolation of the empirical quantile function at ``(i + 0.5) / count``, so a
    painting and a picture with different numbers of positions compare quantile to quantile.

    >>> resample_sorted(tf.constant([0.0, 1.0, 2.0, 3.0]), 2).numpy().tolist()
    [0.5, 2.5]
    """
    size = int(values.shape[-1])
    if size == int(count):
        return values
    pos = np.clip((np.arange(count) + 0.5) * size / count - 0.5, 0.0, size - 1.0)
    low = np.floor(pos).astype(np.int32)
    high = np.minimum(low + 1, size - 1)
    frac = tf.constant((pos - low).astype(np.float32))
    return tf.gather(values, low, axis=-1) * (1.0 - frac) + tf.gather(values, high, axis=-1) * frac


def sliced_loss(features: tf.Tensor, directions: tf.Tensor, target_sorted: tf.Tensor) -> tf.Tensor:
    """Sliced Wasserstein-2 (squared): mean over directions and quantiles of the squared
    difference of sorted projections. ``target_sorted`` ``[K, Q]`` may have any ``Q``."""
    ours = sorted_projections(features, directions)
    count = int(features.shape[1]) * int(features.shape[2])
    return tf.reduce_mean(tf.square(ours - resample_sorted(target_sorted, count)[None]))


class SlicedTarget:
    """A painting's sorted projections on one set of random directions, per layer.

    The directions and the sorted projections live in variables, so :meth:`redraw` changes
    them without retracing the compiled step that reads them. Several weighted paintings
    blend into the weighted mean of their quantile functions: along each direction that is
    the Wasserstein-2 barycenter, and ``sum_k w_k |q - q_k|^2 = |q - sum_k w_k q_k|^2 + const``
    (weights summing to 1), so the blend equals the weighted sum of the losses, as for Grams.
    """

    def __init__(self, sources: Sequence[Tuple[float, Mapping[str, tf.Tensor]]], seed: int = 0) -> None:
        self.sources = [(float(w), {k: tf.cast(v, tf.float32) for k, v in f.items()}) for w, f in sources]
        first = self.sources[0][1]
        self.layers = tuple(first)
        self.draws = 0
        self._seed = int(seed)
        # Quantiles kept per layer: the first painting's positions.
        self._size = {n: int(first[n].shape[1]) * int(first[n].shape[2]) for n in self.layers}
        self.directions: Dict[str, tf.Variable] = {}
        self.sorted: Dict[str, tf.Variable] = {}
        self.scale: Dict[str, tf.Tensor] = {}
        for n in self.layers:
            c = int(first[n].shape[-1])
            self.directions[n] = tf.Variable(tf.zeros([c, c]), trainable=False, name=f"directions_{n}")
            self.sorted[n] = tf.Variable(tf.zeros([c, self._size[n]]), trainable=False, name=f"sorted_{n}")
            self.scale[n] = tf.add_n([w * tf.reduce_mean(tf.square(f[n])) for w, f in self.sources])
        self.redraw()

    def redraw(self) -> None:
        """Fresh directions (seeded: a run is reproducible) and the painting's projections on them."""
        for i, n in enumerate(self.layers):
            c = int(self.directions[n].shape[0])
            d = tf.constant(random_directions(c, c, seed=(self._seed, self.draws, i)))
            blend = tf.add_n([w * resample_sorted(sorted_projections(f[n], d)[0], self._size[n])
                              for w, f in self.sources])
            self.directions[n].assign(d)
            self.sorted[n].assign(blend)
        self.draws += 1


def finite_terms(terms: Mapping[str, object], *, where: str = "",
                 advice: str = "lower --style-weight/--learning-rate or check the inputs") -> Dict[str, float]:
    """The loss terms as floats, or :class:`NonFiniteLossError` naming every term when one is
    NaN or infinite (``where``: e.g. " at step 40"; ``advice``: what to change): the one check
    the optimizers and training share.

    >>> finite_terms({"total": tf.constant(1.5)})
    {'total': 1.5}
    """
    out = {k: float(v) for k, v in terms.items()}
    if not all(math.isfinite(v) for v in out.values()):
        bad = ", ".join(f"{k}={v:.4g}" for k, v in out.items())
        raise NonFiniteLossError(f"the loss became non-finite{where} ({bad}); {advice}")
    return out


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between vertically and horizontally adjacent pixels."""
    return _total_variation(tf.convert_to_tensor(images))


@tf.custom_gradient
def _total_variation(images: tf.Tensor) -> tf.Tensor:
    # Autodiff's gradient of the slices is four StridedSliceGrad ops that each write a
    # zero image first (29 ms with the value at 512 px, idle machine); the closed form is two pads.
    dy = images[:, 1:, :, :] - images[:, :-1, :, :]
    dx = images[:, :, 1:, :] - images[:, :, :-1, :]
    ny = tf.cast(tf.size(dy), images.dtype)
    nx = tf.cast(tf.size(dx), images.dtype)
    value = tf.reduce_sum(tf.square(dy)) / ny + tf.reduce_sum(tf.square(dx)) / nx

    def grad(upstream):
        # d/dx_i of sum_j (x_{j+1} - x_j)^2 is 2 (d_{i-1} - d_i), d_j = x_{j+1} - x_j, d outside = 0.
        gy = tf.pad(dy, [[0, 0], [1, 0], [0, 0], [0, 0]]) - tf.pad(dy, [[0, 0], [0, 1], [0, 0], [0, 0]])
        gx = tf.pad(dx, [[0, 0], [0, 0], [1, 0], [0, 0]]) - tf.pad(dx, [[0, 0], [0, 0], [0, 1], [0, 0]])
        return upstream * 2.0 * (gy / ny + gx / nx)

    return value, grad


class PerceptualLoss:
    """``alpha * content + beta * style + tv_weight * tv`` over a backbone's features.

    Targets are passed in, not stored, so one instance serves the optimizer (one
    image, fixed targets) and training (a batch of content targets).

    Example:
        >>> loss = PerceptualLoss(["block2_conv1"], ["block1_conv1"], style_weight=1.0)
        >>> total, terms = loss(features, images, content_targets, style_grams)  # doctest: +SKIP
        >>> sorted(terms)  # doctest: +SKIP
        ['content', 'style', 'total', 'tv']
    """

    def __init__(
        self,
        content_layers: Sequence[str],
        style_layers: Sequence[str],
        *,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        style_layer_weights: Optional[Sequence[float]] = None,
        normalize: bool = True,
        style_loss: str = "gram",
        seed: int = 0,
    ) -> None:
        self.style_loss = check_style_loss(style_loss)
        self.seed = int(seed)  # of the sliced loss's directions
        #: Evaluations (or training steps) between redraws of the directions; 0: never.
        self.redraw_every = SLICED_REDRAW_EVERY if self.style_loss == "sliced" else 0
        self.normalize = bool(normalize)
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        if style_layer_weights is None:
            style_layer_weights = [1.0 / len(self.style_layers)] * len(self.style_layers)
        if len(style_layer_weights) != len(self.style_layers):
            raise ValueError("style_layer_weights must have one weight per style layer")
        self.style_layer_weights = tuple(float(w) for w in style_layer_weights)

    def _scale(self, target: tf.Tensor) -> tf.Tensor:
        if not self.normalize:
            return tf.constant(1.0, tf.float32)
        # Per example, so a batch of content targets is normalized image by image.
        axes = list(range(1, target.shape.rank))
        energy = tf.reduce_mean(tf.square(target), axis=axes) if axes else tf.square(target)
        return tf.reduce_mean(energy) + 1e-8

    def style_targets(self, features: Mapping[str, tf.Tensor]):
        """The style targets of one painting's ``features``: Gram matrices for ``gram``
        (``{layer: [1, C, C]}``), else what :meth:`blend_targets` makes of them."""
        if self.style_loss == "gram":
            return {name: gram_matrix(features[name]) for name in self.style_layers}
        return self.blend_targets([(1.0, self.style_statistics(features))])

    def style_statistics(self, features: Mapping[str, tf.Tensor]) -> Dict[str, object]:
        """Per style layer, what blends linearly between paintings: the Gram matrix
        (``gram``), ``(mean, second moment)`` (``meancov``), the features (``sliced``)."""
        if self.style_loss == "gram":
            return {name: gram_matrix(features[name]) for name in self.style_layers}
        if self.style_loss == "meancov":
            out: Dict[str, object] = {}
            for name in self.style_layers:
                f = tf.cast(features[name], tf.float32)
                out[name] = (tf.reduce_mean(f, axis=[1, 2]), gram_matrix(f))
            return out
        return {name: tf.cast(features[name], tf.float32)[:1] for name in self.style_layers}

    def blend_targets(self, weighted: Sequence[Tuple[float, Mapping[str, object]]]):
        """The targets of several paintings' :meth:`style_statistics`, weights summing to 1.

        ``gram``: the weighted Gram matrices. ``meancov``: the Gaussian of the weighted
        mixture (mean and second moment blend), as ``{layer: {"mean", "cov", "sqrt",
        "scale"}}``, its square root computed once here. ``sliced``: a :class:`SlicedTarget`.
        """
        if self.style_loss == "sliced":
            return SlicedTarget(weighted, seed=self.seed)
        blended: Dict[str, object] = {}
        for weight, stats in weighted:
            for k, v in stats.items():
                if self.style_loss == "gram":
                    blended[k] = blended[k] + weight * v if k in blended else weight * v
                else:
                    m, g = v  # type: ignore[misc]
                    blended[k] = (blended[k][0] + weight * m, blended[k][1] + weight * g) \
                        if k in blended else (weight * m, weight * g)
        if self.style_loss == "gram":
            return blended
        targets = {}
        for k, (mean, moment) in blended.items():  # type: ignore[misc]
            cov = covariance(mean, moment)
            scale = tf.reduce_mean(tf.linalg.diag_part(moment)) + 1e-8  # the mean squared feature
            cov = cov + COVARIANCE_RIDGE * scale * tf.eye(int(cov.shape[-1]))
            targets[k] = {"mean": mean, "cov": cov, "sqrt": sqrtm_eigh(cov), "scale": scale}
        return targets

    def redraw(self, targets: object) -> bool:
        """New random directions for ``sliced`` targets (no-op for the others); True if redrawn."""
        if isinstance(targets, SlicedTarget):
            targets.redraw()
            return True
        return False

    def _style_term(self, name: str, features: tf.Tensor, gram: Optional[tf.Tensor], target):
        """One layer's style term and what it is divided by (the target's energy)."""
        if self.style_loss == "gram":
            return style_loss(gram_matrix(features) if gram is None else gram, target), self._scale(target)
        factor = STYLE_LOSS_SCALE[self.style_loss]
        if self.style_loss == "meancov":
            if gram is None:
                mean, cov = mean_covariance(features)
            else:  # the whole picture's (mean, Gram), from tiles
                mean, cov = gram[0], covariance(*gram)
            cov = cov + COVARIANCE_RIDGE * target["scale"] * tf.eye(int(cov.shape[-1]))
            value = meancov_loss(mean, cov, target["mean"], target["cov"], target["sqrt"])
            energy = target["scale"]
        else:
            value = sliced_loss(features, target.directions[name], target.sorted[name])
            energy = target.scale[name]
        return factor * value, energy if self.normalize else tf.constant(1.0, tf.float32)

    def content_targets(self, features: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        return {name: tf.cast(features[name], tf.float32) for name in self.content_layers}

    def __call__(
        self,
        features: Mapping[str, tf.Tensor],
        images: tf.Tensor,
        content_targets: Mapping[str, tf.Tensor],
        style_grams: Mapping[str, tf.Tensor],
        grams: Optional[Mapping[str, tf.Tensor]] = None,
    ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
        """``grams`` replaces the statistics of ``features`` that the style loss matches (tiles
        pass the whole picture's): per layer the Gram matrix for ``gram``, (mean, Gram) for
        ``meancov``; ``sliced`` compares sorted features and takes none."""
        zero = tf.constant(0.0, tf.float32)
        content = zero
        if self.content_weight:
            content = tf.add_n(
                [
                    content_loss(features[n], content_targets[n]) / self._scale(content_targets[n])
                    for n in self.content_layers
                ]
            ) / float(len(self.content_layers))
        style = zero
        if self.style_weight:
            if grams is not None and self.style_loss == "sliced":
                raise ValueError("grams: the sliced loss compares sorted features, not summed statistics")
            style = tf.add_n(
                [
                    w * value / energy
                    for (value, energy), w in zip(
                        [self._style_term(n, features[n], None if grams is None else grams[n],
                                          style_grams if self.style_loss == "sliced" else style_grams[n])
                         for n in self.style_layers],
                        self.style_layer_weights)
                ]
            )
        tv = total_variation(images) if self.tv_weight else zero
        terms = {"content": content, "style": style, "tv": tv}
        total = self.weighted_total(terms)
        return total, {"total": total, **terms}

    def weighted_total(self, terms: Mapping[str, object]):
        """``alpha * content + beta * style + tv_weight * tv`` of ``terms`` (tensors or floats):
        the one place the weights combine, also for terms that tiles add up."""
        return (self.content_weight * terms["content"] + self.style_weight * terms["style"]
                + self.tv_weight * terms["tv"])
