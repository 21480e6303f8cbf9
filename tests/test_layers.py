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
