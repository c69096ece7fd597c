"""The walkthrough's pages: who is logged in and what the identity provider said about them.

The login itself is not here: /sso/ (or /saml/sso) belongs to mod_auth_saml, which logs the user
in and sends them back; Django learns the user from the request (saml_remote_user.py).
"""
import re
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.utils.html import format_html, format_html_join

from saml_remote_user import saml_text


def saml_attributes(request):
    """What the module sent with this request: {name: value} (values joined with ';')."""
    if settings.MODE == "proxy":
        return {k[len("HTTP_X_SAML_"):]: saml_text(v) for k, v in sorted(request.META.items())
                if k.startswith("HTTP_X_SAML_")}
    meta = request.META

    def per_value(key):  # SAML_x_COUNT and SAML_x_0.. repeat SAML_x
        m = re.match(r"(SAML_.+)_(COUNT|[0-9]+)$", key)
        return m is not None and m.group(1) + "_COUNT" in meta
    return {k[len("SAML_"):]: saml_text(v) for k, v in sorted(meta.items())
            if k.startswith("SAML_") and not per_value(k)}


def user_record(user):
    return {"username": user.get_username(), "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "groups": sorted(g.name for g in user.groups.all())}


def page(title, body):
    return HttpResponse(format_html("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                                    "<title>{}</title></head><body>{}</body></html>\n", title, body))


def index(request):
    here = quote(request.get_full_path(), safe="/")
    if not request.user.is_authenticated:
        return page("Demo app", format_html("<p><a id='login' href='{}?ReturnTo={}'>Login</a></p>",
                                            settings.SAML_LOGIN_URL, here))
    user = user_record(request.user)
    user["groups"] = ", ".join(user["groups"])
    rows = format_html_join("\n", "<dt>{}</dt><dd>{}</dd>", sorted(saml_attributes(request).items()))
    fields = format_html_join("\n", "<dt>{}</dt><dd>{}</dd>", user.items())
    return page("Demo app", format_html(
        "<p id='user'>Logged in as {}</p>\n<h2>Django user</h2><dl id='django'>{}</dl>\n"
        "<h2>SAML attributes</h2><dl id='saml'>{}</dl>\n"
        "<p><a id='logout' href='{}?ReturnTo=/'>Logout</a></p>",
        request.user.get_username(), fields, rows, settings.SAML_LOGOUT_URL))


@login_required(redirect_field_name="ReturnTo")
def private(request):
    return page("Private", format_html("<p id='user'>Private page of {}</p>", request.user.get_username()))


def me(request):
    """The Django side, for scripts and tests: the user as Django sees it, and the attributes."""
    user = user_record(request.user) if request.user.is_authenticated else None
    return JsonResponse({"user": user, "last_login": request.user.last_login.isoformat()
                         if user else None, "saml": saml_attributes(request)})
