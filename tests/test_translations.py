"""Thai is the portal's first language: every message has a Thai translation, compiled and committed."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PO = Path(__file__).resolve().parent.parent / "locale" / "th" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_thai_translation():
    text = PO.read_text(encoding="utf-8")
    entries = re.findall(r'\nmsgid ((?:".*"\n)+)(?:msgid_plural (?:".*"\n)+)?msgstr(?:\[0\])? ((?:".*"\n?)+)', text)
    assert len(entries) > 10
    untranslated = [mid.strip() for mid, mstr in entries if mid.strip() != '""' and mstr.strip() == '""']
    assert untranslated == []
    assert "#, fuzzy" not in text.split("\n\n", 2)[2], "fuzzy translations are not used by Django"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_committed_mo_file_is_compiled_from_the_po_file(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(PO)], check=True)
    assert compiled.read_bytes() == PO.with_suffix(".mo").read_bytes(), "run `make messages` and commit the .mo"
