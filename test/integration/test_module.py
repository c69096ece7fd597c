"""The module end to end: a real httpd with mod_auth_saml in front of CGI and PHP pages, and
Debian's SimpleSAMLphp as the IdP, both on loopback, driven like a browser.

Every test fails on an unexpected [warn]/[error] line in the SP's error log.
"""
import base64
import os
import re
import shutil
import tempfile
import time
import unittest
import urllib.parse
import zlib

from harness import idp as idpmod
from harness import ports
from harness.browser import Browser
from harness.sp import ModuleSp, env_of

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"


class Site:
    """One IdP + one SP, shared by the tests of a class."""

    def __init__(self, server_conf="", extra_conf="", sp_options=None, metadata_path="/saml/metadata", users=None):
        self.work = tempfile.mkdtemp(prefix="saml-module-test-")
        self.users = users or idpmod.USERS
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port(), users=self.users)
        self.idp.start()
        self.others = []
        self.sp = self.add_sp("sp", server_conf=server_conf, extra_conf=extra_conf, sp_options=sp_options,
                              metadata_path=metadata_path)

    def add_sp(self, name, server_conf="", extra_conf="", sp_options=None, metadata_path="/saml/metadata"):
        """Another SP (own port, own session secret) registered at the same IdP."""
        sp = ModuleSp(os.path.join(self.work, name), ports.free_port(), self.idp.metadata_xml(),
                      server_conf=server_conf, extra_conf=extra_conf)
        sp.start()
        self.others.append(sp)
        metadata = Browser(verify=False).get(sp.base_url + metadata_path)
        assert metadata.status == 200, metadata
        self.idp.add_sp(metadata.text, **(sp_options or {}))
        return sp

    def close(self):
        for sp in self.others:
            sp.stop()
        self.idp.stop()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def browser(self):
        return Browser(verify=False)

    def login(self, path, user="alice", browser=None):
        b = browser or self.browser()
        r = b.login(self.sp.base_url + path, user, self.users[user]["password"])
        return b, r


class SiteTestCase(unittest.TestCase):
    """Tests sharing one Site per class; site_options are Site's keyword arguments."""
    allowed_log = ()
    site_options = {}

    @classmethod
    def setUpClass(cls):
        cls.site = Site(**cls.site_options)

    @classmethod
    def tearDownClass(cls):
        cls.site.close()

    def setUp(self):
        for sp in self.site.others:
            sp.mark_log()
        self.site.idp.mark_logs()
        self.allow = list(self.allowed_log)

    def tearDown(self):
        for sp in self.site.others:
            problems = sp.problems(self.allow)
            self.assertEqual([], problems, "unexpected lines in the SP error log of %s" % sp.base_url)

    # -- helpers ------------------------------------------------------------------------------------

    def url(self, path):
        return self.site.sp.base_url + path

    def get(self, path, browser=None, **kw):
        """One GET, redirects not followed."""
        return (browser or self.site.browser()).request("GET", self.url(path), follow_redirects=False, **kw)

    def assertGoesToIdp(self, response):
        self.assertIn(response.status, (302, 303), response.text[:500])
        self.assertTrue(response.location.startswith(self.site.idp.sso_url), response.location)

    def assertIdpLoginForm(self, response):
        """The IdP asks for a password: there is no IdP session (any more)."""
        self.assertTrue(response.url.startswith(self.site.idp.base_url), response.url)
        self.assertTrue(any(c["type"] == "password" for f in response.forms() for c in f.controls), response.text[:500])

    def captured_acs_post(self, browser, path="/protected/env.cgi", user="alice"):
        """Logs in at the IdP up to its auto-POST back to the ACS, and returns that form unsent."""
        r = browser.get(self.url(path))
        login = next(f for f in r.forms() if any(c["type"] == "password" for c in f.controls))
        fields = {c["name"]: c["value"] for c in login.controls if c.get("name")}
        user_field = next(c["name"] for c in login.controls if c["type"] in ("text", "email") and c.get("name"))
        password_field = next(c["name"] for c in login.controls if c["type"] == "password")
        fields.update({user_field: user, password_field: idpmod.USERS[user]["password"]})
        r = browser.submit(login, fields)
        form = r.saml_post_form()
        self.assertIsNotNone(form, r.text[:500])
        return form

    def warnings(self, sp=None):
        """Our [auth_saml:warn] lines since the mark."""
        return [l for l in (sp or self.site.sp).log_since_mark().splitlines() if "[auth_saml:warn]" in l]

    def assertRejectedOnce(self, response, status, code):
        """A 4xx HTML page with a reference id and exactly one warning naming `code` and that id."""
        self.assertEqual(status, response.status, response.text[:800])
        self.assertEqual("text/html", response.headers.get_content_type())
        self.assertIsNone(response.headers.get("Location"))
        m = re.search(r"reference: <code>([0-9a-f]{12})</code> \((SAML\d{4})\)", response.text)
        self.assertIsNotNone(m, response.text)
        self.assertEqual(code, m.group(2), response.text)
        lines = self.warnings()
        self.assertEqual(1, len(lines), lines)
        self.assertIn(code + " ", lines[0])
        self.assertIn("[ref %s]" % m.group(1), lines[0])
        self.allow.append(code)
        self.assertEqual([], self.site.sp.problems(self.allow))
        self.site.sp.mark_log()  # the next check in the same test counts afresh


