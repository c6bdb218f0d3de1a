"""Analysis sets: the one path that pages, the Celery task and tests call (request_set, build_set, claim_download,
prune).

A set's row is the truth. It is received, then built once by a task (build_set claims it by moving it from
received to building, so a task delivered twice builds it once), and ends ready or failed with a reason, whatever
the build raised. A ready set is downloaded once: the claim moves it to downloaded in one UPDATE.
"""

import logging
import tempfile
import threading
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.access import can, require

from . import build
from .models import AnalysisSetRequest

logger = logging.getLogger(__name__)
Status = AnalysisSetRequest.Status


def request_set(*, user: Any, provinces: list[int], purpose: str, language: str | None = None) -> AnalysisSetRequest:
    """Ask for a set of `provinces` for `purpose`. PermissionDenied for those who may not ask for sets or for a
    province outside the asker's scope; ValidationError without a purpose or a province. The build starts once
    the caller's transaction commits."""
    require(user, "analysis.request")
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationError(_("Say what the set is for."))
    codes = sorted({int(code) for code in provinces})
    if not codes:
        raise ValidationError(_("Choose at least one province."))
    if not all(can(user, "analysis.province", code) for code in codes):
        raise PermissionDenied
    with transaction.atomic():
        analysis_set = AnalysisSetRequest.objects.create(
            requested_by=user,
            purpose=purpose,
            language=language or translation.get_language() or settings.LANGUAGE_CODE,
        )
        analysis_set.provinces.set(codes)
        transaction.on_commit(lambda: dispatch(analysis_set.pk))
    return analysis_set


def dispatch(set_id: int) -> None:
    """Hand the build to a Celery worker, or, without a broker, to a thread of this process (as exports do)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        threading.Thread(target=_build_in_thread, args=(set_id,), name=f"analysis-{set_id}", daemon=True).start()
        return
    from .tasks import build_set_task

    try:
        build_set_task.delay(set_id)
    except Exception:  # whatever the broker did: the set stays received, for the sweeper
        logger.warning("analysis set %s: not queued", set_id, exc_info=True)


def _build_in_thread(set_id: int) -> None:
    try:
        build_set(set_id=set_id)
    finally:
        connections.close_all()


def build_set(*, set_id: int) -> None:
    """Build the set's file into default_storage. Idempotent: only a received set is built (the claim is one
    UPDATE). Ends ready, or failed with a reason in the asker's language."""
    claimed = AnalysisSetRequest.objects.filter(pk=set_id, status=Status.RECEIVED).update(status=Status.BUILDING)
    if not claimed:
        return
    analysis_set = AnalysisSetRequest.objects.get(pk=set_id)
    with translation.override(analysis_set.language or settings.LANGUAGE_CODE):
        try:
            _build(analysis_set)
        except Exception as error:  # every failure, a soft time limit included, ends the set
            logger.exception("analysis set %s: the build failed", set_id)
            fail(
                analysis_set,
                _("The set could not be built (%(error)s). Ask for it again.") % {"error": type(error).__name__},
            )


def _build(analysis_set: AnalysisSetRequest) -> None:
    if not can(analysis_set.requested_by, "analysis.request") or not all(
        can(analysis_set.requested_by, "analysis.province", code)
        for code in analysis_set.provinces.values_list("pk", flat=True)
    ):
        fail(analysis_set, _("You may no longer have this set: your role or provinces have changed."))
        return
    provinces = list(analysis_set.provinces.values_list("pk", flat=True))
    with transaction.atomic():  # one consistent read
        built = build.build_tables(
            provinces=provinces, secret=analysis_set.secret, as_of=analysis_set.as_of, k=settings.ANALYSIS_K
        )
    with tempfile.TemporaryFile() as handle:
        build.write_zip(built, handle)
        size = handle.tell()
        handle.seek(0)
        analysis_set.file.save(analysis_set.filename, File(handle, name=analysis_set.filename), save=False)
    AnalysisSetRequest.objects.filter(pk=analysis_set.pk, status=Status.BUILDING).update(
        status=Status.READY,
        file=analysis_set.file.name,
        size=size,
        row_count=built.rows,
        withheld=built.withheld,
        built_at=timezone.now(),
        message="",
    )


def fail(analysis_set: AnalysisSetRequest, message: str) -> None:
    AnalysisSetRequest.objects.filter(pk=analysis_set.pk, status__in=[Status.RECEIVED, Status.BUILDING]).update(
        status=Status.FAILED, message=message or _("The set could not be built."), built_at=timezone.now()
    )


def claim_download(analysis_set: AnalysisSetRequest) -> bool:
    """Whether this is the set's one download: a ready set becomes downloaded in one UPDATE, so two requests at
    once download it once."""
    return bool(
        AnalysisSetRequest.objects.filter(pk=analysis_set.pk, status=Status.READY).update(
            status=Status.DOWNLOADED, downloaded_at=timezone.now()
        )
    )


def prune(now: datetime) -> int:
    """The nightly retention job's pruner (core.retention, registered in AnalysisConfig.ready): a set left
    received or building for ANALYSIS_GIVE_UP_HOURS (a lost message, a killed worker) ends failed, and the file
    of a set downloaded over an hour ago is deleted from storage (the row stays). Returns how many sets it
    changed. Safe to run twice."""
    cutoff = now - timedelta(hours=settings.ANALYSIS_GIVE_UP_HOURS)
    with translation.override(settings.LANGUAGE_CODE):
        message = _("The set was not built in time. Ask for it again.")
    count = AnalysisSetRequest.objects.filter(
        status__in=[Status.RECEIVED, Status.BUILDING], created_at__lte=cutoff
    ).update(status=Status.FAILED, message=message, built_at=now)
    done = AnalysisSetRequest.objects.filter(status=Status.DOWNLOADED, downloaded_at__lte=now - timedelta(hours=1))
    for analysis_set in done.exclude(file="").order_by("pk").only("pk", "file").iterator(chunk_size=500):
        try:
            analysis_set.file.storage.delete(analysis_set.file.name or "")
        except Exception:  # kept for the next run
            logger.warning("analysis set %s: its file could not be deleted", analysis_set.pk, exc_info=True)
            continue
        count += AnalysisSetRequest.objects.filter(pk=analysis_set.pk).update(file="")
    return count
