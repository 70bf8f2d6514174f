"""README stays true to the repository: the commands and paths it names exist, its links stay inside
the repository, and "Calling it" answers what it says, the same story the demo prints."""

from __future__ import annotations

import io
import json
import re
import shlex
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from rest_framework.test import APIClient

from tests.test_openapi_examples import masked

ROOT = Path(settings.BASE_DIR)
README = (ROOT / "README.md").read_text(encoding="utf-8")
# A repository path: starts with one of the project's top folders (or is a top-level file).
PATH = re.compile(
    r"(?<![\w/.-])((?:\.ci|scripts|docs|tests|pools|leases|bench|ipresmgr_site|templates|docker)/[\w./*-]*"
    r"|requirements(?:-dev)?\.txt|manage\.py|ruff\.toml|pytest\.ini)"
)
GENERATED = ("artifacts/",)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def test_every_manage_py_command_named_exists():
    named = set(re.findall(r"manage\.py ([a-z_]+)", README))
    assert {"create_cluster", "create_subnet", "grant_subnet", "revoke_subnet"} <= named
    assert named - set(get_commands()) == set()


def test_every_repository_path_named_exists():
    missing = []
    for match in PATH.finditer(README):
        path = match.group(1).rstrip(".,;:)")
        if path.startswith(GENERATED) or "*" in path:
            continue
        if not (ROOT / path).exists():
            missing.append(path)
    assert missing == []


def test_links_stay_inside_the_repository_and_anchors_exist():
    headings = {slug(h) for h in re.findall(r"^#+ (.+)$", README, re.M)}
    for target in re.findall(r"\]\(([^)]+)\)", README):
        if target.startswith("#"):
            assert target[1:] in headings, target
            continue
        assert not target.startswith(("../", "/")), f"{target} is not in a clone of the repository"
        path = target.split("#")[0]
        assert (ROOT / path).exists(), target
    assert "../shared" not in README


def test_the_docs_link_only_to_each_other_and_the_repository():
    for name in ("contract.md", "behaviour.md"):
        text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)", text):
            assert (ROOT / "docs" / target).exists(), (name, target)


def _calls(shell: str) -> list[tuple[str, dict]]:
    """The (path, body) of each `call` line, with $W put in as the shell would."""
    w_value = shlex.split(re.search(r"^W=(.+)$", shell, re.M).group(1))[0]
    calls = []
    for line in re.findall(r"^call (.+)$", shell, re.M):
        path, body = shlex.split(line)
        calls.append((path, json.loads(body.replace("$W", w_value))))
    return calls


def test_calling_it_answers_what_it_shows_and_leaves_the_pool_for_swagger(db):
    calling_it = section("Calling it")
    shell, release_pool = code_blocks(calling_it, "sh")
    (shown,) = code_blocks(calling_it, "json")
    out = io.StringIO()
    call_command("demo", stdout=out)
    token = re.search(r"^Cluster token:\s+(\S+)", out.getvalue(), re.M).group(1)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    answers = [client.post(path, body, format="json").json() for path, body in _calls(shell)]
    assert [masked(answer) for answer in answers] == [masked(json.loads(line)) for line in shown.splitlines()]
    # The story ends with an active pool; releasing it is shown apart, and works.
    (path, body) = _calls(shell.split("\n\n")[0] + "\n" + release_pool)[0]
    assert path == "/v1/ippool/release" and client.post(path, body, format="json").json()["Code"] == 0


def test_the_demo_prints_the_calls_of_the_readme(db):
    out = io.StringIO()
    call_command("demo", stdout=out)
    printed = out.getvalue()
    calling_it = section("Calling it")
    shell, release_pool = code_blocks(calling_it, "sh")
    lines = [line for line in shell.splitlines() if line and not line.startswith("TOKEN=")]
    lines += release_pool.splitlines()
    for line in lines:
        assert line in printed, line
