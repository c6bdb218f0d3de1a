"""Charts as server-rendered SVG: no script, no CDN, the same markup on the pages and in the PDF pack.

Each chart is an image for assistive technology (role="img", <title>, <desc>) and carries the table
of its figures, which the templates show beside it. Colours and sizes are SVG attributes, never
style="": the pages' Content-Security-Policy forbids inline styles, and the PDF has none of the
portal's stylesheets, so both draw the same.
"""

import datetime
import math
import unicodedata
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from analysis.cohorts import WINDOWS, CohortRow, Cohorts
from core.templatetags.thai_dates import be_date, be_datetime

from .compute import BUCKETS, OTHER_ACHIEVED
from .figures import (
    EXITED,
    IN_PROGRESS,
    KEPT,
    RETURNED,
    Labels,
    Links,
    Row,
    TrendPoint,
    bucket_label,
    headlines,
    number_text,
    percent_text,
    progress_note,
    quality_label,
    quality_text,
    role_label,
)
from .schema import Counts, Figures

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 640
SMALL_WIDTH = 480  # charts shown two side by side
INK = "#1f2933"
MUTED = "#5f6b7a"
GRID = "#dde3ea"
# Where records stand, also the legend's colours: the achieved outcomes returned (brand green), kept
# (amber), another (teal); still followed up (grey), left without an outcome (dark grey); all goals (blue).
COLOURS = {
    RETURNED: "#0b6e4f",
    KEPT: "#d98a1c",
    OTHER_ACHIEVED: "#2f7f9e",
    IN_PROGRESS: "#9aa5b1",
    EXITED: "#5f6b7a",
    "overall": "#1d4f8a",
}
BAR = "#0b6e4f"


@dataclass(frozen=True)
class QualityOf:
    """Whose data-quality score a chart or a cell shows: the templates draw it with {% quality_score %}."""

    figures: Figures
    province: int | None = None


@dataclass(frozen=True)
class Cell:
    text: str
    href: str = ""
    numeric: bool = False
    quality_of: QualityOf | None = None  # the cell is a data-quality score (its text: the same, for exports)


@dataclass(frozen=True)
class Series:
    label: str
    colour: str


@dataclass
class Chart:
    id: str
    title: str
    description: str
    svg: SafeString
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    quality_of: QualityOf | None = None  # a province's chart: its data-quality score, beside the title

    @property
    def empty(self) -> bool:
        return not self.rows

    @property
    def columns(self) -> list[tuple[str, bool]]:
        """(header, numeric) of each column: numbers are aligned right, headers with them."""
        first = self.rows[0] if self.rows else []
        return [(header, index < len(first) and first[index].numeric) for index, header in enumerate(self.headers)]

    @property
    def wide_table(self) -> bool:
        """A table too wide to stand beside its chart: the page puts it under."""
        return len(self.headers) >= 5


# --- drawing -------------------------------------------------------------------------------------


def _text_width(text: str, size: float) -> float:
    """About how wide a text is drawn (a little more, to be safe): Thai marks above and below the line
    take no width."""
    visible = sum(1 for ch in text if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))
    return visible * size * 0.6


LABEL_MAX = 230  # widest row label; a longer one is shortened (its full text is in the table beside)


def _fit(text: str, size: float, width: float = LABEL_MAX) -> str:
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    # Never end on a Thai mark cut from its consonant's cluster: drop the whole cluster.
    while text and unicodedata.category(text[-1]) in ("Mn", "Me"):
        text = text[:-1]
    return text.rstrip() + "…"


