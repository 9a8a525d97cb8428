"""The images the compose stack needs, built here: stand-ins for the official ones, then the project's.

No image registry is reachable from these machines, so the images ``docker-compose.yaml`` names
(``postgres:16``, ``redis:7.2-bookworm``, ``apache/airflow:3.3.2-python3.11``) are built from
``dev/stack/images/<name>/`` on a Debian bookworm base made with debootstrap, and tagged with the
official names. Each Dockerfile's header says what it emulates and what differs. A tag that
exists already is kept: a real official image pulled on a machine with a registry is used as is,
and a stand-in is rebuilt only when its folder changed (the label ``io.reliable-etl.stand-in``
holds the hash of what it was built from).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from reliable_etl_dev import ROOT
from reliable_etl_dev.stack.engine import Engine

BASE = "reliable-etl/debian:bookworm"
STAND_INS = {
    "postgres:16": "postgres",
    "redis:7.2-bookworm": "redis",
    "apache/airflow:3.3.2-python3.11": "airflow",
}
SYSTEMD_HOST = "reliable-etl/systemd-host:bookworm"  # a machine for deploy/systemd, not a stand-in
LABEL = "io.reliable-etl.stand-in"
CA = Path("/etc/ssl/certs/ca-certificates.crt")  # this machine's egress proxy CA: pip works inside builds
EXTRA_FILES = {  # what a build folder needs from the checkout or the host
    "airflow": (ROOT / "constraints.txt", CA),
    "systemd": (ROOT / "requirements.txt", ROOT / "constraints.txt", CA),
}
IMAGES = ROOT / "dev" / "stack" / "images"
MIRROR = "http://deb.debian.org/debian"


def _exists(engine: Engine, tag: str) -> bool:
    return engine.docker("image", "inspect", tag, check=False).returncode == 0


def _label(engine: Engine, tag: str) -> str | None:
    out = engine.docker("image", "inspect", "-f", f'{{{{index .Config.Labels "{LABEL}"}}}}', tag).stdout.strip()
    return out if out and out != "<no value>" else None


def size_mb(engine: Engine, tag: str) -> float:
    return int(engine.docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip()) / 1e6


def ensure_base(engine: Engine) -> None:
    """Debian bookworm (minbase) from Debian's mirror, imported as an image: the stand-ins' base."""
    if _exists(engine, BASE):
        return
    with tempfile.TemporaryDirectory(prefix="etl_rootfs_") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR],
            check=True,
            capture_output=True,
            timeout=1200,
        )
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        (rootfs / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, env=engine.env, check=True, timeout=600,
                       capture_output=True)  # fmt: skip
        tar.wait(timeout=60)


def _context(name: str, work: Path) -> tuple[Path, str]:
    """The build folder of a stand-in (with the lock and, for Airflow, the host's CA) and its hash."""
    context = work / name
    shutil.copytree(IMAGES / name, context)
    for path in EXTRA_FILES.get(name, ()):
        shutil.copy(path, context / path.name)
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0" + path.read_bytes())
    return context, digest.hexdigest()[:16]


def ensure_image(engine: Engine, tag: str, name: str) -> float:
    """Build ``dev/stack/images/<name>`` as ``tag`` unless it is current (or a real official image);
    the seconds spent (0: kept)."""
    ensure_base(engine)
    with tempfile.TemporaryDirectory(prefix="etl_images_") as tmp:
        context, digest = _context(name, Path(tmp))
        if _exists(engine, tag) and _label(engine, tag) in {digest, None}:  # current, or a real official one
            return 0.0
        started = time.monotonic()
        engine.docker("build", "--quiet", "--label", f"{LABEL}={digest}", "-t", tag, str(context), timeout=1800)
        return time.monotonic() - started


def ensure_stand_ins(engine: Engine) -> dict[str, float]:
    """Build each stand-in that is missing or out of date; seconds spent per image (0: kept)."""
    return {tag: round(ensure_image(engine, tag, name), 1) for tag, name in STAND_INS.items()}
