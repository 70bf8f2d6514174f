"""README.md and every docs/*.md stay true to the repository: the commands they name exist and take
the options they are given, the paths and settings they name are there, their links resolve (file
and heading), and the calls they show answer what they say, the same story the demo prints."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from tests.support.openapi import masked

ROOT = Path(settings.BASE_DIR)
README = (ROOT / "README.md").read_text(encoding="utf-8")
CALLING = (ROOT / "docs" / "calling.md").read_text(encoding="utf-8")
PAGES = ["README.md"] + sorted(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))
# The other READMEs the docs index lists, checked the same way.
PAGES += ["cni/README.md", "docker/README.md"]
pages = pytest.mark.parametrize("page", PAGES)
# A repository path: starts with one of the project's top folders (or is a top-level file).
PATH = re.compile(
    r"(?<![\w/.-])((?:\.ci|scripts|docs|tests|pools|leases|bench|ipresmgr_site|templates|docker|cni)/[\w./*-]*"
    r"|requirements(?:-dev)?\.txt|manage\.py|ruff\.toml|pytest\.ini)"
)
GENERATED = ("artifacts/",)
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", "2>", "&"}


def text(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, re.S | re.M)


def prose(markdown: str) -> str:
    """The text outside fenced code blocks (a `# comment` in a shell block is no heading)."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", prose(markdown), re.M)}


def test_the_readme_is_a_first_screen_that_indexes_every_doc():
    assert len(README.splitlines()) <= 250
    for page in PAGES[1:]:
        assert f"]({page})" in README, f"README's docs index does not list {page}"


# Commands ----------------------------------------------------------------------------------------


@pages
def test_every_manage_py_command_named_exists(page):
    named = set(re.findall(r"manage\.py ([a-z_]+)", text(page)))
    assert named - set(get_commands()) == set()


def test_the_operator_commands_are_documented():
    named = {name for page in PAGES for name in re.findall(r"manage\.py ([a-z_]+)", text(page))}
    ours = {name for name, app in get_commands().items() if app in ("pools", "leases")}
    assert ours - named == set(), "a command of ours no doc names"


def manage_py_invocations(markdown: str) -> list[tuple[list[str], bool]]:
    """Each `manage.py <command> <arguments>` in the shell blocks (whole command lines) and in inline
    code (which may leave out required options: `manage.py reconcile` names the command), as argv."""
    lines = []
    for block in code_blocks(markdown, "sh"):
        lines += [(line, True) for line in block.replace("\\\n", " ").splitlines()]
    lines += [(span, False) for span in re.findall(r"`([^`\n]*manage\.py [^`\n]*)`", prose(markdown))]
    invocations = []
    for line, whole in lines:
        if "manage.py " not in line:
            continue
        tokens = shlex.split(line.replace("[", "").replace("]", ""), comments=True)
        starts = [i for i, token in enumerate(tokens) if token.endswith("manage.py")]
        if not starts:  # named in a comment only
            continue
        argv = tokens[starts[0] + 1 :]
        for i, token in enumerate(argv):
            if token in SHELL_OPERATORS:
                argv = argv[:i]
                break
        invocations.append(([token.rstrip(")") for token in argv], whole))
    return invocations


@pages
def test_every_manage_py_command_shown_takes_the_options_given(page):
    commands = get_commands()
    for argv, whole in manage_py_invocations(text(page)):
        name, *arguments = argv
        command = load_command_class(commands[name], name)
        try:
            command.create_parser("manage.py", name).parse_args(arguments)
        except CommandError as error:
            if not whole and "arguments are required" in str(error):
                continue
            pytest.fail(f"{page}: manage.py {' '.join(argv)}: {error}")


def test_a_command_with_an_unknown_option_is_caught():
    [(argv, _)] = manage_py_invocations("```sh\npython manage.py prune_audit --older-then 90   # typo\n```\n")
    command = load_command_class("audit", "prune_audit")
    with pytest.raises(CommandError):
        command.create_parser("manage.py", argv[0]).parse_args(argv[1:])


# Paths, links and settings -----------------------------------------------------------------------


