"""Admin pages compressed on the way out (gzip, when the browser accepts it): a list page's
HTML is about 100 kB and a partial update 30-45 kB, about a sixth of that on the wire.

Only the admin's HTML: the API has its own caching and ETags, and a streamed CSV export must
reach the client chunk by chunk. Django masks the CSRF token differently in every response,
which keeps a compressed page from leaking it (BREACH)."""

from django.conf import settings
from django.middleware.gzip import GZipMiddleware


class AdminGZipMiddleware(GZipMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        self.prefix = "/" + settings.ADMIN_URL

    def process_response(self, request, response):
        if (
            not request.path_info.startswith(self.prefix)
            or response.streaming
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        return super().process_response(request, response)
