"""What a page does when an edit is refused because the object changed after the form was opened
(core.versioning.StaleEdit): the form again, with the user's own changes kept, the current values
everywhere else, and a table of what changed (README.md, "Two people editing the same thing").

A versioned form (VersionedFormMixin) carries two hidden fields: `seen_version`, which the view hands
to the service, and `seen_values`, a signed snapshot of what the form showed (its fields' raw values
and the page's facts about the object, each with the text the user read). After a refusal the view
calls `reconcile(posted=form, fresh=fresh_form)`; saving the form it returns is a knowing write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.widgets import ChoiceWidget
from django.http import HttpRequest, QueryDict
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from .templatetags.thai_dates import be_date
from .versioning import UNKNOWN_VERSION

SALT = "core.stale_edits"
VERSION_FIELD, VALUES_FIELD = "seen_version", "seen_values"
META_FIELDS = (VERSION_FIELD, VALUES_FIELD)

# (label, raw, display): raw is compared, display shown. Raw values are text, a list of texts, or a bool.
Entry = tuple[str, object, str]

# The mixins' bases as mypy sees them (at run time, object): what they are mixed into.
if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

    _FormBase = forms.BaseForm
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _FormBase = _ModelAdminBase = object


# --- the hidden fields ---------------------------------------------------------------------------------


class VersionedFormMixin(_FormBase):
    """Mix into a Form or ModelForm (before it in the bases). `version` is the object's version
    (default: a ModelForm's instance's; 0 for "no object yet", e.g. a plan not written yet; None, and
    no instance: a form that creates, without the hidden fields); `facts` are {key: Entry} about the
    object that its fields do not show (see fact(), model_facts())."""

    snapshot_fields = True  # False for workflow forms: only the facts describe the object
    snapshot_exclude: tuple[str, ...] = ()
    facts: dict[str, Entry]

    def __init__(
        self, *args: Any, version: int | None = None, facts: dict[str, Entry] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)  # a ModelForm's
        if version is None and instance is not None and instance.pk is not None:
            version = instance.version
        if version is None:
            self.facts = {}
            return
        self.facts = self.default_facts() if facts is None else facts
        # Text, read by seen_version: a hidden field's error would stop the form where nobody sees why.
        self.fields[VERSION_FIELD] = forms.CharField(widget=forms.HiddenInput, required=False, initial=version)
        # A callable initial: the snapshot is built only when the form is shown.
        self.fields[VALUES_FIELD] = forms.CharField(
            widget=forms.HiddenInput, required=False, strip=False, initial=self.encoded_snapshot
        )

    def default_facts(self) -> dict[str, Entry]:
        """Facts when none are given (Django admin builds its forms itself: VersionedAdminMixin)."""
        return {}

    @property
    def seen_version(self) -> int:
        """The version the user saw (after is_valid()); a form that did not say is refused as stale."""
        value = self.cleaned_data.get(VERSION_FIELD) or ""
        return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else UNKNOWN_VERSION

    @property
    def own_cleaned_data(self) -> dict[str, Any]:
        """cleaned_data without the two hidden fields: the form's own input, for a service's arguments."""
        return {name: value for name, value in self.cleaned_data.items() if name not in META_FIELDS}

    def snapshot_names(self) -> list[str]:
        if not self.snapshot_fields:
            return []
        return [
            name
            for name, form_field in self.fields.items()
            if name not in META_FIELDS
            and name not in self.snapshot_exclude
            and not _widget(form_field).is_hidden
            and not isinstance(form_field, forms.FileField)
        ]

    def snapshot(self) -> dict[str, Entry]:
        """What this form shows of the object (its initial values, never the posted ones), and the facts."""
        entries: dict[str, Entry] = {}
        for name in self.snapshot_names():
            form_field = self.fields[name]
            raw = _raw(form_field, form_field.prepare_value(self.get_initial_for_field(form_field, name)))
            entries[name] = (str(form_field.label or name), raw, "")
        entries.update(self.facts)
        return entries

    def encoded_snapshot(self) -> str:
        fields = set(self.snapshot_names())
        payload = {
            "f": {k: raw for k, (_label, raw, _display) in self.snapshot().items() if k in fields},
            "x": {k: [raw, display] for k, (_label, raw, display) in self.facts.items()},
        }
        return signing.dumps(payload, salt=SALT, compress=True)


def _decode(token: str) -> dict[str, tuple[object, str | None]] | None:
    """{key: (raw, display or None)} of a snapshot; None when there is none or it was tampered with."""
    if not token:
        return None
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    seen: dict[str, tuple[object, str | None]] = {k: (raw, None) for k, raw in payload.get("f", {}).items()}
    seen.update({k: (raw, display) for k, (raw, display) in payload.get("x", {}).items()})
    return seen


# --- facts ---------------------------------------------------------------------------------------------


def fact(label: str | Promise, raw: object, display: str | None = None) -> Entry:
    """A fact about the object for the snapshot: compared by `raw`, shown as `display` (default: raw)."""
    return (str(label), raw, str(raw) if display is None else display)


def secret_fact(label: str | Promise, secret: str, display: str) -> Entry:
    """A fact whose value must not travel in the page (a national ID): compared by a keyed hash
    (the snapshot can be read, though not forged, by whoever holds the page), shown as `display`."""
    return (str(label), salted_hmac(SALT, secret).hexdigest()[:24], display)


def model_facts(obj: models.Model, names: Iterable[str]) -> dict[str, Entry]:
    """Facts of model fields by name: labelled by their verbose names, shown as the pages show them."""
    entries: dict[str, Entry] = {}
    for name in names:
        model_field = obj._meta.get_field(name)
        if not isinstance(model_field, models.Field):
            raise TypeError(f"{name} is a relation to {obj._meta.label}, not one of its fields")
        value = getattr(obj, name)
        raw: object
        display: str
        if model_field.is_relation:
            raw, display = getattr(obj, model_field.attname), "" if value is None else str(value)
        elif model_field.choices:
            raw, display = value, str(getattr(obj, f"get_{name}_display")())
        elif isinstance(model_field, models.DateField):
            raw, display = value.isoformat() if value else "", be_date(value)
        elif isinstance(model_field, models.BooleanField):
            raw, display = bool(value), _yes_no(value)
        else:
            raw, display = "" if value is None else value, "" if value is None else str(value)
        entries[name] = fact(model_field.verbose_name, raw, display)
    return entries


# --- after a refusal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    label: str
    seen: str
    now: str
    yours: bool = False  # the user changed this field too: the form keeps their value


MESSAGES = {
    "form": gettext_lazy("Your changes were not saved: someone else changed this after you opened the form."),
    "action": gettext_lazy("Nothing was done: someone else changed this after you opened the page."),
}
ADVICE = {
    "form": gettext_lazy(
        "The form now shows the current values, with your own changes kept. Check it, then save again."
    ),
    "action": gettext_lazy("Look at what changed, then choose again if you still want to."),
}


@dataclass
class StaleNotice:
    """What templates/includes/stale_edit.html shows. `known`: the form said what it was shown with."""

    kind: str = "form"  # or "action": a workflow button
    changes: list[Change] = field(default_factory=list)
    known: bool = True

    @property
    def message(self) -> str:
        return str(MESSAGES[self.kind])

    @property
    def advice(self) -> str:
        if not self.known:
            return _("This page did not say which version it was opened from. Check the values, then try again.")
        return str(ADVICE[self.kind])


def reconcile(
    *, posted: VersionedFormMixin, fresh: VersionedFormMixin, kind: str = "form"
) -> tuple[QueryDict, StaleNotice]:
    """(data to bind the form again with, StaleNotice) after `posted` was refused as stale.

    `fresh` is an unbound form of the same kind built from the object as it is now. A field the
    user left as they saw it takes its current value; a field they changed keeps their value (and
    if someone else changed it too, the table says so). The hidden fields get the fresh version
    and snapshot.
    """
    if not isinstance(posted.data, QueryDict):
        raise TypeError("reconcile() takes a form bound to a request's POST data")
    seen = _decode(posted.data.get(posted.add_prefix(VALUES_FIELD), ""))
    data = posted.data.copy()
    changes: list[Change] = []
    if seen is not None:
        field_names = set(fresh.snapshot_names())  # the rest are facts, even where a field has their name
        for key, (label, now_raw, now_display) in fresh.snapshot().items():
            if key not in seen:
                continue  # new since (a category added to the goals grid): nothing was seen to compare
            seen_raw, seen_display = seen[key]
            if _norm(seen_raw) == _norm(now_raw):
                continue
            yours = False
            if key in field_names:
                form_field = fresh.fields[key]
                seen_display = _display(form_field, seen_raw)
                now_display = _display(form_field, now_raw)
                if key in posted.fields:
                    yours = _norm(_posted_raw(posted[key])) != _norm(seen_raw)
                    if not yours:
                        _put(data, posted.add_prefix(key), now_raw)
            changes.append(Change(label=label, seen=seen_display or "", now=now_display, yours=yours))
    data[posted.add_prefix(VERSION_FIELD)] = str(fresh[VERSION_FIELD].initial)
    data[posted.add_prefix(VALUES_FIELD)] = fresh.encoded_snapshot()
    return data, StaleNotice(kind=kind, changes=changes, known=seen is not None)


# --- raw values, their comparison and display ------------------------------------------------------------


def _widget(form_field: forms.Field) -> forms.Widget:
    widget = form_field.widget
    # Django admin wraps relation widgets (the "+" and pencil links) around the real one.
    return widget.widget if isinstance(widget, RelatedFieldWidgetWrapper) else widget


def _raw(form_field: forms.Field, value: Any) -> object:
    """A field's value as its widget writes it in the page: a text, a list of texts, or a bool."""
    widget = _widget(form_field)
    if isinstance(widget, forms.CheckboxInput):
        return bool(widget.check_test(value))
    if isinstance(widget, ChoiceWidget):
        values = widget.format_value(value)
        return sorted(values) if widget.allow_multiple_selected else (values[0] if values else "")
    formatted = widget.format_value(value)
    return "" if formatted is None else str(formatted)


