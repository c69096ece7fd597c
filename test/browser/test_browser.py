"""mod_auth_saml in a real browser: headless Chromium (Debian's chromium, driven by
playwright-core from test/browser/node_modules) against the integration harness's httpd with the
built module and its SimpleSAMLphp IdP.

The SP is https://127.0.0.1:<port>; the IdP is http://idp.test:<port> (Chromium maps idp.test to
127.0.0.1), another site, so the IdP's POST back to /saml/acs is cross-site and SameSite rules
apply as they do in the field. Each test starts cases.js for one case in a fresh browser and
checks what it reports against the servers' logs: every page a person sees carries a reference
id that must be on exactly one line of the SP's error log.

Screenshots go to $SAML_BROWSER_SCREENSHOTS (test/browser/run --update-screenshots: docs/screenshots),
else build/browser/screenshots. Without Chromium, Node or `npm ci` every test is skipped, loudly.
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import idp as idpmod
from harness import ports
from harness.browser import Browser
from harness.sp import ModuleSp

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
CHROMIUM = os.environ.get("SAML_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node") or "/usr/bin/node"
IDP_NAME = "idp.test"          # Chromium maps *.test to 127.0.0.1
IDP_B_NAME = "idp-b.test"
IDP_A_DISPLAY = "Alpha University"
IDP_B_DISPLAY = "Beta College"
KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
SCREENSHOTS = os.environ.get("SAML_BROWSER_SCREENSHOTS") or os.path.join(TOP, "build", "browser", "screenshots")
CASE_TIMEOUT = 90

# A user whose attributes do not fit one cookie (random text: the sealed session does not
# compress it away), and one whose attributes do not fit the whole cookie budget (8 chunks).
BIG_VALUE = secrets.token_hex(3000)        # 6000 characters
HUGE_VALUES = [secrets.token_hex(1000) for _ in range(24)]  # 48000 characters
USERS = dict(idpmod.USERS)
USERS["carol"] = {"password": "carol-password",
                  "attributes": {"uid": ["carol"], "mail": ["carol@example.org"], "description": [BIG_VALUE]}}
USERS["dave"] = {"password": "dave-password",
                 "attributes": {"uid": ["dave"], "mail": ["dave@example.org"], "description": HUGE_VALUES}}
# 300 groups as Entra ID or AD FS send them: too many for cookies under httpd's default limits.
GROUPS = ["%08x-4d2c-4e0a-9b1f-%012x" % (i * 2654435761 % 2**32, i) for i in range(300)]
USERS["erin"] = {"password": "erin-password",
                 "attributes": {"uid": ["erin"], "mail": ["erin@example.org"], "memberOf": GROUPS}}

# Three chunks of session cookie come back in one Cookie header of about 11 KB: above httpd's
# default LimitRequestFieldSize (8190), under which the module refuses such a login instead.
EXTRA_CONF = """
LimitRequestFieldSize 16384
<Location /short>
    AuthType SAML
    SAMLSessionMaxAge 3
    Require valid-user
</Location>
<Location /demo>
    AuthType SAML
    SAMLMode passive
    SAMLUserAttribute uid
    Require all granted
