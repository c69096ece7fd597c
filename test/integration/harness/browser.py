"""A browser-like HTTP client on urllib for driving SAML logins.

What it does like a browser:
  - keeps cookies (http.cookiejar): Secure cookies are sent over https only; Path and Domain
    are honoured; cookies are NOT port-specific (127.0.0.1:A and 127.0.0.1:B share them, as in
    browsers).
  - follows redirects itself (301/302/303 -> GET without a body, 307/308 -> same method and body)
    and records every hop in Response.history / Browser.history as (method, url, status).
  - parses HTML forms and submits them (hidden inputs kept, fields given by the test added or
    replaced), and submits the auto-POST pages of SAML's HTTP-POST binding (no JavaScript).

What it does NOT do (tests must not rely on it):
  - SameSite is not enforced: a SameSite=Lax/Strict cookie is still sent on a cross-site POST.
    Check the Set-Cookie header itself (Response.set_cookies()) when SameSite matters.
  - no JavaScript, no caching, no HSTS, no localhost-is-secure rule (Secure cookies over plain
    http://localhost are kept by the jar but never sent back).
  - environment proxies (http_proxy, https_proxy ...) are ignored: loopback traffic goes direct.
"""
import http.cookiejar
import ssl
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

REDIRECTS = (301, 302, 303, 307, 308)
SAML_FIELDS = ("SAMLResponse", "SAMLRequest", "SAMLart")


class BrowserError(RuntimeError):
    pass


# --- forms -----------------------------------------------------------------------------------

class Form:
    """An HTML form: action (absolute URL), method (GET/POST), enctype and its controls."""

    def __init__(self, page_url, attrs):
        self.page_url = page_url
        self.attrs = attrs
        self.id = attrs.get("id")
        self.name = attrs.get("name")
        self.action = _resolve(page_url, attrs.get("action") or "")
        self.method = (attrs.get("method") or "get").upper()
        self.enctype = attrs.get("enctype") or "application/x-www-form-urlencoded"
        self.controls = []  # dicts: tag, type, name, value, checked, disabled

    def field_names(self):
        return [c["name"] for c in self.controls if c.get("name")]

    def has_field(self, name):
        return name in self.field_names()

    def hidden(self):
        return {c["name"]: c["value"] for c in self.controls if c["type"] == "hidden" and c.get("name")}

    def values(self, fields=None, submit=None):
        """The (name, value) pairs this form sends, as a browser would, with `fields` added or
        replacing same-named controls. `submit`: name of the submit button pressed, if any."""
        pairs = []
        for c in self.controls:
            name = c.get("name")
            if not name or c.get("disabled"):
                continue
            t = c["type"]
            if t in ("submit", "image", "button", "reset"):
                if submit is not None and name == submit:
                    pairs.append((name, c["value"]))
                continue
            if t in ("checkbox", "radio") and not c.get("checked"):
                continue
            if t == "file":
                continue
            pairs.append((name, c["value"]))
        for name, value in (fields or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            pairs = [p for p in pairs if p[0] != name] + [(name, v) for v in values]
        return pairs

    def __repr__(self):
        return "<Form %s %s fields=%s>" % (self.method, self.action, self.field_names())


class _FormParser(HTMLParser):
    def __init__(self, page_url):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms = []
        self._form = None
        self._select = None
        self._textarea = None
        self._option = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(self.page_url, a)
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "input":
            t = (a.get("type") or "text").lower()
            value = a.get("value", "on" if t in ("checkbox", "radio") else "")
            self._form.controls.append({"tag": tag, "type": t, "name": a.get("name"), "value": value,
                                        "checked": "checked" in a, "disabled": "disabled" in a})
        elif tag == "button":
            t = (a.get("type") or "submit").lower()
            self._form.controls.append({"tag": tag, "type": t, "name": a.get("name"),
                                        "value": a.get("value", ""), "disabled": "disabled" in a})
        elif tag == "select":
            self._select = {"tag": tag, "type": "select", "name": a.get("name"), "value": None,
                            "disabled": "disabled" in a, "first": None}
            self._form.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
        elif tag == "textarea":
            self._textarea = {"tag": tag, "type": "textarea", "name": a.get("name"), "value": "",
                              "disabled": "disabled" in a}
            self._form.controls.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data
        if self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "option" and self._option is not None:
            self._close_option()
        elif tag == "select" and self._select is not None:
            if self._option is not None:
                self._close_option()
            if self._select["value"] is None:
                self._select["value"] = self._select["first"] or ""
            self._select = None

    def _close_option(self):
        o, s = self._option, self._select
        value = o["value"] if o["value"] is not None else o["text"].strip()
        if s["first"] is None:
            s["first"] = value
        if o["selected"]:
            s["value"] = value
        self._option = None


def _resolve(base, ref):
    """A URL reference resolved as browsers do. Unlike urljoin, "?" and "?x" replace the base's
    query (urljoin keeps it for "?"); an empty reference is the page itself without its fragment."""
    ref = ref.strip()
    if not ref:
        return urllib.parse.urldefrag(base)[0]
    if ref.startswith("?"):
        parts = urllib.parse.urlsplit(base)
        return urllib.parse.urlunsplit(parts._replace(query="", fragment="")) + ref
    return urllib.parse.urljoin(base, ref)


def parse_forms(html, page_url):
    p = _FormParser(page_url)
    p.feed(html)
    p.close()
    return p.forms


# --- responses -------------------------------------------------------------------------------

def _origin(url):
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme.lower(), (parts.netloc or "").lower())


