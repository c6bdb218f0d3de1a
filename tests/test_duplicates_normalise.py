"""Names as the duplicate finder compares them (duplicates/normalise.py): pure functions, real Thai spellings."""

import pytest

from duplicates.normalise import edit_ratio, normalise_name, normalise_part, sex_from_prefix, split_prefix


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ด.ช.สมชาย", "สมชาย"),
        ("ด.ช. สมชาย", "สมชาย"),
        ("ดช.สมชาย", "สมชาย"),
        ("เด็กชายสมชาย", "สมชาย"),
        ("ด.ญ.ปิ่นมณี", "ปิ่นมนี"),
        ("เด็กหญิง ปิ่นมณี", "ปิ่นมนี"),  # ณ is read as น
        ("นายสมชาย", "สมชาย"),
        ("นางสาวศิริพร", "สิริพร"),
        ("น.ส.ศิริพร", "สิริพร"),
        ("นางศิริพร", "สิริพร"),
        ("Mr. John", "john"),
        ("Miss Aye Aye", "ayeaye"),
        ("MRINAL", "mrinal"),  # a Latin prefix is a word of its own
    ],
)
def test_prefixes_are_stripped(typed, expected):
    assert normalise_part(typed) == expected


def test_a_name_that_is_only_a_prefix_word_stays():
    assert split_prefix("นาง") == ("", "นาง")


def test_the_prefix_tells_the_sex():
    assert sex_from_prefix("", "ด.ช.สมชาย") == "M"
    assert sex_from_prefix("นางสาว", "ศิริพร") == "F"
    assert sex_from_prefix("", "สมชาย") == ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("สมชาย ใจดี", "สมชายใจดี"),  # a space inside
        ("สมชาย\u200bใจดี", "สมชายใจดี"),  # a zero-width space (Thai word processors)
        ("\ufeffสมชาย", "สมชาย"),  # a BOM pasted in
        ("น\u0e4d\u0e32ผึ้ง", "น้ำผึ้ง"[0] + "ำผึ้ง"),  # sara am as nikhahit + sara aa
        ("นำ้ผึ้ง", "น้ำผึ้ง"),  # the tone mark typed after sara am
        ("ก่ี", "กี่"),  # the tone mark typed before the vowel
        ("ศักดิ์", "ศักดิ"),  # thanthakhat left out
        ("จันทร์เพ็ญ", "จันทรเพญ"),  # thanthakhat and mai taikhu left out
        ("กิตติพงษ์", "กิตติพงศ์"),  # ษ / ศ
        ("กิตติพงษ์", "กิตติพงส"),  # ษ / ส
        ("ณัฐวุฒิ", "นัฐวุฒิ"),  # ณ / น
        ("พันธ์ุ", "พันธุ์"),  # marks in either order
        ("สมชาย่่", "สมชาย่"),  # a mark typed twice
        ("JOHN", "john"),
    ],
)
def test_spelling_variants_are_one(a, b):
    assert normalise_part(a) == normalise_part(b)


def test_different_names_stay_different():
    assert normalise_part("ธนพล") != normalise_part("ธนพร")
    assert normalise_part("สมชาย") != normalise_part("สมศักดิ์")
    # Tone marks themselves are kept: another tone is often another name.
    assert normalise_part("ป่า") != normalise_part("ป้า")


def test_full_name_is_given_then_family_without_space():
    assert normalise_name("ด.ช.", "ด.ช. สมชาย", "ใจ ดี") == ("สมชายใจดี", "สมชาย", "ใจดี")


def test_edit_ratio():
    assert edit_ratio("สมชาย", "สมชาย") == 1.0
    assert edit_ratio("สมชาย", "") == 0.0
    assert edit_ratio("สมชาย", "สมชาญ") == pytest.approx(0.8)
    assert edit_ratio("ธนพล", "ธนพร") == pytest.approx(0.75)
