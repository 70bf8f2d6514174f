#!/usr/bin/env bash
# The operators' console end to end in headless Chromium (Debian's package, driven by Playwright;
# no browser download). Installs chromium if missing, then runs the browser tests, which must not
# skip here. Screenshots land in artifacts/browser/.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
bash scripts/setup.sh
. .venv/bin/activate
# On SQLite; scripts/test.sh runs them on PostgreSQL too whenever chromium is installed.
env -u DATABASE_URL REQUIRE_BROWSER=1 pytest tests/admin/test_browser.py
