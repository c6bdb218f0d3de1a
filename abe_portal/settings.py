"""Settings for the ABE Portal.

Every environment differs only in its environment variables (README.md, "Configuration").
The defaults are for development: DEBUG on, a SQLite file, in-process Celery tasks and an
in-memory cache. With DEBUG off, SECRET_KEY and ALLOWED_HOSTS must be given and the
deployment settings below switch on, so that `manage.py check --deploy` passes.
"""

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file beside manage.py is read if present; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_api_key",
    "import_export",
    "allauth",
    "allauth.account",
    "accounts.apps.TwoFactorConfig",  # allauth.mfa, with names in Thai for admin
    # Audit trail (row history by PostgreSQL triggers) and the access log: audit/, README.md. Before
    # the project's apps: `@track()` on their models adds event models to audit.models as it loads.
    "pgtrigger",
    "audit.apps.HistoryConfig",  # pghistory, with names in Thai for admin
    "pghistory.admin",
    "audit",
    # The project's own apps, from the ground layer up (README.md, "Architecture"). core has no models;
    # accounts comes first among the rest: its custom user model is in the very first migration.
    "core",  # the shared library: imports no app
    "accounts",
    "provinces",
    "universities",
    "reports",
    "meetings",
    "targets",
    "cases",  # case follow-up: contacts, plans, referrals to agencies, notifications
    # One child, one record: transfers between provinces, identity merges, probable duplicates.
    "transfers",
    "identity",
    "duplicates",
    "quality",  # data-quality rules over the records (reads targets, cases, duplicates)
    "summaries",
    "analysis",  # de-identified analysis sets for university teams (pandas)
    "exports",  # exports as background jobs: above audit, below the apps that register their kinds
    # The partner API (api/) last: its models refer to the others' (and @track() needs audit loaded).
    "api",
    # The weekly and monthly digests (reads summaries, meetings, reports, quality, cases): beside portal and api.
    "digests",
    "fieldwork",  # the field app (/field/): case workers' home visits offline, an installable web app
    "portal",  # the top layer: home and province pages, plans, reference and demo data loaders
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The request's access-log entries in one INSERT, written before the answer goes out.
    "audit.middleware.AccessLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Writes the session when it changed or SESSION_REFRESH_SECONDS after its last write, not on
    # every request (replaces SESSION_SAVE_EVERY_REQUEST).
    "accounts.middleware.SessionRefreshMiddleware",
    "abe_portal.language.ThaiFirstMiddleware",  # before LocaleMiddleware: ignores Accept-Language
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Attaches the signed-in user and URL to every audit event written during the request.
    "audit.middleware.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # NUL and other control characters in a page's path, query string or form: 400 in the
    # user's language before any view sees them (the API refuses them itself: api.parsers).
    "core.control_characters.RefuseControlCharactersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.SessionLimitMiddleware",
    "accounts.middleware.RequireTwoFactorMiddleware",
    "abe_portal.security.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "abe_portal.urls"
WSGI_APPLICATION = "abe_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.unread.unread_notifications",
            ],
        },
    },
]

