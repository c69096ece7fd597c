"""The per-connection session cache (src/httpd/session_cache.cpp): requests on ONE keep-alive
TLS connection, as a browser sends them. A repeated cookie is answered from the cache (the
SAML0813 debug line says so); anything else (another user's cookie, a byte changed, time
passing, a stricter location, a forged variable) must be judged exactly as without the cache.

Every test fails on an unexpected [warn]/[error] line in the SP's error log.
"""
import http.client
import os
import ssl
import time
import unittest

from harness.sp import env_of
from test_module import EXTRA_LOCATIONS, SiteTestCase

# The module suite's locations (/short, /idle, /headers, /renamed...), and one where a rule sets
# our variables before the module runs.
LOCATIONS = EXTRA_LOCATIONS + """
<Location /forged>
    AuthType SAML
    Require valid-user
    # what a client-influenced rule could set before the module runs: ours must win
    SetEnvIf Request_URI "." SAML_mail=mallory@evil.example SAML_NAME_ID=forged SAML_uid=mallory
    # what httpd reads (apr_table_get: the first entry of a name) for a static page; for a CGI,
    # httpd's own merge of the environment (ap_add_common_vars) would hide a duplicate
    Header always set X-Seen-Mail "%{SAML_mail}e"
    Header always set X-Seen-Name-Id "%{SAML_NAME_ID}e"
</Location>
"""

HIT = "SAML0813 "


class Connection:
    """One keep-alive HTTPS connection; fails the test if the server ever closes it."""

    def __init__(self, test, sp):
        self.test = test
        self.conn = http.client.HTTPSConnection(sp.host, sp.port, context=ssl._create_unverified_context(), timeout=30)
        self.sock = None

    def get(self, path, cookie=None, headers=None):
        sent = dict(headers or {})
        if cookie:
            sent["Cookie"] = cookie
        self.conn.request("GET", path, headers=sent)
        response = self.conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        if self.sock is None:
            self.sock = self.conn.sock
        self.test.assertIs(self.sock, self.conn.sock, "the server closed the keep-alive connection")
        self.test.assertIsNotNone(self.conn.sock, "the server closed the keep-alive connection")
        response.text = body
        return response

    def close(self):
        self.conn.close()


