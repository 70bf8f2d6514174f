"""The WSGI application gunicorn serves. Serving without IPRESMGR_SECRET_KEY (and DEBUG off) is
refused here, with one line on stderr, before Django loads (ipresmgr_site/startup.py)."""

import os

from django.core.wsgi import get_wsgi_application

from ipresmgr_site.startup import refuse_to_serve_if_insecure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ipresmgr_site.settings")
refuse_to_serve_if_insecure()

application = get_wsgi_application()