def _nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) that covers `top` in about `ticks` steps."""
    raw = max(top, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return max(factor * power, 1)
    return 10 * power


def _attr(value) -> str:
    return quoteattr(str(value))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, description: str, width: float, height: float, body: list[str]) -> SafeString:
    head = (
        f'<svg xmlns="{SVG_NS}" class="chart-svg" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'width="{_num(width)}" height="{_num(height)}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="inherit">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 (every text above is escaped)


def _label(
    x: float,
    y: float,
    text: str,
    href: str = "",
    *,
    anchor: str = "end",
    size: int = 12,
    colour: str = INK,
    tip: str = "",
) -> str:
    element = (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" dominant-baseline="middle" '
        f'font-size="{size}" fill="{colour}">{escape(text)}</text>'
    )
    if tip and tip != text:
        # A shortened label's full text as its tooltip: a group's <title>, not one inside the <text>
        # (WeasyPrint would draw that one as part of the label).
        element = f"<g><title>{escape(tip)}</title>{element}</g>"
    return f"<a href={_attr(href)}>{element}</a>" if href else element


LEGEND_LINE = 16


def _legend(series: list[Series], y: float, x: float = 0, right: float = WIDTH) -> tuple[list[str], float]:
    """The series' colours and names from (x, y), wrapping before `right` (Thai names are long);
    returns the parts and the height the extra lines take (0 on one line)."""
    parts, start, extra = [], x, 0.0
    for item in series:
        width = 14 + _text_width(item.label, 11) + 18
        if x > start and x + width - 18 > right:
            x, extra = start, extra + LEGEND_LINE
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(y + extra - 5)}" width="10" height="10" rx="2" fill="{item.colour}"/>'
        )
        parts.append(_label(x + 14, y + extra, item.label, anchor="start", size=11, colour=INK))
        x += width
    return parts, extra


def _scale_max(values: list[float], floor: float = 100.0, step: float = 25.0) -> float:
    top = max([floor, *values])
    return math.ceil(top / step) * step


def _count_axis(values: list[float]) -> tuple[float, int]:
    """(axis maximum, number of ticks) for counts: round steps."""
    top = max([*values, 1])
    step = _nice_step(top)
    ticks = math.ceil(top / step)
    return step * ticks, ticks


@dataclass(frozen=True)
class BarRow:
    label: str
    href: str
    values: list[float | None]  # one per series
    notes: list[str]  # shown after each bar
    colours: tuple[str, ...] = ()  # instead of the series' colours
    tip: str = ""  # added to each bar's tooltip (a province's data-quality score)


def bar_svg(
    chart_id: str,
    title: str,
    description: str,
    rows: list[BarRow],
    series: list[Series],
    *,
    unit: str = "%",
    goal: float | None = 100.0,
    goal_label: str = "",
    legend: bool | None = None,
    width: int = WIDTH,
    scale_to: float | None = None,
) -> SafeString:
    """Horizontal bars, one group per row and one bar per series, against a goal line (100%).
    `legend` (default: with several series) names the series' colours above the bars; `scale_to` (percent
    charts without a goal): the axis' end, when the figures do not exceed it."""
    legend = len(series) > 1 if legend is None else legend
    bars_per_row = len(rows[0].values) if rows else len(series)
    size, bar, gap, row_gap = 12, 13, 3, 10
    label_width = min(LABEL_MAX, max([_text_width(r.label, size) for r in rows] + [40])) + 10
    label_width = min(label_width, width * 0.4)
    note_width = min(170, max([_text_width(n, 11) for r in rows for n in r.notes] + [30]) + 10)
    plot = width - label_width - note_width
    legend_parts, legend_extra = _legend(series, 10, label_width, width - 4) if legend else ([], 0.0)
    top = 8 + (20 + legend_extra if legend else 0) + (16 if goal else 0)
    group_height = bars_per_row * bar + (bars_per_row - 1) * gap
    height = top + len(rows) * (group_height + row_gap) + 22
    values = [v for r in rows for v in r.values if v is not None]
    if unit == "%":
        maximum, ticks = _scale_max(values, floor=goal or scale_to or 1.0), 4
    else:
        maximum, ticks = _count_axis(values)
    body = list(legend_parts)
    # Grid and axis ticks.
    bottom = height - 18
    for i in range(ticks + 1):
        tick_value = maximum * i / ticks
        x = label_width + plot * i / ticks
        body.append(f'<line x1="{_num(x)}" y1="{top - 4}" x2="{_num(x)}" y2="{_num(bottom)}" stroke="{GRID}"/>')
        tick = f"{_num(tick_value)}{unit}" if unit == "%" else number_text(round(tick_value))
        body.append(_label(x, bottom + 9, tick, anchor="middle", size=10, colour=MUTED))
    y = top
    for row in rows:
        body.append(
            _label(
                label_width - 8, y + group_height / 2, _fit(row.label, size, label_width - 10), row.href, tip=row.label
            )
        )
        for index, (value, note) in enumerate(zip(row.values, row.notes, strict=True)):
            bar_y = y + index * (bar + gap)
            length = 0 if value is None else max(plot * min(value, maximum) / maximum, 1.5 if value > 0 else 0)
            colour = row.colours[index] if row.colours else series[index].colour
            tip = f"{row.label}: {note}" if row.colours else f"{row.label} · {series[index].label}: {note}"
            if row.tip:
                tip = f"{tip} · {row.tip}"
            body.append(
                f'<rect x="{_num(label_width)}" y="{_num(bar_y)}" width="{_num(length)}" height="{bar}" rx="2" '
                f'fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
            body.append(_label(label_width + length + 4, bar_y + bar / 2, note, anchor="start", size=11, colour=MUTED))
        y += group_height + row_gap
    if goal:
        x = label_width + plot * goal / maximum
        body.append(
            f'<line x1="{_num(x)}" y1="{top - 6}" x2="{_num(x)}" y2="{_num(bottom)}" stroke="{INK}" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        body.append(_label(x, top - 13, goal_label or gettext("goal"), anchor="middle", size=10, colour=INK))
    return _svg(chart_id, title, description, width, height, body)


@dataclass(frozen=True)
class StackRow:
    label: str
    href: str
    values: list[int]  # one per series


def stacked_svg(chart_id: str, title: str, description: str, rows: list[StackRow], series: list[Series]) -> SafeString:
    """Horizontal stacked bars: each row's parts side by side, its total at the end."""
    size, bar, row_gap = 12, 16, 9
    label_width = min(LABEL_MAX, max([_text_width(r.label, size) for r in rows] + [40])) + 10
    total_width = 60
    plot = WIDTH - label_width - total_width
    body, legend_extra = _legend(series, 10, label_width, WIDTH - 4)
    top = 26 + legend_extra
    height = top + len(rows) * (bar + row_gap) + 4
    maximum = max([sum(r.values) for r in rows] + [1])
    y = top
    for row in rows:
        body.append(_label(label_width - 8, y + bar / 2, _fit(row.label, size), row.href, tip=row.label))
        x = label_width
        total = sum(row.values)
        for value, item in zip(row.values, series, strict=True):
            if not value:
                continue
            width = plot * value / maximum
            tip = f"{row.label} · {item.label}: {value:,}"
            body.append(
                f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(width, 1))}" height="{bar}" '
                f'fill="{item.colour}"><title>{escape(tip)}</title></rect>'
            )
            x += width
        body.append(_label(x + 4, y + bar / 2, f"{total:,}", anchor="start", size=11, colour=MUTED))
        y += bar + row_gap
    return _svg(chart_id, title, description, WIDTH, height, body)


