"""Django behind mod_auth_saml: the user Apache logged in becomes the Django user.

mod_auth_saml does the SAML login in the web server and hands the application the user and
their attributes: as REMOTE_USER and SAML_<name> variables to an app that runs inside httpd
(mod_wsgi), as X-SAML-User and X-SAML-<name> request headers to one behind mod_proxy
(SAMLRequestHeaders On; a client's own X-SAML-* headers are removed first). This file turns them
into Django's user, with Django's own remote-user machinery:

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "saml_remote_user.SamlRemoteUserMiddleware", ...]       # mod_wsgi
               # "saml_remote_user.SamlHeaderMiddleware"                   # proxied
               # "saml_remote_user.PersistentSamlRemoteUserMiddleware"     # see below
    AUTHENTICATION_BACKENDS = ["saml_remote_user.SamlBackend"]
    SAML_USER_FIELDS = {"email": "mail", "first_name": "givenName", "last_name": "sn"}
    SAML_GROUPS_ATTRIBUTE = "groups"      # None: leave group memberships alone

At each login (a request whose user is not the one in the Django session) SamlBackend creates the
user if needed, copies the attributes SAML_USER_FIELDS names into the user's fields and makes the
user's groups exactly the values of SAML_GROUPS_ATTRIBUTE (creating missing groups).

When the SAML session is gone (logout, Single Logout from another site, expiry) the module sends
no user and SamlRemoteUserMiddleware logs the Django session out: protect the whole site with
`AuthType SAML` (`SAMLMode passive` where anonymous visitors are welcome) so every request tells.
PersistentSamlRemoteUserMiddleware is for sites where only some URLs go through the module (as
Django's PersistentRemoteUserMiddleware): the Django session stays on the others, but not past
the module's session cookie, which a logout clears.
"""
from django.conf import settings
from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.middleware import RemoteUserMiddleware
from django.contrib.auth.models import Group


def saml_text(value):
    # WSGI hands variables and headers over as Latin-1 strings; the module sends UTF-8 bytes.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def saml_values(request, name):
    """The values of attribute `name` for this request, [] when it has none. Read only where the
    middleware took the user from: a header the module does not set (SAMLRequestHeaders Off, as
    under mod_wsgi) is the client's own and is never believed."""
    meta = request.META
    if getattr(request, "saml_from_headers", False):  # proxied: values joined with ';'
        header = meta.get("HTTP_X_SAML_" + name.upper().replace("-", "_"))
        return [saml_text(v) for v in header.split(";")] if header is not None else []
    count = meta.get("SAML_%s_COUNT" % name)  # in-process: one variable per value, exact
    if count is None or not count.isdigit():
        return []
    return [saml_text(meta.get("SAML_%s_%d" % (name, i), "")) for i in range(int(count))]


class SamlBackend(RemoteUserBackend):
    def clean_username(self, username):
        # Also what the middleware compares with the session's user at each request.
        return saml_text(username)

    def authenticate(self, request, remote_user):
        user = super().authenticate(request, remote_user)
        if user is not None and request is not None:
            self.update_from_saml(request, user)
        return user

    def update_from_saml(self, request, user):
        for field, attribute in getattr(settings, "SAML_USER_FIELDS", {}).items():
            values = saml_values(request, attribute)
            setattr(user, field, values[0] if values else "")
        user.save()
        groups_attribute = getattr(settings, "SAML_GROUPS_ATTRIBUTE", None)
        if groups_attribute:
            names = [v for v in saml_values(request, groups_attribute) if v]
            user.groups.set([Group.objects.get_or_create(name=n)[0] for n in names])


class SamlRemoteUserMiddleware(RemoteUserMiddleware):
    """REMOTE_USER from mod_auth_saml (mod_wsgi); no REMOTE_USER ends the Django session."""
    header = "REMOTE_USER"


class SamlHeaderMiddleware(SamlRemoteUserMiddleware):
    """X-SAML-User from mod_auth_saml in front of a proxied app (SAMLRequestHeaders On). Only
    behind the module: anyone who can reach the app directly can send this header."""
    header = "HTTP_X_SAML_USER"

    def process_request(self, request):
        request.saml_from_headers = True
        return super().process_request(request)


class PersistentSamlRemoteUserMiddleware(SamlRemoteUserMiddleware):
    """Keeps the Django session on URLs the module does not cover while the browser still holds
    the module's session cookie (SAMLCookieName, default saml_session;
    a logout clears it)."""
    force_logout_if_no_header = False

    def process_request(self, request):
        cookie = getattr(settings, "SAML_SESSION_COOKIE", "saml_session")
        if (self.header not in request.META and request.user.is_authenticated
                and cookie not in request.COOKIES):
            self._remove_invalid_user(request)
        return super().process_request(request)
