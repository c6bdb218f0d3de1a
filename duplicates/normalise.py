"""Names as the duplicate finder compares them: pure functions, no database (README.md, "Probable duplicates").

A name typed twice for the same child differs in ways that say nothing about the person. What is normalised, and
why (each seen in real Thai spreadsheets):

- **Prefixes** at the start of the name, with or without dots or a space: ด.ช. / ดช / เด็กชาย, ด.ญ. / ดญ /
  เด็กหญิง, นาย, นาง, นางสาว / น.ส. / นส, and Latin Mr, Mrs, Miss, Ms, Master. A prefix also tells the sex
  when the sex column is blank (`sex_from_prefix`).
- **Spacing, dots, dashes, apostrophes and invisible characters**: zero-width space (U+200B, which Thai word
  processors insert between words), joiners, the BOM, no-break spaces.
- **Sara am** typed as nikhahit + sara aa (ํ + า, which looks the same) becomes ำ.
- **Marks above and below a consonant in the wrong order** (a tone mark typed before the vowel: ก่ี for กี่,
  นำ้ for น้ำ) are put in one order, and a mark typed twice counts once.
- **Thanthakhat (์, the silencing mark) and mai taikhu (็)** are dropped: ศักดิ์ / ศักดิ, จันทร์ / จันทร,
  เพ็ญ / เพญ are written either way.
- **Letters of the same sound that names swap**: ศ and ษ become ส (พงษ์ / พงศ์ / พงส์), ณ becomes น
  (ณัฐ / นัฐ).
- **Latin letters** are lower-cased (migrant children's names are often written in Latin script).

What is not normalised: vowels and tone marks themselves (a different tone is often a different name), and the
order of the given and family names.
"""

import functools
import re
import unicodedata

# Longest first, so that นางสาว is taken before นาง and เด็กชาย before เด็ก…
_PREFIXES: list[tuple[str, str]] = [
    ("เด็กชาย", "M"),
    ("เด็กหญิง", "F"),
    ("เดกชาย", "M"),  # mai taikhu left out, as names lose it too
    ("เดกหญิง", "F"),
    ("นางสาว", "F"),
    ("ด.ช.", "M"),
    ("ด.ญ.", "F"),
    ("ด.ช", "M"),
    ("ด.ญ", "F"),
    ("ดช.", "M"),
    ("ดญ.", "F"),
    ("น.ส.", "F"),
    ("น.ส", "F"),
    ("นส.", "F"),
    ("master", "M"),
    ("miss", "F"),
    ("mrs.", "F"),
    ("mrs", "F"),
    ("mr.", "M"),
    ("mr", "M"),
    ("ms.", "F"),
    ("ms", "F"),
    ("นาย", "M"),
    ("นาง", "F"),
    ("ดช", "M"),
    ("ดญ", "F"),
    ("นส", "F"),
]

# Invisible characters and separators: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SEPARATORS = re.compile(r"[\s.\-'’_,]+")

# Thai marks that sit above or below a consonant, in the order a name is normalised to: vowels above and
# below first, then the tone marks. ็ and ์ are dropped (see the module's docstring).
_VOWEL_MARKS = "\u0e31\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a"  # ั ิ ี ึ ื ุ ู ฺ
_TONE_MARKS = "\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4d"  # ่ ้ ๊ ๋ ์ ํ
_MARK_ORDER = {ch: i for i, ch in enumerate(_VOWEL_MARKS + _TONE_MARKS)}
_DROPPED = dict.fromkeys(map(ord, "\u0e47\u0e4c"), None)  # ็ ์
_SAME_SOUND = str.maketrans({"ศ": "ส", "ษ": "ส", "ณ": "น"})
_SARA_AM_SPLIT = re.compile("\u0e4d\u0e32")  # ํ + า
_SARA_AA_THEN_NIKHAHIT = re.compile("\u0e32\u0e4d")  # า + ํ, the same typed backwards
_TONE_AFTER_SARA_AM = re.compile("\u0e33([\u0e48-\u0e4b])")
_MARK_RUN = re.compile(f"[{_VOWEL_MARKS}{_TONE_MARKS}]{{2,}}")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text or "").translate(_INVISIBLE)
    return text.replace("\u00a0", " ").strip()


# One alternation, longest first: a name's prefix is found by one regex match, not a loop (the dry run
# normalises every new row of an upload).
_PREFIX_RE = re.compile("|".join(re.escape(prefix) for prefix, _ in _PREFIXES), re.IGNORECASE)
_PREFIX_SEX = dict(_PREFIXES)


def split_prefix(name: str) -> tuple[str, str]:
    """(the sex the prefix says, or "", the name without its prefix). A prefix is taken only when something
    follows it: a given name that is only "นาง" stays."""
    text = _clean(name)
    match = _PREFIX_RE.match(text)
    if match is None:
        return "", text
    prefix = match.group(0).lower()
    rest = text[len(prefix) :]
    # A Latin prefix is a word of its own (Mr Somchai), never the start of a name (Mrinal).
    if prefix.isascii() and not prefix.endswith(".") and rest[:1] not in (" ", "."):
        return "", text
    rest = rest.lstrip(" .")
    return (_PREFIX_SEX[prefix], rest) if rest else ("", text)


def sex_from_prefix(*names: str) -> str:
    """M or F as the first prefix found says (a prefix column holds the prefix alone), else ""."""
    for name in names:
        alone = _PREFIX_SEX.get(_clean(name).lower())
        if alone:
            return alone
        sex, _ = split_prefix(name)
        if sex:
            return sex
    return ""


def _order_marks(match: re.Match) -> str:
    marks = sorted(set(match.group(0)), key=_MARK_ORDER.__getitem__)
    return "".join(marks)


@functools.lru_cache(maxsize=65_536)
def normalise_part(text: str) -> str:
    """One name (given or family) as the finder compares it: no prefix, no spacing or invisible characters,
    Thai spelling variants folded, Latin lower-cased. Cached: given and family names repeat a great deal."""
    _, text = split_prefix(text)
    text = _SEPARATORS.sub("", text).lower()
    if "\u0e4d" in text:
        text = _SARA_AM_SPLIT.sub("\u0e33", text)
        text = _SARA_AA_THEN_NIKHAHIT.sub("\u0e33", text)
    if "\u0e33" in text:
        # Marks typed in another order around sara am: น้ำ typed as นำ้ (the tone after ำ) goes before it.
        text = _TONE_AFTER_SARA_AM.sub("\\1\u0e33", text)
    text = text.translate(_DROPPED)
    text = _MARK_RUN.sub(_order_marks, text)
    return text.translate(_SAME_SOUND)


def normalise_name(prefix: str, first_name: str, last_name: str) -> tuple[str, str, str]:
    """(full, given, family) normalised: the full name is given + family without a space, for pg_trgm.

    The prefix column itself is not part of the name; a prefix typed into the first-name cell is stripped."""
    given = normalise_part(first_name)
    family = normalise_part(last_name)
    return given + family, given, family


def edit_ratio(a: str, b: str) -> float:
    """1 − Levenshtein distance / the longer length: 1.0 for equal strings, 0.0 for nothing in common. Names
    are short, so the plain dynamic programme is enough."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b))
