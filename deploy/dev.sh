#!/usr/bin/env bash
# Simultan developer entry point for a fresh Debian machine.
#   deploy/dev.sh demo   set up, then run the demo event on the embedded defaults
#   deploy/dev.sh test   set up (with Chromium for browser tests), then run every check and test
# Setup is idempotent: Debian packages via apt-get (as root, or with sudo), Python packages
# into .venv. Tests run in a network namespace that has only loopback, so no media can leave
# this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$PY" -m venv "$VENV"; }
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
}

case "${1:-}" in
  demo)
    shift
    apt_install ca-certificates
    setup_python
    exec "$VENV/bin/simultan" demo "$@"
    ;;
  test)
    shift
    # fonts-wqy-microhei: Chinese and Japanese glyphs for the localized pages and screenshots.
    # janus + gcc: bench/janus_vs_sfu.py (Debian's Janus, and the C compiler for its loopback shim).
    apt_install chromium fonts-dejavu-core fonts-wqy-microhei iproute2 util-linux nftables coturn \
      janus gcc libc6-dev
    # Debian enables a Janus daemon on all interfaces; the benchmark starts its own on loopback.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled janus >/dev/null 2>&1; then
      as_root systemctl disable --now janus >/dev/null 2>&1 || true
    fi
    # Node.js and npm from Debian, unless the machine already has them (a newer npm is kept).
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    setup_python
    echo "== npm ci (typescript for tsc --checkJs, axe-core for the accessibility tests)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "== tsc --checkJs over client/"
    npx tsc -p client
    echo "== ruff"
    "$VENV/bin/ruff" check server tests bench
    "$VENV/bin/ruff" format --check server tests bench
    echo "== mypy"
    "$VENV/bin/mypy"
    echo "== pytest (loopback-only network namespace)"
    # unshare -n needs root; elsewhere map the user to root in a new user namespace (-r).
    ns=(unshare -n); [ "$(id -u)" = 0 ] || ns=(unshare -r -n)
    # Network-fault tests (nftables, test namespaces) fail here instead of skipping.
    export SIMULTAN_CI=1
    exec "${ns[@]}" sh -c 'ip link set lo up && exec "$0" -m pytest "$@"' "$VENV/bin/python" "$@"
    ;;
  *)
    echo "usage: deploy/dev.sh demo|test [args]" >&2
    exit 2
    ;;
esac
