"""A map of Thailand's 77 provinces as SVG, shaded by progress against the plans' goals.

The boundaries are provinces/data/thai-admin/provinces.geojson (apisit/thailand.json, MIT licence in
LICENSE-provinces-geojson beside it), drawn by the server: no map tiles, no script, nothing from the
internet. The projection is equirectangular with the longitudes shortened by the cosine of Thailand's
middle latitude, which keeps the country's shape at this scale. The geometry never changes, so it
is read and projected once per process (`province_paths`).
"""

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from .charts import INK, MUTED, SVG_NS
from .figures import QUALITY_BANDS, percent_text, quality_band, quality_band_ranges, quality_label, quality_text
from .schema import Quality

GEOJSON = Path(settings.BASE_DIR) / "provinces" / "data" / "thai-admin" / "provinces.geojson"
SCALE = 36.0  # SVG units per degree of latitude
MARGIN = 6.0

# Shades of the portal's green by percent of the goals reached; a province without figures or goals
# stays pale grey. (lower bound, colour, label): the legend reads them top to bottom.
BUCKETS = (
    (100.0, "#08513a", "≥ 100%"),
    (75.0, "#1f7a58", "75–99%"),
    (50.0, "#4fa283", "50–74%"),
    (25.0, "#94cbb4", "25–49%"),
    (0.0, "#d6ece2", "0–24%"),
)
NO_FIGURES = "#eef1f5"
OUTSIDE = "#f7f8fa"  # provinces outside the programme
BORDER = "#b8c2cc"


@dataclass(frozen=True)
class ProvinceShape:
    code: int
    name_th: str
    name_en: str
    path: str  # the SVG path's d attribute

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "th").startswith("en") and self.name_en else self.name_th


@dataclass(frozen=True)
class Projected:
    shapes: tuple[ProvinceShape, ...]
    width: float
    height: float


@lru_cache(maxsize=1)
def province_paths() -> Projected:
    """Every province's outline, projected into SVG units: read from the GeoJSON once per process."""
    features = json.loads(GEOJSON.read_text(encoding="utf-8"))["features"]
    rings_of = {}
    lons, lats = [], []
    for feature in features:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings = [ring for polygon in polygons for ring in polygon]
        rings_of[int(feature["properties"]["code"])] = (feature["properties"], rings)
        for ring in rings:
            lons += [point[0] for point in ring]
            lats += [point[1] for point in ring]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    shrink = math.cos(math.radians((south + north) / 2))

    def project(lon: float, lat: float) -> tuple[float, float]:
        return MARGIN + (lon - west) * shrink * SCALE, MARGIN + (north - lat) * SCALE

    shapes = []
    for code, (properties, rings) in sorted(rings_of.items()):
        parts = []
        for ring in rings:
            points = [project(lon, lat) for lon, lat, *_ in ring]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
        shapes.append(ProvinceShape(code, properties.get("name_th", ""), properties.get("name_en", ""), "".join(parts)))
    width = 2 * MARGIN + (east - west) * shrink * SCALE
    height = 2 * MARGIN + (north - south) * SCALE
    return Projected(tuple(shapes), round(width, 1), round(height, 1))


def shade(percent: float | None) -> str:
    if percent is None:
        return NO_FIGURES
    for lower, colour, _label in BUCKETS:
        if percent >= lower:
            return colour
    return BUCKETS[-1][1]


