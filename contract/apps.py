from django.apps import AppConfig


class ContractConfig(AppConfig):
    name = "contract"
    verbose_name = "/v1 contract"
