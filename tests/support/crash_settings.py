"""The real settings with tests/support/crash_urls.py, for a live server that has an endpoint that crashes."""

from ipresmgr_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.support.crash_urls"
