"""IPResMgr's Django project. The version below is the one place it is written: the OpenAPI
document, the image's labels and /healthz read it from here."""

__version__ = "1.0.0"
