"""Applications behind the module, run here from the shipped recipes (conf.d/) with Debian's
SimpleSAMLphp as the IdP: Django in-process (mod_wsgi daemon, contrib/django), Django proxied
(gunicorn behind mod_proxy, X-SAML-* headers), a Flask app (mod_wsgi), a header-reading back end
of our own behind the auth-proxy recipe, the AWS IAM Identity Center recipe's portal tile with and
without a start URL, and the walkthrough's python3-saml settings converted by auth-saml-migrate.

Each recipe is used as shipped: its {{PLACEHOLDERS}} filled with this run's files and its
<VirtualHost *:443> moved to the test port; the harness's httpd supplies modules, TLS and logs.
Servers are shared by the tests of a class, one IdP by the whole file. Every test fails on an
unexpected [warn]/[error] line in an SP's error log.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import idp as idpmod
from harness import ports, procs, spmeta
from harness.browser import Browser
from harness.echo_backend import EchoBackend
from harness.sp import APACHE_MODULES, ModuleSp, env_of
from test_module import redirect_hops

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONF_D = os.path.join(TOP, "conf.d")
CONTRIB = os.path.join(TOP, "contrib")
MIGRATE = os.path.join(TOP, "scripts", "auth-saml-migrate")
PYTHON = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
ALICE = idpmod.USERS["alice"]["attributes"]

have_wsgi = os.path.exists(os.path.join(APACHE_MODULES, "mod_wsgi.so"))
need_wsgi = unittest.skipUnless(have_wsgi, "mod_wsgi missing (libapache2-mod-wsgi-py3, scripts/install-deps)")


def have_python_module(name):
    return subprocess.run([PYTHON, "-c", "import " + name], stderr=subprocess.DEVNULL).returncode == 0


IDP = None
WORK = None
MIGRATED_DB = None


def setUpModule():
    global IDP, WORK
    WORK = tempfile.mkdtemp(prefix="saml-apps-test-")
    IDP = idpmod.SimpleSamlIdp(os.path.join(WORK, "idp"), ports.free_port())
    IDP.start()


def tearDownModule():
    IDP.stop()
    if KEEP:
        print("\nkept work dir: %s" % WORK)
    else:
        shutil.rmtree(WORK, ignore_errors=True)


class SiteSp(ModuleSp):
    """The harness's httpd (modules, TLS, CGI pages, logs) with `site_conf` in place of its own
    SAML settings and <Location>s."""

    LOADS = (("proxy_module", "mod_proxy.so"), ("proxy_http_module", "mod_proxy_http.so"),
             ("wsgi_module", "mod_wsgi.so"))

    def __init__(self, name, site_conf="", metadata_path="/saml/metadata"):
        super().__init__(os.path.join(WORK, name), ports.free_port(), IDP.metadata_xml())
        self.name = name
        self.site_conf = site_conf
        self.metadata_url = self.base_url + metadata_path

    def conf_text(self):
        base = super().conf_text()
        loads = "\n".join("LoadModule %s %s" % (n, os.path.join(APACHE_MODULES, so)) for n, so in self.LOADS
                          if os.path.exists(os.path.join(APACHE_MODULES, so)))
        return base[:base.index("\nSAMLSPEntityID")] + "\n" + loads + "\n" + self.site_conf

    def start_and_register(self, **idp_options):
        self.start()
        metadata = Browser(verify=False).get(self.metadata_url)
        assert metadata.status == 200, metadata
        IDP.add_sp(metadata.text, **idp_options)
        return self


class RecipeSp(SiteSp):
    """A conf.d recipe as shipped: placeholders filled with this SP's files and `values`, its
    VirtualHost on the test port, `inside` added at the end of that VirtualHost."""

    def __init__(self, name, recipe, values=None, inside=""):
        with open(os.path.join(CONF_D, recipe)) as f:
            text = f.read()
        entity_path = re.search(r"^\s*SAMLSPEntityID https://\{\{SP_HOST\}\}(\S+)", text, re.M).group(1)
        super().__init__(name, metadata_path=entity_path)
        self.entity_id = self.base_url + entity_path
        filled = dict(SP_HOST="%s:%d" % (self.host, self.port), TLS_CERT=os.path.join(self.sp_dir, "tls.crt"),
                      TLS_KEY=os.path.join(self.sp_dir, "tls.key"), SP_CERT=os.path.join(self.sp_dir, "sp.crt"),
                      SP_KEY=os.path.join(self.sp_dir, "sp.key"), IDP_METADATA=self.idp_metadata_path,
                      SESSION_SECRET=self.secret_path, **(values or {}))
        text = PLACEHOLDER.sub(lambda m: filled[m.group(1)], text)
        assert text.count("<VirtualHost *:443>") == 1, recipe
        text = text.replace("<VirtualHost *:443>", "<VirtualHost %s:%d>" % (self.host, self.port))
        self.site_conf = text.replace("</VirtualHost>", inside + "\n</VirtualHost>")


def copy_app(src, name):
    """A copy of a contrib app in the work dir, readable by httpd's User (www-data under root)."""
    dst = os.path.join(WORK, name)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", ".secret_key"))
    if os.geteuid() == 0:
        procs.make_ancestors_traversable(dst)
        for root, dirs, files in os.walk(dst):
            for path in [root] + [os.path.join(root, f) for f in files]:
                os.chmod(path, os.stat(path).st_mode | (0o055 if path == root else 0o044))
    return dst


