"""System check: can pg_trgm read Thai names in this database? (README.md, "The records list at scale").

pg_trgm keeps a database's "word" characters by its LC_CTYPE. Under C.UTF-8, en_US.UTF-8 or th_TH.UTF-8
Thai consonants, vowels and tone marks are letters; under C or POSIX they are not, and the trigram indexes
of the name search hold nothing of a Thai name. The search still finds the right records (every match is
checked against the name itself), but by reading the whole index: slow at millions of rows. Run by
`migrate` and by `manage.py check --database default`.
"""

from django.core.checks import Tags, Warning, register
from django.db import connections
from django.db.utils import DatabaseError

THAI_SAMPLE = "สมศรี"  # five letters (ส ม ศ ร ี): "  ส", " สม", "สมศ", "มศร", "ศรี", "รี " when they count as letters


def trigrams_of(connection, text: str) -> list[str] | None:
    """pg_trgm's trigrams of `text` in this database, or None without pg_trgm (or PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            if cursor.fetchone() is None:
                return None
            cursor.execute("SELECT show_trgm(%s)", [text])
            return list(cursor.fetchone()[0])
    except DatabaseError:
        return None


@register(Tags.database)
def thai_trigrams(app_configs, databases=None, **kwargs):
    problems = []
    for alias in databases or []:
        connection = connections[alias]
        trigrams = trigrams_of(connection, THAI_SAMPLE)
        if trigrams is not None and len(trigrams) < len(THAI_SAMPLE) + 1:
            with connection.cursor() as cursor:
                cursor.execute("SELECT datctype FROM pg_database WHERE datname = current_database()")
                ctype = cursor.fetchone()[0]
            problems.append(
                Warning(
                    f"pg_trgm does not read Thai letters in database {alias!r} (LC_CTYPE {ctype}): the name search "
                    "finds the right records but reads its whole trigram index.",
                    hint="Create the database with a UTF-8 ctype that classifies Thai letters, e.g. "
                    "createdb --locale=C.UTF-8 --template=template0 (or th_TH.UTF-8), and restore into it.",
                    id="targets.W001",
                )
            )
    return problems
