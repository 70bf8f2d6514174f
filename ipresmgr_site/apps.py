import logging

from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project itself as an app: registers its deployment checks, checks the server behind each
    new database connection (ipresmgr_site/database.py), and sends Python's warnings through
    logging (so they are JSON lines too). Holds no models."""

    name = "ipresmgr_site"
    verbose_name = "IPResMgr site"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from ipresmgr_site import checks  # noqa: F401 - registers the checks
        from ipresmgr_site.database import check_new_connection

        connection_created.connect(check_new_connection, dispatch_uid="ipresmgr-check-new-connection")

        logging.captureWarnings(True)
