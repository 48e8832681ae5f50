"""The model harness (tests/harness.py) can fail: a layer that forgets an argument is caught."""

import keras
import pytest

from harness import run_network_test
from helpers import noise


@keras.saving.register_keras_serializable(package="tf_style_tests")
class Gain(keras.layers.Layer):
    """``x * gain + bias``: ``gain`` is an argument with no weight behind it."""

    def __init__(self, gain: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.gain = float(gain)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return x * self.gain + self.bias

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


@keras.saving.register_keras_serializable(package="tf_style_tests")
class ForgetfulGain(Gain):
    """The bug the harness is for: ``get_config`` leaves ``gain`` out, so a reload has gain 1."""

    def get_config(self):
        config = super().get_config()
        del config["gain"]
        return config


def _gain_model(layer: type, gain: float) -> keras.Model:
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, layer(gain, name="gain")(inputs))


def test_the_harness_passes_a_faithful_layer_and_catches_a_forgotten_argument(tmp_path):
    x = noise((1, 8, 8, 3))
    run = run_network_test(_gain_model, {"layer": Gain, "gain": 3.0}, x, (1, 8, 8, 3),
                           tmp_path=tmp_path, mixed_precision=None)
    assert run.loaded.get_layer("gain").gain == 3.0
    with pytest.raises(AssertionError, match="get_config/from_config round trip changed the output"):
        run_network_test(_gain_model, {"layer": ForgetfulGain, "gain": 3.0}, x, (1, 8, 8, 3),
                         tmp_path=tmp_path, mixed_precision=None)
    with pytest.raises(AssertionError, match="output has shape"):  # and a wrong shape is one too
        run_network_test(_gain_model, {"layer": Gain, "gain": 3.0}, x, (1, 8, 9, 3),
                         tmp_path=tmp_path, mixed_precision=None)