# --- Data stores -----------------------------------------------------------------------------
# DATABASE_URL unset: the embedded default, a SQLite file beside manage.py.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# DATABASE_REPLICA_URL: a read replica. Dashboards, lists and exports read from it (core/replica.py);
# writes, sign-in, sessions and everything else use default. Tests treat it as a mirror of default.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        _database["CONN_HEALTH_CHECKS"] = True
        _database.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
        # Behind pgbouncer in transaction mode (README.md, "Running at national scale"): a server-side
        # cursor (QuerySet.iterator()) cannot outlive its transaction there.
        _database["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DISABLE_SERVER_SIDE_CURSORS", default=False)
    elif _database["ENGINE"] == "django.db.backends.sqlite3":
        # The embedded default's background thread writes while pages read and write (targets/upload/background.py):
        # a writer waits up to 20 s for another's turn instead of failing with "database is locked"; IMMEDIATE takes
        # the write lock when a transaction begins (a read that turns into a write cannot be refused half-way); WAL
        # lets pages read while an apply writes.
        _database.setdefault("OPTIONS", {}).update(
            {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS_URL unset: an in-process cache and eager Celery tasks (no broker needed).
REDIS_URL = env.str("REDIS_URL", default="")
# The cache may live in a Redis of its own (no persistence, maxmemory with LRU eviction), apart from the
# broker's queue (appendonly, never evicted): REDIS_CACHE_URL, by default REDIS_URL.
REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default="") or REDIS_URL
if REDIS_CACHE_URL:
    CACHES = {
        "default": {
            # While Redis is away the cache is an empty one that forgets: pages, sign-in and the API
            # keep answering and rate limits fail open (abe_portal/fail_open_cache.py; /healthz says so).
            "BACKEND": "abe_portal.fail_open_cache.FailOpenRedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="abe"),
            "OPTIONS": {
                # Redis answers in a millisecond; a second without an answer means it is away.
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                # After a failure, requests skip Redis for this long before one tries again.
                "OUTAGE_RETRY_SECONDS": env.int("CACHE_OUTAGE_RETRY_SECONDS", default=5),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions live in the database, never in the cache: a Redis outage or restart signs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged only when it finished, and given back if its worker dies, so a killed
# worker's job is redone; tasks are written to be idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits of the upload tasks (targets.tasks), in seconds. The longest real job measured here,
# the check or the apply of a 200,000-row xlsx (the row limit), takes about a minute (README.md,
# "Background jobs"): the soft limit fails the upload with a message, the hard one ends a pool
# process that does not stop.
TARGETS_UPLOAD_SOFT_TIME_LIMIT = env.int("TARGETS_UPLOAD_SOFT_TIME_LIMIT", default=15 * 60)
TARGETS_UPLOAD_TIME_LIMIT = env.int("TARGETS_UPLOAD_TIME_LIMIT", default=17 * 60)
# A task whose worker died unacknowledged goes back to the queue after this many seconds (Redis
# transport). It must exceed the longest task (the hard limit above), or a task still running is
# handed to a second worker. Uploads do not wait for it: their sweeper (below) requeues a job whose
# worker died within minutes. Tests of killed workers set it low.
# Workers look for such tasks every interval × throttle seconds (kombu's defaults: 10 × 10).
# A publish (a page queuing an upload) waits at most socket_timeout per try and retries once, so a
# Redis that is down or frozen costs a request seconds, never a hang; the upload stays queued.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=30 * 60),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    "socket_connect_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=3),
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=3),
}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=3)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Bangkok"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Uploads (targets.upload.services): a job whose tasks started this many times without finishing
# (each killed its worker) fails instead of being tried again; the EEF admins are told.
TARGETS_UPLOAD_MAX_ATTEMPTS = env.int("TARGETS_UPLOAD_MAX_ATTEMPTS", default=3)
# The sweeper runs every TARGETS_UPLOAD_SWEEP_SECONDS. It requeues a job with no live task that a
# task started (its worker died), or that waited in the queue longer than
# TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS (its message was lost, or never sent: the broker was down).
TARGETS_UPLOAD_SWEEP_SECONDS = env.int("TARGETS_UPLOAD_SWEEP_SECONDS", default=120)
TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = env.int("TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS", default=300)
# Case follow-up (cases/): a case with no contact in CASES_CONTACT_EVERY_DAYS days, or past the due date
# of its next contact, is overdue; closing a case as "not found" takes CASES_NOT_FOUND_ATTEMPTS failed
# attempts. The daily job (CASES_DIGEST_HOUR, Bangkok time) flags what became overdue and mails each
# person one digest of what is unread.
CASES_CONTACT_EVERY_DAYS = env.int("CASES_CONTACT_EVERY_DAYS", default=30)
CASES_NOT_FOUND_ATTEMPTS = env.int("CASES_NOT_FOUND_ATTEMPTS", default=3)
# The field app (fieldwork/, README.md "Field app (offline)"): a device that has not downloaded for this many days
# deletes the children it holds when the app starts.
FIELDWORK_DEVICE_DAYS = env.int("FIELDWORK_DEVICE_DAYS", default=7)
# The most changes one POST /field/api/sync/ takes (a device sends its queue in batches of at most this many).
FIELDWORK_SYNC_MAX_CHANGES = env.int("FIELDWORK_SYNC_MAX_CHANGES", default=500)
# Identity merges (identity/): EEF/IPSR may undo a merge for this many days after it (README "Identity merges").
IDENTITY_MERGE_UNDO_DAYS = env.int("IDENTITY_MERGE_UNDO_DAYS", default=30)
# Probable duplicates (duplicates/, README.md "Probable duplicates"): the nightly finder runs at DUPLICATES_HOUR
# (Bangkok time). Two records pair when their birth dates differ in one part at most (the day, the month, or the
# year by at most DUPLICATES_BIRTH_YEARS; or day and month swapped), their full names' pg_trgm similarity is at
# least DUPLICATES_TRIGRAM_MIN, their given names' edit ratio at least DUPLICATES_GIVEN_MIN (family names:
# DUPLICATES_FAMILY_MIN, unless one is blank), and the score at least DUPLICATES_MIN_SCORE.
DUPLICATES_HOUR = env.int("DUPLICATES_HOUR", default=1)
# The night (0 Monday … 6 Sunday) when the nightly run rewrites every record's key, not only the changed ones.
DUPLICATES_FULL_REFRESH_WEEKDAY = env.int("DUPLICATES_FULL_REFRESH_WEEKDAY", default=6)
DUPLICATES_BIRTH_YEARS = env.int("DUPLICATES_BIRTH_YEARS", default=1)
DUPLICATES_TRIGRAM_MIN = env.float("DUPLICATES_TRIGRAM_MIN", default=0.5)
DUPLICATES_GIVEN_MIN = env.float("DUPLICATES_GIVEN_MIN", default=0.8)
DUPLICATES_FAMILY_MIN = env.float("DUPLICATES_FAMILY_MIN", default=0.75)
DUPLICATES_MIN_SCORE = env.float("DUPLICATES_MIN_SCORE", default=0.8)
# The portal's address as people reach it, for the links in mail sent outside a request (the daily digest).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://localhost:8000")
CELERY_BEAT_SCHEDULE = {
    "cases-daily": {
        "task": "cases.tasks.daily",
        "schedule": crontab(hour=env.int("CASES_DIGEST_HOUR", default=7), minute=0),
    },
    # The nightly progress summary (summaries.tasks.scheduled_summary), at SUMMARY_HOUR (Bangkok time).
    "nightly-summary": {
        "task": "summaries.tasks.scheduled_summary",
        "schedule": crontab(hour=env.int("SUMMARY_HOUR", default=2), minute=env.int("SUMMARY_MINUTE", default=0)),
    },
    # Probable duplicates (duplicates.tasks.nightly): keys refreshed, candidates recomputed, at DUPLICATES_HOUR.
    "duplicates-nightly": {
        "task": "duplicates.tasks.nightly",
        "schedule": crontab(hour=DUPLICATES_HOUR, minute=15),
    },
    "upload-sweeper": {
        "task": "targets.tasks.sweep_uploads",
        "schedule": TARGETS_UPLOAD_SWEEP_SECONDS,
        # Sweeps do not pile up in the queue while no worker runs: the next one comes soon.
        "options": {"expires": TARGETS_UPLOAD_SWEEP_SECONDS},
    },
    # Retention (audit.retention): prunes what is past its period, every night at RETENTION_HOUR.
    "retention-nightly": {
        "task": "audit.tasks.prune",
        "schedule": crontab(hour=env.int("RETENTION_HOUR", default=3), minute=30),
    },
    # The digests (digests.tasks): a coordinator's week on Monday, the provinces side by side on the 1st of the
    # month, at DIGESTS_HOUR (Bangkok time). Each is sent once per person and period (digests.models.DigestSent).
    "digests-weekly": {
        "task": "digests.tasks.weekly",
        "schedule": crontab(hour=env.int("DIGESTS_HOUR", default=7), minute=30, day_of_week="mon"),
    },
    "digests-monthly": {
        "task": "digests.tasks.monthly",
        "schedule": crontab(hour=env.int("DIGESTS_HOUR", default=7), minute=45, day_of_month="1"),
    },
    "export-sweeper": {
        "task": "exports.tasks.sweep_exports",
        "schedule": env.int("EXPORTS_SWEEP_SECONDS", default=120),
        "options": {"expires": env.int("EXPORTS_SWEEP_SECONDS", default=120)},
    },
}
# Retention periods in days (README.md, "Retention"). Access-log rows are archived to default_storage
# and then deleted (never under 90 days: audit.models.ACCESS_LOG_MIN_DAYS); idempotency keys of the
# API outlive any client retry; the files of applied, cancelled and failed uploads go, their rows stay.
RETENTION_ACCESS_LOG_DAYS = env.int("RETENTION_ACCESS_LOG_DAYS", default=730)
# The access log's archives (gzip CSV in the file storage) are deleted this many days after they were written;
# 0 keeps them until EEF deletes them (audit.retention.prune_access_log_archives).
RETENTION_ACCESS_LOG_ARCHIVE_DAYS = env.int("RETENTION_ACCESS_LOG_ARCHIVE_DAYS", default=0)
RETENTION_IDEMPOTENCY_DAYS = env.int("RETENTION_IDEMPOTENCY_DAYS", default=30)
RETENTION_UPLOAD_FILE_DAYS = env.int("RETENTION_UPLOAD_FILE_DAYS", default=90)
# An upload received or checked and left unapplied this long is cancelled (targets.upload.retention).
TARGETS_UPLOAD_ABANDON_DAYS = env.int("TARGETS_UPLOAD_ABANDON_DAYS", default=30)
# Exports as background jobs (exports/, README.md "Exports"): a finished export's file is kept this many hours,
# then its download answers 410 and exports.services.prune_expired deletes it. A records export of at most
# EXPORTS_RECORDS_INLINE_ROWS rows streams at once; anything larger, and every PDF or workbook, is a job.
EXPORTS_KEEP_HOURS = env.int("EXPORTS_KEEP_HOURS", default=24)
EXPORTS_RECORDS_INLINE_ROWS = env.int("EXPORTS_RECORDS_INLINE_ROWS", default=5000)
EXPORTS_MAX_ATTEMPTS = env.int("EXPORTS_MAX_ATTEMPTS", default=3)
EXPORTS_REQUEUE_AFTER_SECONDS = env.int("EXPORTS_REQUEUE_AFTER_SECONDS", default=300)
EXPORTS_SOFT_TIME_LIMIT = env.int("EXPORTS_SOFT_TIME_LIMIT", default=15 * 60)
EXPORTS_TIME_LIMIT = env.int("EXPORTS_TIME_LIMIT", default=17 * 60)
# Analysis sets (analysis/, README.md "Analysis sets (de-identified)"): the smallest group of sex × age band ×
# area × category a set publishes; smaller groups are generalised (sub-district → district → province) or withheld.
ANALYSIS_K = env.int("ANALYSIS_K", default=5)
# A set still received or building this many hours after it was asked for ends failed (the nightly retention).
ANALYSIS_GIVE_UP_HOURS = env.int("ANALYSIS_GIVE_UP_HOURS", default=6)
# After an upload, a summary run starts this many seconds later; uploads meanwhile join it.
SUMMARY_DEBOUNCE_SECONDS = env.int("SUMMARY_DEBOUNCE_SECONDS", default=60)

# --- Accounts and login ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
# After signing out: the sign-in page, marked so that it clears the field app's device store
# (accounts.adapter.AccountAdapter.get_logout_redirect_url).

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
# A password-reset request for an unknown address sends nothing (no account enumeration, no spam).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# The reset form enqueues the mail for every address and the task looks it up, so the request takes
# the same time for an address with an account and one without (accounts/password_reset.py).
ACCOUNT_FORMS = {"reset_password": "accounts.password_reset.PasswordResetForm"}
# Failed sign-ins: the 6th wrong password for an address within 5 minutes is refused (and 10 a
# minute per IP). /admin/login/ is wrapped by allauth (abe_portal/urls.py), so the same limit holds.
# The IP is the client's behind our proxy (TRUSTED_PROXY_COUNT below); while the cache is down the
# limits are not enforced (abe_portal/fail_open_cache.py).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "ABE Portal"
# TOTP is required for EEF admins and anyone with Django admin access (accounts/middleware.py);
# relaxed by default only while DEBUG is on.
ABE_REQUIRE_MFA = env.bool("REQUIRE_MFA", default=not DEBUG)

# Sessions end after 30 minutes without a request, and 12 hours after sign-in at the latest.
# The session row is written when it changes or once its last write is SESSION_REFRESH_SECONDS old
# (accounts.middleware.SessionRefreshMiddleware), not on every page view: a session idle for
# SESSION_COOKIE_AGE minus at most that interval (29 to 30 minutes) has ended.
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = env.int("SESSION_REFRESH_SECONDS", default=60)
SESSION_ABSOLUTE_AGE = 12 * 60 * 60

# --- Email: console by default, SMTP from EMAIL_URL (e.g. smtp+tls://user:pass@host:587) -------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ABE Portal <no-reply@abe-portal.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Language, time ----------------------------------------------------------------------------
LANGUAGE_CODE = "th"
LANGUAGES = [("th", _("Thai")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Bangkok"
USE_I18N = True
USE_TZ = True

# --- Static files: served by the project itself (whitenoise), never from a CDN ----------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},  # or the object store, below
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

# --- Files: uploads, attachments, exports (README.md, "Files") ----------------------------------
# Local disk (MEDIA_ROOT) by default; an S3-compatible object store with STORAGE_BACKEND=s3, the default
# once AWS_STORAGE_BUCKET_NAME is set, so that every web and worker machine sees every file. Code reads
# files only through the storage API (core/stored_files.py), never by a path.
STORAGE_BACKEND = env.str(
    "STORAGE_BACKEND", default="s3" if env.str("AWS_STORAGE_BUCKET_NAME", default="") else "local"
)
if STORAGE_BACKEND == "s3":
    # Unset variables are left to boto3's own chain (its environment variables, ~/.aws, an instance role).
    _s3_options = {
        option: value
        for option, value in {
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=""),  # MinIO, Ceph, Wasabi...; unset: AWS
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=""),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=""),
            "region_name": env.str("AWS_S3_REGION_NAME", default=""),
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default=""),  # path, virtual or auto
        }.items()
        if value
    }
    STORAGES["default"] = {
        "BACKEND": "core.object_storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "location": env.str("AWS_LOCATION", default=""),  # a folder of the bucket, if it is shared
            "default_acl": env.str("AWS_DEFAULT_ACL", default="private") or None,
            **_s3_options,
        },
    }
    # Django admin's imports keep the file between the preview and the confirmation, which another machine
    # may answer: in the bucket (django-import-export/ of default_storage), not in this machine's /tmp.
    IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
