"""The layering of tf_style (docs/ARCHITECTURE.md), checked by import-linter's contracts in setup.cfg."""

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("importlinter")


def _lint(config: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.argv = ['lint-imports', " \
           f"'--config', {str(config)!r}, '--no-cache']; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def _layers(cfg: configparser.ConfigParser) -> list:
    return [line.strip() for line in cfg["importlinter:contract:layers"]["layers"].splitlines() if line.strip()]


def test_the_layers_contract_holds():
    done = _lint(ROOT / "setup.cfg")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"Contracts: 2 kept, 0 broken", done.stdout), done.stdout[-2000:]


def test_every_module_has_a_layer():
    """A new module must be placed in the layers (else nothing checks what it imports)."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {m.strip() for layer in _layers(cfg) for m in layer.split("|")}
    modules = {f"tf_style.{p.stem}" for p in (ROOT / "tf_style").glob("*.py") if p.stem != "__init__"}
    assert modules == listed, (sorted(modules - listed), sorted(listed - modules))


def test_a_reversed_layering_is_reported(tmp_path):
    """The check can fail: with config above losses, losses importing config breaks it."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    layers = _layers(cfg)
    swapped = [("tf_style.config" if layer == "tf_style.losses" else
                "tf_style.losses" if layer == "tf_style.config" else layer) for layer in layers]
    cfg["importlinter:contract:layers"]["layers"] = "\n" + "\n".join(swapped)
    path = tmp_path / "setup.cfg"
    with open(path, "w") as f:
        cfg.write(f)
    done = _lint(path)
    assert done.returncode != 0
    assert "tf_style.losses -> tf_style.config" in done.stdout, done.stdout[-2000:]
