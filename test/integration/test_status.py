"""The status handler (`SetHandler saml-status`): counters shared by all children, shown as text
and in Prometheus' text format, restricted by the administrator's Require like mod_status."""
import re
import unittest

from test_module import SiteTestCase

STATUS_CONF = """
<Location /saml-status>
    SetHandler saml-status
    Require local
</Location>
<Location /saml-status-closed>
    SetHandler saml-status
    Require ip 192.0.2.1
</Location>
"""

PROMETHEUS_SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z]+="[^"\\]*"(,[a-z]+="[^"\\]*")*\})? (\d+)$')


class StatusTest(SiteTestCase):
    site_options = {"server_conf": STATUS_CONF}
    allowed_log = ("AH01630", "AH01631")  # mod_authz_core logs the closed location's denial

    def text_status(self):
        r = self.get("/saml-status")
        self.assertEqual(200, r.status, r.text[:300])
        self.assertEqual("no-store", r.headers.get("Cache-Control"))
        values = {}
        for line in r.text.splitlines():
            if line.startswith("MetadataFile "):  # a date, not a number (test_metadata_files checks them)
                continue
            name, _, value = line.rpartition(": ")
            self.assertTrue(value.isdigit(), line)
            values[name] = int(value)
        return values

    def prometheus(self):
        r = self.get("/saml-status?format=prometheus")
        self.assertEqual(200, r.status)
        self.assertTrue(r.headers.get("Content-Type").startswith("text/plain; version=0.0.4"))
        samples, typed = {}, set()
        for line in r.text.splitlines():
            if line.startswith("# TYPE "):
                typed.add(line.split()[2])
                continue
            if line.startswith("# HELP "):
                continue
            m = PROMETHEUS_SAMPLE.match(line)
            self.assertIsNotNone(m, "not a Prometheus sample line: %r" % line)
            self.assertIn(m.group(1), typed, "sample before its # TYPE: %r" % line)
            samples[m.group(1) + (m.group(2) or "")] = int(m.group(4))
        return samples

    def test_counts_logins_sessions_replays_refusals_and_logouts(self):
        before = self.text_status()
        for name in ("LoginRequests", "Logins", "LoginsRefused", "ReplaysRefused", "SessionsOpened",
                     "SessionsRefused", "Logouts", "MetadataRefreshes", "MetadataRefreshFailures"):
            self.assertIn(name, before)

        b = self.site.browser()
        posted = self.captured_acs_post(b)
        state = [(c.name, c.value) for c in b.cookies if c.name.startswith("saml_login_")]
        first = b.request("POST", posted.action, data=posted.values(), follow_redirects=False)
        self.assertEqual(303, first.status)
        for _ in range(3):
            self.assertEqual(200, self.get("/protected/env.cgi", browser=b).status)
        replay = self.site.browser().request("POST", posted.action, data=posted.values(),
                                             headers={"Cookie": "%s=%s" % state[0]}, follow_redirects=False)
        self.assertEqual(403, replay.status)
        forged = self.get("/protected/env.cgi", headers={"Cookie": "saml_session=AAAA" + "x" * 60})
        self.assertIn(forged.status, (302, 303))
        self.assertEqual(303, self.get("/saml/logout?local=1&ReturnTo=/public/index.php", browser=b).status)

        self.allow.append("SAML0258")  # the replay's one warning
        after = self.text_status()
        delta = {name: after[name] - before.get(name, 0) for name in after}
        self.assertEqual(2, delta["LoginRequests"])  # alice's, and the forged cookie's trip to the IdP
        self.assertEqual(1, delta["Logins"])
        self.assertEqual(1, delta["LoginsRefused"])
        self.assertEqual(1, delta["ReplaysRefused"])
        self.assertEqual(1, delta["Refused SAML0258 replay"])
        self.assertGreaterEqual(delta["SessionsOpened"], 4)  # three pages and the logout
        self.assertEqual(1, delta["SessionsRefused"])
        self.assertEqual(1, delta["Logouts"])
        self.assertGreater(after["Uptime"], -1)

        samples = self.prometheus()
        self.assertEqual(after["Logins"], samples["mod_auth_saml_logins_total"])
        self.assertEqual(after["ReplaysRefused"], samples["mod_auth_saml_replays_refused_total"])
        self.assertEqual(after["Refused SAML0258 replay"],
                         samples['mod_auth_saml_refusals_total{code="SAML0258",rule="replay"}'])
        self.assertIn("mod_auth_saml_start_time_seconds", samples)
        self.assertIn("mod_auth_saml_metadata_refresh_failures_total", samples)

    def test_counters_are_shared_by_every_child(self):
        # The SP runs up to two event-MPM children; many connections reach both, and the count
        # must still be exact, whichever child served the status page.
        before = self.text_status()["Refused SAML0823 sso"] if "Refused SAML0823 sso" in self.text_status() else 0
        for _ in range(40):
            self.assertEqual(405, self.site.browser().request("PUT", self.url("/saml/sso"), data={}).status)
        self.allow.append("SAML0823")
        for _ in range(5):
            self.assertEqual(before + 40, self.text_status()["Refused SAML0823 sso"])

    def test_closed_by_require_like_mod_status(self):
        self.assertEqual(403, self.get("/saml-status-closed").status)
        self.assertEqual(403, self.get("/saml-status-closed?format=prometheus").status)

    def test_takes_only_get(self):
        r = self.site.browser().request("POST", self.url("/saml-status"), data={"a": "b"})
        self.assertEqual(405, r.status)


if __name__ == "__main__":
    unittest.main()