</Location>
"""


def browser_missing():
    """Why no browser case can run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is missing (scripts/install-deps installs Debian's chromium)" % CHROMIUM
    if not os.access(NODE, os.X_OK):
        return "node is missing (scripts/install-deps installs nodejs)"
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        return "test/browser/node_modules/playwright-core is missing (scripts/install-deps runs npm ci there)"
    return None


def loud_banner(reason):
    banner = "#" * 78
    for stream in (sys.stdout,):  # the runner's stream: scripts/test shows its tail
        stream.write("\n%s\n# BROWSER TESTS SKIPPED: %s\n# These tests prove logins in a real browser; "
                     "they did NOT run.\n%s\n" % (banner, reason, banner))
        stream.flush()


class BrowserSite:
    """One IdP (on idp.test) and one SP (on 127.0.0.1) for the whole suite."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="saml-browser-test-")
        self.idp_b = self.chooser_sp = self.store_sp = None
        # Its display name is for the chooser (ChooserTest), when this tree has one.
        named = {"hosted_extra": {"UIInfo": {"DisplayName": {"en": IDP_A_DISPLAY}}}}
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port(), users=USERS,
                                        public_host=IDP_NAME, **named)
        self.idp.start()
        self.sp = ModuleSp(os.path.join(self.work, "sp"), ports.free_port(), self.idp.metadata_xml(),
                           extra_conf=EXTRA_CONF)
        demo = os.path.join(self.sp.htdocs, "demo")
        os.makedirs(demo, exist_ok=True)
        shutil.copy(os.path.join(TOP, "demo", "htdocs", "index.php"), os.path.join(demo, "index.php"))
        os.chmod(os.path.join(demo, "index.php"), 0o755)
        self.sp.start()
        metadata = Browser(verify=False).get(self.sp.base_url + "/saml/metadata")
        assert metadata.status == 200, metadata
        # uid as NameID: the pages say "Logged in as alice", readable in the screenshots.
        self.idp.add_sp(metadata.text, nameid_format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
                        nameid_attribute="uid")

    def idp_hosts(self):
        return ["%s:%d" % (IDP_NAME, self.idp.port)] + (
            ["%s:%d" % (IDP_B_NAME, self.idp_b.port)] if self.idp_b else [])

    def sps(self):
        return [self.sp] + [sp for sp in (self.chooser_sp, self.store_sp) if sp]

    def add_store_sp(self):
        """An SP with SAMLSessionStore cache and httpd's default header limits."""
        if self.store_sp:
            return self.store_sp
        self.store_sp = ModuleSp(os.path.join(self.work, "sp-store"), ports.free_port(), self.idp.metadata_xml(),
                                 server_conf="SAMLSessionStore cache\n")
        self.store_sp.start()
        metadata = Browser(verify=False).get(self.store_sp.base_url + "/saml/metadata")
        assert metadata.status == 200, metadata
        self.idp.add_sp(metadata.text, nameid_format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
                        nameid_attribute="uid")
        time.sleep(2.5)  # the IdP's PHP sees its new metadata file (opcache revalidates every 2 s)
        return self.store_sp

    def add_chooser(self):
        """A second IdP on idp-b.test and an SP trusting both, with no default: the chooser."""
        if self.chooser_sp:
            return
        self.idp_b = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp-b"), ports.free_port(), public_host=IDP_B_NAME,
                                          hosted_extra={"UIInfo": {"DisplayName": {"en": IDP_B_DISPLAY}}})
        self.idp_b.start()
        b_metadata = os.path.join(self.work, "idp-b-metadata.xml")
        with open(b_metadata, "w") as f:
            f.write(self.idp_b.metadata_xml())
        self.chooser_sp = ModuleSp(os.path.join(self.work, "sp-chooser"), ports.free_port(), self.idp.metadata_xml(),
                                   server_conf='SAMLIdPMetadataFile "%s"\n' % b_metadata)
        self.chooser_sp.start()
        metadata = Browser(verify=False).get(self.chooser_sp.base_url + "/saml/metadata")
        assert metadata.status == 200, metadata
        for idp in (self.idp, self.idp_b):
            idp.add_sp(metadata.text)

    def close(self):
        for sp in self.sps():
            sp.stop()
        self.idp.stop()
        if self.idp_b:
            self.idp_b.stop()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


_site = None
_missing = browser_missing()
if _missing:
    loud_banner(_missing)


def tearDownModule():
    if _site is not None:
        _site.close()