@dataclass(frozen=True)
class LinePoint:
    when: datetime.datetime
    values: list[float | None]  # one per series


def line_svg(
    chart_id: str,
    title: str,
    description: str,
    points: list[LinePoint],
    series: list[Series],
    *,
    unit: str = "%",
    marker: datetime.datetime | None = None,
) -> SafeString:
    """Lines over time: one per series, the time axis in proportion (runs are not evenly spaced). `marker`: the
    moment whose figures the page shows (a dashboard "as of" a day), a dashed vertical line labelled with it."""
    body, legend_extra = _legend(series, 10, 46, WIDTH - 4)
    height, left, right, top, bottom = 250 + legend_extra, 46, 18, 30 + legend_extra, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [v for p in points for v in p.values if v is not None]
    # The axis fits the figures (10% at least), so that a slow rise still shows; the goal is 100%.
    step = _nice_step(max([*values, 10.0]) * 1.1)
    ticks = math.ceil(max([*values, 10.0]) * 1.1 / step)
    maximum = step * ticks
    for i in range(ticks + 1):
        value = maximum * i / ticks
        y = top + plot_h - plot_h * i / ticks
        body.append(f'<line x1="{left}" y1="{_num(y)}" x2="{WIDTH - right}" y2="{_num(y)}" stroke="{GRID}"/>')
        body.append(_label(left - 6, y, f"{_num(value)}{unit}", size=10, colour=MUTED))
    if points:
        start, end = points[0].when.timestamp(), points[-1].when.timestamp()
        span = end - start

        def x_of(point: LinePoint) -> float:
            return left + (plot_w * (point.when.timestamp() - start) / span if span else plot_w / 2)

        # Dates under the axis: the first, the last and up to three between, never overlapping.
        shown = [points[0]] if span else []
        if span:
            for fraction in (0.25, 0.5, 0.75):
                target = start + span * fraction
                nearest = min(points, key=lambda p: abs(p.when.timestamp() - target))
                shown.append(nearest)
        shown.append(points[-1])
        placed: list[float] = []
        for point in shown:
            x = x_of(point)
            if any(abs(x - other) < 90 for other in placed):
                continue
            placed.append(x)
            anchor = "start" if x < left + 40 else "end" if x > WIDTH - right - 40 else "middle"
            body.append(_label(x, height - bottom + 16, be_date(point.when), anchor=anchor, size=10, colour=MUTED))
        if marker is not None:
            x = x_of(LinePoint(marker, []))
            text = gettext("Figures as of %(when)s") % {"when": be_date(marker)}
            # The label inside the plot, beside the line, on the side with more room.
            beside = (x + 5, "start") if x < left + plot_w / 2 else (x - 5, "end")
            body.append(
                f'<g class="as-of-marker" data-testid="as-of-marker"><line x1="{_num(x)}" y1="{top}" '
                f'x2="{_num(x)}" y2="{top + plot_h}" stroke="{INK}" stroke-width="1.5" stroke-dasharray="5 4"/>'
                + _label(beside[0], top + 10, text, anchor=beside[1], size=11, colour=INK)
                + "</g>"
            )
        for index, item in enumerate(series):
            coords = [
                (x_of(p), top + plot_h - plot_h * min(point_value, maximum) / maximum)
                for p in points
                if (point_value := p.values[index]) is not None
            ]
            if len(coords) > 1:
                path = " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
                body.append(f'<polyline points="{path}" fill="none" stroke="{item.colour}" stroke-width="2.2"/>')
            if len(coords) <= 60:  # dots while they can be told apart
                for (x, y), point in zip(coords, [p for p in points if p.values[index] is not None], strict=True):
                    tip = f"{be_date(point.when)} · {item.label}: {percent_text(point.values[index])}"
                    body.append(
                        f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{item.colour}">'
                        f"<title>{escape(tip)}</title></circle>"
                    )
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    return _svg(chart_id, title, description, WIDTH, height, body)