class ModuleTest(SiteTestCase):

    # -- login ------------------------------------------------------------------------------------

    def test_unauthenticated_request_redirects_to_idp_with_signed_authn_request(self):
        r = self.site.browser().request("GET", self.site.sp.base_url + "/protected/env.cgi", follow_redirects=False)
        self.assertIn(r.status, (302, 303))
        location = r.location
        self.assertTrue(location.startswith(self.site.idp.sso_url), location)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        self.assertIn("Signature", query)
        self.assertEqual("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", query["SigAlg"][0])
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        self.assertIn("AuthnRequest", xml)
        self.assertIn('AssertionConsumerServiceURL="%s/saml/acs"' % self.site.sp.base_url, xml)
        cookies = r.headers.get_all("Set-Cookie")
        state = [c for c in cookies if c.startswith("saml_login_")]
        self.assertEqual(1, len(state), cookies)
        self.assertIn("SameSite=None", state[0])
        self.assertIn("Secure", state[0])
        self.assertIn("HttpOnly", state[0])

    def test_login_as_alice_exports_user_and_attributes_to_cgi(self):
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status, r.text)
        self.assertEqual(self.site.sp.base_url + "/protected/env.cgi", r.url)
        env = env_of(r)
        self.assertEqual("SAML", env.get("AUTH_TYPE"))
        self.assertTrue(env.get("REMOTE_USER"), env)  # the persistent NameID
        self.assertEqual(env["REMOTE_USER"], env["SAML_NAME_ID"])
        self.assertEqual("Zoë", env["SAML_givenName"])
        self.assertEqual("member;staff", env["SAML_eduPersonAffiliation"])
        self.assertEqual("member", env["SAML_eduPersonAffiliation_0"])
        self.assertEqual("staff", env["SAML_eduPersonAffiliation_1"])
        self.assertEqual("2", env["SAML_eduPersonAffiliation_COUNT"])
        self.assertEqual(self.site.idp.entity_id, env["SAML_IDP"])
        session = b.cookie("saml_session")
        self.assertIsNotNone(session)

    def test_deep_link_survives_the_round_trip(self):
        b, r = self.site.login("/protected/env.cgi?x=1&y=%C3%A9")
        self.assertEqual(200, r.status)
        self.assertEqual(self.site.sp.base_url + "/protected/env.cgi?x=1&y=%C3%A9", r.url)

    def test_login_in_php_page(self):
        b, r = self.site.login("/protected/index.php")
        self.assertEqual(200, r.status, r.text)
        self.assertIn("Logged in as", r.text)
        self.assertIn("SAML_givenName", r.text)
        self.assertIn("Zoë", r.text)

    def test_session_is_reused_without_the_idp(self):
        b, r = self.site.login("/protected/env.cgi")
        again = b.request("GET", self.site.sp.base_url + "/protected/hello.txt", follow_redirects=False)
        self.assertEqual(200, again.status)
        self.assertEqual("hello\n", again.text)

    def test_script_request_gets_401_not_a_redirect(self):
        r = self.site.browser().request("GET", self.site.sp.base_url + "/protected/env.cgi",
                                        headers={"Sec-Fetch-Mode": "cors"}, follow_redirects=False)
        self.assertEqual(401, r.status)
        self.allow.append(r"SAML0852")

    # -- authorization ------------------------------------------------------------------------------

    def test_require_saml_user_lets_alice_in_and_keeps_bob_out(self):
        # REMOTE_USER is the NameID by default; this location keys on the uid attribute.
        b, r = self.site.login("/alice-only/env.cgi")
        self.assertEqual(200, r.status, r.text)
        self.assertEqual("alice", env_of(r)["REMOTE_USER"])
        b2, r2 = self.site.login("/alice-only/env.cgi", user="bob")
        self.assertEqual(403, r2.status)
        self.assertIn("bob", r2.text)
        self.allow.append(r"AH01631")  # authz_core logs every denial as an error

    def test_require_saml_attribute(self):
        b, r = self.site.login("/staff/env.cgi")
        self.assertEqual(200, r.status)
        b2, r2 = self.site.login("/staff/env.cgi", user="bob")
        self.assertEqual(403, r2.status)
        self.allow.append(r"AH01631")

    def test_require_attribute_regex_composes_with_require_not(self):
        b, r = self.site.login("/admins/env.cgi")
        self.assertEqual(200, r.status)
        b2, r2 = self.site.login("/admins/env.cgi", user="bob")
        self.assertEqual(403, r2.status)
        self.allow.append(r"AH01631")

    # -- passive mode --------------------------------------------------------------------------------

    def test_passive_page_shows_login_link_then_attributes(self):
        b = self.site.browser()
        anonymous = b.get(self.site.sp.base_url + "/public/index.php")
        self.assertEqual(200, anonymous.status)
        self.assertIn("id='login'", anonymous.text)
        self.site.login("/protected/env.cgi", browser=b)
        logged_in = b.get(self.site.sp.base_url + "/public/index.php")
        self.assertIn("Logged in as", logged_in.text)
        self.assertIn("Zoë", logged_in.text)

    # -- metadata and session endpoints --------------------------------------------------------------

    def test_metadata_endpoint(self):
        r = self.site.browser().get(self.site.sp.base_url + "/saml/metadata")
        self.assertEqual(200, r.status)
        self.assertEqual("application/samlmetadata+xml", r.headers.get("Content-Type"))
        self.assertIn('entityID="%s"' % self.site.sp.entity_id, r.text)
        self.assertIn('Location="%s/saml/acs"' % self.site.sp.base_url, r.text)

    def test_session_endpoint(self):
        b = self.site.browser()
        r = b.request("GET", self.site.sp.base_url + "/saml/session", follow_redirects=False)
        self.assertEqual(401, r.status)
        self.site.login("/protected/env.cgi", browser=b)
        r = b.get(self.site.sp.base_url + "/saml/session")
        self.assertEqual(200, r.status)
        import json
        data = json.loads(r.text)
        self.assertTrue(data["authenticated"])
        self.assertEqual(["member", "staff"], data["attributes"]["eduPersonAffiliation"])
        self.assertNotIn("saml_session", r.text)

EXTRA_LOCATIONS = """
<Location /short>
    AuthType SAML
    SAMLSessionMaxAge 2
    Require valid-user
</Location>
<Location /idle>
    AuthType SAML
    SAMLSessionIdleTimeout 3
    Require valid-user
</Location>
<Location /expr>
    AuthType SAML
    Require expr "reqenv('SAML_eduPersonAffiliation') =~ /staff/"
</Location>
<Location /headers>
    AuthType SAML
    SAMLRequestHeaders On
    Require valid-user
</Location>
<Location /mapped>
    AuthType SAML
    SAMLAttributeMap mail email
    SAMLAttributeMap givenName first_name
    Require valid-user
</Location>
<Location /mapped-require>
    AuthType SAML
    SAMLAttributeMap mail email
    SAMLUserAttribute email
    Require saml-attribute email alice@example.org
</Location>
<Location /renamed>
    AuthType SAML
    SAMLAttributePrefix APP_
    SAMLAttributeMap mail email
    Require valid-user
</Location>
"""


