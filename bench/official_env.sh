#!/usr/bin/env bash
# Create bench/.official-venv: the official Spleeter 2.4.2 with its own pins (typer 0.3.2, click 7),
# the only setup in which its `spleeter separate` CLI works. The project venv cannot host it: its
# override to a current typer (needed by Celery's click 8) breaks the CLI.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${OFFICIAL_VENV:-$here/.official-venv}"
python="${PYTHON:-python3.11}"
if [[ -x "$venv/bin/spleeter" ]] && "$venv/bin/python" -c "import spleeter" 2>/dev/null; then
    echo "official venv already present: $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# spleeter alone, so pip resolves exactly the versions its authors pinned.
"$venv/bin/python" -m pip install --quiet "spleeter==2.4.2"
"$venv/bin/python" -m pip freeze | grep -iE '^(spleeter|tensorflow|typer|click|numpy)==' || true
echo "official venv ready: $venv"
