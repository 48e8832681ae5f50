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

from typing import Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf


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
    ) -> None:
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

    def style_targets(self, features: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """Gram matrices of the style layers of ``features``."""
        return {name: gram_matrix(features[name]) for name in self.style_layers}

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
        """``grams`` replaces the Gram matrices of ``features`` (tiles pass the whole picture's)."""
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
            style = tf.add_n(
                [
                    w * style_loss(gram_matrix(features[n]) if grams is None else grams[n], style_grams[n])
                    / self._scale(style_grams[n])
                    for n, w in zip(self.style_layers, self.style_layer_weights)
                ]
            )
        tv = total_variation(images) if self.tv_weight else zero
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return total, {"total": total, "content": content, "style": style, "tv": tv}
