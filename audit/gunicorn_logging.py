"""gunicorn's logs without national IDs, G-codes or URL secrets (gunicorn.conf.py: `logger_class`).

gunicorn writes its access log itself, outside Django's LOGGING, so the console filter of settings.py
never sees a line like `GET /api/v1/records/1249800001570/`. `RedactingLogger` masks every atom of the
access line, blanks those that carry credentials, and filters both loggers as a second guard. The
gunicorn master imports this before Django is set up: import audit.redaction, nothing that reads settings.
"""

from typing import Any
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

from .redaction import RedactIdsFilter, redact_secrets

# Header and environ atoms ({name}i, {name}o, {name}e) that carry credentials: an API key, a
# session cookie, basic auth. Logged as "-" whatever the format asks for.
CREDENTIAL_NAMES = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-csrftoken"}
)


def _credential_atom(key: str) -> bool:
    if not (key.startswith("{") and key[-2:] in ("}i", "}o", "}e")):
        return False
    name = key[1:-2].lower().replace("_", "-")
    return name.removeprefix("http-") in CREDENTIAL_NAMES


def _wsgi_text(value: str) -> str:
    """A WSGI string as text: PEP 3333 hands the path over as bytes decoded as Latin-1, so UTF-8
    (Thai digits among it) is read back as UTF-8 where it is valid."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def redact_atom(value: str) -> str:
    """One access-log atom with IDs and URL secrets masked, also when they were sent
    percent-encoded (`%31249...`), with `+` for spaces or in Thai digits: if the decoded text
    holds one, the decoded text is logged, masked."""
    masked = redact_secrets(value)
    decoded = unquote_plus(_wsgi_text(value))
    masked_decoded = redact_secrets(decoded)
    return masked_decoded if masked_decoded != decoded else masked


def redact_atoms(atoms: dict[str, Any]) -> dict[str, Any]:
    return {
        key: "-" if _credential_atom(key) else redact_atom(value) if isinstance(value, str) else value
        for key, value in atoms.items()
    }


class RedactingLogger(Logger):
    """gunicorn's Logger, with every access-log atom masked and both loggers filtered."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        # setup() runs again on a configuration reload (SIGHUP): one filter per logger, not one per reload.
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactIdsFilter) for f in log.filters):
                log.addFilter(RedactIdsFilter())

    def atoms(self, resp, req, environ, request_time) -> dict[str, Any]:
        return redact_atoms(super().atoms(resp, req, environ, request_time))
