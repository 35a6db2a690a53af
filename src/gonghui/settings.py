"""Settings for Gonghui, read from the environment with typed helpers and safe defaults.

With no environment at all, the project runs on SQLite in ``var/`` so that
``migrate && runserver`` works at once; production sets ``DATABASE_URL`` to PostgreSQL.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def database_from_url(url: str) -> dict[str, object]:
    """Turn ``sqlite:///path`` or ``postgres://user:pw@host:port/name`` into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parsed.path[1:]) if parsed.path.startswith("//") else parsed.path,
            # WAL lets readers go on while one request writes: the page benchmark runs
            # ten clients against one file.
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=10000; PRAGMA cache_size=-64000;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
            # One connection per worker: a new one per request re-opens the file, re-runs
            # the PRAGMAs and starts with a cold page cache (3–5 ms of every page).
            "CONN_MAX_AGE": 600,
            # Tests use a real file, not shared-cache memory: concurrency then behaves as in
            # production (WAL, busy timeout) instead of failing with "table is locked".
            # One file per test process, so two test runs side by side never collide.
            "TEST": {
                "NAME": os.environ.get(
                    "SQLITE_TEST_NAME", str(DATA_DIR / f"test-{os.getpid()}.sqlite3")
                )
            },
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        return {
            # Django's backend, binding parameters on the server (gonghui/postgresql/base.py).
            "ENGINE": "gonghui.postgresql",
            "NAME": parsed.path.lstrip("/"),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            # JIT compilation cost more than it saved on the work-queue queries (461 ms of
            # a 709 ms query in the page benchmark); these are short OLTP queries.
            # Statements marked stable (a row by key, a file's children: gonghui/plans.py)
            # are prepared and PostgreSQL may keep one plan for them (plan_cache_mode's
            # default); every other statement is planned for its values, since a generic
            # plan does not know how many files a union's subtree holds (a county's queue
            # page: 5 -> 13 ms).
            "OPTIONS": {
                "options": "-c jit=off",
                "server_side_binding": True,
                # 0 turns preparing off: behind a pooler in transaction mode (PgBouncer
                # before 1.21) a prepared statement may meet another server connection.
                "prepare_threshold": env_int("GONGHUI_PG_PREPARE_THRESHOLD", 1) or None,
            },
        }
    raise ValueError(f"Unsupported DATABASE_URL scheme: {parsed.scheme}")


DATA_DIR = Path(env_str("GONGHUI_DATA_DIR", str(PROJECT_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'gonghui.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "gonghui.audit",
    "gonghui.organisations",
    "gonghui.accounts",
    "gonghui.people",
    "gonghui.hardship",
    "gonghui.assistance",
    "gonghui.discovery",
    "gonghui.supervision",
    "gonghui.web",
    "gonghui.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gonghui.audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "gonghui.web.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "gonghui.urls"
WSGI_APPLICATION = "gonghui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    }
]

# Selects, inputs and text areas written in Python, the same HTML as Django's templates.
FORM_RENDERER = "gonghui.web.formrender.QuickRenderer"

AUTH_USER_MODEL = "accounts.User"
# The session's user comes with its organisation: one query, not two, on every page.
AUTHENTICATION_BACKENDS = ["gonghui.accounts.backends.OrganisationBackend"]
# Database sessions, loaded without compiling the query on every request.
SESSION_ENGINE = "gonghui.accounts.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# The demo creates hundreds of users; a slow hash would make `make run` take minutes.
if env_bool("GONGHUI_FAST_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"
# Photos from a home visit; larger uploads are refused with a message.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gonghui.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gonghui API",
    "DESCRIPTION": "Hardship files, people and organisations of a union federation.",
    "VERSION": "0.1.0",
    # AidKind is used by several serializers: one enum in the schema, not one per field.
    "ENUM_NAME_OVERRIDES": {"AidKindEnum": "gonghui.assistance.choices.AidKind"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# Page size of list pages and the work queue.
GONGHUI_PAGE_SIZE = env_int("GONGHUI_PAGE_SIZE", 50)

# Bulk work (roster imports, screening) runs in DuckDB on files beside the database. With
# 2 GB a 5,000,000-row import spills to disk and takes 36 s instead of about 10 s.
GONGHUI_DISCOVERY_DIR = Path(env_str("GONGHUI_DISCOVERY_DIR", str(DATA_DIR / "discovery")))
GONGHUI_DUCKDB_MEMORY = env_str("GONGHUI_DUCKDB_MEMORY", "4GB")
# Rows loaded into the Django database per transaction: an interrupted import resumes
# after the last chunk it committed.
GONGHUI_ROSTER_CHUNK = env_int("GONGHUI_ROSTER_CHUNK", 100_000)
# Imports started from a page run as a detached `gonghui` process (discovery/jobs.py), so a
# web worker's restart does not kill them; tests run them in the request instead.
GONGHUI_JOBS_INLINE = env_bool("GONGHUI_JOBS_INLINE", False)

# Indicator pages read stored values (supervision/store.py); values computed longer ago than
# this many seconds are still shown, marked stale, with a "recompute now" button.
GONGHUI_INDICATOR_MAX_AGE = env_int("GONGHUI_INDICATOR_MAX_AGE", 24 * 3600)

# Screening rules run on DuckDB in process, or on a Spark cluster for a national deployment
# (docs/discovery.md): the master URL, where the cluster reads the same Parquet files, and
# extra Spark configuration.
GONGHUI_SCREENING_ENGINE = env_str("GONGHUI_SCREENING_ENGINE", "duckdb")
GONGHUI_SPARK_MASTER = env_str("GONGHUI_SPARK_MASTER", "")
GONGHUI_SPARK_DATA_URL = env_str("GONGHUI_SPARK_DATA_URL", "")
GONGHUI_SPARK_CONF: dict[str, str] = {}
