"""The layer rules of DESIGN.md, enforced by import-linter, and the pinned public surface."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyomero

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    command = shutil.which("lint-imports")
    args = [command] if command else [sys.executable, "-m", "importlinter.cli"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_public_surface_is_pinned():
    assert pyomero.__all__ == ["__version__"]
    assert isinstance(pyomero.__version__, str)


def test_sources_type_check():
    """mypy over src (configured in pyproject.toml), as STYLE.md asks."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    """ruff is the only linter and formatter (configured in pyproject.toml)."""
    for args in (["check", "src", "tests", "benchmarks"], ["format", "--check", "src", "tests"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
