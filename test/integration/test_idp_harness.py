"""Self-test of the integration harness: the SimpleSAMLphp IdP and the Browser, without our module.

A stand-in SP (harness.recorder) records what the IdP POSTs to its ACS.
Run: /usr/bin/python3 -m unittest test_idp_harness   (from test/integration)
"""
import datetime
import os
import shutil
import tempfile
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

from harness import idp as idpmod
from harness import pki, ports, samlmsg, spmeta
from harness.browser import Browser
from harness.recorder import AcsRecorder

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"  # keep the work dir for debugging


class IdpHarnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-idp-test-")
        cls.sp_key, cls.sp_cert = pki.make_key_and_cert(os.path.join(cls.work, "sp"), "sp", "test SP")
        cls.sp = AcsRecorder(ports.free_port()).start()
        xml = spmeta.sp_metadata_xml(cls.sp.entity_id, cls.sp.acs_url, cls.sp.slo_url,
                                     signing_cert=cls.sp_cert, encryption_cert=cls.sp_cert)
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port(), xml)
        try:
            cls.idp.start()
        except Exception:
            cls.sp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.idp.stop()
        cls.sp.stop()
        if KEEP:
            print("\nkept work dir: %s" % cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.idp.mark_logs()

    def tearDown(self):
        self.idp.assert_no_php_errors()
        self.idp.assert_clean_logs()

    def login(self, user, password=None, relay_state=None, entity_id=None):
        before = len(self.sp.posts)
        b = Browser()
        url = self.idp.idp_initiated_url(entity_id or self.sp.entity_id, relay_state)
        r = b.login(url, user, password or idpmod.USERS[user]["password"])
        posted = self.sp.posts[before:]
        return b, r, posted

    # -- metadata -------------------------------------------------------------------------------

    def test_metadata_names_the_idp_and_holds_its_signing_cert(self):
        root = ET.fromstring(self.idp.metadata_xml())
        ns = samlmsg.NS
        self.assertEqual(root.get("entityID"), self.idp.entity_id)
        idpsso = root.find("md:IDPSSODescriptor", ns)
        self.assertIsNotNone(idpsso)
        certs = ["".join(c.text.split()) for c in
                 idpsso.findall("md:KeyDescriptor[@use='signing']//ds:X509Certificate", ns)]
        self.assertIn(self.idp.signing_cert_body(), certs)
        sso = {e.get("Binding"): e.get("Location") for e in idpsso.findall("md:SingleSignOnService", ns)}
        self.assertEqual(sso.get(idpmod.BINDING_REDIRECT), self.idp.sso_url)
        slo = {e.get("Binding"): e.get("Location") for e in idpsso.findall("md:SingleLogoutService", ns)}
        self.assertEqual(slo.get(idpmod.BINDING_REDIRECT), self.idp.slo_url)

    # -- login ------------------------------------------------------------------------------------

    def test_idp_initiated_login_posts_a_signed_response_with_alices_attributes(self):
        b, r, posted = self.login("alice", relay_state="/after/login")
        self.assertEqual((r.status, r.url), (200, self.sp.landing_url), r.history)
        self.assertIn(("POST", self.sp.acs_url, 303), r.history)
        self.assertEqual(len(posted), 1)
        self.assertEqual(posted[0].get("RelayState"), "/after/login")

        xml = samlmsg.decode_post(posted[0]["SAMLResponse"])
        self.assertTrue(xml.lstrip().startswith(b"<"), xml[:80])
        m = samlmsg.ParsedResponse(xml)
        self.assertEqual(m.status, "urn:oasis:names:tc:SAML:2.0:status:Success")
        self.assertEqual(m.destination, self.sp.acs_url)
        self.assertEqual(m.issuer, self.idp.entity_id)
        self.assertIsNone(m.in_response_to)  # unsolicited
        self.assertEqual(m.assertion_count, 1)
        self.assertFalse(m.encrypted)

        # Both the Response and the Assertion carry an enveloped signature by the IdP's key.
        self.assertEqual(m.signature["uri"], "#" + m.id)
        self.assertEqual(m.assertion_signature["uri"], "#" + m.assertion_id)
        for sig in (m.signature, m.assertion_signature):
            self.assertEqual(sig["algorithm"], "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
            self.assertEqual(sig["certificate"], self.idp.signing_cert_body())
        ok, out = samlmsg.verify_signature(xml, self.idp.signing_cert_path)
        self.assertTrue(ok, out)
        tampered = xml.replace(b">alice<", b">mallory<", 1)
        self.assertNotEqual(tampered, xml)
        ok, out = samlmsg.verify_signature(tampered, self.idp.signing_cert_path)
        self.assertFalse(ok, "a changed attribute value must break the signature")
        ok, out = samlmsg.verify_signature(xml, self.sp_cert)
        self.assertFalse(ok, "another key must not verify the IdP's signature")

        self.assertEqual(m.nameid_format, idpmod.NAMEID_PERSISTENT)
        self.assertRegex(m.nameid, r"^[0-9a-f]{40}$")
        self.assertEqual(m.nameid_sp_name_qualifier, self.sp.entity_id)
        self.assertEqual(m.recipient, self.sp.acs_url)
        self.assertEqual(m.audiences, [self.sp.entity_id])
        self.assertTrue(m.session_index)

        attrs = m.attributes
        self.assertEqual(attrs["uid"], ["alice"])
        self.assertEqual(attrs["username"], ["alice"])
        self.assertEqual(attrs["mail"], ["alice@example.org"])
        self.assertEqual(attrs["givenName"], ["Zoë"])
        self.assertEqual(attrs["sn"], ["Lefèvre"])
        self.assertEqual(attrs["eduPersonAffiliation"], ["member", "staff"])
        self.assertEqual(attrs["groups"], ["admins", "users"])
        self.assertEqual(set(m.attribute_name_formats.values()), {idpmod.ATTRNAME_BASIC})

        # The IdP's session (store.type phpsession: the PHP session cookie) lives in the jar.
        self.assertIsNotNone(b.cookie("SimpleSAML"))

    def test_persistent_nameid_is_stable_per_user_and_differs_between_users(self):
        _, _, first = self.login("alice")
        _, _, again = self.login("alice")
        _, r, bob = self.login("bob")
        nid = lambda p: samlmsg.ParsedResponse(samlmsg.decode_post(p[0]["SAMLResponse"])).nameid
        self.assertEqual(nid(first), nid(again))
        self.assertNotEqual(nid(first), nid(bob))
        attrs = samlmsg.ParsedResponse(samlmsg.decode_post(bob[0]["SAMLResponse"])).attributes
        self.assertEqual(attrs["givenName"], ["Björn"])
        self.assertEqual(attrs["groups"], ["users"])

    def test_second_visit_reuses_the_idp_session_without_a_login_form(self):
        b, r, posted = self.login("alice")
        self.assertEqual(len(posted), 1)
        r = b.follow_saml_posts(b.get(self.idp.idp_initiated_url(self.sp.entity_id)))
        self.assertEqual((r.status, r.url), (200, self.sp.landing_url))
        self.assertFalse(any("loginuserpass" in url for _, url, _ in r.history), r.history)

    def test_wrong_password_shows_the_login_form_again_and_posts_nothing(self):
        b, r, posted = self.login("bob", password="not-bobs-password")
        self.assertEqual(posted, [])
        self.assertEqual(r.status, 200)
        form = r.form(with_field="password")
        self.assertIn("AuthState", form.hidden())

    def sp_initiated_url(self, request_id, sign=True):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        xml = samlmsg.authn_request(request_id, self.sp.entity_id, self.idp.sso_url, self.sp.acs_url, now)
        return samlmsg.redirect_url(self.idp.sso_url, xml, self.sp_key if sign else None,
                                    relay_state="/sp-initiated")

    def test_sp_initiated_login_with_a_signed_authn_request_answers_in_response_to_it(self):
        b = Browser()
        r = b.login(self.sp_initiated_url("_req-" + uuid.uuid4().hex), "bob", "bob-password")
        self.assertEqual((r.status, r.url), (200, self.sp.landing_url), r.history)
        posted = self.sp.last()
        self.assertEqual(posted["RelayState"], "/sp-initiated")
        m = samlmsg.ParsedResponse(samlmsg.decode_post(posted["SAMLResponse"]))
        self.assertTrue(m.in_response_to.startswith("_req-"))
        self.assertEqual(m.attributes["uid"], ["bob"])

    def test_unsigned_authn_request_is_refused(self):
        before = len(self.sp.posts)
        r = Browser().login(self.sp_initiated_url("_req-unsigned", sign=False), "bob", "bob-password")
        self.assertEqual(len(self.sp.posts), before, r.history)
        problems = self.idp.log_problems()
        self.assertTrue(any("no signature found" in l.lower() for l in problems), problems)
        self.idp.mark_logs()

    def test_idp_initiated_logout_sends_a_signed_logout_request_to_the_sp(self):
        b, r, posted = self.login("alice")
        nameid = samlmsg.ParsedResponse(samlmsg.decode_post(posted[0]["SAMLResponse"])).nameid
        before = len(self.sp.slo_messages)
        r = b.get(self.idp.slo_url + "?" + urllib.parse.urlencode({"ReturnTo": self.sp.landing_url}))
        self.assertEqual(len(self.sp.slo_messages), before + 1, r.history)
        msg = self.sp.slo_messages[-1]
        self.assertEqual(msg["method"], "GET")  # the SP's first SLO binding: HTTP-Redirect
        ok, detail = samlmsg.verify_redirect_signature(msg["query"], self.idp.signing_cert_path)
        self.assertTrue(ok, detail)
        ok, _ = samlmsg.verify_redirect_signature(msg["query"], self.sp_cert)
        self.assertFalse(ok)
        root = ET.fromstring(samlmsg.decode_redirect(msg["fields"]["SAMLRequest"]))
        self.assertEqual(root.tag, "{%s}LogoutRequest" % samlmsg.NS["samlp"])
        self.assertEqual(root.get("Destination"), self.sp.slo_url)
        self.assertEqual(root.findtext("saml:Issuer", namespaces=samlmsg.NS), self.idp.entity_id)
        self.assertEqual(root.findtext("saml:NameID", namespaces=samlmsg.NS), nameid)
        self.assertTrue(root.findtext("samlp:SessionIndex", namespaces=samlmsg.NS))

    def test_log_check_sees_an_idp_error(self):
        r = Browser().get(self.idp.idp_initiated_url("http://127.0.0.1:9/not-a-known-sp"))
        self.assertIsNone(r.saml_post_form())  # SimpleSAMLphp's error page (status 200 in 1.19)
        problems = self.idp.log_problems()
        self.assertTrue(any("not-a-known-sp" in l for l in problems), problems)
        self.assertEqual(self.idp.log_problems(allow=[r"SimpleSAMLphp (ERROR|WARNING) "]), [])
        self.idp.mark_logs()  # expected: keep tearDown's check for the other tests

    def test_encrypted_assertion_and_uri_attribute_names_when_asked(self):
        entity = self.sp.entity_id + "/encrypted"
        xml = spmeta.sp_metadata_xml(entity, self.sp.acs_url, signing_cert=self.sp_cert,
                                     encryption_cert=self.sp_cert,
                                     nameid_format=idpmod.NAMEID_EMAIL)
        self.idp.add_sp(xml, encrypt_assertion=True, attribute_name_format="uri",
                        nameid_attribute="mail", attributes=["uid", "mail", "givenName"])
        try:
            _, r, posted = self.login("alice", entity_id=entity)
        finally:
            self.idp.remove_sp(entity)
        self.assertEqual(len(posted), 1, r.history)
        xml = samlmsg.decode_post(posted[0]["SAMLResponse"])
        m = samlmsg.ParsedResponse(xml)
        self.assertTrue(m.encrypted)
        self.assertEqual(m.assertion_count, 0)
        self.assertNotIn(b"alice@example.org", xml)
        ok, out = samlmsg.verify_signature(xml, self.idp.signing_cert_path)
        self.assertTrue(ok, out)
        clear = samlmsg.ParsedResponse(samlmsg.decrypt(xml, self.sp_key))
        self.assertEqual(clear.nameid, "alice@example.org")
        self.assertEqual(clear.nameid_format, idpmod.NAMEID_EMAIL)
        self.assertEqual(clear.attributes, {
            "urn:oid:0.9.2342.19200300.100.1.1": ["alice"],
            "urn:oid:0.9.2342.19200300.100.1.3": ["alice@example.org"],
            "urn:oid:2.5.4.42": ["Zoë"],
        })
        self.assertEqual(set(clear.attribute_name_formats.values()), {idpmod.ATTRNAME_URI})


if __name__ == "__main__":
    unittest.main()
