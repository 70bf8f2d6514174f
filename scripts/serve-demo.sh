#!/usr/bin/env bash
# Set up, load demo data into SQLite, print how to call the service, and serve on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --runtime  # the service's requirements only: no test or lint tools
. .venv/bin/activate
unset DATABASE_URL
PORT=${PORT:-8000}
# The service refuses to serve without a secret key: the demo keeps one of its own in .venv/.
key_file=.venv/demo-secret-key
[ -s "$key_file" ] || python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$key_file"
export IPRESMGR_SECRET_KEY=${IPRESMGR_SECRET_KEY:-$(cat "$key_file")}
python manage.py migrate --no-input -v0
mkdir -p staticfiles  # static files are served from the apps' folders; no collectstatic to wait for
python manage.py demo --base-url "http://127.0.0.1:$PORT"
exec gunicorn ipresmgr_site.wsgi --bind "127.0.0.1:$PORT" --workers 2 --threads 4 --access-logfile -
