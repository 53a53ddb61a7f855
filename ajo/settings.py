"""Settings for ajo, read from the environment (and `.env` when present) with django-environ.

Every variable is listed in `.env.example`. DEBUG is off unless asked for; with DEBUG off the
process refuses to start without a SECRET_KEY.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The tests set AJO_READ_DOTENV=false so that a developer's .env cannot change them.
if env.bool("AJO_READ_DOTENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(DEBUG is off, so no development key is used)."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["*"] if DEBUG else ["localhost", "127.0.0.1", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "axes",
    "ajo",
    "groups",
    "contributions",
    # Dev tools (deploy_contracts, simulate_chain, demo_admin): installed everywhere, see
    # devtools/apps.py for why.
    "devtools",
]

MIDDLEWARE = [
    # First: every later middleware and every log line of the request sees the request id.
    "ajo.middleware.RequestIdMiddleware",
    "ajo.metrics.MetricsMiddleware",
    # API GET/HEAD reads go to DATABASE_REPLICA_URL when set (ajo/routers.py).
    "ajo.routers.ReplicaReadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ajo.middleware.CSPMiddleware",
    # Admin HTML gzipped (ajo/admin/compression.py); before the middlewares that write the body.
    "ajo.admin.compression.AdminGZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admin pages show and read times in the viewer's zone (a cookie the admin's script sets).
    "ajo.admin.viewerzone.ViewerTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last but for the API's (which passes every non-API request straight on), as django-axes
    # asks: it turns a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
    # Right before the views (its process_view answers cache hits and 304s): X-Indexed-Block,
    # ?min_block=, ETags and the response cache of everything under /api/ (ajo/api/cache.py).
    "ajo.api.cache.ApiCacheMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out login never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "ajo.urls"
WSGI_APPLICATION = "ajo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases ---------------------------------------------------------------------------
# SQLite is the embedded default. WAL lets the web server read while sync_chain writes;
# IMMEDIATE transactions plus a busy timeout make writers queue instead of failing.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}


def _tune_database(db: dict) -> dict:
    if db["ENGINE"] == "django.db.backends.sqlite3":
        options = db.setdefault("OPTIONS", {})
        options.setdefault("timeout", 30)
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
    elif db["ENGINE"] in ("django.db.backends.postgresql",):
        db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        db.setdefault("CONN_HEALTH_CHECKS", True)
    return db


_tune_database(DATABASES["default"])
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = _tune_database(env.db("DATABASE_REPLICA_URL"))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["ajo.routers.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "groups.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (WhiteNoise serves them under gunicorn, no CDN) --------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Cache (chain reads, throttling) ------------------------------------------------------
# An empty CACHE_URL (as in .env.example) means the default, like an unset one.
CACHES = {"default": env.cache_url_config(env.str("CACHE_URL", default="") or "locmemcache://ajo")}
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    # Redis down must not fail requests: reads fall back to the database (a cache miss) and the
    # error is logged (DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS below). Short timeouts keep a hung
    # Redis from holding workers.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
    )

# The API's response cache (ajo/api/cache.py): entries are keyed by the index's generation, so
# they are never stale; the time-out only frees memory. Its own alias, so answers never evict
# the throttle counters: the same Redis as CACHE_URL (another key prefix) unless
# API_CACHE_URL names one, else a local-memory cache per process.
_api_cache_url = env.str("API_CACHE_URL", default="")
if _api_cache_url:
    CACHES["api"] = env.cache_url_config(_api_cache_url)
elif CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    CACHES["api"] = {**CACHES["default"], "OPTIONS": dict(CACHES["default"]["OPTIONS"])}
else:
    CACHES["api"] = env.cache_url_config("locmemcache://ajo-api")
    CACHES["api"]["OPTIONS"] = {"MAX_ENTRIES": 5000}
CACHES["api"]["KEY_PREFIX"] = "ajo-api"
if CACHES["api"]["BACKEND"] == "django_redis.cache.RedisCache":
    CACHES["api"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
    )
API_CACHE_SECONDS = env.int("API_CACHE_SECONDS", default=600)
# ?min_block=N waits at most this long for the index to reach block N (then 409), and at most
# this many requests of one process wait at once (the others answer 409 at once): waiting
# threads are threads gunicorn cannot give to other requests.
API_MIN_BLOCK_WAIT_SECONDS = env.float("API_MIN_BLOCK_WAIT_SECONDS", default=5.0)
API_MIN_BLOCK_WAITERS = env.int("API_MIN_BLOCK_WAITERS", default=2)
if not 0 <= API_MIN_BLOCK_WAIT_SECONDS <= 25:
    raise ImproperlyConfigured(
        "API_MIN_BLOCK_WAIT_SECONDS must be from 0 to 25 (gunicorn's timeout is 30 s); "
        f"got {API_MIN_BLOCK_WAIT_SECONDS}"
    )

# --- Chain ---------------------------------------------------------------------------------
CHAIN_RPC_URL = env.str("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
AJO_CONTRACT_ADDRESS = env.str("AJO_CONTRACT_ADDRESS", default="")
AJO_TOKEN_ADDRESS = env.str("AJO_TOKEN_ADDRESS", default="")
AJO_START_BLOCK = env.int("AJO_START_BLOCK", default=0)
SYNC_CONFIRMATIONS = env.int("SYNC_CONFIRMATIONS", default=0)
SYNC_BATCH_BLOCKS = env.int("SYNC_BATCH_BLOCKS", default=2000)
# sync_chain --follow retries a window it cannot apply after this many seconds, doubling up to
# the maximum: a failure that stays neither stops the worker nor hammers the node and database.
SYNC_RETRY_BASE_SECONDS = env.float("SYNC_RETRY_BASE_SECONDS", default=2.0)
SYNC_RETRY_MAX_SECONDS = env.float("SYNC_RETRY_MAX_SECONDS", default=300.0)
if not 0 < SYNC_RETRY_BASE_SECONDS <= SYNC_RETRY_MAX_SECONDS:
    raise ImproperlyConfigured(
        "SYNC_RETRY_BASE_SECONDS must be above 0 and at most SYNC_RETRY_MAX_SECONDS "
        f"(got {SYNC_RETRY_BASE_SECONDS} and {SYNC_RETRY_MAX_SECONDS})"
    )
EXPLORER_URL = env.str("EXPLORER_URL", default="").rstrip("/")

# --- Web -----------------------------------------------------------------------------------
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"
# The admin is the only place people log in: after a login without ?next=, go there.
LOGIN_REDIRECT_URL = "/" + ADMIN_URL
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# A frontend reads how fresh an answer is and revalidates it (ajo/api/cache.py).
CORS_EXPOSE_HEADERS = ["X-Indexed-Block", "ETag", "Retry-After", "X-Request-ID"]
from corsheaders.defaults import default_headers  # noqa: E402

CORS_ALLOW_HEADERS = [*default_headers, "if-none-match"]
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# Security headers; the TLS-dependent ones are settable for deployments behind a TLS proxy.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ---------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# One handler, text or JSON (ajo/logging.py), every line tagged with the request id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ajo.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"()": "ajo.logging.TextFormatter"},
        "json": {"()": "ajo.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT.lower() == "json" else "text",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL.upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # its start-up banner on every command is noise
    },
}

# --- Admin (unfold, axes) ------------------------------------------------------------------
# A filter no index serves (ajo/admin/conditions.py) reads under this limit, in seconds.
ADMIN_FILTER_TIMEOUT = env.float("ADMIN_FILTER_TIMEOUT", default=5.0)
# The read-only SQL console (ajo/admin/console.py): time limit per statement, rows shown, rows
# in a CSV download.
ADMIN_SQL_TIMEOUT = env.float("ADMIN_SQL_TIMEOUT", default=5.0)
ADMIN_SQL_ROW_CAP = env.int("ADMIN_SQL_ROW_CAP", default=500)
ADMIN_SQL_CSV_ROW_CAP = env.int("ADMIN_SQL_CSV_ROW_CAP", default=100_000)
from django.templatetags.static import static  # noqa: E402

UNFOLD = {
    "SITE_TITLE": "ajo",
    "SITE_HEADER": "ajo",
    "SITE_SUBHEADER": "savings circles on chain",
    "SITE_SYMBOL": "savings",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "ajo.admin.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        # Built per request: every table, and under each the saved views of the user's own
        # and of their roles.
        "navigation": "ajo.admin.navigation.sidebar",
    },
    # The admin's own script and styles (static/ajo/): compact result rows, the filter
    # builder, partial page updates, keyboard shortcuts, the viewer's time zone.
    "STYLES": [lambda request: static("ajo/admin.css")],
    "SCRIPTS": [lambda request: static("ajo/admin.js")],
}

# Failed admin logins are counted per client address, over every username: five from one
# address within the hour lock that address out (all usernames) for the rest of the hour.
# - The address is the real client's behind NUM_PROXIES proxies (ajo.client_ip): keyed on the
#   proxy's address, five bad logins from anywhere locked everyone out.
# - Never per username alone: then anyone could lock the operator out from everywhere.
# - A (username, address) pair is not listed: axes has one limit, and an address's count
#   over all usernames is never below any one pair's, so the pair would lock nothing more.
# - A successful login does not wipe the address's count: else anyone with one account
#   (a viewer) could log in between guesses and try other usernames without end.
# An operator unlocks an address early with `manage.py axes_reset_ip ADDRESS`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# ajo/admin/access.py registers axes' tables itself, paged like every growing table.
AXES_ENABLE_ADMIN = False
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "ajo.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = False

# How many proxies in front of gunicorn append X-Forwarded-For: the client address for
# throttles, the login lockout and /metrics comes from there (ajo.client_ip). 0: REMOTE_ADDR.
# METRICS_TRUST_X_FORWARDED_FOR=true, the older switch that trusted one proxy for /metrics
# only, still means NUM_PROXIES=1 when NUM_PROXIES is not set: whoever set it has a proxy.
NUM_PROXIES = env.int(
    "NUM_PROXIES", default=1 if env.bool("METRICS_TRUST_X_FORWARDED_FOR", default=False) else 0
)

# --- Production (metrics, CSP, logging) ----------------------------------------------------
# /metrics: only for METRICS_ALLOWED_IPS (also networks, e.g. 172.16.0.0/12 for compose), the
# client address taken as for everything else (NUM_PROXIES).
# The sync worker's metrics server (sync_chain --metrics-port).
SYNC_METRICS_HOST = env.str("SYNC_METRICS_HOST", default="0.0.0.0")  # noqa: S104
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "ajo.cache"

# Content-Security-Policy (django-csp). Strict for everything; the admin and the API docs get
# only what their bundled scripts need (ajo.middleware.CSPMiddleware adds CSP_PATH_UPDATES).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
CSP_PATH_UPDATES = {
    # django-unfold: Alpine.js evaluates its x-* attributes with Function(); theme colours and
    # widths are inline styles.
    "/" + ADMIN_URL: {"script-src": ["'unsafe-eval'"], "style-src": ["'unsafe-inline'"]},
    # Swagger UI (drf-spectacular-sidecar, served from /static/): inline styles only.
    "/api/docs/": {"style-src": ["'unsafe-inline'"]},
}

# --- API (DRF, OpenAPI, throttling) ----------------------------------------------------------
# Public chain data: no authentication (so no CSRF on the one POST, which is throttled instead).
# JSON only; the browsable API only with DEBUG on.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "ajo.api.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_FILTER_BACKENDS": ["ajo.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "ajo.api.pagination.PagePagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "ajo.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "ajo.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "ingest": env.str("API_INGEST_RATE", default="30/min"),
        # Group reads the database cannot answer, which may read through to the node.
        "chain_read": env.str("API_CHAIN_READ_RATE", default="60/min"),
    },
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",  # ISO 8601, UTC (USE_TZ, TIME_ZONE=UTC)
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ajo API",
    "DESCRIPTION": (
        "Read API over an exact copy of the AjoSavings contract's data. Amounts are uint256 "
        "decimal strings in raw token units; addresses are EIP-55 checksummed in responses and "
        "accepted in any case; times are ISO 8601 UTC. Errors are "
        '`{"error": {"code", "message", "details"?}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ajo.api.schema.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "GroupStatusEnum": "groups.models.Group.Status",
        "GroupSourceEnum": "groups.models.Group.Source",
    },
}
