"""The wheel works outside the source tree (issue 13, item 11).

Builds the wheel from a copy of the project (so the checkout gets no ``build/``), installs
it with pip into a fresh venv whose only other packages are the test venv's (a ``.pth`` line,
so nothing is downloaded), and runs ``qdt info`` and ``qdt snapshot`` from a folder that has
no ``qdt`` source: the north arrow and the other assets must come from the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from tests.conftest import ROOT, SAMPLE_DIR


def test_the_wheel_installs_and_runs_info_and_snapshot(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("qdt", "assets"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(wheels)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("qdt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "qdt/assets/north_arrow.svg" in names and "qdt/assets/report_template.json" in names
    assert not any(n.startswith(("tests/", "assets/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies come from the test venv, after the wheel on sys.path (its .pth files are not run,
    # so the editable finder of the source checkout is not installed)
    (site / "zz_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True, capture_output=True, timeout=300)
    qdt = env_dir / "bin" / "qdt"
    assert qdt.exists()

    work = tmp_path / "elsewhere"
    shutil.copytree(SAMPLE_DIR, work)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    where = subprocess.run([str(python), "-c", "import qdt, qdt.resources as r; print(qdt.__file__, r.assets_dir())"],
                           capture_output=True, text=True, cwd=work, env=env, check=True).stdout
    assert str(site) in where and str(ROOT) not in where
    info = subprocess.run([str(qdt), "info", "qingdao_shinan.qdt"], capture_output=True, text=True, cwd=work,
                          env=env, timeout=300)
    assert info.returncode == 0, info.stderr
    assert "路灯" in info.stdout
    snap = subprocess.run([str(qdt), "snapshot", "qingdao_shinan.qdt", "--out", "view.png", "--width", "320",
                           "--height", "200", "--quiet"], capture_output=True, text=True, cwd=work, env=env,
                          timeout=300)
    assert snap.returncode == 0, snap.stderr
    assert (work / "view.png").stat().st_size > 1000
