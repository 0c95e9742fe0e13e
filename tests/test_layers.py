"""The layers hold: an import only goes down (bench > assistant > ingest | tools > retrieval).

The contracts live in pyproject.toml ([tool.importlinter]); a back-edge fails here with import-linter's report,
which names the importing module, the imported one and the line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(*arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
               *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_every_import_goes_down_the_layers():
    result = lint_imports("--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_back_edge_is_reported_with_the_import_that_makes_it(tmp_path):
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["assistant", "retrieval"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "retrieval below assistant, reversed"\ntype = "layers"\n'
        'layers = ["retrieval", "assistant"]\n'
    )
    result = lint_imports("--no-cache", "--config", str(config))
    assert result.returncode == 1
    assert "BROKEN" in result.stdout and "assistant." in result.stdout and "-> retrieval." in result.stdout