# --- the dashboards' charts ----------------------------------------------------------------------


def _group_series() -> list[Series]:
    words = headlines()
    return [Series(words[RETURNED].label, COLOURS[RETURNED]), Series(words[KEPT].label, COLOURS[KEPT])]


def progress_by_subject(
    rows: list[Row], *, chart_id: str = "progress-by-province", title: str = "", name_header: str = ""
) -> Chart:
    """Each province (or university): returned to learning and kept in school, % of its goals."""
    title = title or gettext("Progress against the plans' goals, by province")
    description = gettext(
        "Horizontal bars: for each one, the people returned to learning and kept in school as a percentage "
        "of the plan's goals; the dashed line is the goal (100%). The table beside gives the same figures."
    )
    bars = [
        BarRow(
            row.name,
            row.url,
            [row.progress[RETURNED].percent, row.progress[KEPT].percent],
            [progress_note(row.progress[RETURNED]), progress_note(row.progress[KEPT])],
            tip=f"{quality_label()} {quality_text(row.quality)}",
        )
        for row in rows
    ]
    svg = bar_svg(chart_id, title, description, bars, _group_series())
    words = headlines()
    headers = [name_header or gettext("Province"), words[RETURNED].label, words[KEPT].label, quality_label()]
    table = [
        [Cell(row.name, row.url)]
        + [Cell(progress_note(row.progress[key]), numeric=True) for key in (RETURNED, KEPT)]
        + [Cell(quality_text(row.quality), numeric=True, quality_of=_quality_of(row))]
        for row in rows
    ]
    return Chart(chart_id, title, description, svg, headers, table)


