"""A sheet import's signed preview (core/previews.py): what was previewed comes back at confirmation,
and only for the same purpose, object and user, unchanged, within the preview's age."""

import time
from unittest import mock

import pytest
from django.core import signing
from django.utils import translation

from conftest import PROVINCE_A
from core.previews import JSON, PREVIEW_MAX_AGE, PreviewInvalid, SignedPreview

SHEET: JSON = {"headers": ["ชื่อ-สกุล", "บทบาท"], "rows": [[3, ["นายสมชาย ใจดี", None]], [4, ["Somchai", 1.5]]]}


def _preview(purpose: str = "provinces.working_group_import", object_pk: int = 40, user_pk: int = 7) -> SignedPreview:
    return SignedPreview(purpose, object_pk=object_pk, user_pk=user_pk)


def test_what_was_signed_loads_back_unchanged():
    assert _preview().load(_preview().sign(SHEET)) == SHEET


def test_a_changed_or_missing_token_is_refused():
    token = _preview().sign(SHEET)
    payload, _timestamp, _signature = token.rsplit(":", 2)
    forged = signing.dumps({"rows": []}, salt="another", compress=True).rsplit(":", 2)[0]
    for changed in (token[:-1] + ("A" if token[-1] != "A" else "B"), token.replace(payload, forged), "", "a:b"):
        with pytest.raises(PreviewInvalid):
            _preview().load(changed)


@pytest.mark.parametrize(
    "other",
    [
        _preview(object_pk=41),  # another province or meeting
        _preview(user_pk=8),  # another user, even on the same object
        _preview(purpose="meetings.attendance-import"),  # another import page
    ],
    ids=["object", "user", "purpose"],
)
def test_a_token_signed_for_another_object_user_or_page_is_refused(other):
    with pytest.raises(PreviewInvalid):
        other.load(_preview().sign(SHEET))


def _signed_seconds_ago(seconds: int) -> str:
    with mock.patch("django.core.signing.time") as clock:
        clock.time.return_value = time.time() - seconds
        return _preview().sign(SHEET)


def test_a_preview_expires_after_its_max_age():
    assert PREVIEW_MAX_AGE == 60 * 60
    assert _preview().load(_signed_seconds_ago(PREVIEW_MAX_AGE - 5)) == SHEET
    with pytest.raises(PreviewInvalid):
        _preview().load(_signed_seconds_ago(PREVIEW_MAX_AGE + 5))
    short = SignedPreview("provinces.working_group_import", object_pk=40, user_pk=7, max_age=60)
    with pytest.raises(PreviewInvalid):
        short.load(_signed_seconds_ago(61))


def test_tokens_signed_before_the_helper_still_load():
    """A page opened before a deploy is confirmed after it: the salt keeps its "<purpose>:<object>:<user>" form."""
    old = signing.dumps(SHEET, salt="meetings.attendance-import:12:7", compress=True)
    assert _preview("meetings.attendance-import", object_pk=12, user_pk=7).load(old) == SHEET


def test_the_refusal_tells_the_user_in_thai_to_upload_again():
    with translation.override("th"):
        assert str(PreviewInvalid.message) == "ผลตรวจสอบหมดอายุหรือถูกแก้ไข กรุณาอัปโหลดไฟล์อีกครั้ง"
    with translation.override("en"):
        assert str(PreviewInvalid.message) == "The preview has expired or was changed. Upload the sheet again."


@pytest.mark.django_db
def test_the_working_group_page_shows_the_refusal_and_asks_for_the_sheet_again(cast, client_for):
    response = client_for(cast.coordinator_a).post(
        f"/provinces/{PROVINCE_A}/working-group/import/", {"payload": "forged:payload"}, follow=True
    )
    assert response.redirect_chain == [(f"/provinces/{PROVINCE_A}/working-group/import/", 302)]
    assert "ผลตรวจสอบหมดอายุหรือถูกแก้ไข กรุณาอัปโหลดไฟล์อีกครั้ง" in response.content.decode()
