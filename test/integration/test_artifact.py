"""The HTTP-Artifact binding end to end: Debian's SimpleSAMLphp 1.19 answers with a SAMLart
(saml20.sendartifact, artifacts kept in an SQLite store) and serves its ArtifactResolutionService
over HTTPS with a certificate from a CA of its own; the module resolves the artifact over that
verified TLS back channel with a signed ArtifactResolve.

The SP's copy of the IdP metadata lists, besides SimpleSAMLphp's real resolver (index 0), a
resolver that is down (index 1), one that completes TLS and never answers (index 2), a
plain-http one (index 3), one that records what it is sent (index 4) and one that also demands
a TLS client certificate (index 5): the back channel's failures are real network failures, and
xmlsec1 checks the ArtifactResolve we send (SimpleSAMLphp 1.19 does not verify its signature).
"""
import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

from harness import idp as idpmod
from harness import pki, ports, samlmsg
from harness.browser import Browser
from harness.sp import ModuleSp, env_of

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
ARTIFACT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
SOAP_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
TIMEOUT = 2  # SAMLArtifactTimeout of the test SP, seconds


class SilentServer:
    """A hung resolver: completes the TLS handshake (with a certificate the SP trusts), reads the
    request and never answers, so only the total timeout can end the wait."""

    def __init__(self, cert, key):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
            self.connections.append(tls)
            while tls.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        self.listener.close()
        for conn in self.connections:
            conn.close()


class RecordingServer:
    """A resolver over TLS that keeps what it is sent (method, headers, body) and answers 500."""

    def __init__(self, cert, key, client_ca=None):
        import http.server
        received = self.received = []
        peers = self.peers = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append((self.path, dict(self.headers), body))
                peers.append(self.connection.getpeercert())
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if client_ca:  # TLS client authentication: only a client with that certificate gets in
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=client_ca)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def with_extra_resolvers(metadata_xml, endpoints):
    """The IdP metadata with more ArtifactResolutionService elements (index, location) added
    after the real one, as an administrator's copy of it could have."""
    extra = "".join('<md:ArtifactResolutionService Binding="%s" Location="%s" index="%d"/>'
                    % (SOAP_BINDING, location, index) for index, location in endpoints)
    # The md: prefix as SimpleSAMLphp writes it; ArtifactResolutionService comes first in the role.
    m = re.search(r"<md:ArtifactResolutionService [^>]*/>", metadata_xml)
    assert m, "the IdP metadata lists no ArtifactResolutionService"
    return metadata_xml[:m.end()] + extra + metadata_xml[m.end():]


def artifact_for(entity_id, index=0, handle=None, type_code=4):
    """A SAMLart as SimpleSAMLphp makes them: type, endpoint index, SHA-1(entityID), handle."""
    handle = handle if handle is not None else os.urandom(20)
    raw = type_code.to_bytes(2, "big") + index.to_bytes(2, "big") + hashlib.sha1(entity_id.encode()).digest() + handle
    return base64.b64encode(raw).decode()


