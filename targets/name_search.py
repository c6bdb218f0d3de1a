"""The records list's name search: a word is found in a first or a last name (README.md, "The records list
at scale").

On PostgreSQL the GIN trigram indexes of migration 0008 (pg_trgm, on the plain columns) serve both forms a
word takes here:
- a word without upper and lower case (Thai, digits): `first_name LIKE '%word%'`. Nothing to fold, and
  case-folding every row (UPPER(...) LIKE UPPER(...), Django's icontains) costs three times as much where
  a short word has no trigram to look up and rows are read one by one;
- a word with case (Latin letters): `first_name ILIKE '%word%'` (the `ilike_contains` lookup below; on
  SQLite it is Django's icontains, a LIKE that ignores ASCII case).
"""

from django.db import models
from django.db.models import Q
from django.db.models.lookups import PatternLookup


class ILikeContains(PatternLookup):
    """field ILIKE '%value%' on PostgreSQL, with LIKE's wildcards in the value escaped as Django's
    contains does; registered on the record's name fields only (targets/apps.py)."""

    lookup_name = "ilike_contains"
    param_pattern = "%%%s%%"
    prepare_rhs = False

    def get_rhs_op(self, connection, rhs):
        if connection.vendor == "postgresql":
            return f"ILIKE {rhs}"
        return connection.operators["icontains"] % rhs

    def process_lhs(self, compiler, connection, lhs=None):
        sql, params = super().process_lhs(compiler, connection, lhs)
        if connection.vendor == "postgresql":
            return f"{sql}::text", params
        return connection.ops.lookup_cast("icontains") % sql, params

    def process_rhs(self, qn, connection):
        sql, params = super().process_rhs(qn, connection)
        if connection.vendor != "postgresql":
            sql = connection.ops.lookup_cast("icontains") % sql
        return sql, params


def has_case(word: str) -> bool:
    return word.lower() != word.upper()


def name_contains(word: str) -> Q:
    """Records whose first or last name contains `word`."""
    lookup = "ilike_contains" if has_case(word) else "contains"
    return Q(**{f"first_name__{lookup}": word}) | Q(**{f"last_name__{lookup}": word})


def text_contains(field: str, word: str) -> Q:
    """Records whose `field` (one with the lookup registered below: the school) contains `word`, as the name
    search does: LIKE for a word without case, ILIKE for one with, both served by the field's trigram index."""
    return Q(**{f"{field}__{'ilike_contains' if has_case(word) else 'contains'}": word})


def register_lookups() -> None:
    from .models import TargetRecord

    for name in ("first_name", "last_name", "school"):
        field = TargetRecord._meta.get_field(name)
        if not isinstance(field, models.CharField):
            raise TypeError(f"{name} is no CharField")
        field.register_lookup(ILikeContains)
