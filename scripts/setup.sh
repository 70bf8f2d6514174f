#!/usr/bin/env bash
# Create .venv (if missing) and install the pinned requirements. Safe to run again.
# --runtime: only what the service needs (requirements.txt; the demo). Without it: the test, lint
# and tooling requirements too (requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
reqs=requirements-dev.txt
compile=()
# The demo starts sooner without byte-compiling every installed module (Python compiles what it imports).
if [ "${1:-}" = "--runtime" ]; then reqs=requirements.txt; compile=(--no-compile); fi
stamp=.venv/.${reqs%.txt}.sha
want=$(cat requirements.txt "$reqs" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if [ "$reqs" = requirements-dev.txt ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check "${compile[@]}" -r "$reqs"
  echo "$want" > "$stamp"
fi
