"""Pixel optimizers for Gatys-style transfer: L-BFGS-B (default) and Adam.

The image is a ``tf.Variable``; loss and gradient come from one
``tf.function``-compiled step (a ``GradientTape`` over the backbone), traced once
per image size.

Why SciPy's L-BFGS-B: L-BFGS is what Gatys et al. and the high-quality
implementations (jcjohnson/neural-style, pystiche) use; TensorFlow 2 has none
built in (TensorFlow Probability's ``lbfgs_minimize`` adds a large dependency and
has no bounds). L-BFGS-B keeps every pixel inside [0, 255] *during* the run, so
the loss we report is the loss of the image we write (clipping an unbounded
L-BFGS result at the end raised its loss ninefold in our experiment). Its host-side
cost is small next to a VGG forward/backward pass (see ``bench/``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np
import tensorflow as tf

from tf_style.config import OPTIMIZERS, check_choice
from tf_style.losses import PerceptualLoss, finite_terms

#: ``callback(done, terms, image)``: ``done`` counts loss evaluations in this run,
#: ``terms`` are floats, ``image`` is the current float32 HxWx3 array in [0, 255].
StepCallback = Callable[[int, Dict[str, float], Callable[[], np.ndarray]], None]


@dataclasses.dataclass
class OptimizeOutcome:
    image: np.ndarray  # HxWx3 float32 in [0, 255]: the lowest-loss image evaluated
    history: List[Dict[str, float]]
    evaluations: int
    interrupted: bool = False


class ImageObjective:
    """Loss and gradient of one image size, compiled once.

    Content targets live in variables, so one objective (and its single trace) serves
    every photo of this size: ``set_content`` swaps the photo without retracing.

    Example:
        >>> obj = ImageObjective(backbone, loss, content_targets, style_grams, (1, 64, 64, 3))  # doctest: +SKIP
        >>> terms, grad = obj(np.zeros((1, 64, 64, 3), np.float32))  # doctest: +SKIP
    """

    def __init__(
        self,
        backbone: Callable[[tf.Tensor], Mapping[str, tf.Tensor]],
        loss: PerceptualLoss,
        content_targets: Mapping[str, tf.Tensor],
        style_grams: Mapping[str, tf.Tensor],
        shape: tuple,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.image = tf.Variable(tf.zeros(self.shape, tf.float32), trainable=True, name="pixels")
        self._backbone = backbone
        self._loss = loss
        self._content = {
            k: tf.Variable(v, trainable=False, name=f"content_{i}")
            for i, (k, v) in enumerate(content_targets.items())
        }
        # A mapping of tensors, or a stateful target (``losses.SlicedTarget``) whose variables
        # the loss reads, so redrawn directions need no retrace.
        self._style = dict(style_grams) if isinstance(style_grams, Mapping) else style_grams
        self._step = tf.function(self._loss_and_grad)

    def _loss_and_grad(self):
        with tf.GradientTape() as tape:
            features = self._backbone(self.image)
            total, terms = self._loss(features, self.image, self._content, self._style)
        grad = tape.gradient(total, self.image)
        return terms, grad

    @property
    def redraw_every(self) -> int:
        """Evaluations between redraws of the loss's random directions (0: never; ``sliced``)."""
        return int(getattr(self._loss, "redraw_every", 0))

    def redraw(self) -> bool:
        """Fresh random directions for a ``sliced`` style loss (read through variables: no retrace)."""
        return bool(self._loss.redraw(self._style))

    def set_content(self, content_targets: Mapping[str, tf.Tensor]) -> None:
        """Swap the content targets (same shapes) without retracing."""
        for k, v in content_targets.items():
            self._content[k].assign(v)

    def evaluate(self) -> tuple:
        """Loss terms and gradient at the variable's current value."""
        return self._step()

    @property
    def trace_count(self) -> int:
        return int(self._step.experimental_get_tracing_count())

    def terms_at(self, x: np.ndarray) -> Dict[str, float]:
        """The loss terms of the HxWx3 picture ``x`` (as floats), e.g. of the picture a run returns."""
        self.image.assign(np.asarray(x, np.float32).reshape(self.shape))
        terms, _ = self.evaluate()
        return {k: float(v) for k, v in terms.items()}


def _floats(terms: Mapping[str, tf.Tensor]) -> Dict[str, float]:
    return finite_terms(terms)