def redirect_hops(browser, url, max_hops=15):
    """Follows redirects and SAML POST forms one hop at a time; returns every Response."""
    hops = [browser.request("GET", url, follow_redirects=False)]
    for _ in range(max_hops):
        last = hops[-1]
        if last.status in (301, 302, 303, 307, 308) and last.location:
            hops.append(browser.request("GET", last.location, follow_redirects=False))
            continue
        form = last.saml_post_form()
        if form is None:
            break
        hops.append(browser.request("POST", form.action, data=form.values(), follow_redirects=False))
    return hops


def query_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


class LogoutTest(SiteTestCase):
    """Local logout, SP-initiated and IdP-initiated Single Logout with SimpleSAMLphp."""

    def test_local_logout_clears_the_session_cookie(self):
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status)
        r = self.get("/saml/logout?local=1&ReturnTo=/public/index.php", browser=b)
        self.assertEqual(303, r.status)
        self.assertEqual(self.url("/public/index.php"), r.location)
        cleared = [c for c in r.set_cookies() if c.startswith("saml_session=;")]
        self.assertEqual(1, len(cleared), r.set_cookies())
        self.assertIn("Max-Age=0", cleared[0])
        self.assertIsNone(b.cookie("saml_session"))
        # The next protected request needs the IdP again (which still knows the user: local only).
        self.assertGoesToIdp(self.get("/protected/env.cgi", browser=b))
        again = b.follow_saml_posts(b.get(self.url("/protected/env.cgi")))  # no password asked
        self.assertEqual(200, again.status)
        self.assertEqual(self.url("/protected/env.cgi"), again.url)
        self.assertEqual("SAML", env_of(again)["AUTH_TYPE"])

    def test_sp_initiated_single_logout_round_trip(self):
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status)
        hops = redirect_hops(b, self.url("/saml/logout?ReturnTo=/public/index.php"))
        urls = [h.url for h in hops]
        # our LogoutRequest goes to the IdP, signed (Redirect binding)
        self.assertEqual(303, hops[0].status)
        self.assertTrue(hops[0].location.startswith(self.site.idp.slo_url), hops[0].location)
        q = query_of(hops[0].location)
        self.assertIn("SAMLRequest", q)
        self.assertIn("Signature", q)
        self.assertIn("LogoutRequest", zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15).decode())
        # the IdP's LogoutResponse comes to our SLS, which sends the browser on to ReturnTo
        sls = [h for h in hops if h.url.startswith(self.url("/saml/sls"))]
        self.assertEqual(1, len(sls), urls)
        self.assertEqual(303, sls[0].status, sls[0].text[:500])
        self.assertEqual(self.url("/public/index.php"), sls[0].location)
        self.assertEqual(self.url("/public/index.php"), hops[-1].url, urls)
        self.assertIn("id='login'", hops[-1].text)
        self.assertIsNone(b.cookie("saml_session"))
        self.assertFalse([c for c in b.cookies if c.name.startswith("saml_logout_")])
        # Both sessions are gone: a protected page shows the IdP's login form again.
        self.assertIdpLoginForm(b.get(self.url("/protected/env.cgi")))

    def test_idp_initiated_single_logout(self):
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status)
        return_to = self.url("/public/index.php")
        hops = redirect_hops(b, self.site.idp.slo_url + "?" + urllib.parse.urlencode({"ReturnTo": return_to}))
        urls = [h.url for h in hops]
        sls = [h for h in hops if h.url.startswith(self.url("/saml/sls"))]
        self.assertEqual(1, len(sls), urls)
        request = query_of(sls[0].url)
        self.assertIn("Signature", request)  # 'redirect.sign' => true at the IdP
        self.assertIn("LogoutRequest", zlib.decompress(base64.b64decode(request["SAMLRequest"][0]), -15).decode())
        # our answer: a signed LogoutResponse to the IdP's SingleLogoutService
        self.assertEqual(303, sls[0].status, sls[0].text[:800])
        self.assertTrue(sls[0].location.startswith(self.site.idp.slo_url), sls[0].location)
        answer = query_of(sls[0].location)
        self.assertIn("Signature", answer)
        self.assertEqual("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", answer["SigAlg"][0])
        xml = zlib.decompress(base64.b64decode(answer["SAMLResponse"][0]), -15).decode()
        self.assertIn("LogoutResponse", xml)
        self.assertIn("urn:oasis:names:tc:SAML:2.0:status:Success", xml)
        cleared = [c for c in sls[0].set_cookies() if c.startswith("saml_session=;")]
        self.assertEqual(1, len(cleared), sls[0].set_cookies())
        self.assertEqual(return_to, hops[-1].url, urls)
        self.assertIsNone(b.cookie("saml_session"))
        self.assertEqual([], self.site.idp.log_problems())
        self.assertIdpLoginForm(b.get(self.url("/protected/env.cgi")))

    def test_logout_without_return_to_shows_the_logged_out_page(self):
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status)
        r = self.get("/saml/logout?local=1", browser=b)
        self.assertEqual(200, r.status)
        self.assertIn("<title>Logged out</title>", r.text)
        self.assertIn('<html lang="en">', r.text)
        self.assertIsNone(b.cookie("saml_session"))
        ref = re.search(r"administrator: <code>([0-9a-f]{12})</code>", r.text).group(1)
        lines = [l for l in self.site.sp.log_since_mark().splitlines() if "[ref %s]" % ref in l]
        self.assertEqual(1, len(lines), lines)
        self.assertIn("SAML0844 logged out ", lines[0])
        # Without a session (a second click) the same page, not an error.
        again = self.get("/saml/logout", browser=b)
        self.assertEqual(200, again.status)
        self.assertIn("<h1>Logged out</h1>", again.text)

    def test_a_logout_asked_for_by_another_site_needs_the_users_confirmation(self):
        # An <img src=".../saml/logout"> on any page, a link from another site, a browser that
        # says nothing: the session stays, the user gets a page to confirm, one warning each.
        self.allow.append("SAML0846")
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status)
        requests = [
            ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"}, "Sec-Fetch-Site: cross-site"),
            ({"Sec-Fetch-Site": "same-site", "Referer": "https://other.example.org/page"}, "Referer: https://other.example.org"),
            ({"Sec-Fetch-Site": "cross-site", "Referer": self.url("/").replace("https://", "https://evil-") + "x"}, "Referer: https://evil-"),
            ({"Sec-Fetch-Site": "", "Origin": "null"}, "Origin: null"),
            # No Fetch Metadata, no Origin, no Referer (an old browser or a stripping proxy)
            ({"Sec-Fetch-Site": ""}, "no Sec-Fetch-Site, Origin or Referer"),
        ]
        for headers, evidence in requests:
            headers = {k: v for k, v in headers.items() if v}
            if "Sec-Fetch-Site" not in headers:
                headers["Sec-Fetch-Site"] = None
            self.site.sp.mark_log()
            r = self.get("/saml/logout?ReturnTo=/public/index.php", browser=b, headers=headers)
            self.assertEqual(200, r.status, (headers, r.text[:300]))
            self.assertIn("<title>Log out?</title>", r.text)
            self.assertIn("frame-ancestors 'none'", r.headers.get("Content-Security-Policy"))
            self.assertEqual([], r.set_cookies(), headers)
            lines = [l for l in self.site.sp.log_since_mark().splitlines() if "SAML0846" in l]
            self.assertEqual(1, len(lines), lines)
            self.assertRegex(lines[0], r"SAML0846 logout of \S+ asked for from ")
            self.assertIn(evidence, lines[0])
            self.assertEqual(200, self.get("/protected/env.cgi", browser=b).status)
        # A form posted from elsewhere without the page's token, or with a forged one: refused too.
        for fields in ({}, {"confirmation": "A" * 80}):
            r = b.request("POST", self.url("/saml/logout?local=1"), data=fields or {"x": "1"}, follow_redirects=False,
                          headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
            self.assertEqual(200, r.status)
            self.assertIn("<title>Log out?</title>", r.text)
            self.assertEqual(200, self.get("/protected/env.cgi", browser=b).status)
        # The confirmation page's form, sent by a browser that still names no origin, logs out.
        page = self.get("/saml/logout?local=1&ReturnTo=/public/index.php", browser=b, headers={"Sec-Fetch-Site": None})
        form, = page.forms()
        self.assertEqual(self.url("/saml/logout?local=1&ReturnTo=/public/index.php"), form.action)
        done = b.submit(form, follow_redirects=False, headers={"Sec-Fetch-Site": None})
        self.assertEqual(303, done.status)
        self.assertEqual(self.url("/public/index.php"), done.location)
        self.assertIsNone(b.cookie("saml_session"))
        self.assertGoesToIdp(self.get("/protected/env.cgi", browser=b))

    def test_a_logout_link_from_this_site_or_a_typed_address_logs_out_at_once(self):
        for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
                        {"Sec-Fetch-Site": None, "Referer": self.url("/public/index.php")},
                        {"Sec-Fetch-Site": None, "Origin": self.url("")}):
            b, r = self.site.login("/protected/env.cgi")
            self.assertEqual(200, r.status)
            r = self.get("/saml/logout?local=1&ReturnTo=/public/index.php", browser=b, headers=headers)
            self.assertEqual(303, r.status, (headers, r.text[:300]))
            self.assertIsNone(b.cookie("saml_session"))
        self.assertNotIn("SAML0846", self.site.sp.log_since_mark())

    def test_logout_without_a_session_goes_to_return_to(self):
        r = self.get("/saml/logout?ReturnTo=/public/index.php")
        self.assertEqual(303, r.status)
        self.assertEqual(self.url("/public/index.php"), r.location)


