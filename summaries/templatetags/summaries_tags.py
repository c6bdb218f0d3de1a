"""{% load summaries_tags %}: the dashboards' numbers as people read them (summaries.figures)."""

from django import template
from django.urls import reverse

from accounts.access import can
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


@register.inclusion_tag("summaries/_quality_score.html", takes_context=True)
def quality_score(context, subject, province=None, link=True) -> dict:
    """{% quality_score figures province=code %}: the data-quality score (README.md, "The quality score") as a badge
    coloured by its band (figures.QUALITY_BANDS), its definition and counts as the tooltip, and, for a province
    the user may read the quality page of, a link to it. `subject`: a snapshot's Figures or their Quality (None, or
    figures of a run before the score: "–"). The one way every page and the PDF pack show the score; no query (the
    user's scope is already read by the page)."""
    quality = figures.quality_of(subject)
    user = context.get("user")
    href = ""
    if link and province and user is not None and can(user, "quality.read", province):
        href = reverse("quality:province", kwargs={"code": province})
    return {
        "text": figures.quality_text(quality),
        "score": "" if quality is None or quality.score is None else quality.score,
        "band": figures.quality_band(quality),
        "help": figures.quality_help(quality),
        "label": figures.quality_label(),
        "href": href,
    }


@register.simple_tag
def quality_definition() -> str:
    """What the data-quality score is, for a column's tooltip."""
    return figures.quality_definition()
