"""The shipped packages as a platform team installs them: wheels, and a virtualenv with the runtime only.

    wheels = build_wheels(tmp / "dist")                       # {"reliable-etl": ..., "reliable-etl-plugin": ...}
    bin_dir = runtime_venv(tmp / "venv", wheels["reliable-etl-plugin"])   # the Airflow image's environment

`runtime_venv` installs ``requirements.txt`` under the full lock and the given wheels, byte-compiled,
with uv from its cache (about 10 s here): no editable install, no development requirement.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from reliable_etl_dev import ROOT

UV = Path(sys.executable).with_name("uv")
PACKAGES = {"reliable-etl": ROOT, "reliable-etl-plugin": ROOT / "plugin"}


def _run(args: list[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode != 0:
        output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{output}")


def build_wheels(out: Path) -> dict[str, Path]:
    """A wheel of each shipped package, built from the checkout's working tree (setuptools, isolated)."""
    out.mkdir(parents=True, exist_ok=True)
    wheels = {}
    for name, source in PACKAGES.items():
        _run([str(UV), "build", "--wheel", "--out-dir", str(out), str(source)])
        shutil.rmtree(source / "build", ignore_errors=True)  # setuptools' scratch folder
        (wheel,) = out.glob(f"{name.replace('-', '_')}-*.whl")
        wheels[name] = wheel
    return wheels


def runtime_venv(dest: Path, *wheels: Path) -> Path:
    """A fresh virtualenv with the runtime requirements (locked) and `wheels`; its ``bin`` folder."""
    _run([str(UV), "venv", "--quiet", "--python", sys.executable, str(dest)])
    python = dest / "bin" / "python"
    _run(
        [
            str(UV), "pip", "install", "--quiet", "--python", str(python), "--compile-bytecode",
            "-r", str(ROOT / "requirements.txt"), "-c", str(ROOT / "constraints.txt"), *map(str, wheels),
        ]
    )  # fmt: skip
    return dest / "bin"
