"""What the targets app tells the apps above it, without importing them.

`records_written` is sent once the transaction that created or updated target-group records has
committed (an applied upload, a partner's batch through the API). summaries connects to it to refresh
the dashboards (summaries.apps); a receiver that fails is logged and never undoes the write.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

records_written = Signal()


def announce_records_written(sender: object) -> None:
    """Send `records_written` after the current transaction commits (at once outside one)."""

    def send() -> None:
        for receiver, result in records_written.send_robust(sender=sender):
            if isinstance(result, Exception):
                logger.warning("a receiver of records_written failed: %r", receiver, exc_info=result)

    transaction.on_commit(send)