def _posted_raw(bound_field: forms.BoundField) -> object:
    value = bound_field.data  # the widget's reading of the posted data
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return value


def _norm(raw: object) -> object:
    """Raw values compared as people see them: no difference of line endings or outer spaces, of
    order in a multiple choice, or between empty and missing."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, list | tuple):
        return sorted(str(v) for v in raw if v not in (None, ""))
    return str(raw).replace("\r\n", "\n").strip()


def _put(data: QueryDict, name: str, raw: object) -> None:
    if isinstance(raw, bool):
        if raw:
            data[name] = "on"
        else:
            data.pop(name, None)
    elif isinstance(raw, list | tuple):
        data.setlist(name, [str(v) for v in raw])
    else:
        data[name] = "" if raw is None else str(raw)


def _yes_no(value: object) -> str:
    return pgettext("boolean", "yes") if value else pgettext("boolean", "no")


def _choice_labels(choices: Iterable[Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value, label in choices:
        if isinstance(label, list | tuple):  # an optgroup
            labels.update(_choice_labels(label))
        else:
            labels[str(value)] = str(label)
    return labels


def _display(form_field: forms.Field, raw: object) -> str:
    """A raw value as the user reads it: a choice by its label, a date in พ.ศ., yes or no."""
    if isinstance(raw, bool):
        return _yes_no(raw)
    widget = _widget(form_field)
    choices = getattr(widget, "choices", None)
    if isinstance(widget, ChoiceWidget) and choices is not None:
        labels = _choice_labels(choices)
        values = raw if isinstance(raw, list | tuple) else [raw]
        return ", ".join(labels.get(str(v), str(v)) for v in values if v not in (None, ""))
    if isinstance(form_field, forms.DateField) and isinstance(raw, str) and raw:
        try:
            return be_date(form_field.to_python(raw))
        except ValidationError:
            return str(raw)
    return "" if raw is None else str(raw).replace("\r\n", "\n")


# --- Django admin --------------------------------------------------------------------------------------


class VersionedAdminMixin(_ModelAdminBase):
    """Django admin of a versioned model (before ModelAdmin in the bases): its change form carries the
    version and snapshot, and a change saved from an older version is refused by the form, with what
    changed; the form comes back with the current values under the user's own changes.

    The check locks the row (admin's change view runs in one transaction), so the save that follows
    writes the version the check saw. `stale_exclude` leaves fields out of the snapshot (e.g. a full
    national ID: `stale_facts` shows it masked instead).
    """

    stale_exclude: tuple[str, ...] = ()

    def stale_facts(self, obj: Any) -> dict[str, Entry]:
        return {}

    def get_fieldsets(self, request: HttpRequest, obj: Any | None = None) -> _FieldsetSpec:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, (None, {"fields": META_FIELDS})]  # hidden inputs: admin hides their row

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        # The change view passes the fieldsets' fields; the two hidden ones are the form's own, not the model's.
        # (None: the model's editable fields, as admin asks when it lists them.)
        names = kwargs["fields"] if "fields" in kwargs else flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = None if names is None else [name for name in names if name not in META_FIELDS]
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None:
            return form
        model_admin = self

        # mypy takes no class built on a variable's class (the form admin made): Any as its base, checked here.
        class VersionedAdminForm(VersionedFormMixin, form):  # type: ignore[misc,valid-type]
            snapshot_exclude = model_admin.stale_exclude

            def default_facts(self) -> dict[str, Entry]:
                return model_admin.stale_facts(self.instance)

            def clean(self) -> dict[str, Any] | None:
                cleaned = super().clean()
                current = type(self.instance)._default_manager.select_for_update().filter(pk=self.instance.pk)
                current = current.first()
                if current is not None and current.version != self.seen_version:
                    data, notice = reconcile(posted=self, fresh=type(self)(instance=current))
                    # Shown again with the current version and values under the user's own changes, so
                    # that saving once more is a knowing write.
                    self.data = data
                    raise ValidationError(notice_html(notice))
                return cleaned

        return VersionedAdminForm


def notice_html(notice: StaleNotice) -> str:
    """The notice as one error message of a Django admin form (its errors are plain lists)."""
    return mark_safe(render_to_string("includes/stale_edit.html", {"stale": notice}))  # noqa: S308 - our template
