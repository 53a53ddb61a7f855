"""Admin pages in the viewer's time zone: the admin's script stores the browser's zone (an IANA
name) in a cookie, and admin requests render and read times in it. Without the cookie (the
very first page, a client without scripts) times stay in UTC, and the page says which zone it
shows."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone

COOKIE = "ajo_tz"


def viewer_zone(name: str | None):
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = "/" + settings.ADMIN_URL

    def __call__(self, request):
        zone = None
        if request.path_info.startswith(self.prefix):
            zone = viewer_zone(request.COOKIES.get(COOKIE))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
