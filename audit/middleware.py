import pghistory.middleware
from django.http import HttpRequest, HttpResponse

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
