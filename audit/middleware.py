import pghistory.middleware
from django.http import HttpRequest, HttpResponse

from .access_log import batched
from .tracking import history_is_recorded


class HistoryMiddleware(pghistory.middleware.HistoryMiddleware):
    """pghistory's middleware (the user's id and the URL path, without the query string, stored
    with every audit event of the request), switched off on SQLite.

    pghistory.context prefixes each write with PostgreSQL's set_config(), which fails on SQLite,
    where no history is recorded anyway; with the plain pghistory middleware every form post on
    the embedded default would fail.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not history_is_recorded():
            return self.get_response(request)
        return super().__call__(request)


class AccessLogMiddleware:
    """Writes the request's access-log entries (audit.access_log.record_access) together: one
    multi-row INSERT once the view and the inner middleware have answered, before the answer goes
    out. Outside any transaction (the view's atomic blocks have ended), so a view's rollback does not
    take its entries with it. A streaming response's generator runs after this has returned: what it
    records is written at once.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with batched():
            return self.get_response(request)
