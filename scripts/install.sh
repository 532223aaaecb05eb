#!/usr/bin/env bash
# Install everything the project needs on Debian (run as root, or with sudo available):
# system packages, uv, the locked virtualenv (.venv), the Spleeter model, the static files, the
# database schema.
# Usage: scripts/install.sh [--dev]   (--dev adds what the tests need)
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
UV_VERSION="0.13.9"

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

packages=(ffmpeg redis-server ca-certificates fonts-dejavu-core)
# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
if ((DEV)); then packages+=(chromium); fi
# The ledger's concurrency tests start a real PostgreSQL server (tests/postgres.py).
if ((DEV)); then packages+=(postgresql); fi
# The quality test and bench/quality.py render songs with known stems (bench/songs.py).
if ((DEV)); then packages+=(fluidsynth fluid-soundfont-gm espeak-ng); fi
# The signed-URL expiry test runs s3rver on Node.js (tests/integration/s3rver.py); a Node.js
# that came with its own npm is kept.
if ((DEV)) && ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null; then
  echo "Python 3.11 is required ($PYTHON not found); on Debian: apt-get install python3.11 python3.11-venv" >&2
  exit 1
fi

# uv installs the locked dependency set; it comes from PyPI into a small tools virtualenv.
UV="$(command -v uv || true)"
if [[ -z "$UV" ]]; then
  if [[ ! -x .venv-tools/bin/uv ]]; then
    echo "==> installing uv $UV_VERSION into .venv-tools"
    if ! "$PYTHON" -m venv .venv-tools 2>/dev/null; then
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3.11-venv >/dev/null
      rm -rf .venv-tools && "$PYTHON" -m venv .venv-tools
    fi
    .venv-tools/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  fi
  UV="$PWD/.venv-tools/bin/uv"
fi

echo "==> uv sync (locked dependencies into .venv)"
if ((DEV)); then
  "$UV" sync --frozen --python "$PYTHON" --quiet
else
  "$UV" sync --frozen --no-dev --python "$PYTHON" --quiet
fi

# s3rver, an S3 server that checks signatures and expiry, from the npm registry (exact version).
S3RVER_VERSION="4.0.4"
if ((DEV)) && ! grep -qs "\"version\": \"$S3RVER_VERSION\"" \
    .venv-tools/node/node_modules/@20minutes/s3rver/package.json; then
  echo "==> npm install @20minutes/s3rver@$S3RVER_VERSION into .venv-tools/node"
  npm install --prefix .venv-tools/node --save-exact --no-audit --no-fund --loglevel=error \
    "@20minutes/s3rver@$S3RVER_VERSION"
fi

echo "==> Spleeter 2stems model"
.venv/bin/python manage.py provision_model
# Hashed, compressed (gzip, Brotli) copies and their manifest, which the web role serves itself
# (whitenoise) whatever DEBUG is at run time; STATIC_ROOT (default var/static) names the folder.
echo "==> static files"
STATIC_HASHED=true .venv/bin/python manage.py collectstatic --no-input -v0
echo "==> database"
.venv/bin/python manage.py migrate --no-input -v0
