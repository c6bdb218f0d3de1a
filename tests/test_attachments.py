"""The one attachment checker (core/attachments.py): meetings and support activities share its limit."""

import pytest
from django.forms.utils import ErrorList
from django.utils import translation
from django.utils.datastructures import MultiValueDict

from meetings.forms import AttachmentForm
from provinces.models import Province
from tests.builders import uploaded_file
from universities.forms import ActivityForm
from universities.models import University

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _meeting_errors(file) -> ErrorList | list[str]:
    form = AttachmentForm(data={}, files=MultiValueDict({"file": [file]}))
    form.is_valid()
    return form.errors.get("file", [])


def _activity_errors(file) -> ErrorList | list[str]:
    form = ActivityForm(
        data={},
        files=MultiValueDict({"attachment": [file]}),
        universities=University.objects.all(),
        provinces=Province.objects.all(),
    )
    form.is_valid()  # the other fields are missing: only the attachment's errors matter here
    return form.errors.get("attachment", [])


@pytest.mark.django_db
def test_both_forms_refuse_a_file_over_the_one_setting_with_the_same_thai_message(settings):
    settings.ABE_MAX_ATTACHMENT_BYTES = 1000
    just_under = PDF + b"0" * (999 - len(PDF))
    over = PDF + b"0" * (1001 - len(PDF))
    with translation.override("th"):
        assert _meeting_errors(uploaded_file("slides.pdf", just_under)) == []
        assert _activity_errors(uploaded_file("report.pdf", just_under)) == []
        meeting_errors = _meeting_errors(uploaded_file("slides.pdf", over))
        activity_errors = _activity_errors(uploaded_file("report.pdf", over))
    assert meeting_errors == activity_errors
    assert len(meeting_errors) == 1
    assert meeting_errors[0].startswith("ไฟล์มีขนาดใหญ่เกินไป (0.0 MB) ขนาดสูงสุดคือ 0.000953674 MB")


@pytest.mark.django_db
def test_the_default_limit_is_twenty_megabytes_for_both(settings):
    assert settings.ABE_MAX_ATTACHMENT_BYTES == 20 * 1024 * 1024
    # 15 MB: under the one limit (support activities once refused it at a hard-coded 10 MB).
    fifteen = PDF + b"0" * (15 * 1024 * 1024)
    assert _meeting_errors(uploaded_file("slides.pdf", fifteen)) == []
    assert _activity_errors(uploaded_file("report.pdf", fifteen)) == []
    with translation.override("en"):
        help_text = str(
            ActivityForm(universities=University.objects.none(), provinces=Province.objects.none())
            .fields["attachment"]
            .help_text
        )
    assert "up to 20 MB" in help_text
