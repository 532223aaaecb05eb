#!/usr/bin/env bash
# Install what the tests need, check lint, types, import boundaries and migrations, then run the
# whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy .
echo "==> import boundaries (DESIGN.md; contracts in pyproject.toml)"
.venv/bin/lint-imports
echo "==> migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "==> pytest"
.venv/bin/python -m pytest "$@"