@pages
def test_every_repository_path_named_exists(page):
    missing = []
    for match in PATH.finditer(text(page)):
        path = match.group(1).rstrip(".,;:)")
        if path.startswith(GENERATED) or "*" in path:
            continue
        if not (ROOT / path).exists():
            missing.append(path)
    assert missing == []


@pages
def test_links_resolve_to_a_file_and_heading_of_the_repository(page):
    markdown = text(page)
    assert "../shared" not in markdown
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(markdown)):
        if re.match(r"https?://", target):
            continue
        assert not target.startswith("/"), f"{page}: {target} is not in a clone of the repository"
        path, _, anchor = target.partition("#")
        resolved = ((ROOT / page).parent / path).resolve() if path else ROOT / page
        assert resolved.is_relative_to(ROOT), f"{page}: {target} leaves the repository"
        assert resolved.exists(), f"{page}: {target}"
        if anchor:
            assert anchor in anchors(resolved.read_text(encoding="utf-8")), f"{page}: {target}: no such heading"


SOURCE_SUFFIXES = {".py", ".sh", ".yaml", ".yml", ".env", ".conf", ".go", ".toml", ".ini", ""}
NOT_SOURCE = {".git", ".venv", "docs", "artifacts", "staticfiles", "node_modules", "__pycache__"}


def source_text() -> str:
    """Every file outside the docs that could read a setting: code, scripts, manifests."""
    parts = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [name for name in subdirectories if name not in NOT_SOURCE]
        for name in files:
            path = Path(directory, name)
            if path.suffix in SOURCE_SUFFIXES and path.name != "README.md":
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def test_every_setting_named_is_used_outside_the_docs():
    named = {name for page in PAGES for name in re.findall(r"\bIPRESMGR_[A-Z0-9_]+[A-Z0-9]", text(page))}
    source = source_text()
    assert "IPRESMGR_SECRET_KEY" in named
    assert {name for name in named if name not in source} == set()


# Calls -------------------------------------------------------------------------------------------


def _calls(shell: str, setup: str = "") -> list[tuple[str, dict]]:
    """The (path, body) of each `call` line, with $W put in as the shell would."""
    w_value = shlex.split(re.search(r"^W=(.+)$", setup or shell, re.M).group(1))[0]
    calls = []
    for line in re.findall(r"^call (.+)$", shell, re.M):
        path, body = shlex.split(line)
        calls.append((path, json.loads(body.replace("$W", w_value))))
    return calls


def demo(**kwargs) -> tuple[str, str, str]:
    """Load the demo data; its output, cluster token and operator token."""
    out = io.StringIO()
    call_command("demo", stdout=out, **kwargs)
    printed = out.getvalue()
    cluster = re.search(r"^Cluster token:\s+(\S+)", printed, re.M).group(1)
    operator = re.search(r"^Operator token:\s+(\S+)", printed, re.M).group(1)
    return printed, cluster, operator


def test_the_readme_call_answers_what_it_shows_and_opens_the_calling_story(db):
    (shell,) = code_blocks(README, "sh")[1:]
    (shown,) = code_blocks(README, "json")
    _, token, _ = demo()
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    calls = _calls(shell)
    assert [path for path, _ in calls][-1] == "/v1/ip/require"
    answers = [client.post(path, body, format="json").json() for path, body in calls]
    assert [masked(answer) for answer in answers] == [masked(json.loads(line)) for line in shown.splitlines()]
    # The README's lines are the first of docs/calling.md's story, word for word.
    story = code_blocks(CALLING, "sh")[0]
    assert story.startswith(shell)


def test_calling_it_answers_what_it_shows_and_leaves_the_pool_for_swagger(db):
    shell, release_pool = code_blocks(CALLING, "sh")
    (shown,) = code_blocks(CALLING, "json")
    _, token, _ = demo()
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    answers = [client.post(path, body, format="json").json() for path, body in _calls(shell)]
    assert [masked(answer) for answer in answers] == [masked(json.loads(line)) for line in shown.splitlines()]
    # The story ends with an active pool; releasing it is shown apart, and works.
    (path, body) = _calls(release_pool, setup=shell)[0]
    assert path == "/v1/ippool/release" and client.post(path, body, format="json").json()["Code"] == 0


