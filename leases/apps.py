from django.apps import AppConfig


class LeasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leases"

    def ready(self):
        from leases import (
            consistency,  # noqa: F401 - registers the lease checks with pools.consistency
            retention,  # noqa: F401 - registers the binding proofs with prune_audit's keep rules
        )
