"""One access door (issue 13): only accounts/access.py and the apps' policies.py read a user's Scope;
everything else asks the door (`can`, `require`, `restrict`, `{% can %}`)."""

import ast
import re
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from accounts import access
from conftest import CAST, PROVINCE_A, PROVINCE_B
from meetings import services as meeting_services
from meetings.models import Kind, Meeting
from universities.models import University

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".venv", "tests", "migrations", "node_modules", "artifacts", "bench", ".git"}

# Attributes only a Scope has (`.universities` and `.national` are also a meeting's field and a view's name:
# those are caught when read from a variable called scope).
SCOPE_ONLY_FIELDS = {
    "readable_provinces",
    "writable_provinces",
    "lead_universities",
    "member_provinces",
    "supporting_universities",
    "has_role",
    "can_read_province",
    "can_write_province",
    "can_read_identifiers",
    "api_scope",
}
DOOR_NAMES = {"scope_for", "Scope", "NO_ACCESS"}

# Files outside the door and the policies that may still touch a Scope, each with its reason.
ALLOWED = {
    "api/authentication.py": "builds a partner key's own Scope (principal_for): the key's reach, not a decision",
    "api/imports.py": "hands the key's scope on to the account an upload runs as (api_scope), reading none of it",
}


def _is_door(relative: str) -> bool:
    return relative == "accounts/access.py" or relative.endswith("/policies.py")


def scope_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for every read of the door's Scope in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if node.attr in SCOPE_ONLY_FIELDS:
                found.append((node.lineno, f".{node.attr}"))
            elif isinstance(node.value, ast.Name) and node.value.id in {"scope", "_scope"}:
                found.append((node.lineno, f"scope.{node.attr}"))
            elif node.attr in DOOR_NAMES:
                found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in DOOR_NAMES:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("access"):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name in DOOR_NAMES]
    return found


TEMPLATE_READ = re.compile(r"{[{%][^}]*\b(access_scope|scope)\.\w+")


def _sources(suffix: str):
    for path in sorted(ROOT.rglob(f"*{suffix}")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS & set(relative.parts[:-1]):
            continue
        yield relative.as_posix(), path.read_text(encoding="utf-8")


def test_the_checker_sees_what_it_looks_for():
    sample = (
        "from accounts.access import scope_for\n"
        "def f(user, meeting):\n"
        "    scope = scope_for(user)\n"
        "    return scope.national or meeting.province_id in scope.writable_provinces\n"
    )
    assert {what for _line, what in scope_reads(sample)} == {
        "import scope_for",
        "scope_for",
        "scope.national",
        ".writable_provinces",
    }
    clean = 'from accounts.access import can\ndef f(user, m):\n    return can(user, "meetings.write", m)\n'
    assert scope_reads(clean) == []
    assert TEMPLATE_READ.search("{% if scope.national %}")
    assert TEMPLATE_READ.search("{{ access_scope.has_role }}")
    assert not TEMPLATE_READ.search('<th scope="col">')


def test_no_scope_is_read_outside_the_door_and_the_policies():
    offenders = []
    for relative, source in _sources(".py"):
        if _is_door(relative) or relative in ALLOWED:
            continue
        offenders += [f"{relative}:{line}: {what}" for line, what in scope_reads(source)]
    for relative, source in _sources(".html"):
        for number, text in enumerate(source.splitlines(), start=1):
            if TEMPLATE_READ.search(text):
                offenders.append(f"{relative}:{number}: {text.strip()[:80]}")
    assert offenders == [], "ask the door (accounts.access.can) instead:\n" + "\n".join(offenders)


def test_every_allowed_file_still_needs_its_exception():
    for relative, reason in ALLOWED.items():
        assert reason
        assert scope_reads((ROOT / relative).read_text(encoding="utf-8")), relative


def test_an_unknown_action_is_an_error_not_an_answer(cast):
    with pytest.raises(KeyError):
        access.can(cast.eef_admin, "meetings.wirte")


def test_a_rule_is_registered_once():
    with pytest.raises(ValueError, match="twice"):
        access.register("meetings.write", lambda user, scope, obj: True)


@pytest.mark.django_db
def test_require_refuses_with_permission_denied(cast):
    access.require(cast.eef_admin, "portal.national")
    with pytest.raises(PermissionDenied):
        access.require(cast.coordinator_a, "portal.national")


@pytest.mark.django_db
def test_the_template_tag_asks_the_door(cast):
    template = Template('{% load access %}{% can "portal.national" as national %}{{ national|yesno:"yes,no" }}')
    request = RequestFactory().get("/")
    for user, expected in ((cast.eef_admin, "yes"), (cast.coordinator_a, "no")):
        request.user = user
        assert template.render(Context({"request": request})) == expected
    # Rendered outside a request (the 500 page): nobody.
    assert template.render(Context({})) == "no"


@pytest.mark.django_db
def test_the_meetings_write_rule_answers_the_same_before_and_after_saving(cast):
    """The list of writable meetings, the check before saving and the kinds offered come from one rule
    (meetings/policies.py): for each user and each meeting they agree."""
    kku = University.objects.get(code="KKU")
    cases = [
        (Kind.PROVINCIAL, [PROVINCE_A], []),
        (Kind.PROVINCIAL, [PROVINCE_B], []),
        (Kind.PROVINCIAL, [PROVINCE_B], [kku.pk]),
        (Kind.REGIONAL, [], [kku.pk]),
        (Kind.NATIONAL, [], []),
    ]
    users = [cast[name] for name in CAST if name != "anonymous"]
    answers = set()
    for kind, provinces, universities in cases:
        meeting = Meeting.objects.create(title=kind, kind=kind, starts_on="2025-01-10", ends_on="2025-01-10")
        meeting.provinces.set(provinces)
        meeting.universities.set(universities)
        for user in users:
            try:
                meeting_services.check_meeting_scope(
                    user=user, kind=kind, province_ids=provinces, university_ids=universities
                )
                may_plan = True
            except ValidationError:
                may_plan = False
            writes = Meeting.objects.writable_by(user).filter(pk=meeting.pk).exists()
            assert may_plan == writes == meeting_services.may_write(meeting=meeting, user=user), (kind, user)
            assert not writes or kind in meeting_services.allowed_kinds(user)
            answers.add(writes)
    assert answers == {True, False}


@pytest.mark.django_db
def test_pages_show_links_and_buttons_by_the_door(cast, client_for):
    """The navigation, the home page and a dashboard's "compute now" ask the door ({% can %}), as the
    views behind them do."""
    uploads, provinces = reverse("uploads:list"), reverse("provinces:list")
    for name, may_upload in (("eef_admin", True), ("coordinator_a", True), ("viewer_a", False), ("no_role", False)):
        html = client_for(cast[name]).get(reverse("home")).content.decode()
        assert (f'href="{uploads}"' in html) == may_upload, name
        assert (f'href="{provinces}"' in html) == (name != "no_role"), name
    dashboard = reverse("summaries:province", kwargs={"code": PROVINCE_A})
    for name, may_run in (("eef_admin", True), ("coordinator_a", False)):
        html = client_for(cast[name]).get(dashboard).content.decode()
        assert ('data-testid="run-summary"' in html) == may_run, name
