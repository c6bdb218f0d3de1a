"""Thai first: the portal's language is Thai unless the user picked English.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a Thai coordinator on a
computer set up in English would get English pages. Only the language cookie (set by the switch
in the top bar, /i18n/setlang/) decides; without it, LANGUAGE_CODE (Thai) applies.
"""


class ThaiFirstMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
