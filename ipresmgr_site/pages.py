"""Pages outside /v1 and the console: a start page that says where everything is (also the
console's "View site"), and the project's own docs, so that the OpenAPI description can link them."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render

DOCS = {"contract": "contract.md", "behaviour": "behaviour.md"}


def home(request):
    return render(request, "home.html")


def doc(request, name: str):
    """docs/<name>.md as it is in the repository (Markdown, shown as text)."""
    if name not in DOCS:
        raise Http404(f"no document {name}")
    text = (settings.BASE_DIR / "docs" / DOCS[name]).read_text(encoding="utf-8")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
