"""PDFs with Thai text: WeasyPrint, the portal's fonts, and the fix that makes Thai lines extract as written.

Used by the minutes (meetings/minutes.py), the progress report's PDF (reports/views.py) and the meeting pack
(summaries/exports.py). `write_pdf(template, context)` renders a template whose
stylesheet takes `font_faces`, `font_families`, `font_size` and `page_label_css` (this module's values), and loads
nothing but the portal's font files. WeasyPrint needs Pango at import time: it is imported only here, when a PDF is
written, so a machine without Pango still serves every other page and export.
"""

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

# The PDF's font stack (meetings/templates/meetings/minutes/pdf_style.html). Laksaman is Debian's fonts-thai-tlwg
# stand-in for TH Sarabun; "Sarabun" is Google's redesign, if installed; then the portal's own Sarabun (below), which
# every machine has. Never "TH Sarabun New" or "TH SarabunPSK": fonts-thai-tlwg answers those names with Laksaman
# scaled by 0.66 (89-tlwg-laksaman-synthetic.conf), for the whole fallback list, and WeasyPrint ignores that scale
# when it draws, so every glyph of the page overlaps its neighbour. Laksaman and Sarabun share proportions, so one
# size suits both: 11.5 pt reads like the government's TH Sarabun 16 pt (about 10.5 pt here, by that 0.66 scale).
PDF_FONT_FAMILIES = (
    "Laksaman", "Sarabun", "ABE Sarabun Thai", "ABE Sarabun Latin", "Garuda", "Noto Sans Thai", "sans-serif",
)  # fmt: skip
PDF_FONT_SIZE = "11.5pt"
# The portal's Sarabun (static/fonts/sarabun/, SIL OFL), split in Thai and Latin files: (file, family, weight, range).
# Each file gets its own family name: WeasyPrint 70 tells fonts apart by family, weight and style only, so two files
# under one name would draw the glyphs of one with the other (Thai came out as Latin letters).
SARABUN_THAI_RANGE = "U+02D7, U+0303, U+0331, U+0E01-0E5B, U+200C-200D, U+25CC"
SARABUN_FILES = (
    ("fonts/sarabun/sarabun-thai-400-normal.woff2", "ABE Sarabun Thai", 400, SARABUN_THAI_RANGE),
    ("fonts/sarabun/sarabun-thai-700-normal.woff2", "ABE Sarabun Thai", 700, SARABUN_THAI_RANGE),
    ("fonts/sarabun/sarabun-latin-400-normal.woff2", "ABE Sarabun Latin", 400, None),
    ("fonts/sarabun/sarabun-latin-700-normal.woff2", "ABE Sarabun Latin", 700, None),
)


class FontFace(TypedDict):
    url: str
    family: str
    weight: int
    unicode_range: str | None


def sarabun_font_faces() -> list[FontFace]:
    """@font-face rules for the portal's Sarabun woff2 files, as absolute file:// URLs."""
    faces: list[FontFace] = []
    for path, family, weight, unicode_range in SARABUN_FILES:
        found = finders.find(path)
        if found:
            faces.append({"url": file_uri(found), "family": family, "weight": weight, "unicode_range": unicode_range})
    return faces


def file_uri(path: str | os.PathLike[str]) -> str:
    return Path(path).resolve().as_uri()


_THAI = re.compile("[\u0e00-\u0e7f]")
_INSTALL_LOCK = threading.Lock()


def install_thai_actual_text() -> None:
    """Make Thai lines of WeasyPrint's PDFs copy, search and extract as the exact text that was written.

    WeasyPrint 70 maps each glyph to text once, first come first served (its ToUnicode table; upstream issue
    Kozea/WeasyPrint#2841). Thai shaping draws one cluster as several glyphs (ำ is decomposed into ํ + า, tone marks
    stack on vowels), so that table loses or swaps characters: "น้ำ" extracted as "นา". PDF's own remedy is to
    give the line its text in an /ActualText marked-content span, which readers (poppler, Acrobat, PDFium) use
    instead of the glyphs' table. This wraps WeasyPrint's line drawing to do that for lines holding Thai; other lines
    are drawn as before. Installed once per process; harmless for any other PDF the process renders.
    """
    import pydyf
    from weasyprint.draw import text as draw_text_module

    with _INSTALL_LOCK:
        if not getattr(draw_text_module.draw_first_line, "abe_actual_text", False):
            draw_text_module.draw_first_line = _with_actual_text(draw_text_module.draw_first_line, pydyf)


def _with_actual_text(draw_first_line: Callable[..., Any], pydyf: ModuleType) -> Callable[..., Any]:
    """WeasyPrint's `draw_first_line`, wrapped in an /ActualText span for each line holding Thai."""

    # stream, textbox and matrix are WeasyPrint's objects (it ships no types); the ellipses are CSS keywords.
    def draw_first_line_with_actual_text(
        stream: Any, textbox: Any, text_overflow: str, block_ellipsis: str, matrix: Any
    ) -> Any:
        text = textbox.text or ""
        # An ellipsis changes what is drawn from textbox.text: leave those lines alone.
        if text_overflow == "ellipsis" or block_ellipsis != "none" or not _THAI.search(text):
            return draw_first_line(stream, textbox, text_overflow, block_ellipsis, matrix)
        stream.begin_marked_content("Span", pydyf.Dictionary({"ActualText": pydyf.String(text)}))
        try:
            return draw_first_line(stream, textbox, text_overflow, block_ellipsis, matrix)
        finally:
            stream.end_marked_content()

    draw_first_line_with_actual_text.__dict__["abe_actual_text"] = True  # the mark install_thai_actual_text looks for
    return draw_first_line_with_actual_text


def font_context(*, page_label: str) -> dict[str, Any]:
    """The stylesheet's values: the portal's fonts as @font-face rules, the font stack and size, and the page
    label of the footer as a CSS string (quoted as JSON, which CSS reads the same way)."""
    return {
        "font_faces": sarabun_font_faces(),
        "font_families": ", ".join(
            family if family == "sans-serif" else json.dumps(family) for family in PDF_FONT_FAMILIES
        ),
        "font_size": PDF_FONT_SIZE,
        "page_label_css": json.dumps(page_label, ensure_ascii=False),
    }


def write_pdf(template: str, context: dict[str, Any], *, what: str = "The PDF") -> bytes:
    """The PDF of `template` rendered with `context` (which holds font_context()'s values). Raises RuntimeError
    on a machine without WeasyPrint's system libraries (Pango)."""
    try:
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint's cffi cannot load Pango's libraries
        raise RuntimeError(
            "PDF export needs Pango and HarfBuzz for WeasyPrint "
            "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-thai-tlwg); "
            f"Word and Excel exports work without them. ({exc})"
        ) from exc
    install_thai_actual_text()
    allowed = frozenset(face["url"] for face in context.get("font_faces", ()))

    class FontsOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no types: its URLFetcher is Any
        """Fetches the portal's font files and nothing else: no text of a document can make the PDF read a file
        or call a server."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url not in allowed:
                raise ValueError(f"{what} loads only the portal's fonts, not {url}")
            return super().fetch(url, headers)

    html = render_to_string(template, context)
    fetcher = FontsOnlyFetcher(allowed_protocols=("file",))
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=FontConfiguration())
    return pdf
