import logging

from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project itself as an app: registers its deployment checks, and sends Python's warnings
    through logging (so they are JSON lines too). Holds no models."""

    name = "ipresmgr_site"
    verbose_name = "IPResMgr site"

    def ready(self) -> None:
        from ipresmgr_site import checks  # noqa: F401 - registers the checks

        logging.captureWarnings(True)
