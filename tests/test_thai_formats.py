"""Thai data formats: national IDs, G-codes, Buddhist-Era dates as spreadsheets write them."""

import datetime

import pytest

from core.buddhist_dates import DateParseError, format_thai_date, parse_thai_date
from core.thai_id import (
    G_CODE,
    NATIONAL_ID,
    IdentifierError,
    check_digit,
    format_identifier,
    mask_identifier,
    parse_identifier,
)


def valid_id(first_twelve: str) -> str:
    return first_twelve + str(check_digit(first_twelve))


def test_check_digit_follows_the_dopa_rule():
    # 1-1037-02071-81-1: sum of digits × (13..2) = 138; (11 − 138 mod 11) mod 10 = 1.
    assert check_digit("110370207181") == 1


@pytest.mark.parametrize(
    "raw",
    ["1103702071811", "1-1037-02071-81-1", "1 1037 02071 81 1", " 1103702071811 ", "๑๑๐๓๗๐๒๐๗๑๘๑๑", 1103702071811.0],
)
def test_national_id_in_any_common_writing(raw):
    assert parse_identifier(raw).value == "1103702071811"
    assert parse_identifier(raw).kind == NATIONAL_ID


def test_first_digit_zero_is_valid():
    identifier = valid_id("012345678901")
    assert parse_identifier(identifier).value == identifier


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        (None, "required"),
        ("1103702071812", "checksum"),
        (valid_id("912345678901"), "first_digit"),
        ("110370207181", "length"),
        ("11037020718111", "length"),
        ("1103702O71811", "characters"),
        ("G64420000001", "g_code_format"),
        ("G6442000000A1", "g_code_format"),
    ],
)
def test_bad_identifiers_say_why(raw, code):
    with pytest.raises(IdentifierError) as excinfo:
        parse_identifier(raw)
    assert excinfo.value.code == code
    assert str(excinfo.value)  # a message for people, in the active language


def test_g_code():
    identifier = parse_identifier("g644200000001")
    assert (identifier.value, identifier.kind) == ("G644200000001", G_CODE)


def test_masks_show_only_the_last_digits():
    assert mask_identifier("1103702071811") == "x-xxxx-xxxxx-81-1"
    assert mask_identifier("G644200000001") == "Gxxxxxxxx0001"
    assert format_identifier("1103702071811") == "1-1037-02071-81-1"


@pytest.mark.parametrize(
    "raw",
    [
        "15/03/2553",
        "15-03-2010",
        "2553-03-15",
        "15 มี.ค. 2553",
        "15 มีค 2553",
        "15 มีนาคม 2553",
        "๑๕/๐๓/๒๕๕๓",
        "15มี.ค.2553",
        "15 Mar 2010",
        datetime.date(2010, 3, 15),
        datetime.datetime(2010, 3, 15, 0, 0, tzinfo=datetime.UTC),
        40252,
        40252.0,
    ],
)
def test_dates_in_buddhist_or_christian_era_or_excel(raw):
    assert parse_thai_date(raw) == datetime.date(2010, 3, 15)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("31/02/2553", "invalid"),
        ("15/13/2553", "format"),
        ("15/03/53", "year"),
        ("soon", "format"),
        ("15/03", "format"),
    ],
)
def test_bad_dates_say_why(raw, code):
    with pytest.raises(DateParseError) as excinfo:
        parse_thai_date(raw)
    assert excinfo.value.code == code


def test_empty_date_is_none():
    assert parse_thai_date("") is None
    assert parse_thai_date(None) is None


def test_thai_date_display():
    assert format_thai_date(datetime.date(2010, 3, 15)) == "15 มี.ค. 2553"
    assert format_thai_date(datetime.date(2023, 10, 1), long=True) == "1 ตุลาคม 2566"
