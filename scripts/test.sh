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
echo "==> dependencies: each import declared, each declared package used, none only transitive"
# The runtime code against the runtime set (no dev-only import), then tests/ and bench/, which
# may use the dev group (DEP004) but nothing undeclared or only transitive.
.venv/bin/deptry .
.venv/bin/deptry . --exclude '\.venv.*|\.git|var|node_modules' --ignore DEP004
echo "==> migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "==> pytest"
.venv/bin/python -m pytest "$@"
