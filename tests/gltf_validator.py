"""The Khronos glTF validator (npm ``gltf-validator``, installed by ``make setup`` → ``npm ci``) for the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "validate_gltf.mjs"


def validate(*paths: str | Path) -> list[dict]:
    """One report per file: ``{"file", "errors", "warnings", "messages"}`` (messages: errors and warnings)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "gltf-validator").is_dir():
        raise AssertionError("the Khronos glTF validator is not installed: run `make setup` (npm ci)")
    reports = []
    files = [str(p) for p in paths]
    for start in range(0, len(files), 200):
        run = subprocess.run([node, str(SCRIPT), *files[start:start + 200]], capture_output=True, text=True,
                             cwd=ROOT, timeout=600)
        lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
        if len(lines) != len(files[start:start + 200]):
            raise AssertionError(f"glTF validator failed: {run.stderr.strip()[-500:]}")
        reports.extend(json.loads(line) for line in lines)
    return reports