def goals_chart(figures: Figures, labels: Labels, links: Links, *, chart_id: str = "goals") -> Chart:
    """The plan's goals one by one (category and outcome): what was achieved, % of the goal."""
    title = gettext("Progress against each goal of the plan")
    description = gettext(
        "Horizontal bars, one per goal of the plan (a target group and an achieved outcome): the records of that "
        "target group at that outcome as a percentage of the goal; the dashed line is the goal. The table beside "
        "gives the same figures."
    )
    bars, table = [], []
    order = {
        code: index for index, code in enumerate(labels.ordered("category", [g.category for g in figures.goal_rows]))
    }
    outcome_order = {code: index for index, code in enumerate(labels.ordered("outcome", labels.outcomes))}
    for goal in sorted(
        figures.goal_rows,
        key=lambda g: (order.get(g.category, 0), outcome_order.get(g.outcome, len(outcome_order)), g.outcome),
    ):
        # A goal is a target group and one achieved outcome; the link lists exactly the records it counts.
        outcome = labels.name("outcome", goal.outcome)
        name = f"{labels.name('category', goal.category)} · {outcome}"
        href = links.records(category=labels.pk("category", goal.category), status=labels.pk("outcome", goal.outcome))
        progress = goal.progress
        bars.append(BarRow(name, href, [progress.percent], [progress_note(progress)]))
        table.append(
            [
                Cell(labels.name("category", goal.category), href),
                Cell(outcome),
                Cell(f"{goal.achieved:,}", numeric=True),
                Cell(f"{goal.target:,}", numeric=True),
                Cell(percent_text(progress.percent), numeric=True),
            ]
        )
    svg = bar_svg(chart_id, title, description, bars, [Series(gettext("Achieved"), BAR)])
    # xgettext:no-python-format
    percent_of_goal = gettext("% of goal")
    headers = [gettext("Target group"), gettext("Outcome"), gettext("Achieved"), gettext("Goal"), percent_of_goal]
    # The plan's progress, beside the data-quality score of the records it counts (a rollup's: its provinces' added).
    return Chart(chart_id, title, description, svg, headers, table, quality_of=QualityOf(figures, links.province))


def _quality_of(row: Row) -> QualityOf:
    # A province's row links to its quality page (for those who read it); a university's has none.
    return QualityOf(row.figures, row.key if isinstance(row.key, int) else None)


def categories_chart(figures: Figures, labels: Labels, links: Links, *, chart_id: str = "categories") -> Chart:
    """Records by target-group category, each bar split by where its records stand."""
    title = gettext("Target-group records by category")
    description = gettext(
        "Stacked horizontal bars, one per target-group category: its records returned to learning, kept in "
        "school, at another achieved outcome, still being followed up, and left without an outcome (not found, "
        "moved away), whether or not a goal aims at them. The table beside gives the same figures."
    )
    records = figures.records
    series = [Series(bucket_label(b), COLOURS[b]) for b in BUCKETS]
    rows, table = [], []
    for code in labels.ordered("category", records.by_category):
        href = links.records(category=labels.pk("category", code))
        parts = [records.by_category_bucket.get(code, {}).get(b, 0) for b in BUCKETS]
        rows.append(StackRow(labels.name("category", code), href, parts))
        table.append(
            [Cell(labels.name("category", code), href)]
            + [Cell(f"{n:,}", numeric=True) for n in parts]
            + [Cell(f"{records.by_category[code]:,}", numeric=True)]
        )
    svg = stacked_svg(chart_id, title, description, rows, series)
    headers = [gettext("Target group"), *[s.label for s in series], gettext("Total")]
    return Chart(chart_id, title, description, svg, headers, table)


