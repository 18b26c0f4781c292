#!/usr/bin/env bash
# Regenerates migration 0001 from the models. Only while nothing has been released: once a database exists
# in the field, schema changes get a new revision instead (alembic revision --autogenerate).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f command_server/migrations/versions/0001_*.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from command_server.core.migrate import alembic_config
cfg = alembic_config(f"sqlite+aiosqlite:///{sys.argv[1]}/gen.db")
command.revision(cfg, message="foundation", autogenerate=True, rev_id="0001")
PY
rm -rf "$tmp"