class AbandonedLoginsTest(SiteTestCase):
    """Logins started and never finished must not lock the browser out (found by the soak)."""

    def test_unfinished_logins_never_lock_the_browser_out(self):
        b = self.site.browser()
        for _ in range(12):  # twelve logins started, none finished at the IdP
            r = b.request("GET", self.url("/saml/sso?ReturnTo=/protected/env.cgi"), follow_redirects=False)
            self.assertIn(r.status, (302, 303), r.text[:300])
        states = [c for c in b.cookies if c.name.startswith("saml_login_")]
        self.assertLessEqual(len(states), 8, [c.name for c in states])
        # The thirteenth, finished, logs in (before, /acs read only the first 8 states: SAML0238).
        _, r = self.site.login("/protected/env.cgi", browser=b)
        self.assertEqual(200, r.status, r.text[:500])
        self.assertEqual("alice", env_of(r)["SAML_uid"])


class SessionTest(SiteTestCase):
    """Broken, expired and foreign session cookies lead to a fresh login, never to a 500."""
    site_options = {"extra_conf": EXTRA_LOCATIONS}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.foreign = cls.site.add_sp("sp2")  # same IdP, another session secret

    def fetch_with_cookie(self, cookie, path="/protected/env.cgi"):
        return self.get(path, headers={"Cookie": cookie})

    def session_cookie(self, user="alice"):
        b, r = self.site.login("/protected/env.cgi", user=user)
        self.assertEqual(200, r.status)
        return b, b.cookie("saml_session")

    def test_valid_cookie_is_accepted_by_a_plain_client(self):
        # the control for the tests below: the same request with the untouched cookie gets in
        b, value = self.session_cookie()
        r = self.fetch_with_cookie("saml_session=" + value)
        self.assertEqual(200, r.status)

    def test_tampered_cookie_means_a_fresh_login(self):
        b, value = self.session_cookie()
        for i in (len(value) // 2, len(value) - 2, 5):
            flipped = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1:]
            self.assertGoesToIdp(self.fetch_with_cookie("saml_session=" + flipped))
        self.assertGoesToIdp(self.fetch_with_cookie("saml_session=" + value[:-10]))

    def test_garbage_oversized_and_chunk_bomb_cookies_mean_a_fresh_login(self):
        for cookie in ("saml_session=garbage", "saml_session=!!!%%%", "saml_session=", "saml_session=" + "A" * 7000,
                       "saml_session=999:AAAA", "saml_session=2:AAAA", "saml_session=9:AAAA; saml_session_1=x",
                       "saml_session=-1:AAAA", "saml_session=18446744073709551617:AAAA", "saml_session=0:"):
            self.assertGoesToIdp(self.fetch_with_cookie(cookie))
        # the session endpoint says "not logged in" for the same cookies
        r = self.fetch_with_cookie("saml_session=999:AAAA", path="/saml/session")
        self.assertEqual(401, r.status)

    def test_cookie_sealed_with_a_foreign_secret_means_a_fresh_login(self):
        b = self.site.browser()
        r = b.login(self.foreign.base_url + "/protected/env.cgi", "alice", idpmod.USERS["alice"]["password"])
        self.assertEqual(200, r.status)
        foreign_cookie = b.cookie("saml_session")
        self.assertIsNotNone(foreign_cookie)
        self.assertGoesToIdp(self.fetch_with_cookie("saml_session=" + foreign_cookie))
        # the same browser (cookies are not per port) logs in afresh here and gets its own session
        r = self.get("/protected/env.cgi", browser=b)
        self.assertGoesToIdp(r)
        r = b.login(self.url("/protected/env.cgi"), "alice", idpmod.USERS["alice"]["password"])
        self.assertEqual(200, r.status)
        self.assertNotEqual(foreign_cookie, b.cookie("saml_session"))

    def test_session_older_than_max_age_means_a_fresh_login(self):
        b, r = self.site.login("/short/env.cgi")
        self.assertEqual(200, r.status)
        self.assertEqual(200, self.get("/short/env.cgi", browser=b).status)
        time.sleep(2.5)
        self.assertGoesToIdp(self.get("/short/env.cgi", browser=b))
        self.assertEqual(200, self.get("/protected/env.cgi", browser=b).status)  # longer max age there

    def test_idle_session_means_a_fresh_login(self):
        # SAMLSessionIdleTimeout 3; last-seen is kept in whole seconds, so visits come every second
        b, r = self.site.login("/idle/env.cgi")
        self.assertEqual(200, r.status)
        for _ in range(3):  # each visit renews it: 3 s in all, yet never 3 s idle
            time.sleep(1)
            visit = self.get("/idle/env.cgi", browser=b)
            self.assertEqual(200, visit.status)
            self.assertTrue([c for c in visit.set_cookies() if c.startswith("saml_session=")], visit.set_cookies())
        time.sleep(3.5)
        self.assertGoesToIdp(self.get("/idle/env.cgi", browser=b))

    def test_replayed_saml_response_is_refused(self):
        b = self.site.browser()
        form = self.captured_acs_post(b)
        self.assertEqual(self.url("/saml/acs"), form.action)
        captured = form.values()
        state = [(c.name, c.value) for c in b.cookies if c.name.startswith("saml_login_")]
        self.assertEqual(1, len(state))
        first = b.request("POST", form.action, data=captured, follow_redirects=False)
        self.assertEqual(303, first.status, first.text[:500])
        self.assertEqual(self.url("/protected/env.cgi"), first.location)
        self.assertFalse([c for c in b.cookies if c.name.startswith("saml_login_")])  # the login state is used up

        def granted_session(response):
            return [c for c in response.set_cookies() if c.startswith("saml_session=") and "Max-Age=0" not in c]

        # again from the same browser: its login state is gone, so the InResponseTo rule refuses it
        again = b.request("POST", form.action, data=captured, follow_redirects=False)
        self.assertRejectedOnce(again, 403, "SAML0238")
        self.assertFalse(granted_session(again))
        # with the captured login-state cookie as well: the replay cache has seen the assertion
        cookie = "%s=%s" % state[0]
        replay = self.site.browser().request("POST", form.action, data=captured, headers={"Cookie": cookie},
                                             follow_redirects=False)
        self.assertRejectedOnce(replay, 403, "SAML0258")
        self.assertFalse(granted_session(replay))
        # from a fresh browser that never started this login
        other = self.site.browser()
        stolen = other.request("POST", form.action, data=captured, follow_redirects=False)
        self.assertRejectedOnce(stolen, 403, "SAML0238")
        self.assertIsNone(other.cookie("saml_session"))
        self.assertEqual(200, self.get("/protected/env.cgi", browser=b).status)  # the real login still works


