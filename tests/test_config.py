"""Option validation: every bad value names the option and the value received."""

import pytest

from tf_style.config import StylizeConfig, parse_float_list
from tf_style.errors import OptionError


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"size": 8}, "size"),
        ({"size": 100000}, "size"),
        ({"size": "512"}, "size"),
        ({"iterations": 0}, "iterations"),
        ({"iterations": -5}, "iterations"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"content_weight": -1}, "content_weight"),
        ({"style_weight": float("nan")}, "style_weight"),
        ({"tv_weight": "x"}, "tv_weight"),
        ({"content_weight": 0, "style_weight": 0}, "content_weight"),
        ({"style_scale": 0}, "style_scale"),
        ({"style_scale": 100}, "style_scale"),
        ({"content_layers": ()}, "content_layers"),
        ({"style_layers": "block1_conv1"}, "style_layers"),
        ({"style_layer_weights": (1.0,)}, "style_layer_weights"),
        ({"style_blend": (0, 0)}, "style_blend"),
        ({"backbone": "vgg91"}, "did you mean 'vgg19'"),
        ({"pooling": "mean"}, "pooling"),
        ({"padding": "reflection"}, "did you mean 'reflect'"),
        ({"seed": -1}, "seed"),
        ({"pyramid": 0}, "pyramid"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"dtype": "float16"}, "auto, float32 or bfloat16"),
    ],
)
def test_bad_values_raise_option_error_naming_the_option(options, needle):
    with pytest.raises(OptionError) as info:
        StylizeConfig(**options)
    assert needle in str(info.value)
    bad = next(iter(options.values()))
    if not isinstance(bad, tuple):
        assert repr(bad) in str(info.value) or str(bad) in str(info.value)


def test_defaults_are_valid_and_frozen():
    cfg = StylizeConfig()
    assert cfg.optimizer == "lbfgs" and cfg.pooling == "avg" and cfg.backbone == "auto"
    assert cfg.dtype == "auto"
    with pytest.raises(Exception):
        cfg.size = 3  # type: ignore[misc]
    assert cfg.with_options(size=256).size == 256
    with pytest.raises(OptionError, match="unknown option"):
        cfg.with_options(colour=True)


def test_blend_weights_are_normalized_and_counted():
    cfg = StylizeConfig(style_blend=(0.7, 0.3))
    assert cfg.blend_weights(2) == pytest.approx((0.7, 0.3))
    assert StylizeConfig(style_blend=(3, 1)).blend_weights(2) == pytest.approx((0.75, 0.25))
    assert StylizeConfig().blend_weights(4) == (0.25,) * 4
    with pytest.raises(OptionError, match="expected 3 weights"):
        cfg.blend_weights(3)


@pytest.mark.parametrize("text", ["", "0.5,", "a,b", "1,-1", "nan"])
def test_malformed_float_lists(text):
    with pytest.raises(OptionError, match="--style-blend"):
        parse_float_list("--style-blend", text)