class BrowserTestCase(unittest.TestCase):
    """Every test of the suite shares one BrowserSite; each is skipped when no browser can run."""

    @property
    def site(self):
        global _site
        if _site is None:
            _site = BrowserSite()
        return _site

    def setUp(self):
        if _missing:
            self.skipTest("no browser: " + _missing)
        for sp in self.site.sps():
            sp.mark_log()
        self.site.idp.mark_logs()

    def run_case(self, name, allowed_log=(), **params):
        """Runs one case of cases.js; fails on what the browser reports and on unexpected SP log
        lines; returns the case's facts."""
        config = {"sp": self.site.sp.base_url, "idpHosts": self.site.idp_hosts(), "chromium": CHROMIUM,
                  "screenshots": SCREENSHOTS, "params": params}
        env = dict(os.environ, SAML_BROWSER_CONFIG=json.dumps(config), NODE_PATH=os.path.join(HERE, "node_modules"))
        try:
            p = subprocess.run([NODE, os.path.join(HERE, "cases.js"), name], cwd=HERE, env=env, timeout=CASE_TIMEOUT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired:
            self.fail("case %s took longer than %d s" % (name, CASE_TIMEOUT))
        out = p.stdout.decode("utf-8", "replace").strip().splitlines()
        try:
            result = json.loads(out[-1])
        except (IndexError, ValueError):
            self.fail("case %s printed no result (exit %d):\n%s\n%s" % (
                name, p.returncode, "\n".join(out[-20:]), p.stderr.decode("utf-8", "replace")[-3000:]))
        self.assertEqual([], result["failures"], "case %s; facts: %s" % (name, json.dumps(result["facts"])[:2000]))
        for sp in self.site.sps():
            self.assertEqual([], sp.problems(allow=allowed_log))
        return result["facts"]

    def log_lines_with(self, text):
        return [line for line in self.site.sp.log_since_mark().splitlines() if text in line]

    def assertReferenceLogged(self, facts, code, level="warn"):
        """The page's reference id is on exactly one log line, with the code the page shows."""
        self.assertEqual(code, facts.get("code"), facts.get("text"))
        lines = self.log_lines_with("[ref %s]" % facts["reference"])
        self.assertEqual(1, len(lines), lines)
        self.assertIn("[auth_saml:%s]" % level, lines[0])
        self.assertIn(code, lines[0])
        return lines[0]


class LoginTest(BrowserTestCase):
    """Logins, sessions and logouts as a person's browser does them."""

    def test_login_over_a_cross_site_post_shows_alices_attributes(self):
        facts = self.run_case("login")
        self.assertEqual("cross-site", facts["acsSecFetchSite"])
        self.assertIn("SameSite=None", facts["loginStateSetCookie"])
        self.assertEqual(1, len(self.log_lines_with("SAML0835 login of alice from " + self.site.idp.entity_id)))
        self.assertEqual([], self.site.idp.log_problems())

    def test_a_lax_login_state_cookie_would_break_the_login(self):
        facts = self.run_case("lax_state", allowed_log=(r"SAML0238",))
        self.assertEqual(403, facts["status"], facts)
        self.assertReferenceLogged(facts, "SAML0238")
        self.assertEqual([], self.log_lines_with("SAML0835 login of"))

    def test_deep_link_survives_the_round_trip(self):
        self.run_case("deep_link")

    def test_logout_with_single_logout_at_the_idp(self):
        self.run_case("logout")
        self.assertEqual([], self.site.idp.log_problems())

    def test_logout_without_return_to_shows_the_logged_out_page(self):
        facts = self.run_case("logged_out_page")
        self.assertEqual(200, facts["status"])
        self.assertEqual("Logged out", facts["title"])
        self.assertIn("logged out of this site and of your organisation", facts["text"])
        lines = self.log_lines_with("[ref %s]" % facts["reference"])
        self.assertEqual(1, len(lines), lines)
        self.assertIn("SAML0844", lines[0])
        self.assertIn("[auth_saml:info]", lines[0])

    def test_three_hundred_groups_log_in_with_sessions_on_the_server(self):
        store = self.site.add_store_sp()
        store.mark_log()
        facts = self.run_case("many_groups", sp=store.base_url, user="erin", password="erin-password")
        self.assertEqual(300, facts["groups"])
        self.assertLess(facts["cookieBytes"], 200)
        self.assertEqual([], store.problems())

    def test_a_logout_in_one_browser_ends_the_copy_of_its_session_in_another(self):
        store = self.site.add_store_sp()
        store.mark_log()
        facts = self.run_case("revoked_copy", sp=store.base_url)
        self.assertEqual("alice", facts["before"])
        self.assertEqual([], store.problems())

    def test_another_site_cannot_log_the_user_out_without_asking(self):
        facts = self.run_case("cross_site_logout", allowed_log=("SAML0846",))
        self.assertEqual("Log out?", facts["title"])
        warned = self.log_lines_with("SAML0846")
        self.assertEqual(1, len(warned), warned)  # the navigation; the <img> came without the Lax cookie
        self.assertIn("asked for from another site (Referer: http://evil.test)", warned[0])

    def test_second_tab_shares_the_session(self):
        self.run_case("second_tab")

    def test_session_too_big_for_one_cookie_comes_back_in_chunks(self):
        facts = self.run_case("chunks", user="carol", password="carol-password", attribute="SAML_description")
        self.assertEqual(3, len(facts["chunkNames"]), facts["chunkNames"])
        self.assertGreater(sum(facts["chunkSizes"]), 8190)
        self.assertEqual(BIG_VALUE, facts["bigValue"], facts["envNames"])

    def test_expired_session_logs_in_again_without_a_loop(self):
        facts = self.run_case("expired", wait_ms=3500)
        self.assertEqual((1, 1), (facts["sso"], facts["acs"]))
        self.assertEqual(2, len(self.log_lines_with("SAML0835 login of alice")))

    def test_passive_demo_page_shows_login_then_attributes(self):
        facts = self.run_case("passive")
        # The session reference on the page is on the login's log line.
        lines = self.log_lines_with("[session %s]" % facts["sessionReference"])
        self.assertEqual(1, len(lines), lines)
        self.assertIn("SAML0835 login of alice", lines[0])


class ErrorPageTest(BrowserTestCase):
    """Each kind of rejection a person can meet: a plain page that says what happened and what to
    do, with a reference the administrator finds on one line of the error log. Photographed."""

    def error_page(self, screenshot, reach, status, code, level="warn", allowed_log=(), **params):
        facts = self.run_case("error_page", allowed_log=allowed_log or (code,), screenshot=screenshot, reach=reach,
                              **params)
        self.assertEqual(status, facts["status"], facts)
        line = self.assertReferenceLogged(facts, code, level)
        return facts, line

    def test_return_to_on_another_site(self):
        facts, line = self.error_page("error-bad-return-to", "visit", 400, "SAML0612",
                                      path="/saml/sso?ReturnTo=https://evil.example/")
        self.assertEqual("Login not started", facts["title"])

    def test_unknown_identity_provider(self):
        facts, line = self.error_page("error-unknown-idp", "visit", 400, "SAML0821",
                                      path="/saml/sso?idp=https://nowhere.example/idp")
        self.assertIn("nowhere.example", line)

    def test_acs_opened_directly(self):
        self.error_page("error-acs-get", "visit", 405, "SAML0830", path="/saml/acs")

    def test_login_state_lost_before_the_answer_arrives(self):
        facts, line = self.error_page("error-login-state-lost", "lost_state", 403, "SAML0238")
        self.assertEqual("Login failed", facts["title"])

    def test_portal_tile_without_a_start_url(self):
        sp = self.site.sp
        facts, line = self.error_page("error-unsolicited", "portal_tile", 403, "SAML0239",
                                      url=self.site.idp.idp_initiated_url(sp.entity_id))
        self.assertEqual("Login failed", facts["title"])
        self.assertIn("To log in now, open %s/saml/sso ." % sp.base_url, facts["text"])
        self.assertIn("SAMLAllowUnsolicited On", facts["text"])

    def test_answer_posted_twice(self):
        self.error_page("error-replayed-answer", "replay", 403, "SAML0258")

    def test_answer_that_is_no_saml(self):
        self.error_page("error-unreadable-answer", "garbage", 400, "SAML0104")

    def test_session_too_big_for_the_cookie_budget(self):
        facts, line = self.error_page("error-session-too-large", "login", 403, "SAML0834",
                                      path="/protected/env.cgi", user="dave", password="dave-password")
        self.assertIn("release fewer attributes", line)

    def test_logged_in_but_not_allowed(self):
        facts, line = self.error_page("error-access-denied", "login", 403, "SAML0860", level="info",
                                      allowed_log=(r"AH01630|AH01631",), path="/alice-only/env.cgi", user="bob",
                                      password="bob-password")
        self.assertIn("logged in as bob", facts["text"])

    def test_logout_message_missing(self):
        self.error_page("error-logout-message-missing", "visit", 400, "SAML0840", path="/saml/sls")


class ChooserTest(BrowserTestCase):
    """The IdP chooser with two IdPs on two more sites, in a browser (its script, its CSP)."""

    def setUp(self):
        super().setUp()
        self.site.add_chooser()
        for sp in self.site.sps():
            sp.mark_log()

    def test_chooser_filters_as_one_types_and_remembers_the_choice(self):
        facts = self.run_case("chooser", sp=self.site.chooser_sp.base_url, names=[IDP_A_DISPLAY, IDP_B_DISPLAY],
                              search="beta", pick=IDP_B_DISPLAY)
        self.assertEqual(self.site.idp_b.entity_id, facts["idp"])
        self.assertEqual([], self.site.idp_b.log_problems())


if __name__ == "__main__":
    unittest.main()