# ReturnTo values (as the server decodes them) that must never send the browser to another host.
OPEN_REDIRECT_TRICKS = (
    "\\\\evil.example", "/\\evil.example", "\\/evil.example", "/\\\\evil.example", "///evil.example",
    "////evil.example/", "//evil.example", "//evil.example/path", "http:evil.example", "https:evil.example",
    "https:/evil.example", "http:/\\evil.example", "%2F%2Fevil.example", "/%2F%2Fevil.example",
    "%5Cevil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "/%252F%252Fevil.example",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "data:text/html,<script>1</script>",
    "https://evil.example", "https://evil.example/", "http://evil.example", "HTTPS://EVIL.EXAMPLE",
    "https://127.0.0.1.evil.example/", "https://127.0.0.1@evil.example/", "https://evil.example\\@127.0.0.1/",
    "/\t/evil.example", "/\n/evil.example", "\t//evil.example", "//evil.example\n", "/ /evil.example",
    "/x\r\nLocation: https://evil.example", " https://evil.example", "evil.example", "./evil", "../evil",
)


class RedirectTargetTest(SiteTestCase):
    """ReturnTo on /saml/sso and /saml/logout: no open redirect, whatever the spelling."""

    def check_refused(self, endpoint, target):
        r = self.get("/saml/%s?ReturnTo=%s" % (endpoint, urllib.parse.quote(target, safe="")))
        self.assertEqual(400, r.status, "%r: %s" % (target, r.text[:300]))
        self.assertIsNone(r.location, target)
        self.assertFalse([c for c in r.set_cookies() if c.startswith("saml_login_")], target)
        lines = self.warnings()
        self.assertEqual(1, len(lines), (target, lines))
        self.assertRegex(lines[0], r"SAML06\d\d redirect[-a-z]*: .*\[ref [0-9a-f]{12}\]")
        self.assertIn("reference: <code>", r.text)
        self.site.sp.mark_log()

    def test_sso_refuses_redirect_tricks(self):
        for target in OPEN_REDIRECT_TRICKS:
            self.check_refused("sso", target)
        self.allow.append(r"SAML06\d\d")

    def test_logout_refuses_redirect_tricks(self):
        for target in OPEN_REDIRECT_TRICKS:
            self.check_refused("logout", target)
        self.allow.append(r"SAML06\d\d")

    def test_logout_refuses_redirect_tricks_and_keeps_the_session(self):
        b, r = self.site.login("/protected/env.cgi")
        r = self.get("/saml/logout?ReturnTo=%s" % urllib.parse.quote("//evil.example", safe=""), browser=b)
        self.assertEqual(400, r.status)
        self.assertEqual(200, self.get("/protected/env.cgi", browser=b).status)
        self.allow.append(r"SAML06\d\d")

    def test_same_host_absolute_url_and_relative_path_are_accepted(self):
        for target in (self.url("/protected/env.cgi?a=1"), "/protected/env.cgi?a=2", "/"):
            r = self.get("/saml/sso?ReturnTo=" + urllib.parse.quote(target, safe=""))
            self.assertGoesToIdp(r)
            r = self.get("/saml/logout?ReturnTo=" + urllib.parse.quote(target, safe=""))
            self.assertEqual(303, r.status, target)
            self.assertEqual(urllib.parse.urljoin(self.url("/"), target), r.location)
        self.assertEqual([], self.warnings())

    def test_login_through_sso_ends_at_return_to(self):
        b = self.site.browser()
        target = self.url("/protected/env.cgi?from=sso")
        r = b.login(self.url("/saml/sso?ReturnTo=" + urllib.parse.quote(target, safe="")), "alice",
                    idpmod.USERS["alice"]["password"])
        self.assertEqual(200, r.status)
        self.assertEqual(target, r.url)


