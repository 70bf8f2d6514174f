"""`manage.py check --deploy` also says what would stop the service from serving."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def secret_key_from_environment(app_configs, **kwargs):
    if settings.SECRET_KEY_FROM_ENVIRONMENT or settings.DEBUG:
        return []
    return [
        Warning(
            "IPRESMGR_SECRET_KEY is not set: the service refuses to serve without it.",
            hint="Set IPRESMGR_SECRET_KEY to a long random string (the Secret in docker/kubernetes/).",
            id="ipresmgr.W001",
        )
    ]
