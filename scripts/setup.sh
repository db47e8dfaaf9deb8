#!/usr/bin/env bash
# Set up a fresh machine for tinyvision: a virtual environment with torch and
# the package (editable, with the test extras), plus Debian's chromium and
# Fashion-MNIST when this runs as root on Debian. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: chromium for the browser test, Fashion-MNIST for
# `--dataset fashion-mnist` offline (/usr/share/datasets/fashion-mnist).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    command -v chromium >/dev/null || missing="$missing chromium"
    [ -d /usr/share/datasets/fashion-mnist ] || missing="$missing dataset-fashion-mnist"
    if [ -n "$missing" ]; then
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision pinned to the releases this project is tested with.
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1 -e ".[dev]"
echo "tinyvision is installed in .venv (try: .venv/bin/tinyvision --help)"