def django_project(name):
    """contrib/django copied, the example's database made (manage.py migrate), all of it owned
    by the user the mod_wsgi daemon runs as (it writes the SQLite file and its journal)."""
    global MIGRATED_DB
    project = os.path.join(copy_app(os.path.join(CONTRIB, "django"), name), "example")
    if MIGRATED_DB is None:  # migrate once (seconds), then copy the empty database
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=project, check=True, timeout=120)
        MIGRATED_DB = os.path.join(WORK, "migrated.sqlite3")
        shutil.copy(os.path.join(project, "db.sqlite3"), MIGRATED_DB)
    else:
        shutil.copy(MIGRATED_DB, os.path.join(project, "db.sqlite3"))
    if os.geteuid() == 0:
        www = pwd.getpwnam("www-data")
        for root, dirs, files in os.walk(os.path.dirname(project)):
            for path in [root] + [os.path.join(root, f) for f in files]:
                os.chown(path, www.pw_uid, www.pw_gid)
    return project


def manage(project, code):
    """Runs Python in the Django project (as the site's user, so SQLite files stay writable)."""
    script = "import django; django.setup()\n" + code
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="example.settings",
               PYTHONPATH=os.pathsep.join([project, os.path.dirname(project)]))
    argv = [PYTHON, "-c", script]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups"] + argv
    p = subprocess.run(argv, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def drop_cookie(browser, name):
    for c in list(browser.cookies):
        if c.name == name:
            browser.cookies.clear(c.domain, c.path, c.name)


class AppTestCase(unittest.TestCase):
    """SPs (and back ends) started once per class by start_servers(); logs checked per test."""
    allowed_log = ()
    sps = ()

    @classmethod
    def setUpClass(cls):
        cls.stoppers = []
        try:
            cls.start_servers()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for stop in reversed(cls.stoppers):
            stop()

    @classmethod
    def add_sp(cls, sp, **idp_options):
        cls.stoppers.append(sp.stop)
        cls.sps = tuple(cls.sps) + (sp,)
        return sp.start_and_register(**idp_options)

    def setUp(self):
        for sp in self.sps:
            sp.mark_log()
        self.allow = list(self.allowed_log)

    def tearDown(self):
        for sp in self.sps:
            self.assertEqual([], sp.problems(self.allow), "unexpected lines in the error log of " + sp.name)

    def login(self, sp, path, user="alice", browser=None):
        b = browser or Browser(verify=False)
        r = b.login(sp.base_url + path, user, idpmod.USERS[user]["password"])
        return b, r

    def logged_in(self, sp, path="/"):
        """Logs alice in from `path`, which must be where she lands."""
        b, r = self.login(sp, path)
        self.assertEqual(200, r.status, r.text[:800])
        self.assertEqual(sp.base_url + path, r.url)
        return b, r

    def json(self, browser, url, **kw):
        r = browser.request("GET", url, follow_redirects=False, **kw)
        self.assertEqual(200, r.status, r.text[:800])
        return json.loads(r.text)


# --- Django -------------------------------------------------------------------------------------

ALICE_IN_DJANGO = {"username": "alice", "email": "alice@example.org", "first_name": "Zoë", "last_name": "Lefèvre",
                   "groups": ["admins", "users"]}


@need_wsgi
@unittest.skipUnless(have_python_module("django"), "python3-django missing (scripts/install-deps)")
class DjangoWsgiTest(AppTestCase):
    """conf.d/django-mod-wsgi.conf: the walkthrough's Django site in a mod_wsgi daemon, its URLs
    (/sso/ /acs/ /metadata/) kept by SAMLEndpointPath /, the Django user made from REMOTE_USER
    and SAML_* by contrib/django/saml_remote_user.py."""

    @classmethod
    def start_servers(cls):
        cls.project = django_project("django")
        cls.sp = cls.add_sp(RecipeSp("django-sp", "django-mod-wsgi.conf", {"DJANGO_DIR": cls.project}))
        # The same site with PersistentSamlRemoteUserMiddleware, /me.json outside the module, a
        # user name that is not ASCII (givenName), and no groups released by the IdP.
        cls.persistent_project = django_project("django-persistent")
        entry = os.path.join(cls.persistent_project, "persistent_wsgi.py")
        with open(entry, "w") as f:
            f.write("import os, runpy\nos.environ['SAML_DJANGO_MODE'] = 'persistent'\n"
                    "application = runpy.run_path(%r)['application']\n"
                    % os.path.join(cls.persistent_project, "example", "wsgi.py"))
        persistent = RecipeSp("django-persistent-sp", "django-mod-wsgi.conf",
                              {"DJANGO_DIR": cls.persistent_project},
                              inside="<Location />\n    SAMLUserAttribute givenName\n</Location>\n"
                                     "<Location /me.json>\n    AuthType None\n    Require all granted\n</Location>")
        persistent.site_conf = persistent.site_conf.replace(
            "WSGIScriptAlias / %s/example/wsgi.py" % cls.persistent_project, "WSGIScriptAlias / %s" % entry)
        assert entry in persistent.site_conf
        cls.persistent = cls.add_sp(persistent, attributes=[a for a in ALICE if a != "groups"])

    def url(self, path, sp=None):
        return (sp or self.sp).base_url + path

    def test_anonymous_visitor_sees_the_walkthroughs_login_link(self):
        r = Browser(verify=False).get(self.url("/"))
        self.assertEqual(200, r.status, r.text[:800])
        self.assertIn("<a id='login' href='/sso/?ReturnTo=/'>Login</a>", r.text)
        self.assertEqual("text/html", r.headers.get_content_type())

    def test_login_through_sso_shows_the_user_and_attributes(self):
        b, r = self.login(self.sp, "/sso/?ReturnTo=/")
        self.assertEqual(200, r.status, r.text[:800])
        self.assertEqual(self.url("/"), r.url)
        self.assertIn(("POST", self.url("/acs/"), 303), r.history)  # the walkthrough's ACS
        self.assertIn("<p id='user'>Logged in as alice</p>", r.text)
        self.assertIn("<dt>email</dt><dd>alice@example.org</dd>", r.text)
        self.assertIn("<dt>first_name</dt><dd>Zoë</dd>", r.text)
        self.assertIn("<dt>groups</dt><dd>admins, users</dd>", r.text)
        self.assertIn("<dt>eduPersonAffiliation</dt><dd>member;staff</dd>", r.text)
        self.assertIn("<dt>username</dt><dd>alice</dd>", r.text)
        self.assertIn("<a id='logout' href='/logout/?ReturnTo=/'>Logout</a>", r.text)
        me = self.json(b, self.url("/me.json"))
        self.assertEqual(ALICE_IN_DJANGO, me["user"])
        self.assertEqual("alice@example.org", me["saml"]["mail"])
        self.assertEqual(IDP.entity_id, me["saml"]["IDP"])

    def test_login_required_view_sends_to_sso_and_back(self):
        b = Browser(verify=False)
        r = b.request("GET", self.url("/private/"), follow_redirects=False)
        self.assertIn(r.status, (302, 303))
        self.assertEqual(self.url("/sso/?ReturnTo=/private/"), r.location)  # Django's @login_required
        r = b.continue_login(b.get(self.url("/private/")), "alice", "alice-password")
        self.assertEqual(200, r.status, r.text[:800])
        self.assertEqual(self.url("/private/"), r.url)
        self.assertIn("Private page of alice", r.text)

    def test_each_login_refreshes_the_user_and_groups_and_the_session_keeps_them(self):
        manage(self.project, "from django.contrib.auth.models import User, Group\n"
                             "u, _ = User.objects.get_or_create(username='bob')\n"
                             "u.email = 'old@example.org'; u.first_name = 'Old'; u.save()\n"
                             "u.groups.set([Group.objects.get_or_create(name='former-team')[0]])\n")
        b, r = self.login(self.sp, "/sso/?ReturnTo=/", user="bob")
        self.assertEqual(200, r.status, r.text[:800])
        me = self.json(b, self.url("/me.json"))
        self.assertEqual({"username": "bob", "email": "bob@example.org", "first_name": "Björn", "last_name": "Smith",
                          "groups": ["users"]}, me["user"])
        # Later requests use the Django session: no new login, the same last_login and session.
        session = b.cookie("sessionid")
        again = self.json(b, self.url("/me.json"))
        self.assertEqual(me["last_login"], again["last_login"])
        self.assertEqual(session, b.cookie("sessionid"))

    def test_single_logout_ends_the_django_session(self):
        b, r = self.login(self.sp, "/sso/?ReturnTo=/")
        self.assertEqual("alice", self.json(b, self.url("/me.json"))["user"]["username"])
        django_session = b.cookie("sessionid")
        hops = redirect_hops(b, self.url("/logout/?ReturnTo=/"))
        self.assertTrue(hops[0].location.startswith(IDP.slo_url), hops[0].location)  # through the IdP (SLO)
        self.assertTrue([h for h in hops if h.url.startswith(self.url("/sls/?"))], [h.url for h in hops])
        self.assertEqual(self.url("/"), hops[-1].url)
        self.assertIn("id='login'", hops[-1].text)
        self.assertIsNone(b.cookie("saml_session"))
        self.assertIsNone(self.json(b, self.url("/me.json"))["user"])
        # The old Django session cookie, sent again, names no user: Django flushed it.
        replay = Browser(verify=False)
        r = replay.request("GET", self.url("/me.json"), headers={"Cookie": "sessionid=" + django_session},
                           follow_redirects=False)
        self.assertIsNone(json.loads(r.text)["user"])

    def test_a_gone_saml_session_ends_the_django_session(self):
        # An expired or deleted SAML session (here: its cookie dropped) means no REMOTE_USER.
        b, r = self.login(self.sp, "/sso/?ReturnTo=/")
        self.assertEqual("alice", self.json(b, self.url("/me.json"))["user"]["username"])
        drop_cookie(b, "saml_session")
        self.assertIsNone(self.json(b, self.url("/me.json"))["user"])
        self.assertIn("id='login'", b.get(self.url("/")).text)

    def test_a_client_cannot_name_the_user(self):
        b = Browser(verify=False)
        me = self.json(b, self.url("/me.json"), headers={"Remote-User": "mallory", "X-SAML-User": "mallory"})
        self.assertEqual({"user": None, "last_login": None, "saml": {}}, me)
        out = manage(self.project, "from django.contrib.auth.models import User\n"
                                   "print(User.objects.filter(username='mallory').count())\n")
        self.assertEqual("0", out.strip())

    def test_persistent_middleware_keeps_the_session_off_the_module_until_logout(self):
        sp = self.persistent
        b, r = self.login(sp, "/sso/?ReturnTo=/")
        self.assertIn("Logged in as Zoë", r.text)
        # The next request with the same REMOTE_USER keeps the Django session: no second login
        # (which would rotate the session key), although WSGI hands the name over as Latin-1.
        session = b.cookie("sessionid")
        self.assertIn("Logged in as Zoë", b.get(self.url("/", sp)).text)
        self.assertEqual(session, b.cookie("sessionid"))
        # /me.json is outside the module (no REMOTE_USER): the Django session still holds her.
        me = self.json(b, self.url("/me.json", sp))
        self.assertEqual(dict(ALICE_IN_DJANGO, username="Zoë", groups=[]), me["user"])
        # A new Django login with the client's own X-SAML-* headers (the module leaves them alone
        # here: SAMLRequestHeaders Off): the attribute the IdP did not send stays unset.
        drop_cookie(b, "sessionid")
        r = b.request("GET", self.url("/", sp), headers={"X-SAML-User": "Zoë", "X-SAML-groups": "admins"})
        self.assertIn("Logged in as Zoë", r.text)
        self.assertNotEqual(session, b.cookie("sessionid"))  # a new Django login did happen
        self.assertEqual([], self.json(b, self.url("/me.json", sp))["user"]["groups"])
        self.assertEqual({}, me["saml"])
        hops = redirect_hops(b, self.url("/logout/?ReturnTo=/", sp))
        self.assertTrue([h for h in hops if h.url.startswith(self.url("/sls/?", sp))], [h.url for h in hops])
        self.assertIsNone(b.cookie("saml_session"))
        # ... but not past the SAML logout, even where the module does not look.
        self.assertIsNone(self.json(b, self.url("/me.json", sp))["user"])


@unittest.skipUnless(have_python_module("django") and os.access(GUNICORN, os.X_OK),
                     "python3-django or gunicorn missing (scripts/install-deps)")
class DjangoProxiedTest(AppTestCase):
    """The same Django site under gunicorn behind conf.d/auth-proxy.conf: the user and attributes
    from X-SAML-* headers (SamlHeaderMiddleware); a client's X-SAML-User never reaches Django."""

    @classmethod
    def start_servers(cls):
        cls.project = django_project("django-proxied")
        port = ports.free_port()
        cls.gunicorn = procs.Process(
            [GUNICORN, "--bind", "127.0.0.1:%d" % port, "--workers", "1", "--threads", "4",
             "--chdir", cls.project, "example.wsgi:application"],
            os.path.join(WORK, "gunicorn"),
            env={"SAML_DJANGO_MODE": "proxy", "SAML_ENDPOINTS": "/saml", "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}).start()
        cls.stoppers.append(cls.gunicorn.stop)
        procs.wait_until(lambda: ports.is_listening(port), 30, "gunicorn on port %d" % port, cls.gunicorn)
        # A public page, to show what an anonymous client's forged headers become.
        cls.sp = cls.add_sp(RecipeSp("django-proxied-sp", "auth-proxy.conf", {"APP_URL": "http://127.0.0.1:%d/" % port},
                                     inside="<Location /me.json>\n    SAMLMode passive\n    Require all granted\n"
                                            "</Location>"))

    FORGED = {"X-SAML-User": "mallory", "X-SAML-mail": "mallory@evil.example", "X-SAML-groups": "admins",
              "X_SAML_User": "mallory"}

    def test_login_makes_the_django_user_from_the_headers(self):
        b, r = self.logged_in(self.sp)
        self.assertIn("<a id='logout' href='/saml/logout?ReturnTo=/'>Logout</a>", r.text)
        me = self.json(b, self.sp.base_url + "/me.json")
        user = me["user"]
        self.assertEqual(me["saml"]["USER"], user.pop("username"))  # REMOTE_USER: the NameID here
        self.assertEqual({k: v for k, v in ALICE_IN_DJANGO.items() if k != "username"}, user)
        self.assertEqual("member;staff", me["saml"]["EDUPERSONAFFILIATION"])

    def test_a_clients_x_saml_headers_never_reach_the_app(self):
        b = Browser(verify=False)
        # Anonymous, on a public page: removed, Django sees no user and no X-SAML-* at all.
        me = self.json(b, self.sp.base_url + "/me.json", headers=self.FORGED)
        self.assertEqual({"user": None, "last_login": None, "saml": {}}, me)
        # Anonymous, on a protected page: sent to log in, Django is not asked.
        r = b.request("GET", self.sp.base_url + "/", headers=self.FORGED, follow_redirects=False)
        self.assertIn(r.status, (302, 303))
        self.assertTrue(r.location.startswith(IDP.sso_url), r.location)
        # Logged in: replaced by the real values.
        b, r = self.login(self.sp, "/", browser=b)
        me = self.json(b, self.sp.base_url + "/me.json", headers=self.FORGED)
        self.assertEqual("alice@example.org", me["user"]["email"])
        self.assertEqual("alice@example.org", me["saml"]["MAIL"])
        self.assertEqual("admins;users", me["saml"]["GROUPS"])
        self.assertNotIn("mallory", json.dumps(me))

    def test_logout_through_slo_ends_the_django_session(self):
        b, r = self.login(self.sp, "/")
        self.assertIsNotNone(self.json(b, self.sp.base_url + "/me.json")["user"])
        hops = redirect_hops(b, self.sp.base_url + "/saml/logout?ReturnTo=/me.json")
        self.assertTrue([h for h in hops if h.url.startswith(self.sp.base_url + "/saml/sls?")], [h.url for h in hops])
        self.assertEqual(self.sp.base_url + "/me.json", hops[-1].url)
        self.assertIsNone(json.loads(hops[-1].text)["user"])
        r = b.request("GET", self.sp.base_url + "/", follow_redirects=False)
        self.assertTrue(r.location.startswith(IDP.sso_url), r.location)


# --- Flask, and a back end that reads headers ------------------------------------------------------

@need_wsgi
@unittest.skipUnless(have_python_module("flask"), "python3-flask missing (scripts/install-deps)")
class FlaskWsgiTest(AppTestCase):
    """conf.d/flask-wsgi.conf with contrib/flask/app.py in a mod_wsgi daemon."""

    @classmethod
    def start_servers(cls):
        app = copy_app(os.path.join(CONTRIB, "flask"), "flask")
        cls.sp = cls.add_sp(RecipeSp("flask-sp", "flask-wsgi.conf", {"FLASK_DIR": app}))

    def test_login_shows_the_user_and_every_value(self):
        b, r = self.logged_in(self.sp)
        self.assertIn("<dt>givenName</dt><dd>Zoë</dd>", r.text)
        me = self.json(b, self.sp.base_url + "/me.json")
        self.assertRegex(me["user"], r"^[0-9a-f]{40}$")  # the persistent NameID (no SAMLUserAttribute)
        self.assertEqual(ALICE, me["attributes"])
        r = b.request("GET", self.sp.base_url + "/saml/logout?local=1&ReturnTo=/", follow_redirects=False)
        self.assertEqual(303, r.status)
        r = b.request("GET", self.sp.base_url + "/me.json", follow_redirects=False)
        self.assertTrue(r.location.startswith(IDP.sso_url), r.location)


class AuthProxyTest(AppTestCase):
    """conf.d/auth-proxy.conf in front of a back end that answers with the headers it received:
    the pattern of Grafana's and Jenkins's auth proxy."""

    @classmethod
    def start_servers(cls):
        cls.backend = EchoBackend(ports.free_port()).start()
        cls.stoppers.append(cls.backend.stop)
        cls.sp = cls.add_sp(RecipeSp("auth-proxy-sp", "auth-proxy.conf", {"APP_URL": cls.backend.url},
                                     inside="<Location /public/>\n    SAMLMode passive\n    Require all granted\n"
                                            "</Location>"))

    def received(self, response):
        self.assertEqual(200, response.status, response.text[:800])
        return json.loads(response.text)

    def saml_headers(self, record):
        return {k: v for k, v in record["headers"] if k.lower().replace("_", "-").startswith("x-saml-")}

    def test_the_back_end_gets_the_user_and_each_attribute(self):
        b, r = self.login(self.sp, "/app/page?x=1")
        record = self.received(r)
        self.assertEqual("/app/page?x=1", record["path"])
        headers = self.saml_headers(record)
        user = headers.pop("X-SAML-User")
        self.assertRegex(user, r"^[0-9a-f]{40}$")  # the persistent NameID (no SAMLUserAttribute)
        self.assertEqual({"X-SAML-" + name: ";".join(values) for name, values in ALICE.items()}, headers)
        sent = dict(record["headers"])
        self.assertEqual("%s:%d" % (self.sp.host, self.sp.port), sent["Host"])  # ProxyPreserveHost
        self.assertEqual("https", sent["X-Forwarded-Proto"])

    def test_forged_headers_never_reach_the_back_end(self):
        forged = {"X-SAML-User": "mallory", "X_SAML_User": "mallory", "x-saml-mail": "mallory@evil.example",
                  "X-SAML-Role": "Admin"}
        b = Browser(verify=False)
        before = len(self.backend.received)
        anonymous = self.received(b.request("GET", self.sp.base_url + "/public/x", headers=forged))
        self.assertEqual({}, self.saml_headers(anonymous))
        r = b.request("GET", self.sp.base_url + "/", headers=forged, follow_redirects=False)
        self.assertIn(r.status, (302, 303))  # a protected page: to the IdP, not to the back end
        b, r = self.login(self.sp, "/", browser=b)
        logged_in = self.received(b.request("GET", self.sp.base_url + "/again", headers=forged))
        headers = self.saml_headers(logged_in)
        self.assertEqual("alice@example.org", headers["X-SAML-mail"])
        self.assertNotIn("X-SAML-Role", headers)
        self.assertNotIn("mallory", json.dumps(self.backend.requests_since(before)))


# --- AWS IAM Identity Center's access portal ------------------------------------------------------

class PortalTileTest(AppTestCase):
    """conf.d/aws-iam-identity-center.conf: the access portal's tile with an Application start URL
    (an SP-initiated login) and without one (an unsolicited Response: refused, with a page that
    says what to change, unless SAMLAllowUnsolicited On)."""
    allowed_log = ("SAML0239",)

    @classmethod
    def start_servers(cls):
        cls.backend = EchoBackend(ports.free_port()).start()
        cls.stoppers.append(cls.backend.stop)
        values = {"APP_URL": cls.backend.url}
        cls.sp = cls.add_sp(RecipeSp("aws-sp", "aws-iam-identity-center.conf", values))
        cls.open_sp = cls.add_sp(RecipeSp("aws-unsolicited-sp", "aws-iam-identity-center.conf", values,
                                          inside="    SAMLAllowUnsolicited On"))

    def user_at_back_end(self, response):
        self.assertEqual(200, response.status, response.text[:800])
        return dict(json.loads(response.text)["headers"]).get("X-SAML-User")

    def test_tile_with_a_start_url_starts_an_sp_initiated_login(self):
        b = Browser(verify=False)
        r = b.request("GET", self.sp.base_url + "/", follow_redirects=False)  # the start URL
        self.assertTrue(r.location.startswith(IDP.sso_url), r.location)
        r = b.continue_login(b.get(self.sp.base_url + "/"), "alice", "alice-password")
        self.assertEqual("alice", self.user_at_back_end(r))  # SAMLUserAttribute username

    def test_tile_without_a_start_url_is_refused_with_what_to_change(self):
        b = Browser(verify=False)
        r = b.continue_login(b.get(IDP.idp_initiated_url(self.sp.entity_id)), "alice", "alice-password")
        self.assertEqual(403, r.status, r.text[:800])
        self.assertIn("(SAML0239)", r.text)
        sso = self.sp.base_url + "/saml/sso"
        advice = re.search(r"<p id=\"advice\">(.*?)</p>", r.text, re.S).group(1)
        self.assertIn("did not ask for", advice)
        self.assertIn("Application start URL", advice)
        self.assertIn("to %s ;" % sso, advice)
        self.assertIn("SAMLAllowUnsolicited On", advice)
        self.assertIsNone(b.cookie("saml_session"))
        lines = [l for l in self.sp.log_since_mark().splitlines() if "[auth_saml:warn]" in l]
        self.assertEqual(1, len(lines), lines)
        self.assertIn("SAML0239 ", lines[0])
        # The advice works: the start URL logs in.
        r = b.continue_login(b.get(sso + "?ReturnTo=/"), "alice", "alice-password")
        self.assertEqual("alice", self.user_at_back_end(r))

    def test_tile_without_a_start_url_logs_in_where_unsolicited_is_allowed(self):
        b = Browser(verify=False)
        r = b.continue_login(b.get(IDP.idp_initiated_url(self.open_sp.entity_id, relay_state="/dashboard")),
                             "alice", "alice-password")
        self.assertEqual(self.open_sp.base_url + "/dashboard", r.url)
        self.assertEqual("alice", self.user_at_back_end(r))


# --- The walkthrough's python3-saml settings, converted --------------------------------------------

class WalkthroughSettingsTest(AppTestCase):
    """The walkthrough's settings.json (strict, persistent NameID, an AWS-style IdP with one
    x509cert, no SP key, the user in a `username` attribute), converted by auth-saml-migrate,
    logs in at an IdP that keeps the registration python3-saml had (its entityID and /acs/, no
    SP certificate: AWS IAM Identity Center checks none)."""

    @classmethod
    def start_servers(cls):
        pass

    def walkthrough_settings(self, base_url, directory):
        os.makedirs(directory, exist_ok=True)
        settings = {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": base_url + "/metadata/",
                "assertionConsumerService": {"url": base_url + "/acs/",
                                             "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
                "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                "x509cert": "",
                "privateKey": "",
            },
            "idp": {
                "entityId": IDP.entity_id,
                "singleSignOnService": {"url": IDP.sso_url,
                                        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
                "singleLogoutService": {"url": IDP.slo_url,
                                        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
                "x509cert": "".join(IDP.signing_cert_body().split()),
            },
        }
        advanced = {"security": {"wantAssertionsSigned": True, "wantMessagesSigned": False,
                                 "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                                 "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256"}}
        for name, data in (("settings.json", settings), ("advanced_settings.json", advanced)):
            with open(os.path.join(directory, name), "w") as f:
                json.dump(data, f, indent=4)
        return settings

    def test_walkthrough_settings_without_an_sp_key_log_in_with_the_same_registration(self):
        sp = SiteSp("walkthrough", metadata_path="/metadata/")
        settings = self.walkthrough_settings(sp.base_url, os.path.join(sp.work_dir, "settings"))
        out = os.path.join(sp.work_dir, "auth_saml.conf")
        p = subprocess.run([sys.executable, MIGRATE, "python3-saml", os.path.join(sp.work_dir, "settings"),
                            "-o", out, "--key-dir", os.path.join(sp.work_dir, "converted"),
                            "--session-secret", sp.secret_path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        report = p.stderr.decode()
        self.assertIn(p.returncode, (0, 1), report)
        self.assertNotIn("refused:", report)
        # No SP key in the settings: a new pair, said so.
        self.assertIn("note: sp.privateKey: none in the settings", report)
        key_path = os.path.join(sp.work_dir, "converted", "sp.key")
        with open(key_path) as f:
            self.assertIn("PRIVATE KEY-----", f.read())
        self.assertEqual(0o600, os.stat(key_path).st_mode & 0o777)
        with open(out) as f:
            converted = f.read()
        for line in ("SAMLEndpointPath /", "SAMLSPEntityID %s/metadata/" % sp.base_url,
                     "SAMLNameIDFormat urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"):
            self.assertIn(line + "\n", converted)
        # The walkthrough read the user from its `username` attribute: one line added by hand.
        sp.site_conf = converted.replace("<Location /private>", "<Location /protected>").replace(
            "    Require valid-user", "    SAMLUserAttribute username\n    Require valid-user")
        self.stoppers.append(sp.stop)
        self.sps = (sp,)
        sp.start()
        # The IdP keeps python3-saml's registration: entityID and ACS from the old settings.
        IDP.add_sp(spmeta.sp_metadata_xml(settings["sp"]["entityId"], settings["sp"]["assertionConsumerService"]["url"],
                                          authn_requests_signed=False), validate_requests=False)
        sp.mark_log()
        _, r = self.login(sp, "/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        self.assertIn(("POST", sp.base_url + "/acs/", 303), r.history)
        env = env_of(r)
        self.assertEqual("alice", env["REMOTE_USER"])
        self.assertEqual("alice", env["SAML_username"])
        self.assertEqual(settings["sp"]["NameIDFormat"], env["SAML_NAME_ID_FORMAT"])
        self.assertEqual(IDP.entity_id, env["SAML_IDP"])


if __name__ == "__main__":
    unittest.main()