class BadInputTest(SiteTestCase):
    """Garbage at the endpoints: a 4xx page with a reference and one warning, never a 500."""

    def acs(self, data, content_type="application/x-www-form-urlencoded", method="POST"):
        headers = {"Content-Type": content_type} if content_type else {}
        return self.site.browser().request(method, self.url("/saml/acs"), data=data, headers=headers,
                                           follow_redirects=False)

    def tearDown(self):
        # the server is still there and still working
        self.assertEqual(200, self.site.browser().get(self.url("/saml/metadata")).status)
        self.assertNotIn("[auth_saml:error]", self.site.sp.log_since_mark())
        self.assertNotRegex(self.site.sp.log_since_mark(), r"AH00051|AH00052|Segmentation|child pid \d+ exit signal")
        super().tearDown()

    def test_acs_get_is_405(self):
        r = self.get("/saml/acs")
        self.assertRejectedOnce(r, 405, "SAML0830")
        self.assertEqual("POST", r.headers.get("Allow"))

    def test_acs_without_body(self):
        self.assertRejectedOnce(self.acs(b""), 400, "SAML0832")

    def test_acs_without_saml_response(self):
        self.assertRejectedOnce(self.acs(b"RelayState=%2F&x=1"), 400, "SAML0832")

    def test_acs_wrong_content_type(self):
        self.assertRejectedOnce(self.acs(b"SAMLResponse=PHg%2B", "text/plain"), 415, "SAML0831")
        self.assertRejectedOnce(self.acs(b"--x\r\n\r\n--x--\r\n", "multipart/form-data; boundary=x"), 415, "SAML0831")

    def test_acs_huge_body(self):
        body = b"SAMLResponse=" + b"A" * (1024 * 1024)
        self.assertRejectedOnce(self.acs(body), 413, "SAML0831")

    def test_acs_bad_base64(self):
        r = self.acs(urllib.parse.urlencode({"SAMLResponse": "***not base64!!!"}).encode())
        self.assertRejectedOnce(r, 400, "SAML0110")

    def test_acs_not_xml(self):
        for text in (b"hello, not XML", b"<samlp:Response", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                     b"\x00\xff\xfe binary"):
            r = self.acs(urllib.parse.urlencode({"SAMLResponse": base64.b64encode(text).decode()}).encode())
            self.assertEqual(400, r.status, text)
            m = re.search(r"\((SAML\d{4})\)", r.text)
            self.assertRejectedOnce(r, 400, m.group(1))

    def test_acs_xml_that_is_not_a_response(self):
        r = self.acs(urllib.parse.urlencode({"SAMLResponse": base64.b64encode(b"<x/>").decode()}).encode())
        self.assertRejectedOnce(r, 403, "SAML0230")  # the structure rule refuses it

    def test_other_endpoints_answer_405_with_allow(self):
        for method, path, allow in (("POST", "/saml/sso", "GET, HEAD"), ("DELETE", "/saml/metadata", "GET, HEAD"),
                                    ("PUT", "/saml/logout", "GET, HEAD, POST"), ("PUT", "/saml/sls", "GET, HEAD, POST"),
                                    ("POST", "/saml/session", "GET, HEAD")):
            r = self.site.browser().request(method, self.url(path), data=b"x=1", follow_redirects=False)
            self.assertEqual(allow, r.headers.get("Allow"), path)
            self.assertRejectedOnce(r, 405, "SAML0823")

    def test_sso_unknown_idp(self):
        r = self.get("/saml/sso?idp=" + urllib.parse.quote("https://unknown.example/idp"))
        self.assertRejectedOnce(r, 400, "SAML0821")
        self.assertIn("https://unknown.example/idp", self.site.sp.error_log_path and open(self.site.sp.error_log_path).read())

    def test_sls_without_a_message(self):
        self.assertRejectedOnce(self.get("/saml/sls"), 400, "SAML0840")

    def test_sls_with_garbage(self):
        r = self.get("/saml/sls?SAMLRequest=%2A%2A%2A&SigAlg=x&Signature=y")
        self.assertIn(r.status, (400, 403))
        self.assertRejectedOnce(r, r.status, re.search(r"\((SAML\d{4})\)", r.text).group(1))
        r = self.site.browser().request("POST", self.url("/saml/sls"), data={"SAMLResponse": "garbage"},
                                        follow_redirects=False)
        self.assertIn(r.status, (400, 403))
        self.assertRejectedOnce(r, r.status, re.search(r"\((SAML\d{4})\)", r.text).group(1))

    def test_unsigned_logout_request_is_refused(self):
        xml = ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
               'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x1" Version="2.0" '
               'IssueInstant="2030-01-01T00:00:00Z"><saml:Issuer>%s</saml:Issuer>'
               '<saml:NameID>someone</saml:NameID></samlp:LogoutRequest>' % self.site.idp.entity_id)
        deflated = zlib.compress(xml.encode())[2:-4]
        r = self.get("/saml/sls?SAMLRequest=" + urllib.parse.quote(base64.b64encode(deflated).decode(), safe=""))
        self.assertIn(r.status, (400, 403))
        self.assertRejectedOnce(r, r.status, re.search(r"\((SAML\d{4})\)", r.text).group(1))