class Response:
    """One HTTP response. history: the (method, url, status) hops that led here, this one last."""

    def __init__(self, method, url, status, reason, headers, body, history):
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get(), get_all()
        self.body = body
        self.history = history

    @property
    def text(self):
        charset = self.headers.get_content_charset() or "utf-8"
        return self.body.decode(charset, "replace")

    @property
    def location(self):
        loc = self.headers.get("Location")
        return _resolve(self.url, loc) if loc else None

    def set_cookies(self):
        """The raw Set-Cookie header values of this response (to check SameSite, Secure ...)."""
        return self.headers.get_all("Set-Cookie") or []

    def forms(self):
        ctype = self.headers.get_content_type()
        if ctype not in ("text/html", "application/xhtml+xml"):
            return []
        return parse_forms(self.text, self.url)

    def form(self, with_field=None, index=None):
        """The first form that has a control named `with_field` (or the form at `index`)."""
        forms = self.forms()
        if index is not None:
            return forms[index]
        for f in forms:
            if with_field is None or f.has_field(with_field):
                return f
        raise BrowserError("no form%s on %s (status %d); forms: %r"
                           % (" with field %r" % with_field if with_field else "", self.url,
                              self.status, forms))

    def saml_post_form(self):
        """The auto-submit form of the SAML HTTP-POST binding on this page, or None."""
        for f in self.forms():
            if any(f.has_field(n) for n in SAML_FIELDS):
                return f
        return None

    def __repr__(self):
        return "<Response %d %s %s>" % (self.status, self.method, self.url)


class _KeepErrors(urllib.request.HTTPErrorProcessor):
    """Hands back 3xx/4xx/5xx responses instead of raising or following them."""

    def http_response(self, request, response):
        return response

    https_response = http_response


# --- the browser -----------------------------------------------------------------------------

