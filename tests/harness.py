"""One check for every Keras model of tf_style, after keras-hub's ``TestCase.run_backbone_test``.

:func:`run_network_test` builds a model from tiny init kwargs and checks what every model of
the package promises: its output shape and dtype, its variables' dtype (and the layers'
compute dtype), a ``get_config``/``from_config`` round trip and a ``.keras`` save and safe-mode
load that give the same output, and a build under mixed precision. :func:`run_backbone_test`
adds what a feature extractor promises: a dict of float32 features keyed by layer name.

Example (a test module)::

    from harness import run_network_test

    def test_network(tmp_path):
        run_network_test(StyleTransformer, {"architecture": "mobile", "width": 0.25},
                         noise((2, 17, 23, 3)), (2, 17, 23, 3), tmp_path=tmp_path)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import keras
import numpy as np

Shape = Sequence[Optional[int]]
Build = Callable[..., keras.Model]


@dataclasses.dataclass
class NetworkRun:
    """What a harness run made, for the test's own assertions on top."""

    model: keras.Model  # with perturbed weights (see _perturbed)
    output: Any  # its output: numpy array, or {name: array}
    clone: keras.Model  # from the serialized config, with the model's weights
    loaded: keras.Model  # from the .keras file
    mixed_output: Any = None  # the output of a model built under mixed precision, if checked


def _numpy(output: Any) -> Any:
    if isinstance(output, Mapping):
        return {k: np.asarray(v) for k, v in output.items()}
    return np.asarray(output)


def _leaves(output: Any) -> Dict[str, np.ndarray]:
    return dict(output) if isinstance(output, Mapping) else {"output": output}


def _plain(config: Any) -> Any:
    """The config as JSON would keep it (a tuple and a list are the same there)."""
    return json.loads(json.dumps(config, default=str))


def _check_shapes(output: Any, expected: Union[Shape, Mapping[str, Shape]], what: str) -> None:
    if isinstance(expected, Mapping):
        assert isinstance(output, Mapping), f"{what}: expected a dict of outputs, got {type(output).__name__}"
        assert set(output) == set(expected), f"{what}: outputs {sorted(output)}, expected {sorted(expected)}"
    got, want = _leaves(output), _leaves(expected)
    for name, shape in want.items():
        assert tuple(got[name].shape) == tuple(shape), f"{what}: {name} has shape {got[name].shape}, expected {shape}"


def _check_same(a: Any, b: Any, what: str) -> None:
    a, b = _leaves(a), _leaves(b)
    assert set(a) == set(b), f"{what}: outputs {sorted(a)} and {sorted(b)}"
    for name in a:
        assert np.array_equal(a[name], b[name]), (
            f"{what} changed the output {name} (max difference {np.abs(a[name] - b[name]).max():.3g})"
        )


def _perturbed(model: keras.Model, seed: int = 0) -> None:
    """New values for every weight: a loader that skipped the weights (and rebuilt them from the
    same seed) would then give another output."""
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])


def run_network_test(
    cls: Build,
    init_kwargs: Mapping[str, Any],
    input_data: Any,
    expected_output_shape: Union[Shape, Mapping[str, Shape]],
    *,
    tmp_path: Path,
    output_dtype: str = "float32",
    variable_dtype: str = "float32",
    compute_dtype: Optional[str] = None,
    mixed_precision: Optional[str] = "mixed_float16",
) -> NetworkRun:
    """Build ``cls(**init_kwargs)`` and check it as every tf_style model must behave.

    ``cls`` is a model class or a function that returns a model; its weights are perturbed at
    once, so every check runs with weights no initializer makes. Checked: the output (or each
    output of a dict) has ``expected_output_shape`` and ``output_dtype``; every variable is
    ``variable_dtype`` and, when given, every layer with weights computes in ``compute_dtype``;
    the model's serialized config rebuilds a model of the same class and config which, with the
    same weights, gives the same output; a ``.keras`` file loads in safe mode with the same
    class, config and output; and (``mixed_precision``) the model built under that global policy
    computes in its dtype, keeps float32 variables and returns ``output_dtype``, finite.
    Raises AssertionError naming the check that failed.
    """
    model = cls(**init_kwargs)
    _perturbed(model)
    output = _numpy(model(input_data))
    _check_shapes(output, expected_output_shape, "output")
    for name, value in _leaves(output).items():
        assert value.dtype == np.dtype(output_dtype), f"output {name} is {value.dtype}, expected {output_dtype}"
    assert model.weights, "the model has no variables"
    wrong = [v.path for v in model.weights if v.dtype != variable_dtype]
    assert not wrong, f"variables not {variable_dtype}: {wrong}"
    if compute_dtype is not None:
        wrong = [layer.name for layer in model.layers if layer.weights and layer.compute_dtype != compute_dtype]
        assert not wrong, f"layers not computing in {compute_dtype}: {wrong}"

    # get_config / from_config, through the registry as a .keras file goes.
    config = _plain(model.get_config())
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(clone) is type(model), f"from_config made a {type(clone).__name__}, not a {type(model).__name__}"
    assert _plain(clone.get_config()) == config, "get_config of the rebuilt model differs"
    clone.set_weights(model.get_weights())
    _check_same(_numpy(clone(input_data)), output, "the get_config/from_config round trip")

    path = Path(tmp_path) / "harness_model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True
    assert type(loaded) is type(model), f"the .keras file loaded as a {type(loaded).__name__}"
    assert _plain(loaded.get_config()) == config, "the loaded model's config differs"
    _check_same(_numpy(loaded(input_data)), output, "saving and loading the .keras file")

    run = NetworkRun(model=model, output=output, clone=clone, loaded=loaded)
    if mixed_precision is not None:
        before = keras.config.dtype_policy()
        keras.config.set_dtype_policy(mixed_precision)
        try:
            mixed = cls(**init_kwargs)
            run.mixed_output = _numpy(mixed(input_data))
        finally:
            keras.config.set_dtype_policy(before)
        low = keras.DTypePolicy(mixed_precision).compute_dtype
        assert any(layer.weights and layer.compute_dtype == low for layer in mixed.layers), (
            f"{mixed_precision}: no layer computes in {low} (the policy was not applied)"
        )
        wrong = [v.path for v in mixed.weights if v.dtype != "float32"]
        assert not wrong, f"{mixed_precision}: variables not float32: {wrong}"
        _check_shapes(run.mixed_output, expected_output_shape, f"{mixed_precision} output")
        for name, value in _leaves(run.mixed_output).items():
            assert value.dtype == np.dtype(output_dtype), f"{mixed_precision}: output {name} is {value.dtype}"
            assert np.isfinite(value).all(), f"{mixed_precision}: output {name} is not finite"
    return run


def run_backbone_test(
    cls: Build,
    init_kwargs: Mapping[str, Any],
    input_data: Any,
    expected_output_shape: Mapping[str, Shape],
    *,
    tmp_path: Path,
    compute_dtype: Optional[str] = None,
) -> NetworkRun:
    """:func:`run_network_test` for a feature extractor: ``{layer name: float32 features}``.

    ``expected_output_shape`` maps each layer name to its features' shape; the dict must have
    exactly those keys. The dtype comes from ``init_kwargs`` (``dtype="bfloat16"``: give
    ``compute_dtype="bfloat16"``), so no global mixed-precision build is made.
    """
    return run_network_test(
        cls, init_kwargs, input_data, dict(expected_output_shape), tmp_path=tmp_path,
        output_dtype="float32", compute_dtype=compute_dtype, mixed_precision=None,
    )