class ConfigTest(SiteTestCase):
    """`apachectl configtest` names the file and the fix for each broken setting."""

    def conf_with(self, old, new):
        text = self.site.sp.conf_text()
        self.assertIn(old, text)
        return text.replace(old, new)

    def write(self, name, data, mode=0o600):
        path = os.path.join(self.site.work, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def assertConfigFails(self, conf, *needles):
        code, out = self.site.sp.configtest(conf)
        self.assertNotEqual(0, code, out)
        self.assertIn("mod_auth_saml", out)
        for needle in needles:
            self.assertIn(needle, out)
        self.assertNotIn("Syntax OK", out)
        return out

    def test_good_config_passes(self):
        code, out = self.site.sp.configtest(self.site.sp.conf_text())
        self.assertEqual(0, code, out)
        self.assertIn("Syntax OK", out)

    def test_unreadable_key_file(self):
        sp = self.site.sp
        missing = os.path.join(self.site.work, "no-such.key")
        self.assertConfigFails(self.conf_with('"%s/sp.key"' % sp.sp_dir, '"%s"' % missing), "SAMLSPPrivateKeyFile", missing)
        directory = os.path.join(self.site.work, "a-directory.key")
        os.makedirs(directory, exist_ok=True)
        self.assertConfigFails(self.conf_with('"%s/sp.key"' % sp.sp_dir, '"%s"' % directory), "SAMLSPPrivateKeyFile", directory)

    def test_key_that_is_not_a_key(self):
        garbage = self.write("garbage.key", b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        self.assertConfigFails(self.conf_with('"%s/sp.key"' % self.site.sp.sp_dir, '"%s"' % garbage),
                               "SAMLSPPrivateKeyFile", garbage, "openssl")

    def test_key_and_certificate_mismatch(self):
        from harness import pki
        key, crt = pki.make_key_and_cert(os.path.join(self.site.work, "other"), "other", "other.example")
        out = self.assertConfigFails(self.conf_with('"%s/sp.key"' % self.site.sp.sp_dir, '"%s"' % key),
                                     "does not match", key, self.site.sp.sp_dir + "/sp.crt")
        self.assertIn("certificate that was made for this key", out)

    def test_bad_certificate(self):
        bad = self.write("bad.crt", b"hello\n")
        self.assertConfigFails(self.conf_with('"%s/sp.crt"' % self.site.sp.sp_dir, '"%s"' % bad),
                               "SAMLSPCertificateFile", bad)

    def test_bad_metadata_file(self):
        for data in (b"not xml at all", b"<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata'/>",
                     b"<html><body>login page</body></html>"):
            bad = self.write("bad-metadata.xml", data, 0o644)
            self.assertConfigFails(self.conf_with(self.site.sp.idp_metadata_path, bad), "SAMLIdPMetadataFile", bad,
                                   "metadata")
        missing = os.path.join(self.site.work, "missing-metadata.xml")
        self.assertConfigFails(self.conf_with(self.site.sp.idp_metadata_path, missing), "SAMLIdPMetadataFile", missing)

    def test_missing_session_secret(self):
        line = 'SAMLSessionSecretFile "%s"\n' % self.site.sp.secret_path
        self.assertConfigFails(self.conf_with(line, ""), "SAMLSessionSecretFile is not set", "/dev/urandom")
        missing = os.path.join(self.site.work, "no-secret")
        self.assertConfigFails(self.conf_with(line, 'SAMLSessionSecretFile "%s"\n' % missing), "SAMLSessionSecretFile",
                               missing)

    def test_short_session_secret(self):
        short = self.write("short-secret", b"0123456789abcdef0123456789abcd")  # 30 bytes (every byte counts)
        line = 'SAMLSessionSecretFile "%s"\n' % self.site.sp.secret_path
        self.assertConfigFails(self.conf_with(line, 'SAMLSessionSecretFile "%s"\n' % short), short, "30 bytes",
                               "at least 32", "/dev/urandom")

    def test_missing_entity_id(self):
        self.assertConfigFails(self.conf_with("SAMLSPEntityID %s\n" % self.site.sp.entity_id, ""),
                               "SAMLSPEntityID is not set", "SAMLSPEntityID https://")

    def test_message_names_the_config_file(self):
        out = self.assertConfigFails(self.conf_with("SAMLSPEntityID %s\n" % self.site.sp.entity_id, ""))
        self.assertRegex(out, r"mod_auth_saml \(%s, line \d+\)" % re.escape(self.site.sp.conf_path + ".test"))


class EndpointPathTest(SiteTestCase):
    """SAMLEndpointPath / gives the walkthrough's URLs: /sso/ /acs/ /metadata/ (and /sls/ /logout/)."""
    site_options = {"server_conf": "SAMLEndpointPath /", "metadata_path": "/metadata/"}

    def test_metadata_lists_the_root_endpoints(self):
        r = self.site.browser().get(self.url("/metadata/"))
        self.assertEqual(200, r.status)
        self.assertIn('Location="%s/acs/"' % self.site.sp.base_url, r.text)
        self.assertIn('Location="%s/sls/"' % self.site.sp.base_url, r.text)
        self.assertNotIn("/saml/", r.text.replace(self.site.sp.entity_id, ""))
        self.assertEqual(404, self.get("/saml/metadata").status)

    def test_login_through_the_root_endpoints(self):
        b, r = self.site.login("/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:500])
        self.assertEqual(self.url("/protected/env.cgi"), r.url)
        self.assertIn(("POST", self.url("/acs/"), 303), r.history)
        self.assertEqual("alice@example.org", env_of(r)["SAML_mail"])

    def test_sso_and_logout_at_the_root(self):
        r = self.get("/sso/?ReturnTo=/protected/env.cgi")
        self.assertGoesToIdp(r)
        xml = zlib.decompress(base64.b64decode(query_of(r.location)["SAMLRequest"][0]), -15).decode()
        self.assertIn('AssertionConsumerServiceURL="%s/acs/"' % self.site.sp.base_url, xml)
        b, r = self.site.login("/protected/env.cgi")
        hops = redirect_hops(b, self.url("/logout/?ReturnTo=/public/index.php"))
        self.assertIn(self.url("/public/index.php"), [h.url for h in hops])
        self.assertTrue([h for h in hops if h.url.startswith(self.url("/sls/?"))], [h.url for h in hops])
        self.assertIsNone(b.cookie("saml_session"))


class CookieHeaderLimitTest(SiteTestCase):
    """A session whose cookies would not fit under LimitRequestFieldSize is refused at /acs with
    the numbers and the fix, instead of every later request failing with httpd's bare 400."""
    site_options = {"server_conf": "LimitRequestFieldSize 1400"}

    def test_a_session_too_large_for_the_request_header_limit_is_refused_at_the_acs(self):
        self.allow.append("SAML0834")
        b = self.site.browser()
        r = b.login(self.url("/protected/env.cgi"), "alice", idpmod.USERS["alice"]["password"])
        self.assertEqual(403, r.status, r.text[:500])
        self.assertIn("(SAML0834)", r.text)
        self.assertIsNone(b.cookie("saml_session"))
        lines = [l for l in self.site.sp.log_since_mark().splitlines() if "SAML0834" in l]
        self.assertEqual(1, len(lines), lines)
        self.assertIn("LimitRequestFieldSize 1400", lines[0])
        self.assertRegex(lines[0], r"raise LimitRequestFieldSize to at least \d+")


class ExportTest(SiteTestCase):
    """Request headers for back ends, attribute renaming and prefixes, Require expr on attributes."""
    site_options = {"extra_conf": EXTRA_LOCATIONS}

    def test_forged_headers_are_replaced_by_the_real_values(self):
        b, r = self.site.login("/headers/env.cgi")
        self.assertEqual(200, r.status)
        forged = {"X-SAML-User": "mallory", "X-SAML-mail": "mallory@evil.example", "X-Saml-Forged": "1",
                  "x-saml-givenname": "Mallory"}
        r = self.get("/headers/env.cgi", browser=b, headers=forged)
        env = env_of(r)
        self.assertEqual(env["REMOTE_USER"], env["HTTP_X_SAML_USER"])
        self.assertEqual("alice@example.org", env["HTTP_X_SAML_MAIL"])
        self.assertEqual("Zoë", env["HTTP_X_SAML_GIVENNAME"])
        self.assertEqual("member;staff", env["HTTP_X_SAML_EDUPERSONAFFILIATION"])
        self.assertNotIn("HTTP_X_SAML_FORGED", env)
        self.assertNotIn("mallory", r.text.lower())

    def test_forged_headers_from_an_anonymous_client_reach_no_page(self):
        r = self.get("/headers/env.cgi", headers={"X-SAML-User": "mallory"})
        self.assertGoesToIdp(r)
        self.assertNotIn("mallory", r.text)

    def test_attribute_map_renames_a_variable(self):
        b, r = self.site.login("/mapped/env.cgi")
        env = env_of(r)
        self.assertEqual("alice@example.org", env["SAML_email"])
        self.assertEqual("1", env["SAML_email_COUNT"])
        self.assertNotIn("SAML_mail", env)
        self.assertEqual("Zoë", env["SAML_first_name"])
        self.assertNotIn("SAML_givenName", env)
        self.assertEqual("member;staff", env["SAML_eduPersonAffiliation"])  # unmapped ones keep their names

    def test_mapped_names_work_in_require_and_user_attribute(self):
        b, r = self.site.login("/mapped-require/env.cgi")
        self.assertEqual(200, r.status, r.text)
        self.assertEqual("alice@example.org", env_of(r)["REMOTE_USER"])
        b2, r2 = self.site.login("/mapped-require/env.cgi", user="bob")
        self.assertEqual(403, r2.status)
        self.allow.append(r"AH01631")

    def test_attribute_prefix(self):
        b, r = self.site.login("/renamed/env.cgi")
        env = env_of(r)
        self.assertEqual("alice@example.org", env["APP_email"])
        self.assertEqual("Zoë", env["APP_givenName"])
        self.assertEqual(env["REMOTE_USER"], env["APP_NAME_ID"])
        self.assertFalse([k for k in env if k.startswith("SAML_")], env)

    def test_require_expr_on_an_attribute(self):
        # authz_core decides `Require expr` in its user-less pass, before any login: an anonymous
        # visitor is denied there, and the module turns that denial into a trip to the login
        anonymous = self.get("/expr/env.cgi?q=1")
        self.assertEqual(302, anonymous.status)
        self.assertEqual(self.url("/saml/sso?ReturnTo=%2Fexpr%2Fenv.cgi%3Fq%3D1"), anonymous.location)
        script = self.get("/expr/env.cgi", headers={"Sec-Fetch-Mode": "cors"})
        self.assertEqual(403, script.status)  # scripts are not sent to log in
        b, r = self.site.login("/expr/env.cgi")
        self.assertEqual(200, r.status, r.text[:500])
        self.assertEqual(self.url("/expr/env.cgi"), r.url)
        env = env_of(r)
        self.assertEqual("SAML", env["AUTH_TYPE"])
        self.assertEqual(env["SAML_NAME_ID"], env["REMOTE_USER"])  # the user is set although expr granted early
        b2, r2 = self.site.login("/expr/env.cgi", user="bob")
        self.assertEqual(403, r2.status)
        self.assertIsNone(r2.location)  # a logged-in user who is denied is not sent to log in again
        self.allow.append(r"AH01630")  # authz_core: the user-less pass denies bob


if __name__ == "__main__":
    unittest.main()