class Browser:
    """A cookie-keeping HTTP client that follows redirects and submits forms itself.

    ca_file: PEM file of CAs to trust for https; verify=False disables certificate and host
    checks (loopback self-signed servers). timeout: seconds per request.
    """

    def __init__(self, ca_file=None, verify=True, timeout=30, user_agent="mod_auth_saml-tests/1"):
        self.cookies = http.cookiejar.CookieJar()
        if ca_file:
            ctx = ssl.create_default_context(cafile=ca_file)
        else:
            ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.timeout = timeout
        self.user_agent = user_agent
        self.default_headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                                "Accept-Language": "en"}
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # never the environment's proxies
            urllib.request.HTTPCookieProcessor(self.cookies),
            urllib.request.HTTPSHandler(context=ctx),
            _KeepErrors())
        self.history = []  # every hop this browser made: (method, url, status)

    # -- single requests ----------------------------------------------------------------------

    def fetch(self, method, url, data=None, headers=None):
        """One request, no redirect following. data: bytes, or a dict/list of pairs to urlencode."""
        body = None
        hdrs = {"User-Agent": self.user_agent}
        hdrs.update(self.default_headers)
        if data is not None:
            if isinstance(data, (dict, list, tuple)):
                body = urllib.parse.urlencode(data, doseq=isinstance(data, dict)).encode("ascii")
                hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = data
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}  # None: do not send this header
        req = urllib.request.Request(url, data=body, headers=hdrs, method=method)
        try:
            raw = self._opener.open(req, timeout=self.timeout)
        except urllib.error.URLError as e:
            raise BrowserError("%s %s: %s" % (method, url, e.reason)) from e
        with raw:
            content = raw.read()
            self.history.append((method, url, raw.status))
            return Response(method, url, raw.status, raw.reason, raw.headers, content,
                            [(method, url, raw.status)])

    def request(self, method, url, data=None, headers=None, follow_redirects=True, max_redirects=20):
        """A request that follows redirects like a browser; the Response's history has every hop."""
        hops = []
        # Sec-Fetch-Site as a browser sends it on navigation: "none" for an address the user
        # opened, then "same-origin" while the redirects stay on its origin, "cross-site" after
        # one left it (the module trusts a logout only from its own site).
        chain_origin = _origin(url)
        for _ in range(max_redirects + 1):
            site = "none" if not hops else ("same-origin" if chain_origin == _origin(url) else "cross-site")
            if chain_origin != _origin(url):
                chain_origin = None
            hop_headers = {"Sec-Fetch-Site": site}
            hop_headers.update(headers or {})
            r = self.fetch(method, url, data, hop_headers)
            hops.extend(r.history)
            r.history = list(hops)
            if not follow_redirects or r.status not in REDIRECTS or not r.location:
                return r
            if r.status in (301, 302, 303) and method != "HEAD":
                method, data = "GET", None
                headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
            url = r.location
        raise BrowserError("more than %d redirects: %s" % (max_redirects, hops))

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, fields, **kw):
        return self.request("POST", url, data=fields, **kw)

    def submit(self, form, fields=None, submit=None, **kw):
        """Submits a Form with its own values plus `fields` (dict; list values repeat a name)."""
        if form.enctype.lower() != "application/x-www-form-urlencoded" and form.method == "POST":
            raise BrowserError("form enctype %s is not supported" % form.enctype)
        pairs = form.values(fields, submit)
        if form.method == "GET":
            parts = urllib.parse.urlsplit(form.action)
            url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(pairs), fragment=""))
            return self.request("GET", url, **kw)
        return self.request("POST", form.action, data=pairs, **kw)

    def follow_saml_posts(self, response, max_steps=5):
        """Submits SAML HTTP-POST binding pages (a form holding SAMLResponse/SAMLRequest, which a
        real browser submits with JavaScript) until the page is something else."""
        hops = list(response.history)
        for _ in range(max_steps):
            form = response.saml_post_form()
            if form is None:
                break
            response = self.submit(form)
            hops.extend(response.history)
            response.history = list(hops)
        return response

    # -- the login flow -------------------------------------------------------------------------

    def login(self, start_url, username, password, max_steps=10):
        """GET start_url and go wherever it leads: fill the IdP's login form (a form with a
        password field) once, submit SAML auto-POST forms, follow redirects. Returns the final
        Response (its history holds every hop). A second login form (wrong password) is
        returned as is, for the test to inspect."""
        r = self.get(start_url)
        return self.continue_login(r, username, password, max_steps)

    def continue_login(self, response, username, password, max_steps=10):
        r = response
        hops = list(r.history)
        submitted = False
        for _ in range(max_steps):
            form = r.saml_post_form()
            if form is None:
                login = next((f for f in r.forms() if _has_password(f)), None)
                if login is None or submitted:
                    break
                form = login
                fields = {_username_field(login): username, _password_field(login): password}
                submitted = True
                r = self.submit(login, fields)
            else:
                r = self.submit(form)
            hops.extend(r.history)
            r.history = list(hops)
        return r

    # -- cookies ----------------------------------------------------------------------------------

    def cookie(self, name, domain=None, path=None):
        """The value of a cookie in the jar, or None."""
        for c in self.cookies:
            if c.name == name and (domain is None or c.domain == domain) and (path is None or c.path == path):
                return c.value
        return None

    def clear_cookies(self, domain=None):
        if domain is None:
            self.cookies.clear()
        else:
            self.cookies.clear(domain)


def _has_password(form):
    return any(c["type"] == "password" for c in form.controls)


def _password_field(form):
    return next(c["name"] for c in form.controls if c["type"] == "password" and c.get("name"))


def _username_field(form):
    for c in form.controls:
        if c.get("name") and c["type"] in ("text", "email") and not c.get("disabled"):
            return c["name"]
    return "username"
