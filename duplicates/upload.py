"""The upload's dry run asks here about its new rows (targets/upload/hooks.py, registered in duplicates/apps.py):
warnings beside the rows that look like a record already there, never rejections."""

from . import finder


def warn_about_rows(batch, rows: list[dict]) -> list[dict]:
    """Once per chunk of new rows: the province's keys brought up to date (records changed since its newest key;
    at the first chunk only), then the best probable duplicate of each row, in one query."""
    if not getattr(batch, "_duplicate_keys_fresh", False):  # once per check, not per chunk
        finder.refresh_province_keys(batch.province_id)
        batch._duplicate_keys_fresh = True
    return finder.warnings_for_rows(
        batch.province_id,
        [
            finder.NewRow(
                row_number=row["row"],
                identifier_kind=row.get("identifier_kind", ""),
                name_prefix=row.get("name_prefix") or "",
                first_name=row.get("first_name") or "",
                last_name=row.get("last_name") or "",
                sex=row.get("sex") or "",
                birth_date=row.get("birth_date"),
                district_id=row.get("district_id"),
            )
            for row in rows
        ],
    )
