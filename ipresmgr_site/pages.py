"""Pages outside /v1 and the console: a start page that says where everything is (also the
console's "View site"), and the project's own docs, so that the start page and the OpenAPI
description can link them."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render


def docs() -> dict[str, Path]:
    """docs/*.md by name: every page the start page links and /docs/<name>.md serves."""
    return {path.stem: path for path in sorted((settings.BASE_DIR / "docs").glob("*.md"))}


def title(path: Path) -> str:
    first = path.read_text(encoding="utf-8").partition("\n")[0]
    return first.removeprefix("# ").strip() or path.name


def home(request):
    return render(request, "home.html", {"docs": [(name, title(path)) for name, path in docs().items()]})


def doc(request, name: str):
    """docs/<name>.md as it is in the repository (Markdown, shown as text)."""
    path = docs().get(name)
    if path is None:
        raise Http404(f"no document {name}")
    return HttpResponse(path.read_text(encoding="utf-8"), content_type="text/plain; charset=utf-8")
