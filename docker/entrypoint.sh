#!/bin/sh
# The image's entrypoint.
#   no arguments:  serve with gunicorn (docker/gunicorn.conf.py), after `migrate` when
#                  IPRESMGR_MIGRATE_ON_START=1 (compose; in Kubernetes the migration Job does it)
#   arguments:     a manage.py command: `IMAGE migrate`, `IMAGE create_cluster --cluster-id prod-1`,
#                  `IMAGE check_consistency`
# exec, so that gunicorn (or the command) is the process that gets SIGTERM.
set -eu
cd /app

if [ "$#" -gt 0 ]; then
  exec python manage.py "$@"
fi

case "${IPRESMGR_MIGRATE_ON_START:-0}" in
  1 | true | yes | on) python manage.py migrate --no-input ;;
esac
exec gunicorn --config /app/docker/gunicorn.conf.py ipresmgr_site.wsgi
