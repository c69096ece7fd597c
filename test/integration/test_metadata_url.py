"""SAMLIdPMetadataURL end to end: a real httpd with the module fetches the IdP's metadata from a
local HTTPS metadata server that the test controls (harness/metaserver.py), signed by a
"federation" key as a federation signs its aggregate (harness/mdsign.py); Debian's SimpleSAMLphp
is the IdP whose metadata is served.

What each test shows:
- start-up fetches, verifies and writes the backup; logins work with the fetched metadata;
- with the URL down at start the backup is used (one SAML0926 warning); with neither, the
  configtest fails naming the URL and the backup file;
- a tampered, expired, wrongly signed, unsigned, oversized or unparsable document, or an HTTP
  error, is refused: the metadata in use and the backup file are kept, one warning says why
  (a second identical failure is only an info line), logins keep working;
- the IdP's new signing key, published in refreshed metadata, is used without a restart (and
  with the old metadata the new key's Responses are refused: the control); a child that httpd
  starts after that refresh trusts the new key from its first request (soak finding F4);
- a metadata server that hangs does not slow requests down;
- with two children one fetch runs at a time, and the other child takes the new backup;
- a federation-sized document (over 1 MiB) is shared: every child maps the one backup file and
  reads an IdP from its place on first use; bytes changed in the file under the mapping are never
  read (that IdP is refused with SAML0936, the others keep working).

Every test fails on an unexpected [warn]/[error] line in the SP's error log.
"""
import os
import pwd
import re
import shutil
import tempfile
import subprocess
import time
import unittest
import urllib.parse

from harness import idp as idpmod
from harness import mdsign, pki, ports
from harness.browser import Browser
from harness.metaserver import MetadataServer
from harness.sp import ModuleSp, env_of

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
# SimpleSAMLphp's PHP opcache sees a changed SP list after this long (opcache.revalidate_freq 2).
PHP_REVALIDATE_SECONDS = 2.5
STATUS_CONF = """
<Location /saml-status>
    SetHandler saml-status
    Require local
</Location>
"""
REFRESH = 1  # seconds between refreshes in these tests (the module allows under 60 s for tests)


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out after %s s waiting for %s" % (timeout, what))


class MetadataUrlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-mdurl-test-")
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port())
        cls.idp.start()
        cls.server = MetadataServer(os.path.join(cls.work, "mdserver")).start()
        fed = os.path.join(cls.work, "federation")
        cls.fed_key, cls.fed_cert = pki.make_key_and_cert(fed, "signer", "Test Federation Signer")
        cls.rogue_key, cls.rogue_cert = pki.make_key_and_cert(fed, "rogue", "Test Federation Signer")
        cls.sps = []

    @classmethod
    def tearDownClass(cls):
        for sp in cls.sps:
            sp.stop()
        cls.server.stop()
        cls.idp.stop()
        if KEEP:
            print("\nkept work dir: %s" % cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.allow = []
        self.sp = None
        self.server.serve(self.signed())

    def tearDown(self):
        if self.sp is not None:
            problems = self.sp.problems(self.allow)
            self.sp.stop()
            self.assertEqual([], problems, "unexpected lines in the SP error log")

    # -- helpers ----------------------------------------------------------------------------------

    def signed(self, key=None, cert=None, **kw):
        return mdsign.sign(self.idp.metadata_xml(), key or self.fed_key, cert or self.fed_cert, **kw)

    def new_sp(self, name, backup_xml=None, extra_server_conf="", max_size=None, timeout=None, start=True,
               refresh=REFRESH):
        """An SP whose only IdP metadata is the URL; backup_xml pre-seeds the backup file."""
        work = os.path.join(self.work, name)
        cache = os.path.join(work, "mdcache")
        os.makedirs(cache, exist_ok=True)
        if os.geteuid() == 0:  # the children run as www-data and replace files there
            os.chown(cache, pwd.getpwnam("www-data").pw_uid, -1)
        backup = os.path.join(cache, "federation.xml")
        if backup_xml is not None:
            with open(backup, "w") as f:
                f.write(backup_xml)
        conf = ['SAMLIdPMetadataURL %s "%s" %d' % (self.server.url, backup, refresh),
                'SAMLIdPMetadataSigningCert "%s"' % self.fed_cert,
                'SAMLIdPMetadataCAFile "%s"' % self.server.ca_file]
        if max_size:
            conf.append("SAMLIdPMetadataMaxSize %d" % max_size)
        if timeout:
            conf.append("SAMLIdPMetadataTimeout %d" % timeout)
        sp = ModuleSp(work, ports.free_port(), None, server_conf="\n".join(conf) + "\n" + extra_server_conf)
        sp.backup_path = backup
        self.sps.append(sp)
        self.sp = sp
        if start:
            sp.start()
            metadata = Browser(verify=False).get(sp.base_url + "/saml/metadata")
            self.assertEqual(200, metadata.status)
            self.idp.add_sp(metadata.text)
            time.sleep(PHP_REVALIDATE_SECONDS)
        return sp

    def login_works(self, sp=None):
        sp = sp or self.sp
        r = Browser(verify=False).login(sp.base_url + "/protected/env.cgi", "alice", "alice-password")
        ok = r.status == 200 and env_of(r).get("REMOTE_USER", "") != ""
        if not ok:
            print("\nlogin failed: %s %s\n%s\n%s" % (r.status, r.history, r.text[:1000], sp.log_since_mark()[-3000:]))
        return ok

    def sso_goes_to_idp(self):
        r = Browser(verify=False).request("GET", self.sp.base_url + "/saml/sso?ReturnTo=/protected/env.cgi",
                                          follow_redirects=False)
        return r.status in (302, 303) and r.location.startswith(self.idp.sso_url)

    def lines(self, code):
        return [l for l in self.sp.log_since_mark().splitlines() if code + " " in l]

    def status(self):
        """The saml-status counters (the SP must have STATUS_CONF)."""
        r = Browser(verify=False).request("GET", self.sp.base_url + "/saml-status", follow_redirects=False)
        self.assertEqual(200, r.status, r.text[:300])
        return {name: int(value) for name, _, value in (l.rpartition(": ") for l in r.text.splitlines())}

    def backup_text(self):
        with open(self.sp.backup_path) as f:
            return f.read()

    # -- start-up ---------------------------------------------------------------------------------

    def test_start_fetches_verifies_and_keeps_a_backup(self):
        served = self.signed()
        self.server.serve(served)
        self.new_sp("start")
        self.assertEqual(served, self.backup_text())
        self.assertTrue(self.login_works())
        self.assertNotIn("SAML0938 metadata from SAMLIdPMetadataURL is trusted on TLS alone", self.sp.log_since_mark())

    def test_url_down_at_start_uses_the_backup(self):
        self.server.serve(status=503)
        self.allow.append(r"SAML0926 .*HTTP 503.*starting with the backup")
        self.allow.append(r"SAML0920 ")  # the children's first refresh fails too (one warning)
        sp = self.new_sp("down", backup_xml=self.signed(), start=False)
        sp.start()
        self.idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text)
        time.sleep(PHP_REVALIDATE_SECONDS)
        self.assertTrue(self.lines("SAML0926"), sp.log_since_mark())
        self.assertTrue(self.login_works())

    def test_neither_url_nor_backup_fails_the_configtest(self):
        self.server.serve(status=503)
        sp = self.new_sp("neither", start=False)
        with open(sp.conf_path, "w") as f:
            f.write(sp.conf_text())
        code, out = sp.configtest()
        self.assertNotEqual(0, code, out)
        self.assertIn("SAML0927", out)
        self.assertIn(self.server.url, out)
        self.assertIn(sp.backup_path, out)
        self.assertIn("HTTP 503", out)
        self.sp = None

    def test_a_tampered_backup_is_refused_at_start(self):
        self.server.serve(status=503)
        good = self.signed()
        tampered = good.replace("SSOService.php", "SSOService.php?evil=1", 1)
        self.assertNotEqual(good, tampered)
        sp = self.new_sp("tampered-backup", backup_xml=tampered, start=False)
        code, out = sp.configtest(sp.conf_text())
        self.assertNotEqual(0, code, out)
        self.assertIn("SAML0927", out)
        self.assertIn("SAML0411", out)
        self.sp = None

    # -- refused refreshes ------------------------------------------------------------------------

    def refused(self, body, reason, status=200):
        """Serves a bad document; the refresh refuses it, keeps metadata and backup, says so once."""
        before = self.backup_text()
        self.sp.mark_log()
        self.allow.append(r"SAML0920 .*" + reason)
        seen = self.server.requests_so_far()
        self.server.serve(body, status=status)
        # Two attempts at least: the second must not warn again.
        self.assertTrue(self.server.wait_for_requests(seen + 2, timeout=20), "no refresh attempts")
        wait_until(lambda: len(self.lines("SAML0932")) >= 1, 10, "the second failure's note")
        warnings = [l for l in self.lines("SAML0920") if "[auth_saml:warn]" in l]
        self.assertEqual(1, len(warnings), self.sp.log_since_mark())
        self.assertRegex(warnings[0], reason)
        self.assertIn("the metadata in use is kept", warnings[0])
        self.assertEqual(before, self.backup_text())
        self.assertTrue(self.sso_goes_to_idp())

    def test_bad_documents_are_refused_and_the_old_metadata_is_kept(self):
        self.new_sp("refused", max_size=200000, extra_server_conf=STATUS_CONF)
        before = self.status()
        good = self.signed()
        cases = [
            ("tampered", good.replace("SSOService.php", "SSOService.php?evil=1", 1),
             r"SAML0923 .*SAML0411"),
            ("expired", self.signed(valid_until="2020-01-01T00:00:00Z"), r"SAML0923 .*SAML0406 .*expired"),
            ("wrongly signed", self.signed(key=self.rogue_key, cert=self.rogue_cert), r"SAML0923 .*SAML0411"),
            ("unsigned", mdsign.prepare(self.idp.metadata_xml())[0], r"SAML0923 .*SAML0410"),
            ("oversized", good.replace("</md:EntityDescriptor>", "<!--" + "x" * 300000 + "--></md:EntityDescriptor>"),
             r"SAML0922 .*SAML0904"),
            ("unparsable", "<md:EntityDescriptor xmlns:md=", r"SAML0923 .*"),
            ("http error", "", r"SAML0921 .*HTTP 500"),
        ]
        for name, body, reason in cases:
            with self.subTest(name):
                self.refused(body, reason, status=500 if name == "http error" else 200)
            # Good again before the next case, so that its failure is a new one.
            self.server.serve(good)
            wait_until(lambda: open(self.sp.backup_path + ".state").read().startswith("ok"), 15, "a good fetch")
        self.assertTrue(self.login_works())
        # Good metadata again: taken up, backup replaced.
        self.sp.mark_log()
        again = self.signed(cache_duration="PT1H")
        self.server.serve(again)
        wait_until(lambda: self.lines("SAML0928"), 15, "the good document to be fetched")
        wait_until(lambda: self.backup_text() == again, 5, "the backup to be replaced")
        # Counted once per attempt across the children: two or more failures per case, and the
        # good fetches between the cases and at the end.
        after = self.status()
        self.assertGreaterEqual(after["MetadataRefreshFailures"] - before["MetadataRefreshFailures"], 2 * len(cases))
        self.assertGreaterEqual(after["MetadataRefreshes"] - before["MetadataRefreshes"], 1)

    # -- key rotation -----------------------------------------------------------------------------

    def test_a_new_idp_signing_key_is_used_after_refresh_without_restart(self):
        self.new_sp("rotation")
        self.assertTrue(self.login_works())
        old_key, old_crt = open(self.idp.signing_key_path).read(), open(self.idp.signing_cert_path).read()
        try:
            # The IdP signs with a new key; the served metadata still has the old certificate.
            self.server.serve(self.signed())
            pki.make_key_and_cert(self.idp.cert_dir, "idp", "idp.rotated.example")
            if os.geteuid() == 0:
                os.chown(self.idp.signing_key_path, -1, pwd.getpwnam("www-data").pw_gid)
                os.chmod(self.idp.signing_key_path, 0o640)
            self.sp.mark_log()
            self.allow.append(r"SAML02\d\d .*")  # the refused Response of the control below
            r = Browser(verify=False).login(self.sp.base_url + "/protected/env.cgi", "alice", "alice-password")
            self.assertNotEqual(200, r.status, "a Response signed with an unknown key was accepted")
            # The federation publishes the new certificate: taken up by the next refresh.
            self.sp.mark_log()
            new_metadata = self.signed()
            self.assertIn(self.idp.signing_cert_body(), new_metadata)
            self.server.serve(new_metadata)
            wait_until(lambda: self.lines("SAML0928"), 15, "the new metadata to be fetched")
            time.sleep(0.5)
            self.assertTrue(self.login_works(), self.sp.log_since_mark())
        finally:
            with open(self.idp.signing_key_path, "w") as f:
                f.write(old_key)
            with open(self.idp.signing_cert_path, "w") as f:
                f.write(old_crt)

    def test_a_child_started_after_a_refresh_trusts_the_new_key_at_once(self):
        # Soak finding F4: httpd forks a new child (one died, MaxConnectionsPerChild, more load)
        # from the parent, which holds the metadata of the last (re)start. The child must use
        # the newer metadata its siblings fetched from its first request, not after its own
        # refresh step. Refreshes every 30 s: a child's first step comes 7 s after it starts.
        self.new_sp("newchild", refresh=30)
        self.assertTrue(self.login_works())
        old_key, old_crt = open(self.idp.signing_key_path).read(), open(self.idp.signing_cert_path).read()
        try:
            pki.make_key_and_cert(self.idp.cert_dir, "idp", "idp.newchild.example")
            if os.geteuid() == 0:
                os.chown(self.idp.signing_key_path, -1, pwd.getpwnam("www-data").pw_gid)
                os.chmod(self.idp.signing_key_path, 0o640)
            new_metadata = self.signed()
            self.assertIn(self.idp.signing_cert_body(), new_metadata)
            self.server.serve(new_metadata)
            # The running child fetches it at its next step once the last fetch looks 60 s old.
            self.sp.mark_log()
            past = time.time() - 60
            os.utime(self.sp.backup_path + ".state", (past, past))
            wait_until(lambda: self.lines("SAML0928"), 20, "the running child to fetch the new metadata")
            # The IdP's answer, signed with the new key, ready to be posted.
            browser = Browser(verify=False)
            r = browser.get(self.sp.base_url + "/protected/env.cgi")
            r = browser.continue_login(r, "alice", "alice-password", max_steps=1)
            post = r.saml_post_form()
            self.assertIsNotNone(post, "no SAMLResponse form from the IdP: %s %s" % (r.status, r.text[:500]))
            # Every child killed: the parent starts new ones, copies of itself.
            before = self.workers()
            for pid in before:
                os.kill(pid, 9)
            started = wait_until(lambda: [p for p in self.workers() if p not in before], 15, "a new child")
            self.sp.mark_log()
            done = browser.follow_saml_posts(r)
            self.assertEqual(200, done.status, "%s\n%s" % (done.text[:500], self.sp.log_since_mark()))
            self.assertNotEqual("", env_of(done).get("REMOTE_USER", ""), done.text[:500])
            # It was a new child's first requests, well before its own refresh step.
            self.assertTrue(any("[pid %d:" % pid in self.sp.log_since_mark() for pid in started),
                            self.sp.log_since_mark())
        finally:
            with open(self.idp.signing_key_path, "w") as f:
                f.write(old_key)
            with open(self.idp.signing_cert_path, "w") as f:
                f.write(old_crt)

    def test_the_only_idp_is_the_default_after_a_refresh_renames_it(self):
        # With one IdP and no SAMLDefaultIdP, logins go to that IdP: looked up per request, so a
        # refresh that changes its entityID does not leave a stale default behind.
        self.new_sp("renamed")
        self.assertTrue(self.sso_goes_to_idp())
        self.sp.mark_log()
        renamed = self.idp.metadata_xml().replace('entityID="%s"' % self.idp.entity_id,
                                                  'entityID="https://renamed.idp.example/idp"')
        self.assertIn("renamed.idp.example", renamed)
        self.server.serve(mdsign.sign(renamed, self.fed_key, self.fed_cert))
        wait_until(lambda: self.lines("SAML0928"), 15, "the renamed IdP's metadata to be fetched")
        time.sleep(0.5)
        self.assertTrue(self.sso_goes_to_idp(), self.sp.log_since_mark())
        self.server.serve(self.signed())

    # -- a slow server ----------------------------------------------------------------------------

    def test_a_hanging_metadata_server_does_not_slow_requests(self):
        self.new_sp("slow", timeout=20)
        self.allow.append(r"SAML0920 .*SAML0905")  # the hung download times out in the end, or not at all
        self.server.serve(self.signed(), delay=15)
        wait_until(self.server.hanging.is_set, 10, "a refresh to hang on the metadata server")
        browser = Browser(verify=False)
        slowest = 0.0
        for _ in range(20):
            started = time.time()
            r = browser.request("GET", self.sp.base_url + "/saml/sso?ReturnTo=/protected/env.cgi", follow_redirects=False)
            slowest = max(slowest, time.time() - started)
            self.assertIn(r.status, (302, 303))
            self.assertTrue(r.location.startswith(self.idp.sso_url))
        self.assertTrue(self.server.hanging.is_set(), "the download stopped hanging during the measurement")
        self.assertLess(slowest, 1.0, "a request waited for the metadata download")
        self.assertTrue(self.login_works())
        # Stopping httpd cancels the hung download instead of waiting for it.
        problems = self.sp.problems(self.allow)
        started = time.time()
        self.sp.stop()
        self.assertLess(time.time() - started, 5.0, "httpd waited for the metadata download to stop")
        self.server.serve(self.signed())
        self.server.release.set()
        self.assertEqual([], problems)
        self.sp = None

    # -- restarts -------------------------------------------------------------------------------

    def test_graceful_restart_keeps_refreshing(self):
        import signal
        self.new_sp("graceful")
        with open(os.path.join(self.sp.httpd_dir, "httpd.pid")) as f:
            parent = int(f.read().strip())
        self.sp.mark_log()
        os.kill(parent, signal.SIGUSR1)  # apachectl -k graceful
        wait_until(lambda: "AH00493" in self.sp.log_since_mark() or "AH00489" in self.sp.log_since_mark(), 20,
                   "the graceful restart")
        self.allow.append(r"AH00493")  # SIGUSR1 received.  Doing graceful restart
        time.sleep(1)
        self.assertTrue(self.login_works())
        self.sp.mark_log()
        newer = self.signed(cache_duration="PT3H")
        self.server.serve(newer)
        wait_until(lambda: self.lines("SAML0928"), 15, "a refresh by the new generation of children")
        wait_until(lambda: self.backup_text() == newer, 5, "the backup to be replaced")
        self.assertTrue(self.login_works())

    # -- several children -------------------------------------------------------------------------

    def test_two_children_fetch_one_at_a_time_and_share_the_result(self):
        self.new_sp("children", extra_server_conf="StartServers 2\nMinSpareThreads 16\n")
        self.sp.mark_log()
        self.server.serve(self.signed(), delay=0.5)
        seen = self.server.requests_so_far()
        time.sleep(6)
        count = self.server.requests_so_far() - seen
        self.assertEqual(1, self.server.max_active, "two downloads ran at once")
        # One attempt per refresh interval across the children (+ slack for timing).
        self.assertLessEqual(count, 6 / REFRESH + 2)
        self.assertGreaterEqual(count, 2)
        # A new document is fetched by one child and read from the backup by the other.
        self.sp.mark_log()
        newer = self.signed(cache_duration="PT2H")
        self.server.serve(newer)
        wait_until(lambda: self.lines("SAML0928") and self.lines("SAML0934"), 15,
                   "one child to fetch and the other to reload the backup")
        pids = {re.search(r"\[pid (\d+)", l).group(1) for l in self.lines("SAML0928") + self.lines("SAML0934")}
        self.assertEqual(2, len(pids), self.sp.log_since_mark())

    # -- a federation-sized document, shared by the children --------------------------------------

    def large_aggregate(self, members):
        """SimpleSAMLphp's EntityDescriptor among `members` other IdPs, over 1 MiB in all; the
        members use the prefixes the root declares, as federation aggregates do."""
        ssp = re.sub(r"^<\?xml[^>]*\?>\s*", "", self.idp.metadata_xml())
        cert = self.idp.signing_cert_body()
        member = ('<md:EntityDescriptor entityID="https://idp%04d.federation.example/idp"><md:IDPSSODescriptor '
                  'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:Extensions><mdui:UIInfo>'
                  '<mdui:DisplayName xml:lang="en">Federation member %04d</mdui:DisplayName></mdui:UIInfo>'
                  '</md:Extensions><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
                  '%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService '
                  'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
                  'Location="https://idp%04d.federation.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>')
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<md:EntitiesDescriptor '
                'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
                'xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui">' + ssp + "\n" +
                "\n".join(member % (n, n, cert, n) for n in range(members)) + "</md:EntitiesDescriptor>\n")

    def sso_to(self, entity_id):
        return Browser(verify=False).request(
            "GET", self.sp.base_url + "/saml/sso?idp=" + urllib.parse.quote(entity_id, safe="") +
            "&ReturnTo=/protected/env.cgi", follow_redirects=False)

    def children(self):
        with open(os.path.join(self.sp.httpd_dir, "httpd.pid")) as f:
            parent = f.read().strip()
        out = subprocess.run(["pgrep", "-P", parent], stdout=subprocess.PIPE, universal_newlines=True).stdout
        return [int(pid) for pid in out.split()]

    def workers(self):
        """The children that serve requests (threaded), not mod_cgid's daemon."""
        out = subprocess.run(["ps", "-o", "pid=,nlwp=", "--ppid", str(self.parent())],
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        return [int(pid) for pid, threads in (l.split() for l in out.splitlines() if l.strip()) if int(threads) > 1]

    def parent(self):
        with open(os.path.join(self.sp.httpd_dir, "httpd.pid")) as f:
            return int(f.read().strip())

    def test_a_large_document_is_shared_from_the_backup_and_bytes_changed_under_it_are_not_read(self):
        self.server.serve(mdsign.sign(self.large_aggregate(1200), self.fed_key, self.fed_cert))
        # Two children that the MPM keeps (16 idle threads are not over MaxSpareThreads); MinSpareThreads
        # under MaxRequestWorkers, or any request in progress at a maintenance tick is AH10159.
        self.new_sp("large", refresh=3600,
                    extra_server_conf='SAMLDefaultIdP "%s"\nStartServers 2\nMinSpareThreads 8\n' % self.idp.entity_id)
        self.assertGreater(os.path.getsize(self.sp.backup_path), 1 << 20)
        self.assertTrue(self.login_works())  # the real IdP, read from its place on its first login
        children = wait_until(lambda: len(self.children()) >= 2 and self.children(), 10, "two children")
        for pid in children:
            with open("/proc/%d/maps" % pid) as f:
                self.assertIn(self.sp.backup_path, f.read(), "child %d does not map the backup file" % pid)
        r = self.sso_to("https://idp0007.federation.example/idp")  # a member nobody used yet
        self.assertIn(r.status, (302, 303))
        self.assertTrue(r.location.startswith("https://idp0007.federation.example/sso?"), r.location)

        # Member 42's SSO URL rewritten in the file, in place (no rename), after verification.
        self.sp.mark_log()
        self.allow.append(r"SAML0925 ")  # a child's refresh may notice the changed file: refused, kept
        self.allow.append(r"SAML0936 ")
        with open(self.sp.backup_path, "rb") as f:
            data = f.read()
        old, new = b"https://idp0042.federation.example/sso", b"https://evil042.federation.example/sso"
        self.assertEqual(len(old), len(new))
        with open(self.sp.backup_path, "r+b") as f:
            f.seek(data.index(old))
            f.write(new)
        r = self.sso_to("https://idp0042.federation.example/idp")
        self.assertEqual(400, r.status, r.text[:300])
        self.assertNotIn("evil", r.location or "")
        lines = self.lines("SAML0936")
        self.assertEqual(1, len(lines), self.sp.log_since_mark())
        self.assertIn("idp0042.federation.example", lines[0])
        r = self.sso_to("https://idp0043.federation.example/idp")  # the others are untouched
        self.assertIn(r.status, (302, 303))
        self.assertTrue(r.location.startswith("https://idp0043.federation.example/sso?"), r.location)
        self.assertTrue(self.login_works())


if __name__ == "__main__":
    unittest.main()