def statuses_chart(figures: Figures, labels: Labels, links: Links, *, chart_id: str = "statuses") -> Chart:
    """Records by status (the outcome each record stands at)."""
    title = gettext("Target-group records by status")
    description = gettext(
        "Horizontal bars, one per status: how many records stand at it, coloured by its kind (an achieved "
        "outcome by its headline group, still being followed up, left without an outcome). The table beside "
        "gives the same figures."
    )
    by_status = figures.records.by_status
    total = sum(by_status.values())
    bars, table = [], []
    for code in labels.ordered("outcome", by_status):
        ref = labels.outcomes.get(code)
        bucket = ref.bucket if ref else IN_PROGRESS
        href = links.records(status=labels.pk("outcome", code))
        share = round(100 * by_status[code] / total, 1) if total else None
        note = f"{by_status[code]:,} ({percent_text(share)})"
        bars.append(BarRow(labels.name("outcome", code), href, [by_status[code]], [note], (COLOURS[bucket],)))
        table.append(
            [
                Cell(labels.name("outcome", code), href),
                Cell(bucket_label(bucket)),
                Cell(f"{by_status[code]:,}", numeric=True),
                Cell(percent_text(share), numeric=True),
            ]
        )
    series = [Series(bucket_label(b), COLOURS[b]) for b in BUCKETS]
    svg = bar_svg(chart_id, title, description, bars, series, unit="", goal=None, legend=True)
    headers = [gettext("Status"), gettext("Counts as"), gettext("Records"), gettext("Share")]
    return Chart(chart_id, title, description, svg, headers, table)


def help_chart(figures: Figures, labels: Labels, links: Links, *, chart_id: str = "help") -> Chart:
    title = gettext("Help given, by type")
    description = gettext(
        "Horizontal bars, one per type of help: how many times it was given. The table beside gives the same figures."
    )
    by_type = figures.help_by_type
    href = links.records(help="yes")
    codes = labels.ordered("help", by_type)
    bars = [BarRow(labels.name("help", c), href, [by_type[c]], [f"{by_type[c]:,}"]) for c in codes]
    svg = bar_svg(
        chart_id,
        title,
        description,
        bars,
        [Series(gettext("Times given"), "#1d4f8a")],
        unit="",
        goal=None,
        width=SMALL_WIDTH,
    )
    table = [[Cell(labels.name("help", c), href), Cell(f"{by_type[c]:,}", numeric=True)] for c in codes]
    return Chart(chart_id, title, description, svg, [gettext("Type of help"), gettext("Times given")], table)


def activities_chart(activities: Counts, links: Links, *, chart_id: str = "activities") -> Chart:
    title = gettext("Support activities by role")
    description = gettext(
        "Horizontal bars, one per role of the support teams: the activities recorded this fiscal year. The "
        "table beside gives the same figures."
    )
    roles = ["1", "2", "3", "4"]
    bars = [
        BarRow(role_label(r), links.activities(r), [activities.get(r, 0)], [f"{activities.get(r, 0):,}"]) for r in roles
    ]
    svg = bar_svg(
        chart_id,
        title,
        description,
        bars,
        [Series(gettext("Activities"), "#1d4f8a")],
        unit="",
        goal=None,
        width=SMALL_WIDTH,
    )
    table = [[Cell(role_label(r), links.activities(r)), Cell(f"{activities.get(r, 0):,}", numeric=True)] for r in roles]
    return Chart(chart_id, title, description, svg, [gettext("Role"), gettext("Activities")], table)


def trend_chart(points: list[TrendPoint], *, chart_id: str = "trend", marker: datetime.datetime | None = None) -> Chart:
    """Progress against the goals over the stored summaries, oldest first; `marker`: the moment of the figures
    a dashboard "as of" a day shows, marked on the chart and in its table."""
    title = gettext("Progress over time")
    description = gettext(
        "Lines over time, one point per stored summary: progress toward all the plan's goals, and toward the "
        "goals of returning to learning and of keeping in school, as a percentage of those goals. The table "
        "beside gives the same figures."
    )
    words = headlines()
    series = [Series(words["overall"].label, COLOURS["overall"]), *_group_series()]
    line = [LinePoint(p.as_of, [p.overall.percent, p.returned.percent, p.kept.percent]) for p in points]
    svg = line_svg(chart_id, title, description, line, series, marker=marker)
    headers = [gettext("Figures as of"), words["overall"].label, words[RETURNED].label, words[KEPT].label]
    headers.append(gettext("Records"))
    table = [
        [
            Cell(be_datetime(p.as_of) + (" ◀" if marker is not None and p.as_of == marker else "")),
            Cell(progress_note(p.overall), numeric=True),
            Cell(progress_note(p.returned), numeric=True),
            Cell(progress_note(p.kept), numeric=True),
            Cell(f"{p.records:,}", numeric=True),
        ]
        for p in reversed(points)
    ]
    return Chart(chart_id, title, description, svg, headers, table)