def lbfgs(
    objective: ImageObjective,
    x0: np.ndarray,
    iterations: int,
    *,
    callback: Optional[StepCallback] = None,
    history_size: int = 10,
) -> OptimizeOutcome:
    """Minimize with SciPy's L-BFGS-B inside [0, 255]; ``iterations`` counts loss evaluations."""
    from scipy.optimize import Bounds, minimize

    shape = objective.shape
    best = {"loss": math.inf, "x": np.asarray(x0, np.float32).reshape(shape[1:]).copy()}
    history: List[Dict[str, float]] = []

    scale = {"f": None}
    # A sliced style loss redraws its directions every `every` evaluations. L-BFGS assumes one
    # fixed function (its line search and curvature pairs compare values and gradients), so
    # each set of directions gets its own L-BFGS run, restarted from the best image so far.
    every = objective.redraw_every if hasattr(objective, "redraw_every") else 0
    limit = {"n": iterations}

    def fun(x: np.ndarray):
        if len(history) >= limit["n"]:  # SciPy may overshoot maxfun by a line-search step
            raise _Budget
        objective.image.assign(x.reshape(shape).astype(np.float32))
        terms_t, grad = objective.evaluate()
        terms = _floats(terms_t)
        history.append(terms)
        if terms["total"] < best["loss"]:
            best["loss"] = terms["total"]
            best["x"] = x.reshape(shape[1:]).astype(np.float32)
        if callback is not None:
            callback(len(history), terms, lambda: best["x"])
        g = grad.numpy().astype(np.float64).ravel()
        if scale["f"] is None:
            # L-BFGS-B's line search and its tests are not scale-free: with per-pixel
            # gradients of 1e-5 (a normalized loss over 0..255 pixels) it stalled. Scale
            # the objective once, so the first gradient's largest entry is 1.
            scale["f"] = 1.0 / max(float(np.abs(g).max()), 1e-30)
        return terms["total"] * scale["f"], g * scale["f"]

    n = int(np.prod(shape))
    bounds = Bounds(np.zeros(n), np.full(n, 255.0))
    minimize = _fast_minimize if _setulb() is not None else minimize
    interrupted = False
    start = np.asarray(x0, np.float64).ravel()
    stalls = 0
    try:
        # SciPy ends early when its line search fails on a float32 loss (seen from noise
        # and at high content weights): restart from the best image with a fresh history
        # until the budget is spent, unless restarts stop helping.
        while len(history) < iterations and stalls < 3:
            before = best["loss"]
            limit["n"] = min(iterations, len(history) + every) if every else iterations
            remaining = limit["n"] - len(history)
            try:
                minimize(
                    fun, start, jac=True, method="L-BFGS-B", bounds=bounds,
                    # ftol/gtol 0: run the evaluations asked for; the loss scale is arbitrary.
                    options={"maxiter": remaining, "maxfun": remaining, "maxcor": history_size,
                             "ftol": 0.0, "gtol": 0.0},
                )
            except _Budget:
                if len(history) >= iterations:
                    break
            start = best["x"].astype(np.float64).ravel()
            if every and len(history) >= limit["n"] and len(history) < iterations:
                objective.redraw()
                # Losses under other directions do not compare: the best image is now judged
                # by the new ones, starting with the one we restart from.
                best["loss"], stalls = math.inf, 0
                continue
            stalls = stalls + 1 if best["loss"] >= before else 0
    except KeyboardInterrupt:
        interrupted = True
    return OptimizeOutcome(best["x"], history, len(history), interrupted)


class _Budget(Exception):
    """Raised inside SciPy's loop when the evaluation budget is spent."""


def _setulb():
    """SciPy's L-BFGS-B step routine, if it has the signature of SciPy >= 1.15 (C port)."""
    try:
        import scipy
        from scipy.optimize import _lbfgsb

        major, minor = (int(v) for v in scipy.__version__.split(".")[:2])
    except (ImportError, ValueError):
        return None
    return getattr(_lbfgsb, "setulb", None) if (major, minor) >= (1, 15) else None


