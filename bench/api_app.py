"""The app the API benchmark's gunicorn serves: ajo, plus a minimal Django JSON view as the
baseline. It is routed only by this module's URLconf, never by ajo.urls, so it cannot ship
as a public endpoint. Imported by gunicorn in each worker; it sets Django up on import, like
ajo.wsgi, so gunicorn.conf.py warms it the same way before the worker takes requests.
"""

import os

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import include, path

from bench.api import BASELINE_PATH

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajo.settings")
django.setup()
settings.ROOT_URLCONF = "bench.api_app"


def baseline(request):
    return JsonResponse({"status": "ok", "n": 1})


urlpatterns = [path(BASELINE_PATH.strip("/") + "/", baseline), path("", include("ajo.urls"))]

application = get_wsgi_application()
