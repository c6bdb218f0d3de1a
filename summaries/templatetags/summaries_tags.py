"""{% load summaries_tags %}: the dashboards' numbers as people read them (summaries.figures)."""

from django import template

from summaries import figures

register = template.Library()


@register.filter
def percent(value) -> str:
    """45.2% ("–" when there is no goal to measure against)."""
    return figures.percent_text(value)


@register.filter
def number(value) -> str:
    """1,234 ("–" for none)."""
    return figures.number_text(value)


@register.filter
def progress(value: "figures.Progress") -> str:
    """45.2% (123 / 272), or "no goal"."""
    return figures.progress_note(value)


@register.filter
def days(value) -> str:
    """6 days, 2.5 days ("–" for none)."""
    return figures.days_text(value)