def _fast_minimize(fun, x0, *, jac, method, bounds, options):
    """``scipy.optimize.minimize(method="L-BFGS-B")`` for box bounds given as arrays.

    SciPy's wrapper turns array bounds into a list of n tuples and back, element by
    element in Python: about 5 s per call for a 512x384 picture (a call per pyramid
    level, restart and tile), more than an evaluation of VGG. This is the same
    reverse-communication loop over the same compiled routine, with the bounds passed
    as arrays. Callers fall back to SciPy's wrapper on other SciPy versions.
    """
    setulb = _setulb()
    m = int(options["maxcor"])
    x = np.array(x0, dtype=np.float64)
    n = x.size
    low = np.asarray(bounds.lb, np.float64) * np.ones(n)
    high = np.asarray(bounds.ub, np.float64) * np.ones(n)
    x = np.clip(x, low, high)
    nbd = np.full(n, 2, np.int32)  # both bounds on every variable
    f = np.array(0.0, np.float64)
    g = np.zeros(n, np.float64)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, np.int32)
    task = np.zeros(2, np.int32)
    ln_task = np.zeros(2, np.int32)
    lsave = np.zeros(4, np.int32)
    isave = np.zeros(44, np.int32)
    dsave = np.zeros(29, np.float64)
    factr = float(options["ftol"]) / np.finfo(float).eps
    evaluations = iterations = 0
    while True:
        setulb(m, x, low, high, nbd, f, g, factr, float(options["gtol"]), wa, iwa, task, lsave,
               isave, dsave, 20, ln_task)
        if task[0] == 3:  # wants f and g at x
            value, grad = fun(x)
            f = np.array(value, np.float64)
            g = np.asarray(grad, np.float64)
            evaluations += 1
        elif task[0] == 1:  # a new iterate
            iterations += 1
            if iterations >= options["maxiter"] or evaluations >= options["maxfun"]:
                break
        else:  # converged, or the line search gave up
            break


def adam(
    objective: ImageObjective,
    x0: np.ndarray,
    iterations: int,
    *,
    learning_rate: float = 4.0,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    callback: Optional[StepCallback] = None,
) -> OptimizeOutcome:
    """Projected Adam in pixel units: one compiled step updates and clips the image."""
    shape = objective.shape
    objective.image.assign(np.asarray(x0, np.float32).reshape(shape))
    m = tf.Variable(tf.zeros(shape))
    v = tf.Variable(tf.zeros(shape))
    t = tf.Variable(0.0)
    # Hyper-parameters live in variables so changing them never retraces.
    lr = tf.Variable(float(learning_rate))
    b1, b2, eps = tf.constant(beta_1), tf.constant(beta_2), tf.constant(epsilon)

    @tf.function
    def step():
        terms, g = objective.evaluate()
        t.assign_add(1.0)
        m.assign(b1 * m + (1.0 - b1) * g)
        v.assign(b2 * v + (1.0 - b2) * tf.square(g))
        m_hat = m / (1.0 - tf.pow(b1, t))
        v_hat = v / (1.0 - tf.pow(b2, t))
        objective.image.assign(
            tf.clip_by_value(objective.image - lr * m_hat / (tf.sqrt(v_hat) + eps), 0.0, 255.0)
        )
        return terms

    history: List[Dict[str, float]] = []
    best = {"loss": math.inf, "x": np.asarray(x0, np.float32).reshape(shape[1:]).copy()}
    interrupted = False
    every = objective.redraw_every if hasattr(objective, "redraw_every") else 0
    try:
        for i in range(iterations):
            if every and i and i % every == 0 and objective.redraw():
                best["loss"] = math.inf  # losses under other directions do not compare
            before = objective.image.numpy()[0]
            terms = _floats(step())  # the loss of `before`
            history.append(terms)
            if terms["total"] < best["loss"]:
                best["loss"], best["x"] = terms["total"], before
            if callback is not None:
                callback(len(history), terms, lambda: best["x"])
    except KeyboardInterrupt:
        interrupted = True
    return OptimizeOutcome(best["x"], history, len(history), interrupted)


def run_optimizer(
    optimizer: str,
    objective: ImageObjective,
    x0: np.ndarray,
    iterations: int,
    *,
    learning_rate: float = 4.0,
    callback: Optional[StepCallback] = None,
) -> OptimizeOutcome:
    """Minimize with the optimizer named ``optimizer`` (``config.OPTIMIZERS``): the one place
    a pyramid level and a tile choose between :func:`lbfgs` and :func:`adam`.

    ``learning_rate`` is Adam's (pixel units); L-BFGS-B needs none.

    Example:
        >>> out = run_optimizer("adam", objective, x0, 50, learning_rate=4.0)  # doctest: +SKIP
        >>> out.evaluations  # doctest: +SKIP
        50
    """
    if check_choice("optimizer", optimizer, OPTIMIZERS) == "lbfgs":
        return lbfgs(objective, x0, iterations, callback=callback)
    return adam(objective, x0, iterations, learning_rate=learning_rate, callback=callback)
