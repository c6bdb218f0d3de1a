"""The one date input of the portal and of admin: text, day/month/year, the year in พ.ศ. in Thai
(README.md, "Architecture in a few lines", on dates).

Why not the browser's <input type="date">: in a Thai browser it shows mm/dd/yyyy in ค.ศ., and a Django
DateField reading "20/01/2570" stored the year 2570 CE. `ThaiDateField` reads through the one parser
(buddhist_dates.parse_thai_date) and refuses years outside the field's range; `ThaiDateInput` is a
plain text box that works without JavaScript (static/js/thai-date.js adds a calendar).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any

from django import forms
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .buddhist_dates import DateParseError, parse_thai_date, to_buddhist_year


def thai_mode() -> bool:
    return (get_language() or "th").startswith("th")


def format_date_input(day: datetime.date | None) -> str:
    """A date as the date input shows it and takes it back: 15/03/2553 in Thai (พ.ศ.), 15/03/2010 in English."""
    if day is None:
        return ""
    year = to_buddhist_year(day.year) if thai_mode() else day.year
    return f"{day.day:02d}/{day.month:02d}/{year}"


def _shown_year(year: int) -> int:
    return to_buddhist_year(year) if thai_mode() else year


class ThaiDateInput(forms.TextInput):
    """A text box for a date; thai-date.js (loaded by base.html and by this widget's Media in admin) finds
    it by its data-thai-date attribute and adds the calendar button."""

    class Media:
        js = ("js/thai-date.js",)
        css = {"all": ("css/thai-date.css",)}

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"data-thai-date": "", "autocomplete": "off", "spellcheck": "false", "size": "12"}
        super().__init__({**defaults, **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        # The order to type it in, in the page's language (วว/ดด/ปปปป: the year in พ.ศ.).
        widget_attrs.setdefault("placeholder", _("dd/mm/yyyy"))
        return context

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, datetime.date):
            return format_date_input(value)
        shown: str | None = super().format_value(value)  # what was typed, shown back as typed with its error
        return shown


class ThaiDateField(forms.DateField):
    """A date typed as day/month/year (พ.ศ. or ค.ศ., Thai digits, "15 มี.ค. 2553"), with a plausible
    range of years: `earliest` and `latest` are years (ค.ศ.) or, as `years_back` / `years_ahead`,
    counted from the current year when the form is checked (so a long-running server never goes stale)."""

    widget = ThaiDateInput
    default_error_messages = {
        "invalid": _("Write the date as day/month/year, e.g. 15/03/2553."),
        "no_such_day": _("There is no such day."),
        "year_range": _("The year must be between %(first)s and %(last)s."),
    }

    def __init__(
        self,
        *,
        earliest: int | None = None,
        latest: int | None = None,
        years_back: int | None = 100,
        years_ahead: int | None = 10,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("input_formats", None)  # the parser, not a list of strptime formats, reads the text
        super().__init__(**kwargs)
        self.earliest, self.latest = earliest, latest
        self.years_back, self.years_ahead = years_back, years_ahead

    @classmethod
    def with_range(cls, **bounds: int | None) -> functools.partial[ThaiDateField]:
        """The field with its own plausible range, for a ModelForm's Meta.field_classes."""
        return functools.partial(cls, **bounds)

    def year_range(self) -> tuple[int, int]:
        """The first and last plausible year (ค.ศ.) of this field, as of today."""
        this_year = timezone.localdate().year
        first = [y for y in (self.earliest, None if self.years_back is None else this_year - self.years_back) if y]
        last = [y for y in (self.latest, None if self.years_ahead is None else this_year + self.years_ahead) if y]
        return max(first, default=1900), min(last, default=this_year + 100)

    def to_python(self, value: Any) -> datetime.date | None:
        if value in self.empty_values:
            return None
        try:
            day = parse_thai_date(value)
        except DateParseError as error:
            if error.code == "invalid":
                raise forms.ValidationError(self.error_messages["no_such_day"], code="invalid") from error
            if error.code == "year":
                raise self._year_error() from error
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from error
        return day

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None:
            first, last = self.year_range()
            if not first <= value.year <= last:
                raise self._year_error()

    def _year_error(self) -> forms.ValidationError:
        first, last = self.year_range()
        params = {"first": _shown_year(first), "last": _shown_year(last)}
        return forms.ValidationError(self.error_messages["year_range"], code="year_range", params=params)


class ThaiSplitDateTimeWidget(forms.SplitDateTimeWidget):
    """A date-and-time: the date input, then the time as 14:30 (admin's own widget has a Gregorian calendar)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        forms.MultiWidget.__init__(self, (ThaiDateInput(), forms.TimeInput(attrs={"size": "6"}, format="%H:%M")))


class ThaiDateTimeField(forms.SplitDateTimeField):
    """A date-and-time typed as the date input's date and a time; the date read as ThaiDateField reads it."""

    widget = ThaiSplitDateTimeWidget

    def __init__(self, *, years_back: int | None = 100, years_ahead: int | None = 10, **kwargs: Any) -> None:
        for unused in ("input_date_formats", "input_time_formats"):
            kwargs.pop(unused, None)
        date = ThaiDateField(years_back=years_back, years_ahead=years_ahead)
        time = forms.TimeField(error_messages={"invalid": self.default_error_messages["invalid_time"]})
        forms.MultiValueField.__init__(self, (date, time), **kwargs)


# Every admin's date and date-and-time fields (accounts.admin_access.ScopedModelAdmin, the inlines, the
# read-only admins): admin's own AdminDateWidget and AdminSplitDateTime write ค.ศ. with a Gregorian calendar.
# tests/test_date_input.py walks admin.site._registry to prove that none is left.
ADMIN_FORMFIELD_OVERRIDES: Mapping[type[models.Field[Any, Any]], Mapping[str, Any]] = {
    models.DateField: {"form_class": ThaiDateField, "widget": ThaiDateInput},
    models.DateTimeField: {"form_class": ThaiDateTimeField, "widget": ThaiSplitDateTimeWidget},
}