def test_the_demo_prints_the_calls_of_the_docs(db):
    printed, _, _ = demo()
    shell, release_pool = code_blocks(CALLING, "sh")
    lines = [line for line in shell.splitlines() if line and not line.startswith("TOKEN=")]
    lines += release_pool.splitlines()
    for line in lines:
        assert line in printed, line


def curl_commands(shell: str) -> list[tuple[list[str], str]]:
    """Each curl command of a shell block (quoted newlines kept) as argv, with the comment above it."""
    commands, pending, comment = [], "", ""
    for line in shell.splitlines():
        if not pending and line.lstrip().startswith("#"):
            comment += line.lstrip("# ") + " "
            continue
        if not pending and not line.strip():
            continue
        pending += line + "\n"
        if line.endswith("\\"):  # continued on the next line
            continue
        try:
            argv = shlex.split(pending.replace("\\\n", " "), comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        pending = ""
        if argv and argv[0] == "curl":
            commands.append((argv, comment))
        comment = ""
    return commands


PAGING = {"Limit", "Offset", "Ordering", "Cursor", "ReqID"}


def query_parameters(client: APIClient) -> dict[str, set[str]]:
    """What the OpenAPI document says each GET under /v1 takes."""
    schema = client.get("/api/schema/", {"format": "json"}).json()
    return {
        path: {parameter["name"] for parameter in item["get"].get("parameters", [])}
        for path, item in schema["paths"].items()
        if "get" in item
    }


def assert_known_parameters(url: str, known: dict[str, set[str]]) -> None:
    path, _, query = url.partition("?")
    names = {pair.split("=")[0] for pair in query.split("&") if pair}
    assert names - known[path] == set(), f"{url}: {path} takes no {names - known[path]}"


def test_the_read_api_examples_answer(db):
    """docs/read-api.md's curl lines, replayed with an operator token after the demo's story."""
    _, cluster_token, operator_token = demo()
    cluster = APIClient(HTTP_AUTHORIZATION=f"Bearer {cluster_token}")
    shell, _ = code_blocks(CALLING, "sh")
    for path, body in _calls(shell):
        assert cluster.post(path, body, format="json").json()["Code"] == 0
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {operator_token}")
    (examples,) = code_blocks(text("docs/read-api.md"), "sh")
    commands = curl_commands(examples)
    assert len(commands) >= 6
    known = query_parameters(client)
    for argv, comment in commands:
        url = argv[-1].replace("$BASE", "")
        if "filters:" in comment:  # the comment names exactly the filters the API takes
            listed = re.split(r"\. |;", comment.split("filters:")[1])[0]
            listed = {name.strip() for name in re.sub(r"\([^)]*\)", "", listed).split(",")}
            path = url.split("?")[0]
            assert listed - known[path] == set() and known[path] - PAGING - listed == set(), (path, listed)
        assert_known_parameters(url, known)
        body = argv[argv.index("-d") + 1] if "-d" in argv else None
        assert "$H" in argv and url.startswith("/v1/"), argv
        answer = client.post(url, json.loads(body), format="json") if body else client.get(url)
        assert (answer.status_code, answer.json()["Code"]) == (200, 0), (url, answer.json())
    # What the docs say a read returns after the story, it does.
    pools = client.get("/v1/pools", {"K8SApiResourceName": "web"}).json()
    assert pools["Count"] == 1 and pools["Results"][0]["K8SApiResourceName"] == "web"


def test_every_read_named_inline_answers(db):
    """`GET /v1/...?filters` named in the prose of any page: the filters exist (else Code 1)."""
    _, cluster_token, operator_token = demo()
    cluster = APIClient(HTTP_AUTHORIZATION=f"Bearer {cluster_token}")
    shell, _ = code_blocks(CALLING, "sh")
    for path, body in _calls(shell):
        cluster.post(path, body, format="json")
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {operator_token}")
    reads = {
        url
        for page in PAGES
        for url in re.findall(r"`GET (/v1/[^`\s]+)`", prose(text(page)))
        if "..." not in url and "<" not in url
    }
    assert "/v1/pools?K8SApiResourceName=web" in reads
    known = query_parameters(client)
    for url in reads:
        assert_known_parameters(url, known)
        answer = client.get(url)
        assert (answer.status_code, answer.json()["Code"]) == (200, 0), (url, answer.json())
