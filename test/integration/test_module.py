"""The module end to end: a real httpd with mod_auth_saml in front of CGI and PHP pages, and
Debian's SimpleSAMLphp as the IdP, both on loopback, driven like a browser.

Every test fails on an unexpected [warn]/[error] line in the SP's error log.
"""
import base64
import os
import re
import shutil
import tempfile
import unittest
import urllib.parse
import zlib

from harness import idp as idpmod
from harness import ports
from harness.browser import Browser
from harness.sp import ModuleSp

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"


def env_of(response):
    """The env.cgi page as a dict."""
    out = {}
    for line in response.text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


class Site:
    """One IdP + one SP, shared by the tests of a class."""

    def __init__(self, server_conf="", extra_conf="", sp_options=None):
        self.work = tempfile.mkdtemp(prefix="saml-module-test-")
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port())
        self.idp.start()
        self.sp = ModuleSp(os.path.join(self.work, "sp"), ports.free_port(), self.idp.metadata_xml(),
                           server_conf=server_conf, extra_conf=extra_conf)
        self.sp.start()
        metadata = Browser(verify=False).get(self.sp.base_url + "/saml/metadata")
        assert metadata.status == 200, metadata
        self.idp.add_sp(metadata.text, **(sp_options or {}))

    def close(self):
        self.sp.stop()
        self.idp.stop()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def browser(self):
        return Browser(verify=False)

    def login(self, path, user="alice", browser=None):
        b = browser or self.browser()
        r = b.login(self.sp.base_url + path, user, idpmod.USERS[user]["password"])
        return b, r


class ModuleTest(unittest.TestCase):
    allowed_log = ()

    @classmethod
    def setUpClass(cls):
        cls.site = Site()

    @classmethod
    def tearDownClass(cls):
        cls.site.close()

    def setUp(self):
        self.site.sp.mark_log()
        self.site.idp.mark_logs()
        self.allow = list(self.allowed_log)

    def tearDown(self):
        problems = self.site.sp.problems(self.allow)
        self.assertEqual([], problems, "unexpected lines in the SP error log")

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


if __name__ == "__main__":
    unittest.main()
