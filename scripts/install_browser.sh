#!/usr/bin/env bash
# Debian's headless-capable Chromium for the dashboard's browser test and benchmark (`make test`,
# `make bench`). Idempotent: nothing to do when /usr/bin/chromium is there. Never fails the
# build: without a browser the browser test skips and says why.
set -u
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no apt-get here: install Chromium yourself (the browser test skips without it)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install_browser: not root and no sudo: run 'apt-get install chromium' as root (the browser test skips)" >&2
    exit 0
  fi
fi
echo "install_browser: installing Debian's chromium (once)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >&2; then
  echo "install_browser: apt-get install chromium failed (the browser test skips)" >&2
fi
exit 0
