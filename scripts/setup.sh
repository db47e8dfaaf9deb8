#!/usr/bin/env bash
# Set up a fresh machine for tinyvision: a virtual environment with torch and
# the package (editable, with the test extras), plus Debian's chromium for the
# browser test when this runs as root on Debian. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision pinned to the releases this project is tested with.
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1 -e ".[dev]"
echo "tinyvision is installed in .venv (try: .venv/bin/tinyvision --help)"
