"""A Flask app behind mod_auth_saml (conf.d/flask-wsgi.conf): httpd logs the user in; the app
reads REMOTE_USER and the SAML_<name> variables from the WSGI environ that mod_wsgi fills.

    WSGIScriptAlias / /path/to/contrib/flask/app.py      (mod_wsgi takes `application`)

Behind mod_proxy instead (gunicorn ...), read request.headers["X-SAML-User"] and X-SAML-<name>
(SAMLRequestHeaders On; values joined with ';'), as docs/APPS.md shows.
"""
import re

from flask import Flask, jsonify, request
from markupsafe import escape

app = Flask(__name__)
application = app  # mod_wsgi's name for it


def utf8(value):
    # WSGI gives variables and headers as Latin-1 strings; the module sends UTF-8.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def saml_user():
    return utf8(request.environ.get("REMOTE_USER", ""))


def saml_attributes():
    """{attribute: [values]}, each value from its own SAML_<name>_<i> (a value may hold a ';')."""
    env = request.environ
    names = [m.group(1) for m in (re.match(r"SAML_(.+)_COUNT$", k) for k in env) if m]
    return {n: [utf8(env["SAML_%s_%d" % (n, i)]) for i in range(int(env["SAML_%s_COUNT" % n]))] for n in sorted(names)}


@app.route("/")
def index():
    user = saml_user()
    if not user:  # only where the site is public (SAMLMode passive)
        return "<p><a id='login' href='/saml/sso?ReturnTo=/'>Login</a></p>\n"
    rows = "".join("<dt>%s</dt><dd>%s</dd>\n" % (escape(k), escape("; ".join(v))) for k, v in saml_attributes().items())
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Flask app</title></head><body>\n"
            "<p id='user'>Logged in as %s</p>\n<dl>\n%s</dl>\n"
            "<p><a id='logout' href='/saml/logout?ReturnTo=/'>Logout</a></p></body></html>\n" % (escape(user), rows))


@app.route("/me.json")
def me():
    return jsonify(user=saml_user() or None, attributes=saml_attributes())