class ArtifactSite:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="saml-artifact-test-")
        self.down_port = ports.free_port()
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port(), tls=True, artifact=True)
        self.idp.start()
        self.silent = SilentServer(self.idp.tls_cert_path, self.idp.tls_key_path)
        self.recorder = RecordingServer(self.idp.tls_cert_path, self.idp.tls_key_path)
        # The SP's TLS client certificate; its key is root's alone (0600): the module reads it at
        # start-up, so children running as www-data can still present it.
        client_key, self.client_cert = pki.make_key_and_cert(os.path.join(self.work, "client"), "client",
                                                             "mod_auth_saml test client")
        self.client_auth = RecordingServer(self.idp.tls_cert_path, self.idp.tls_key_path, client_ca=self.client_cert)
        metadata = with_extra_resolvers(self.idp.metadata_xml(), [
            (1, "https://127.0.0.1:%d/down" % self.down_port),
            (2, "https://127.0.0.1:%d/silent" % self.silent.port),
            (3, "http://127.0.0.1:%d/simplesaml/saml2/idp/ArtifactResolutionService.php" % self.idp.port),
            (4, "https://127.0.0.1:%d/recorder" % self.recorder.port),
            (5, "https://127.0.0.1:%d/client-auth" % self.client_auth.port),
        ])
        self.sp = ModuleSp(os.path.join(self.work, "sp"), ports.free_port(), metadata, server_conf="""
SAMLArtifactBinding Prefer
SAMLArtifactCAFile "{ca}"
# SimpleSAMLphp puts an unsigned Response (with a signed assertion) in a signed ArtifactResponse:
# logins pass only because the envelope's signature counts for the Response.
SAMLWantResponseSigned On
SAMLArtifactTimeout {timeout} 1
SAMLArtifactClientCertificate "{client_cert}" "{client_key}"
""".format(ca=self.idp.tls_ca_path, timeout=TIMEOUT, client_cert=self.client_cert, client_key=client_key))
        self.sp.start()
        # An SP that takes only HTTP-POST, at the same IdP.
        self.post_only = ModuleSp(os.path.join(self.work, "post-only"), ports.free_port(), metadata)
        self.post_only.start()
        # Accept (not Prefer), and a CA file that does not vouch for the IdP's TLS certificate.
        self.wrong_ca = ModuleSp(os.path.join(self.work, "wrong-ca"), ports.free_port(), metadata)
        self.wrong_ca.server_conf = 'SAMLArtifactBinding Accept\nSAMLArtifactCAFile "%s"\n' % os.path.join(
            self.wrong_ca.sp_dir, "tls.crt")
        self.wrong_ca.start()
        # Prefer, and SimpleSAMLphp encrypts the assertion to it (registered so from the start:
        # the IdP's PHP may keep a changed metadata file's old contents for a moment). SimpleSAMLphp
        # breaks its ArtifactResponse signature when it carries an EncryptedAssertion.
        self.encrypted = ModuleSp(os.path.join(self.work, "encrypted"), ports.free_port(), metadata,
                                  server_conf='SAMLArtifactBinding Prefer\nSAMLArtifactCAFile "%s"\n'
                                              'SAMLWantAssertionsEncrypted On\n' % self.idp.tls_ca_path)
        self.encrypted.start()
        for sp in self.sps():
            self.idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text,
                            encrypt_assertion=sp is self.encrypted)

    def sps(self):
        return (self.sp, self.post_only, self.wrong_ca, self.encrypted)

    def close(self):
        for sp in self.sps():
            sp.stop()
        self.idp.stop()
        self.silent.close()
        self.recorder.close()
        self.client_auth.close()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class ArtifactTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.site = ArtifactSite()
        cls.sp = cls.site.sp
        cls.idp = cls.site.idp

    @classmethod
    def tearDownClass(cls):
        cls.site.close()

    def setUp(self):
        for sp in self.site.sps():
            sp.mark_log()
        self.idp.mark_logs()
        self.allow = []

    def tearDown(self):
        for sp in self.site.sps():
            self.assertEqual([], sp.problems(self.allow), "unexpected lines in the SP error log of " + sp.base_url)
        # SimpleSAMLphp 1.19's ArtifactResolutionService sends its SOAP answer, exits, and then
        # fails to set its session cookie at shutdown: its own noise after a correct answer.
        self.idp.assert_clean_logs(allow=[r"ERROR \[TR[0-9a-f]+\] Error creating session: Headers already sent\."])

    # -- helpers --------------------------------------------------------------------------------

    def resolutions(self):
        """How many times the IdP's ArtifactResolutionService has been called, per its access log,
        once the count holds still (httpd writes the line just after answering)."""
        def count():
            with open(self.idp.access_log_path) as f:
                return sum(1 for line in f if "POST /simplesaml/saml2/idp/ArtifactResolutionService.php" in line)
        last = count()
        while True:
            time.sleep(0.15)
            now = count()
            if now == last:
                return now
            last = now

    def assertResolutions(self, expected):
        """The IdP's access log shows `expected` resolutions (it writes the line just after it
        has answered, so give it a moment)."""
        deadline = time.monotonic() + 3
        while self.resolutions() != expected and time.monotonic() < deadline:
            pass
        self.assertEqual(expected, self.resolutions())

    def to_acs_with_artifact(self, browser, path="/protected/env.cgi", sp=None):
        """Logs in at the IdP and stops at the redirect that carries the SAMLart to our ACS."""
        sp = sp or self.sp
        r = browser.request("GET", sp.base_url + path)
        self.assertTrue(r.url.startswith(self.idp.base_url), r.url)
        form = next(f for f in r.forms() if any(c["type"] == "password" for c in f.controls))
        r = browser.submit(form, {"username": "alice", "password": "alice-password"}, follow_redirects=False)
        self.assertIn(r.status, (302, 303), r.text[:500])
        self.assertTrue(r.location.startswith(sp.base_url + "/saml/acs?"), r.location)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
        self.assertIn("SAMLart", query)
        return r.location

    def pending_login(self, sp=None):
        """A browser with a login in progress at the SP (its login-state cookie), the IdP not visited."""
        b = Browser(verify=False)
        r = b.request("GET", (sp or self.sp).base_url + "/protected/env.cgi", follow_redirects=False)
        self.assertIn(r.status, (302, 303))
        return b

    def get_acs(self, art, browser=None, sp=None):
        b = browser or self.pending_login(sp)
        return b.request("GET", (sp or self.sp).base_url + "/saml/acs?SAMLart=" + urllib.parse.quote(art),
                         follow_redirects=False)

    def assertRefused(self, response, status, code, level="warn", sp=None):
        """A page with this status naming `code`, exactly one log line for it, no session."""
        sp = sp or self.sp
        self.assertEqual(status, response.status, response.text[:800])
        self.assertEqual("text/html", response.headers.get_content_type())
        m = re.search(r"reference: <code>([0-9a-f]{12})</code> \((SAML\d{4})\)", response.text)
        self.assertIsNotNone(m, response.text)
        self.assertEqual(code, m.group(2))
        lines = [l for l in sp.log_since_mark().splitlines() if "[auth_saml:" in l and code in l]
        self.assertEqual(1, len(lines), sp.log_since_mark())
        self.assertIn("[auth_saml:%s]" % level, lines[0])
        self.assertIn("[ref %s]" % m.group(1), lines[0])
        self.assertFalse(any(c.startswith("saml_session") for c in response.set_cookies()), response.set_cookies())
        self.allow.append(code)
        return lines[0]

    # -- the SP's side of the agreement ---------------------------------------------------------

    def test_metadata_lists_an_artifact_acs_beside_the_post_one(self):
        xml = Browser(verify=False).get(self.sp.base_url + "/saml/metadata").text
        acs = re.findall(r"<md:AssertionConsumerService [^>]*>", xml)
        self.assertEqual(2, len(acs), xml)
        self.assertIn('index="1"', acs[1])
        self.assertIn(ARTIFACT_BINDING, acs[1])
        self.assertIn('Location="%s/saml/acs"' % self.sp.base_url, acs[1])
        plain = Browser(verify=False).get(self.site.post_only.base_url + "/saml/metadata").text
        self.assertNotIn(ARTIFACT_BINDING, plain)

    def test_authn_request_asks_for_the_artifact_binding(self):
        r = Browser(verify=False).request("GET", self.sp.base_url + "/protected/env.cgi", follow_redirects=False)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        self.assertIn('ProtocolBinding="%s"' % ARTIFACT_BINDING, xml)
        self.assertIn('AssertionConsumerServiceURL="%s/saml/acs"' % self.sp.base_url, xml)

    # -- logins ---------------------------------------------------------------------------------

    def test_full_login_by_artifact(self):
        before = self.resolutions()
        b = Browser(verify=False)
        r = b.login(self.sp.base_url + "/protected/env.cgi", "alice", "alice-password")
        self.assertEqual(200, r.status, r.text[:800])
        env = env_of(r)
        self.assertEqual("alice", env["SAML_uid"])
        self.assertEqual("admins;users", env["SAML_groups"])
        self.assertEqual("Zoë", env["SAML_givenName"])
        self.assertTrue(env["REMOTE_USER"])
        # The Response came by the back channel: a GET to /acs with a SAMLart, no POST of a SAMLResponse.
        acs_hops = [(m, u) for m, u, _ in r.history if "/saml/acs" in u]
        self.assertEqual(1, len(acs_hops), r.history)
        self.assertEqual("GET", acs_hops[0][0])
        self.assertIn("SAMLart=", acs_hops[0][1])
        self.assertResolutions(before + 1)
        self.assertIn("SAML0835 login of", self.sp.log_since_mark())
        # The session works without the IdP.
        again = b.request("GET", self.sp.base_url + "/protected/env.cgi", follow_redirects=False)
        self.assertEqual(200, again.status)

    def fetch_artifact_response(self, sp):
        """An ArtifactResponse fetched by the test itself for a fresh artifact of `sp`'s login
        (SimpleSAMLphp 1.19 does not check who asks), as SimpleSAMLphp sent it."""
        acs_url = self.to_acs_with_artifact(Browser(verify=False), sp=sp)
        art = urllib.parse.parse_qs(urllib.parse.urlsplit(acs_url).query)["SAMLart"][0]
        body = ('<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
                '<samlp:ArtifactResolve xmlns:samlp="%s" xmlns:saml="%s" ID="_test-resolve" Version="2.0" '
                'IssueInstant="%s"><saml:Issuer>%s</saml:Issuer><samlp:Artifact>%s</samlp:Artifact>'
                '</samlp:ArtifactResolve></SOAP-ENV:Body></SOAP-ENV:Envelope>'
                % (PROTOCOL, ASSERTION, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), sp.entity_id, art))
        request = urllib.request.Request(self.idp.artifact_resolution_url, data=body.encode(),
                                         headers={"Content-Type": "text/xml"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=self.idp.https_context()))
        with opener.open(request, timeout=10) as answer:
            return answer.read()

    def verify_artifact_response(self, xml):
        return samlmsg.verify_signature(xml, self.idp.signing_cert_path, id_elements=[PROTOCOL + ":ArtifactResponse"])

    def test_simplesamlphp_artifact_response_signature_holds_for_xmlsec1(self):
        ok, out = self.verify_artifact_response(self.fetch_artifact_response(self.sp))
        self.assertTrue(ok, out)

    def test_broken_signature_over_an_encrypted_assertion_is_refused(self):
        """SimpleSAMLphp 1.19 signs an ArtifactResponse that carries an EncryptedAssertion with a
        digest that does not match its content (xmlsec1 says so too): refused, fail closed."""
        sp = self.site.encrypted
        r = Browser(verify=False).login(sp.base_url + "/protected/env.cgi", "alice", "alice-password")
        self.assertTrue(any("/saml/acs?SAMLart=" in u for _, u, _ in r.history), r.history)
        self.assertRefused(r, 403, "SAML0224", sp=sp)
        xml = self.fetch_artifact_response(sp)
        self.assertIn(b"EncryptedAssertion", xml)
        ok, out = self.verify_artifact_response(xml)
        self.assertFalse(ok)
        self.assertIn("data and digest do not match", out)

    def test_replayed_artifact_is_refused(self):
        b = Browser(verify=False)
        acs_url = self.to_acs_with_artifact(b)
        first = b.get(acs_url)
        self.assertEqual(200, first.status, first.text[:500])
        self.assertEqual("alice", env_of(first)["SAML_uid"])
        # The same browser starts another login and replays the artifact: the IdP has forgotten it.
        b.clear_cookies()
        self.sp.mark_log()
        before = self.resolutions()
        b.request("GET", self.sp.base_url + "/protected/env.cgi", follow_redirects=False)
        self.assertRefused(b.request("GET", acs_url, follow_redirects=False), 403, "SAML0966")
        self.assertResolutions(before + 1)
        # A stranger with a login of their own in progress: the same.
        self.sp.mark_log()
        stranger = self.pending_login()
        self.assertRefused(stranger.request("GET", acs_url, follow_redirects=False), 403, "SAML0966")
        self.assertIsNone(stranger.cookie("saml_session"))

    def test_artifact_without_a_login_in_progress_is_not_resolved(self):
        b = Browser(verify=False)
        acs_url = self.to_acs_with_artifact(b)
        before = self.resolutions()
        stranger = Browser(verify=False)  # a link sent to someone else: no login-state cookie
        self.assertRefused(stranger.request("GET", acs_url, follow_redirects=False), 403, "SAML0975")
        self.assertResolutions(before)
        # The artifact was not used up: its own browser still logs in with it.
        self.sp.mark_log()
        self.assertEqual("alice", env_of(b.get(acs_url))["SAML_uid"])
        self.assertResolutions(before + 1)

    def test_artifact_posted_in_a_form_is_resolved_too(self):
        b = Browser(verify=False)
        acs_url = self.to_acs_with_artifact(b)
        artifact = urllib.parse.parse_qs(urllib.parse.urlsplit(acs_url).query)["SAMLart"][0]
        before = self.resolutions()
        r = b.request("POST", self.sp.base_url + "/saml/acs", data={"SAMLart": artifact}, follow_redirects=False)
        self.assertEqual(303, r.status, r.text[:500])
        self.assertResolutions(before + 1)
        self.assertTrue(b.cookie("saml_session"))

    def test_artifact_for_an_unknown_source_is_refused_without_asking_anyone(self):
        before = self.resolutions()
        art = artifact_for("https://evil.example/idp")
        self.assertRefused(self.get_acs(art), 403, "SAML0952")
        self.assertResolutions(before)

    def test_hostile_artifacts_are_bad_requests(self):
        for art, code in ((artifact_for(self.idp.entity_id, type_code=1), "SAML0951"),
                          (base64.b64encode(b"\x00\x04" + b"\x00" * 30).decode(), "SAML0950"),
                          ("%%%not-base64", "SAML0950"),
                          (artifact_for(self.idp.entity_id, index=7), "SAML0953")):
            self.sp.mark_log()
            self.assertRefused(self.get_acs(art), 403 if code == "SAML0953" else 400, code)

    # -- the back channel failing ---------------------------------------------------------------

    def test_resolver_down_gives_502_quickly(self):
        art = artifact_for(self.idp.entity_id, index=1)
        b = self.pending_login()
        start = time.monotonic()
        r = self.get_acs(art, b)
        self.assertLess(time.monotonic() - start, TIMEOUT)
        line = self.assertRefused(r, 502, "SAML0955", level="error")
        self.assertIn("[idp %s]" % self.idp.entity_id, line)  # whose resolver is down
        self.assertIn("Try again in a minute", r.text)

    def test_hung_resolver_gives_504_after_the_timeout(self):
        art = artifact_for(self.idp.entity_id, index=2)
        b = self.pending_login()
        start = time.monotonic()
        r = self.get_acs(art, b)
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, TIMEOUT - 0.5)
        self.assertLess(elapsed, TIMEOUT + 3)
        self.assertRefused(r, 504, "SAML0956", level="error")
        # The server answers other requests at once afterwards.
        self.assertEqual(200, Browser(verify=False).get(self.sp.base_url + "/saml/metadata").status)

    def test_resolver_whose_certificate_the_ca_file_does_not_vouch_for_is_refused(self):
        before = self.resolutions()
        art = artifact_for(self.idp.entity_id)
        r = self.get_acs(art, sp=self.site.wrong_ca)
        self.assertRefused(r, 502, "SAML0955", level="error", sp=self.site.wrong_ca)
        self.assertIn("SAML0906", self.site.wrong_ca.log_since_mark())  # TLS verification, not a network error
        self.assertResolutions(before)

    def test_accept_mode_publishes_the_artifact_acs_but_asks_for_post(self):
        wrong_ca = self.site.wrong_ca
        self.assertIn(ARTIFACT_BINDING, Browser(verify=False).get(wrong_ca.base_url + "/saml/metadata").text)
        r = Browser(verify=False).request("GET", wrong_ca.base_url + "/protected/env.cgi", follow_redirects=False)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        self.assertIn('ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"', xml)

    def test_artifact_resolve_is_signed_with_the_sp_key_as_xmlsec1_checks_it(self):
        art = artifact_for(self.idp.entity_id, index=4)
        count = len(self.site.recorder.received)
        self.assertRefused(self.get_acs(art), 502, "SAML0957", level="error")
        self.assertEqual(count + 1, len(self.site.recorder.received))
        path, headers, body = self.site.recorder.received[-1]
        self.assertEqual("/recorder", path)
        self.assertTrue(headers["Content-Type"].startswith("text/xml"), headers)
        self.assertEqual('"http://www.oasis-open.org/committees/security"', headers["SOAPAction"])
        root = ET.fromstring(body)
        self.assertEqual("{http://schemas.xmlsoap.org/soap/envelope/}Envelope", root.tag)
        resolve = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/{%s}ArtifactResolve" % PROTOCOL)
        self.assertIsNotNone(resolve, body)
        self.assertEqual(art, resolve.find("{%s}Artifact" % PROTOCOL).text)
        self.assertEqual("https://127.0.0.1:%d/recorder" % self.site.recorder.port, resolve.get("Destination"))
        self.assertEqual(self.sp.entity_id, resolve.find("{%s}Issuer" % ASSERTION).text)
        ok, out = samlmsg.verify_signature(body, os.path.join(self.sp.sp_dir, "sp.crt"),
                                           id_elements=[PROTOCOL + ":ArtifactResolve"])
        self.assertTrue(ok, out)
        other_ok, _ = samlmsg.verify_signature(body, self.idp.signing_cert_path,
                                               id_elements=[PROTOCOL + ":ArtifactResolve"])
        self.assertFalse(other_ok)

    def test_client_certificate_is_presented_to_a_resolver_that_asks(self):
        count = len(self.site.client_auth.received)
        self.assertRefused(self.get_acs(artifact_for(self.idp.entity_id, index=5)), 502, "SAML0957", level="error")
        self.assertEqual(count + 1, len(self.site.client_auth.received))  # the handshake took our certificate
        subject = dict(x[0] for x in self.site.client_auth.peers[-1]["subject"])
        self.assertEqual("mod_auth_saml test client", subject["commonName"])
        # Without it (another SP) the resolver's TLS refuses the connection: nothing is received.
        self.assertRefused(self.get_acs(artifact_for(self.idp.entity_id, index=5), sp=self.site.encrypted),
                           502, "SAML0955", level="error", sp=self.site.encrypted)
        self.assertEqual(count + 1, len(self.site.client_auth.received))

    def test_start_up_names_the_resolver_that_will_be_refused(self):
        with open(self.sp.error_log_path) as f:
            notes = [l for l in f if "SAML0974" in l]
        self.assertTrue(notes)
        self.assertIn("http://127.0.0.1:%d/simplesaml" % self.idp.port, notes[0])
        with open(self.site.post_only.error_log_path) as f:
            self.assertNotIn("SAML0974", f.read())  # only when the binding is on

    def test_plain_http_resolver_is_refused(self):
        before = self.resolutions()
        art = artifact_for(self.idp.entity_id, index=3)
        r = self.get_acs(art)
        self.assertRefused(r, 502, "SAML0969", level="error")
        self.assertResolutions(before)

    # -- the ACS's inputs -----------------------------------------------------------------------

    def test_get_without_artifact_and_both_fields_are_bad_requests(self):
        r = Browser(verify=False).request("GET", self.sp.base_url + "/saml/acs", follow_redirects=False)
        self.assertRefused(r, 400, "SAML0832")
        self.sp.mark_log()
        art = artifact_for(self.idp.entity_id)
        r = Browser(verify=False).request("POST", self.sp.base_url + "/saml/acs",
                                          data={"SAMLart": art, "SAMLResponse": "PHg+"}, follow_redirects=False)
        self.assertRefused(r, 400, "SAML0972")

    def test_a_saml_response_in_a_get_query_is_not_taken(self):
        # HTTP-POST only: a Response in a URL would end up in logs and Referer headers.
        r = Browser(verify=False).request("GET", self.sp.base_url + "/saml/acs?SAMLResponse=PHg%2B",
                                          follow_redirects=False)
        self.assertRefused(r, 400, "SAML0832")

    def test_an_sp_without_the_artifact_binding_refuses_artifacts(self):
        post_only = self.site.post_only
        art = artifact_for(self.idp.entity_id)
        r = Browser(verify=False).request("POST", post_only.base_url + "/saml/acs", data={"SAMLart": art},
                                          follow_redirects=False)
        self.assertRefused(r, 400, "SAML0971", sp=post_only)
        get = Browser(verify=False).request("GET", post_only.base_url + "/saml/acs?SAMLart=x", follow_redirects=False)
        self.assertEqual(405, get.status)
        self.allow.append("SAML0830")


if __name__ == "__main__":
    unittest.main()
