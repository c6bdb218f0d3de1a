"""The 500 page (handler500 in abe_portal/urls.py): in the portal's shell and the user's language, and safe to render
when the database, the cache or a context processor is what failed."""

import logging

from django.conf import settings
from django.http import HttpResponseServerError
from django.template import loader
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language

logger = logging.getLogger(__name__)

STYLESHEETS = ("fonts/sarabun/sarabun.css", "css/portal.css", "css/errors.css")

# The last resort, when even templates/500.html cannot be rendered: both languages, no template engine.
FALLBACK = (
    '<!DOCTYPE html><html lang="th"><head><meta charset="utf-8"><title>500</title></head><body>'
    "<h1>เกิดข้อผิดพลาด / Something went wrong (500)</h1>"
    "<p>ระบบไม่สามารถดำเนินการตามคำขอนี้ได้ กรุณาลองใหม่อีกครั้งภายหลัง</p>"
    "<p>The portal could not finish this request. Please try again later.</p>"
    '<p><a href="/">หน้าแรก / Home</a></p></body></html>'
)


def server_error(request):
    """Django's own server_error renders 500.html without context; this one adds what the shell needs, worked out
    here where a failure can be caught: the stylesheets' addresses (the manifest of hashed names may be what is
    broken), the home page's address and the request's language."""
    try:
        stylesheets = [static(path) for path in STYLESHEETS]
    except ValueError:  # ManifestStaticFilesStorage without its manifest (collectstatic not run): plain text then
        stylesheets = []
    try:
        context = {
            "LANGUAGE_CODE": get_language() or settings.LANGUAGE_CODE,
            "stylesheets": stylesheets,
            "home_url": reverse("home"),
        }
        body = loader.get_template("500.html").render(context)
    except Exception:  # an error page must answer whatever failed; the original error is logged already
        logger.exception("the 500 page could not be rendered; sent the plain one")
        body = FALLBACK
    return HttpResponseServerError(body)
