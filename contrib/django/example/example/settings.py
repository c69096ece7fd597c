"""The walkthrough's site, with the login done by mod_auth_saml in front of it.

Environment (read once, at start):
  SAML_DJANGO_MODE   wsgi (default: REMOTE_USER and SAML_* from mod_wsgi), proxy (X-SAML-* headers
                     from httpd's mod_proxy; never expose the app's port to anyone but httpd), or
                     persistent (mod_wsgi, the Django session also lives on URLs httpd does not cover)
  SAML_ENDPOINTS     where the module answers: "/" (SAMLEndpointPath /: /sso/, /logout/, the
                     walkthrough's URLs; the default) or a path such as /saml (/saml/sso ...)
  DJANGO_ALLOWED_HOSTS  space-separated host names (default: localhost 127.0.0.1)
  DJANGO_SECRET_KEY  else a key kept in .secret_key next to manage.py, made at first start
  SAML_EXAMPLE_DB    the SQLite file (default: db.sqlite3 next to manage.py)
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _secret_key():
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost 127.0.0.1").split()

INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]

MODE = os.environ.get("SAML_DJANGO_MODE", "wsgi")
SAML_MIDDLEWARE = {
    "wsgi": "saml_remote_user.SamlRemoteUserMiddleware",
    "proxy": "saml_remote_user.SamlHeaderMiddleware",
    "persistent": "saml_remote_user.PersistentSamlRemoteUserMiddleware",
}[MODE]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    SAML_MIDDLEWARE,
]
AUTHENTICATION_BACKENDS = ["saml_remote_user.SamlBackend"]
# Django user field -> SAML attribute (as the module exports it: SAML_<name>, X-SAML-<name>).
SAML_USER_FIELDS = {"email": "mail", "first_name": "givenName", "last_name": "sn"}
SAML_GROUPS_ATTRIBUTE = "groups"

_endpoints = os.environ.get("SAML_ENDPOINTS", "/").rstrip("/")
SAML_LOGIN_URL = _endpoints + ("/sso/" if not _endpoints else "/sso")
SAML_LOGOUT_URL = _endpoints + ("/logout/" if not _endpoints else "/logout")
LOGIN_URL = SAML_LOGIN_URL

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("SAML_EXAMPLE_DB", str(BASE_DIR / "db.sqlite3"))}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# The site is https (httpd terminates TLS): the session cookie never goes out in clear.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
USE_TZ = True
TEMPLATES = []
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["console"], "level": "WARNING"}}
