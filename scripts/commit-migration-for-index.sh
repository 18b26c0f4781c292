#!/usr/bin/env bash
# Stages a migration 0001 generated from the models as they are in the INDEX (what is about to be committed),
# leaving the working tree's migration alone. Used while modules in progress add models the commit excludes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
wt=$(mktemp -d)
git worktree add -q --detach "$wt" HEAD
git diff --cached --binary | (cd "$wt" && git apply --allow-empty 2>/dev/null || git apply)
ln -s "$root/.venv" "$wt/.venv"
(cd "$wt" && scripts/regen-initial-migration.sh >/dev/null 2>&1)
blob=$(git hash-object -w "$wt/command_server/migrations/versions/0001_foundation.py")
git update-index --cacheinfo 100644 "$blob" command_server/migrations/versions/0001_foundation.py
git worktree remove --force "$wt"
echo "staged migration 0001 for the index's models"