class SessionCacheTest(SiteTestCase):
    site_options = {"extra_conf": LOCATIONS, "server_conf": "LogLevel warn auth_saml:debug"}

    def setUp(self):
        super().setUp()
        self.connection = Connection(self, self.site.sp)

    def tearDown(self):
        self.connection.close()
        super().tearDown()

    def cookie_of(self, user="alice", path="/protected/env.cgi"):
        b, r = self.site.login(path, user=user)
        self.assertEqual(200, r.status, r.text[:500])
        value = b.cookie("saml_session")
        self.assertIsNotNone(value)
        return "saml_session=" + value

    def hits(self):
        return sum(1 for line in self.site.sp.log_since_mark().splitlines() if HIT in line)

    def assertAlice(self, response):
        self.assertEqual(200, response.status, response.text[:500])
        env = env_of(response)
        self.assertEqual("alice@example.org", env["SAML_mail"])
        self.assertEqual("member;staff", env["SAML_eduPersonAffiliation"])
        self.assertEqual("2", env["SAML_eduPersonAffiliation_COUNT"])
        self.assertEqual("Zoë", env["SAML_givenName"])
        self.assertEqual(env["SAML_NAME_ID"], env["REMOTE_USER"])
        self.assertEqual("SAML", env["AUTH_TYPE"])
        return env

    def assertGoesToIdp(self, response):
        self.assertIn(response.status, (302, 303), response.text[:500])
        self.assertTrue(response.getheader("Location", "").startswith(self.site.idp.sso_url),
                        response.getheader("Location"))

    def session_cookies_set(self, response):
        return [v for k, v in response.getheaders() if k.lower() == "set-cookie" and v.startswith("saml_session=")]

    def test_repeated_requests_on_one_connection_get_the_same_user_and_attributes(self):
        cookie = self.cookie_of()
        self.site.sp.mark_log()
        first = self.assertAlice(self.connection.get("/protected/env.cgi", cookie))
        for _ in range(5):
            self.assertEqual(first, self.assertAlice(self.connection.get("/protected/env.cgi", cookie)))
        self.assertEqual(5, self.hits())  # the first request opened the cookie, the others matched it

    def test_export_settings_of_each_location_apply_to_the_cached_session(self):
        cookie = self.cookie_of()
        for _ in range(2):
            env = self.assertAlice(self.connection.get("/protected/env.cgi", cookie))
            self.assertNotIn("HTTP_X_SAML_USER", env)
            renamed = env_of(self.connection.get("/renamed/env.cgi", cookie))
            self.assertEqual("alice@example.org", renamed["APP_email"])
            self.assertEqual("Zoë", renamed["APP_givenName"])
            self.assertFalse([k for k in renamed if k.startswith("SAML_")], renamed)
            forged = {"X-SAML-User": "mallory", "X-SAML-mail": "mallory@evil.example", "X-Saml-Forged": "1"}
            headers = self.connection.get("/headers/env.cgi", cookie, headers=forged)
            env = env_of(headers)
            self.assertEqual(env["REMOTE_USER"], env["HTTP_X_SAML_USER"])
            self.assertEqual("alice@example.org", env["HTTP_X_SAML_MAIL"])
            self.assertNotIn("HTTP_X_SAML_FORGED", env)
            self.assertNotIn("mallory", headers.text.lower())

    def test_another_users_cookie_on_the_same_connection_is_judged_afresh(self):
        alice, bob = self.cookie_of("alice"), self.cookie_of("bob")
        for _ in range(2):
            self.assertAlice(self.connection.get("/protected/env.cgi", alice))
            self.assertAlice(self.connection.get("/protected/env.cgi", alice))
            r = self.connection.get("/protected/env.cgi", bob)
            self.assertEqual(200, r.status)
            env = env_of(r)
            self.assertEqual("bob@example.org", env["SAML_mail"])
            self.assertEqual("Björn", env["SAML_givenName"])
            self.assertEqual("member;student", env["SAML_eduPersonAffiliation"])
            self.assertNotEqual("alice@example.org", env["REMOTE_USER"])
        self.assertGoesToIdp(self.connection.get("/protected/env.cgi"))  # no cookie: no session

    def test_a_cookie_changed_in_one_byte_is_opened_and_refused(self):
        cookie = self.cookie_of()
        value = cookie.split("=", 1)[1]
        self.assertAlice(self.connection.get("/protected/env.cgi", cookie))
        for i in (len(value) // 2, len(value) - 2, 5, 0):
            flipped = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1:]
            self.site.sp.mark_log()
            self.assertGoesToIdp(self.connection.get("/protected/env.cgi", "saml_session=" + flipped))
            log = self.site.sp.log_since_mark()
            self.assertNotIn(HIT, log)
            self.assertIn("SAML0811 ", log)  # open() refused it
            self.assertAlice(self.connection.get("/protected/env.cgi", cookie))  # the real one still works
        self.assertGoesToIdp(self.connection.get("/protected/env.cgi", "saml_session=" + value[:-1]))
        self.assertGoesToIdp(self.connection.get("/protected/env.cgi", "saml_session=" + value + "A"))

    def test_a_shorter_max_age_here_refuses_what_another_location_accepts(self):
        cookie = self.cookie_of()
        self.assertEqual(200, self.connection.get("/short/env.cgi", cookie).status)
        time.sleep(2.5)
        self.site.sp.mark_log()
        for _ in range(2):
            self.assertAlice(self.connection.get("/protected/env.cgi", cookie))
            self.assertGoesToIdp(self.connection.get("/short/env.cgi", cookie))
        log = self.site.sp.log_since_mark()
        self.assertEqual(4, log.count(HIT), log)  # every one of them judged from the cache
        self.assertEqual(2, log.count("SAML0812 "), log)

    def test_idle_timeout_is_checked_and_refreshed_on_cached_sessions(self):
        cookie = self.cookie_of(path="/idle/env.cgi")
        self.assertAlice(self.connection.get("/idle/env.cgi", cookie))
        for _ in range(3):  # every second, with the cookie the server last set, as a browser does
            time.sleep(1.1)
            self.site.sp.mark_log()
            r = self.connection.get("/idle/env.cgi", cookie)
            self.assertAlice(r)
            set_now = self.session_cookies_set(r)
            self.assertTrue(set_now, r.getheaders())  # last-seen renewed on a request the cache answered
            self.assertEqual(1, self.hits())
            cookie = set_now[0].split(";", 1)[0]
            self.assertAlice(self.connection.get("/idle/env.cgi", cookie))  # the renewed cookie opens
        time.sleep(3.5)  # KeepAliveTimeout is 5 s
        self.site.sp.mark_log()
        self.assertGoesToIdp(self.connection.get("/idle/env.cgi", cookie))
        log = self.site.sp.log_since_mark()
        self.assertIn(HIT, log)
        self.assertIn("SAML0517", log)  # idle, decided on the cached session
        self.assertAlice(self.connection.get("/protected/env.cgi", cookie))  # no idle limit there

    def test_variables_forged_with_setenvif_are_overwritten_on_every_request(self):
        with open(os.path.join(self.site.sp.htdocs, "forged", "page.txt"), "w") as f:
            f.write("a static page\n")
        cookie = self.cookie_of()
        self.site.sp.mark_log()
        for _ in range(3):
            r = self.connection.get("/forged/env.cgi", cookie)
            env = self.assertAlice(r)
            self.assertNotEqual("forged", env["SAML_NAME_ID"])
            self.assertEqual("alice", env["SAML_uid"])
            self.assertNotIn("mallory", r.text)
            static = self.connection.get("/forged/page.txt", cookie)
            self.assertEqual(200, static.status)
            self.assertEqual("alice@example.org", static.getheader("X-Seen-Mail"))
            self.assertEqual(env["SAML_NAME_ID"], static.getheader("X-Seen-Name-Id"))
        self.assertEqual(5, self.hits())


if __name__ == "__main__":
    unittest.main()
