"""The summaries' workbooks and PDF meeting packs as export jobs (exports/): registered by SummariesConfig.ready.

The job collects the pack again with the asker's scope when it runs (summaries.exports.collect: 404, and so a
failed job, for a subject they no longer see) and renders it; the page that asked answers at once."""

import datetime
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from core.buddhist_dates import current_fiscal_year
from core.templatetags.thai_dates import be_date
from exports.services import Refused

from . import exports
from .models import Level, Snapshot

KIND = "summaries.pack"


class NoFiguresYet(Refused):
    """No summary of the fiscal year holds the subject yet: nothing to export (a message, not a 404)."""


def _as_of(params: dict) -> datetime.date | None:
    """The past day whose figures the export holds (an ISO date), or None for the latest."""
    value = params.get("as_of")
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise Http404 from error


def check(principal: Any, params: dict, file_format: str) -> dict:
    level = str(params.get("level") or Level.NATIONAL)
    code = str(params.get("code") or "")
    try:
        fiscal_year = int(params.get("fiscal_year") or current_fiscal_year())
    except (TypeError, ValueError) as error:
        raise Http404 from error
    as_of = _as_of(params)
    # The dashboards' door: 404 for a subject outside the asker's scope.
    pack = exports.collect(user=principal, level=level, code=code, fiscal_year=fiscal_year, as_of=as_of)
    if pack is None:
        if as_of:
            raise NoFiguresYet(_("No figures on or before %(day)s") % {"day": be_date(as_of)})
        raise NoFiguresYet(_("There are no figures to download yet: no summary has been computed."))
    cleaned = {"level": level, "code": code, "fiscal_year": fiscal_year}
    if as_of:
        cleaned["as_of"] = as_of.isoformat()
    return cleaned


def title(params: dict, file_format: str) -> str:
    from provinces.models import Province
    from universities.models import University

    level, code = params["level"], params["code"]
    if level == Level.PROVINCE:
        found = Province.objects.filter(pk=int(code)).first()
        name = found.name if found else code
    elif level == Level.UNIVERSITY:
        name = University.objects.filter(code=code).values_list("name_th", flat=True).first() or code
    else:
        name = _("All programme provinces")
    what = _("Meeting pack (PDF)") if file_format == "pdf" else _("Excel (.xlsx)")
    text = _("%(what)s: %(name)s, fiscal year %(year)s") % {"what": what, "name": name, "year": params["fiscal_year"]}
    as_of = _as_of(params)
    return f"{text} · {_('Figures as of %(when)s') % {'when': be_date(as_of)}}" if as_of else text


def build(job) -> Any:
    from exports.registry import Built

    job.progress(0, 3)
    pack = exports.collect(
        user=job.principal,
        level=job.params["level"],
        code=job.params["code"],
        fiscal_year=job.params["fiscal_year"],
        as_of=_as_of(job.params),
    )
    if pack is None:
        raise Http404
    job.progress(1, 3)
    content, content_type, filename = exports.render(pack, fmt=job.file_format, language=job.language)
    job.progress(2, 3)
    job.out.write(content)
    return Built(
        filename=filename,
        content_type=content_type,
        log_model=Snapshot,
        log_object_id=str(pack.subject.pk),
        log_description=f"summary {pack.level} {pack.code} ({job.file_format})",
    )


def register_export_kind() -> None:
    from exports.registry import Kind, register

    register(Kind(name=KIND, formats=tuple(exports.FORMATS), title=title, check=check, build=build))