# --- the cohort view (analysis.cohorts) ----------------------------------------------------------------------------

# The windows' colours: light to dark green, the longer the window.
WINDOW_COLOURS = {3: "#8cc7ae", 6: "#3a9b78", 12: "#0b5b41"}
COHORT_QUARTERS = 12  # the quarters a page shows: the latest three years


def quarter_label(row: CohortRow) -> str:
    return gettext("Q%(quarter)s FY %(year)s") % {"quarter": row.quarter, "year": row.fiscal_year}


def window_label(months: int) -> str:
    return gettext("within %(months)s months") % {"months": months}


def share_note(row: CohortRow, count: int | None) -> str:
    """ "45.0% (9)", or "–" for a window not yet observable."""
    share = row.share(count)
    return "–" if share is None else f"{percent_text(share * 100)} ({count:,})"


def days_text(days: float | None) -> str:
    return "–" if days is None else number_text(int(days) if float(days).is_integer() else days)


def cohort_chart(cohorts: Cohorts, *, chart_id: str = "cohorts") -> Chart:
    """Each entry quarter: the share of its children who reached any outcome within 3, 6 and 12 months (grouped
    bars; "–" where a window is not yet observable), and the table of the same figures with the median days."""
    title = gettext("Cohorts by entry quarter: children who reached an outcome")
    description = gettext(
        "Horizontal bars, one group per quarter in which children entered the programme: the percentage of them "
        "who reached any outcome within 3, 6 and 12 months. A dash: the window has not yet passed for every "
        "child of the quarter. The table gives the same figures and the median days to the first outcome."
    )
    rows = cohorts.rows[-COHORT_QUARTERS:]
    series = [Series(window_label(m), WINDOW_COLOURS[m]) for m in WINDOWS]
    bars = [
        BarRow(
            quarter_label(row),
            "",
            [None if (s := row.share(row.reached_any[m])) is None else s * 100 for m in WINDOWS],
            [share_note(row, row.reached_any[m]) for m in WINDOWS],
        )
        for row in rows
    ]
    svg = bar_svg(chart_id, title, description, bars, series, goal=None, scale_to=100.0) if rows else mark_safe("")
    headers = [
        gettext("Entry quarter"),
        gettext("Children"),
        *(gettext("Any outcome %(window)s") % {"window": window_label(m)} for m in WINDOWS),
        gettext("Median days to the first outcome"),
    ]
    table = [
        [
            Cell(quarter_label(row)),
            Cell(f"{row.size:,}", numeric=True),
            *(Cell(share_note(row, row.reached_any[m]), numeric=True) for m in WINDOWS),
            Cell(days_text(row.median_days), numeric=True),
        ]
        for row in reversed(rows)
    ]
    return Chart(chart_id, title, description, svg, headers, table)


@dataclass(frozen=True)
class CohortOutcomeTable:
    """Each outcome's share within 3, 6 and 12 months, per entry quarter (newest first): a header row of the
    outcomes (each over its windows), then a row per quarter."""

    outcomes: list[str]
    windows: list[str]
    rows: list[list[Cell]]


def cohort_outcome_table(cohorts: Cohorts) -> CohortOutcomeTable:
    rows = cohorts.rows[-COHORT_QUARTERS:]
    return CohortOutcomeTable(
        outcomes=[name.name for name in cohorts.outcomes],
        windows=[gettext("%(months)s mo.") % {"months": m} for m in WINDOWS],
        rows=[
            [
                Cell(quarter_label(row)),
                Cell(f"{row.size:,}", numeric=True),
                *(
                    Cell(share_note(row, row.reached[name.code][m]), numeric=True)
                    for name in cohorts.outcomes
                    for m in WINDOWS
                ),
            ]
            for row in reversed(rows)
        ],
    )