elif STORAGE_BACKEND != "local":
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be local or s3, not {STORAGE_BACKEND!r}.")

# --- Security ----------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
# Everything is served by the portal itself; inline style attributes are allowed for Django admin's.
ABE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Cookies only over HTTPS. SECURE_COOKIES=0 is for a plain-HTTP trial on localhost (docker-compose.yml).
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
# Behind a TLS-terminating proxy (nginx, a load balancer), set USE_X_FORWARDED_PROTO=1: the proxy's
# X-Forwarded-Proto is trusted.
USE_X_FORWARDED_PROTO = env.bool("USE_X_FORWARDED_PROTO", default=False)
if USE_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies of ours append the address they saw to X-Forwarded-For: the entry that many from
# the end is the client (core.client_ip, for login limits, API limits and the access log);
# 0 ignores the header. One proxy by default behind USE_X_FORWARDED_PROTO, as README has always said.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if USE_X_FORWARDED_PROTO else 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
# allauth's own reading of the header agrees (accounts.adapter asks core.client_ip anyway).
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# --- Target-group uploads (targets/upload/) -----------------------------------------------------
TARGETS_UPLOAD_MAX_BYTES = env.int("TARGETS_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
TARGETS_UPLOAD_MAX_ROWS = env.int("TARGETS_UPLOAD_MAX_ROWS", default=200_000)
# Columns a sheet may reach (50 = column AX). The template has 17, the rejected-rows file adds 2, and
# provinces keep a few of their own; calamine's grid costs rows x columns x 32 bytes, so at 200,100
# rows 50 columns is 305 MiB (322 MiB measured with the rest), which the reader's memory cap below
# still admits.
TARGETS_UPLOAD_MAX_COLUMNS = env.int("TARGETS_UPLOAD_MAX_COLUMNS", default=50)
# An xlsx is a zip: refuse one whose parts unpack to more than this. Measured: 200,000 rows of
# bench/upload.py's realistic records (18 columns), written by openpyxl, unpack to 342,020,117 bytes
# (openpyxl writes each Thai letter as "&#3626;": the most verbose encoding real files use; Excel's
# shared strings are far smaller). 400 MiB is that plus 23 %.
TARGETS_UPLOAD_MAX_UNCOMPRESSED_BYTES = env.int("TARGETS_UPLOAD_MAX_UNCOMPRESSED_BYTES", default=400 * 1024 * 1024)
# Spreadsheets are parsed in child processes (targets/upload/reading.py) capped at this address
# space (RLIMIT_AS), so a parser that asks for more dies alone and the upload is refused; resident
# memory is always less, so every reader stays under 500 MiB. Measured: calamine reading 200,000
# such rows peaks at 414 MiB of address space (389 MiB resident): 480 MiB leaves them 16 %.
TARGETS_UPLOAD_READER_MEMORY_BYTES = env.int("TARGETS_UPLOAD_READER_MEMORY_BYTES", default=480 * 1024 * 1024)
# CPU seconds a reader child may use (RLIMIT_CPU): each child takes about 10 for 200,000 rows here.
TARGETS_UPLOAD_READER_CPU_SECONDS = env.int("TARGETS_UPLOAD_READER_CPU_SECONDS", default=300)
# Files up to this size are checked within the request, and applied there too when no other upload of their
# province is being applied (else queued); larger ones by a Celery task. Without Redis every apply, and a larger
# file's check, runs on a background thread of the web process (targets/upload/background.py); the test suite
# turns that thread off (conftest.py) to run them in the test's own transaction.
TARGETS_UPLOAD_INLINE_BYTES = env.int("TARGETS_UPLOAD_INLINE_BYTES", default=256 * 1024)
TARGETS_UPLOAD_BACKGROUND_THREAD = True
# Probing for national IDs (targets/id_probes.py): how many identifiers recorded in provinces they
# cannot see one user or API key may be told about in a day; beyond it, refused and flagged to EEF/IPSR.
TARGETS_ID_PROBE_DAILY_LIMIT = env.int("TARGETS_ID_PROBE_DAILY_LIMIT", default=20)
# Attachments of meetings and of support activities, the one limit (core/attachments.py).
ABE_MAX_ATTACHMENT_BYTES = env.int("ABE_MAX_ATTACHMENT_BYTES", default=20 * 1024 * 1024)

# --- REST framework: the partner API (api/, docs/api.md) -----------------------------------------
# Partner systems send `Authorization: Api-Key <key>` (api.authentication); browsers use their session.
# The key's class comes first, so that a request without credentials gets 401 with WWW-Authenticate.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.PartnerKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ResourcePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.PartnerKeyRateThrottle", "api.throttling.PortalUserRateThrottle"],
    # Requests per key and per signed-in user; over the rate: 429 with Retry-After. failed_key: unusable
    # API keys per client address (api.authentication), after which that address gets 429 too.
    "DEFAULT_THROTTLE_RATES": {
        "partner_key": env.str("API_KEY_THROTTLE_RATE", default="1200/minute"),
        "portal_user": env.str("API_USER_THROTTLE_RATE", default="600/minute"),
        "failed_key": env.str("API_AUTH_FAILURE_RATE", default="10/minute"),
    },
    # DRF's reading of X-Forwarded-For agrees with core.client_ip (which the throttles use).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON and multipart parsers, refusing NUL and other control characters anywhere in the body
    # with 400 (core.control_characters).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser", "api.parsers.MultiPartParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# The OpenAPI schema (/api/schema/) and its documentation page (/api/docs/), served by the portal
# itself (drf-spectacular-sidecar: no CDN). Both are public: they hold no data.
SPECTACULAR_SETTINGS = {
    "TITLE": "ABE Portal API",
    "DESCRIPTION": "API สำหรับระบบของหน่วยงานภาคี: ข้อมูลจังหวัด งานของคณะทำงานและมหาวิทยาลัย ข้อมูลกลุ่มเป้าหมาย "
    "และสรุปความก้าวหน้า (Partner API of the ABE Portal; guide: docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "persistAuthorization": False},
    "ENUM_NAME_OVERRIDES": {
        "CapacityRequestStatusEnum": "universities.models.CapacityRequest.Status",
        "ReportStatusEnum": "reports.models.Status",
        "MeetingStatusEnum": "meetings.models.Meeting.Status",
        "ActionItemStatusEnum": "meetings.models.ActionItem.Status",
        "UploadStatusEnum": "targets.models.UploadBatch.Status",
        "ContactKindEnum": "cases.models.ContactKind",
        "CloseReasonEnum": "cases.models.CloseReason",
        "ReferralStateEnum": "cases.models.ReferralState",
    },
}
# The changes feed of records (api.views.records.feed_horizon) stops this many seconds short of now,
# and short of the oldest running write transaction unless it is older than the maximum lag.
API_FEED_SETTLE_SECONDS = env.int("API_FEED_SETTLE_SECONDS", default=2)
API_FEED_MAX_LAG_SECONDS = env.int("API_FEED_MAX_LAG_SECONDS", default=900)
# A PATCH of a record names the version it was made from (If-Match, or "version"): without it, 428.
# Off (0) only while a partner's client is being updated: such writes are applied blind, and logged.
API_REQUIRE_IF_MATCH = env.bool("API_REQUIRE_IF_MATCH", default=True)

# --- Logging: to stderr; never personal data (see README, "Personal data") ---------------------
# Every record goes through one handler whose filter masks national IDs and G-codes; Django's own
# loggers (including runserver's request lines) are routed to it instead of Django's defaults.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_ids": {"()": "audit.redaction.RedactIdsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_ids"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# Celery workers keep this configuration instead of installing their own (unfiltered) handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Audit trail and access log (audit/) ---------------------------------------------------------
# README.md, "Audit trail and access log". Row history is kept by PostgreSQL triggers; on SQLite
# (the embedded default) nothing is recorded.
# Event tables refuse UPDATE and DELETE: a pgtrigger.Protect trigger on each.
PGHISTORY_APPEND_ONLY = True
# Event tables copy the tracked rows' foreign keys as plain columns: no constraint (the referenced
# row may be deleted later) and no index (events are looked up by object, pgh_obj_id, which keeps
# its index). Each index here would be maintained for every row a bulk upload writes.
import pghistory  # noqa: E402

PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
# Reinstall pghistory's context function after every migrate, so a test run with --no-migrations
# still records who made each change (a no-op on SQLite).
PGHISTORY_INSTALL_CONTEXT_FUNC_ON_MIGRATE = True
# The admin's "Events" page (before/after of every change) with the user and URL of each change;
# audit.admin.EventsAdmin makes it list nothing on SQLite, where its SQL cannot run.
PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"
PGHISTORY_ADMIN_CLASS = "audit.admin.EventsAdmin"
# National IDs and G-codes are masked in logs (LOGGING above) and in error reports (the DEBUG
# page, and the mail to ADMINS when that is set).
DEFAULT_EXCEPTION_REPORTER_FILTER = "audit.redaction.IdRedactingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "audit.redaction.IdRedactingExceptionReporter"
