"""The address of the client behind the configured number of trusted proxies.

One definition for everything that keys on who asks: API throttles, the login lockout and the
`/metrics` allow-list. `X-Forwarded-For` is read only as far as `NUM_PROXIES` trusted proxies
wrote it: each proxy appends the address it saw, so the entry `NUM_PROXIES` from the right
is the client as the outermost trusted proxy saw it, and everything to its left is whatever
the client chose to send. With `NUM_PROXIES=0` (the default) the header is ignored.
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "NUM_PROXIES", 0)
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    # Fewer hops than trusted proxies: the request did not come through all of them, so the
    # left-most entry is the best anyone can say (it was written by a trusted proxy).
    return hops[-min(proxies, len(hops))]