def map_svg(
    *,
    percents: dict[int, float | None],
    programme: set[int],
    links: dict[int, str] | None = None,
    quality: dict[int, Quality | None] | None = None,
    chart_id: str = "map",
    title: str = "",
) -> SafeString:
    """The map: the programme's provinces shaded by `percents` (code → % of goals) and outlined, the
    others pale; each programme province links to `links[code]` when given, and names its figure and its
    data-quality score (`quality`, code → the snapshot's Quality: "–" when unknown), as the legend says."""
    links = links or {}
    quality = quality or {}
    projected = province_paths()
    title = title or gettext("Map of progress against the goals, by province")
    description = gettext(
        "Map of Thailand's 77 provinces. The programme's provinces are outlined in dark and shaded by the "
        "share of their goals reached (returned to learning and kept in school together): the darker, the "
        "further. Each province's tooltip also gives its data-quality score, whose bands the legend names. The "
        "table beside lists the same figures."
    )
    body = []
    highlighted = []
    for shape in projected.shapes:
        if shape.code in programme:
            highlighted.append(shape)
            continue
        body.append(
            f'<path d="{shape.path}" fill="{OUTSIDE}" stroke="{BORDER}" stroke-width="0.5" '
            f'data-province="{shape.code}"><title>{escape(shape.name)}</title></path>'
        )
    # The programme's provinces last, so their dark outlines are drawn over their neighbours' borders.
    for shape in highlighted:
        percent = percents.get(shape.code)
        score = quality.get(shape.code)
        tip = f"{shape.name}: {percent_text(percent)} · {quality_label()} {quality_text(score)}"
        element = (
            f'<path d="{shape.path}" fill="{shade(percent)}" stroke="{INK}" stroke-width="1.4" '
            f'stroke-linejoin="round" class="programme" data-province="{shape.code}" '
            f'data-quality="{quality_band(score).key}">'
            f"<title>{escape(tip)}</title></path>"
        )
        href = links.get(shape.code)
        body.append(f"<a href={quoteattr(href)}>{element}</a>" if href else element)
    legend, legend_bottom = _legend(projected)
    body += legend
    # The legend may reach below the country's southern tip: the picture grows to hold it.
    height = max(projected.height, round(legend_bottom + MARGIN, 1))
    head = (
        f'<svg xmlns="{SVG_NS}" class="map-svg" viewBox="0 0 {projected.width} {height}" '
        f'width="{projected.width}" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="inherit">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 (every text above is escaped)


def _legend(projected: Projected) -> tuple[list[str], float]:
    """The legend's parts, and where it ends (its lowest y)."""
    # In the Gulf of Thailand, east of the peninsula and south of Cambodia's border: the map's empty corner.
    x, y = projected.width * 0.60, projected.height * 0.66
    size, step = 10, 15
    items = [(colour, label) for _lower, colour, label in BUCKETS]
    items += [(NO_FIGURES, gettext("no goals or figures")), (OUTSIDE, gettext("outside the programme"))]
    title = gettext("Goals reached")
    parts = [f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" font-weight="bold" fill="{INK}">{escape(title)}</text>']
    for index, (colour, label) in enumerate(items):
        top = y + 8 + index * step
        outline = BORDER if colour == OUTSIDE else INK
        parts.append(
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{size}" height="{size}" fill="{colour}" stroke="{outline}" '
            f'stroke-width="{0.5 if colour == OUTSIDE else 1}"/>'
        )
        parts.append(
            f'<text x="{x + size + 5:.1f}" y="{top + size - 1.5:.1f}" font-size="{size}" fill="{MUTED}">'
            f"{escape(label)}</text>"
        )
    # The data-quality score's bands (summaries.figures.QUALITY_BANDS), as the badges beside the map colour them.
    y = y + 8 + len(items) * step + 14
    heading = gettext("Data quality")  # the score of each province is in its tooltip (the description says so)
    parts.append(
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" font-weight="bold" fill="{INK}">{escape(heading)}</text>'
    )
    for index, (band, label) in enumerate(quality_band_ranges()):
        top = y + 8 + index * step
        parts.append(
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{size}" height="{size}" rx="5" fill="{band.background}" '
            f'stroke="{band.ink}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x + size + 5:.1f}" y="{top + size - 1.5:.1f}" font-size="{size}" fill="{MUTED}" '
            f'data-quality-band="{band.key}">{escape(label)}</text>'
        )
    return parts, y + 8 + len(QUALITY_BANDS) * step + step
