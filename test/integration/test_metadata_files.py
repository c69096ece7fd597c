"""SAMLIdPMetadataFile as people download it, against a real httpd and a real SimpleSAMLphp IdP:

- a file whose validUntil has passed (SimpleSAMLphp's own metadata given Google Workspace's
  kind of validUntil, and Google Workspace's published metadata of 2026) passes the configtest
  with an error line naming the file and the date, logins through it still work, the error is
  said again while httpd runs (SAMLIdPMetadataFileWarning's repeat), saml-status shows it;
- one that expires soon gets a warning at the configtest; one older than its cacheDuration a notice;
- an HTML sign-in page or a PEM certificate saved as the metadata fails the configtest saying
  what the file is; Entra ID's 'common' metadata loads with a warning that no login can work;
- the SP metadata at /saml/metadata is signed (SAMLSPMetadataSigned, default On): xmlsec1
  verifies it with the SP certificate, SimpleSAMLphp's own metadata parser reads and verifies it,
  and a changed byte fails; Off serves it unsigned.

Fixtures: test/fixtures/idp-metadata (each file says where it was published).
Every test fails on an unexpected [warn]/[error] line in the SP's error log.
"""
import calendar
import datetime
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import idp as idpmod
from harness import ports
from harness.browser import Browser
from harness.sp import ModuleSp, env_of

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(TOP, "test", "fixtures", "idp-metadata")
MD_ENTITY = re.compile(r"(<(?:md:)?EntityDescriptor\b)")
REPEAT_SECONDS = 2

STATUS_CONF = """
<Location /saml-status>
    SetHandler saml-status
    Require local
</Location>
"""

# What SimpleSAMLphp's metadata parser makes of a document, and whether the signature verifies
# with the given certificate file (SAMLParser::validateSignature, as its metarefresh uses it).
PHP_CHECK = r"""<?php
require '/usr/share/simplesamlphp/lib/_autoload.php';
$entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsString(file_get_contents($argv[1]));
foreach ($entities as $id => $entity) {
    $sp = $entity->getMetadata20SP();
    echo "entity ", $id, "\n";
    echo "acs ", $sp['AssertionConsumerService'][0]['Location'], "\n";
    echo "signature ", $entity->validateSignature([$argv[2]]) ? "valid" : "invalid", "\n";
}
"""


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def with_valid_until(xml, when):
    """The document with validUntil on its (first) EntityDescriptor."""
    return MD_ENTITY.sub(r'\1 validUntil="%s"' % when, xml, count=1)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class MetadataFilesSite:
    """One IdP, and an SP whose IdP metadata file expired in 2021 beside Google Workspace's
    published metadata that expired on 2026-09-14."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="saml-mdfiles-test-")
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port())
        self.idp.start()
        self.idp_xml = self.idp.metadata_xml()
        self.google_path = os.path.join(self.work, "google-workspace.xml")
        shutil.copy(os.path.join(FIXTURES, "google-workspace-2026.xml"), self.google_path)
        entity_id = re.search(r'entityID="([^"]+)"', self.idp_xml).group(1)
        self.sp = ModuleSp(os.path.join(self.work, "sp"), ports.free_port(),
                           with_valid_until(self.idp_xml, "2021-02-20T10:46:54Z"),
                           server_conf='SAMLIdPMetadataFile "%s"\nSAMLDefaultIdP %s\nSAMLIdPMetadataFileWarning 30 %d\n%s'
                           % (self.google_path, entity_id, REPEAT_SECONDS, STATUS_CONF))
        self.configtest = self.sp.configtest()
        self.sp.start()
        self.idp.add_sp(Browser(verify=False).get(self.sp.base_url + "/saml/metadata").text)

    def close(self):
        self.sp.stop()
        self.idp.stop()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class ExpiredFileTest(unittest.TestCase):
    # The expired files' error lines, the expired Google certificate's notice: expected here.
    allowed = (r"\[auth_saml:error\].*SAML1101 ", r"\[auth_saml:notice\].*SAML0405 ")

    @classmethod
    def setUpClass(cls):
        cls.site = MetadataFilesSite()

    @classmethod
    def tearDownClass(cls):
        cls.site.close()

    def setUp(self):
        self.site.sp.mark_log()

    def tearDown(self):
        self.assertEqual([], self.site.sp.problems(self.allowed), "unexpected lines in the SP error log")

    def test_the_configtest_passes_and_names_each_expired_file_and_date(self):
        code, out = self.site.configtest
        self.assertEqual(0, code, out)
        own = [l for l in out.splitlines() if "SAML1101" in l and self.site.sp.idp_metadata_path in l]
        self.assertEqual(1, len(own), out)
        self.assertIn("[auth_saml:error]", own[0])
        self.assertIn("its validUntil passed at 2021-02-20T10:46:54Z", own[0])
        self.assertIn("the file is still used", own[0])
        google = [l for l in out.splitlines() if "SAML1101" in l and self.site.google_path in l]
        self.assertEqual(1, len(google), out)
        self.assertIn("passed at 2026-09-14T23:17:31Z", google[0])
        # Its certificate expired with it: the notice names serial, expiry and that it is self-signed.
        cert = [l for l in out.splitlines() if "SAML0405" in l]
        self.assertTrue(cert, out)
        self.assertIn("serial 017BEBC04903, not after 2026-09-14T23:17:31Z, self-signed", cert[0])
        self.assertIn("IdP 'https://accounts.google.com/o/saml2?idpid=C01o3oocn'", cert[0])

    def test_logins_through_the_expired_file_still_work(self):
        b = Browser(verify=False)
        r = b.login(self.site.sp.base_url + "/protected/env.cgi", "alice", idpmod.USERS["alice"]["password"])
        self.assertEqual(200, r.status, r.text[:500])
        self.assertTrue(env_of(r).get("REMOTE_USER"), r.text[:500])

    def test_the_error_is_said_again_while_httpd_runs_at_most_once_per_repeat(self):
        b = Browser(verify=False)
        sso = self.site.sp.base_url + "/saml/sso?ReturnTo=/protected/"
        b.request("GET", sso, follow_redirects=False)  # the first login after start starts the clock
        time.sleep(REPEAT_SECONDS + 1)
        self.site.sp.mark_log()
        for _ in range(3):  # the first request after the repeat says it; the next ones do not
            r = b.request("GET", sso, follow_redirects=False)
            self.assertIn(r.status, (302, 303))
        log = self.site.sp.log_since_mark()
        lines = [l for l in log.splitlines() if "SAML1101" in l]
        self.assertEqual(2, len(lines), log)  # one per file, once
        self.assertTrue(all("[auth_saml:error]" in l for l in lines), lines)
        self.assertTrue(any(self.site.google_path in l for l in lines), lines)

    def test_saml_status_shows_each_file_and_its_first_validuntil(self):
        r = Browser(verify=False).get(self.site.sp.base_url + "/saml-status")
        self.assertEqual(200, r.status)
        self.assertIn("MetadataFile %s: expired at 2021-02-20T10:46:54Z (" % self.site.sp.idp_metadata_path, r.text)
        self.assertIn("MetadataFile %s: expired at 2026-09-14T23:17:31Z (" % self.site.google_path, r.text)
        self.assertIn("still used", r.text)
        prom = Browser(verify=False).get(self.site.sp.base_url + "/saml-status?format=prometheus").text
        self.assertIn("# TYPE mod_auth_saml_metadata_file_valid_until_seconds gauge", prom)
        expected = calendar.timegm((2026, 9, 14, 23, 17, 31, 0, 0, 0))
        self.assertIn('mod_auth_saml_metadata_file_valid_until_seconds{file="%s"} %d' % (self.site.google_path, expected), prom)


class ConfigtestMessagesTest(unittest.TestCase):
    """Only `apache2 -t`: what it says about files of each kind."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-mdfiles-configtest-")
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port())
        cls.idp.start()
        cls.idp_xml = cls.idp.metadata_xml()

    @classmethod
    def tearDownClass(cls):
        cls.idp.stop()
        if not KEEP:
            shutil.rmtree(cls.work, ignore_errors=True)

    def configtest(self, name, metadata_text, server_conf=""):
        sp = ModuleSp(os.path.join(self.work, name), ports.free_port(), metadata_text, server_conf=server_conf)
        code, out = sp.configtest()
        return sp, code, out

    def test_a_file_that_expires_soon_gets_a_warning_and_the_days_left(self):
        soon = datetime.datetime.utcnow() + datetime.timedelta(days=10, hours=1)
        sp, code, out = self.configtest("soon", with_valid_until(self.idp_xml, iso(soon)))
        self.assertEqual(0, code, out)
        line = [l for l in out.splitlines() if "SAML1100" in l]
        self.assertEqual(1, len(line), out)
        self.assertIn("[auth_saml:warn]", line[0])
        self.assertIn(sp.idp_metadata_path, line[0])
        self.assertIn("(in 10 days)", line[0])
        # Further ahead than SAMLIdPMetadataFileWarning: nothing.
        _, code, out = self.configtest("later", with_valid_until(self.idp_xml, iso(soon)), "SAMLIdPMetadataFileWarning 7")
        self.assertEqual(0, code, out)
        self.assertNotIn("SAML1100", out)

    def test_a_file_older_than_its_cache_duration_gets_a_notice(self):
        xml = MD_ENTITY.sub(r'\1 cacheDuration="PT6H"', self.idp_xml, count=1)
        sp, _, _ = self.configtest("cache-fresh", xml)
        two_days_ago = time.time() - 2 * 86400
        os.utime(sp.idp_metadata_path, (two_days_ago, two_days_ago))
        code, out = sp.configtest()
        self.assertEqual(0, code, out)
        self.assertIn("SAML1103", out)
        self.assertIn("re-read every 6 hours, and the file was last changed 2 days ago", out)

    def test_a_saved_sign_in_page_fails_saying_what_it_is(self):
        _, code, out = self.configtest("html", fixture("html-login-page.xml"))
        self.assertNotEqual(0, code, out)
        self.assertIn("SAML1104", out)
        self.assertIn("this is an HTML page titled 'Sign in to your account'", out)
        self.assertIn("download the IdP's SAML 2.0 metadata XML", out)
        self.assertNotIn("contains a DOCTYPE", out)

    def test_a_certificate_saved_as_metadata_fails_saying_what_it_is(self):
        _, code, out = self.configtest("pem", fixture("google-signing-certificate.pem"))
        self.assertNotEqual(0, code, out)
        self.assertIn("SAML1104", out)
        self.assertIn("this is a PEM certificate, probably the IdP's signing certificate, not its metadata", out)
        self.assertNotIn("not well-formed", out)

    def test_entra_common_metadata_loads_with_a_warning_that_no_login_can_succeed(self):
        entity_id = re.search(r'entityID="([^"]+)"', self.idp_xml).group(1)
        sp = ModuleSp(os.path.join(self.work, "entra"), ports.free_port(), self.idp_xml,
                      server_conf="SAMLDefaultIdP %s" % entity_id)
        common = os.path.join(self.work, "entra-common.xml")
        shutil.copy(os.path.join(FIXTURES, "entra-common.xml"), common)
        sp.server_conf += '\nSAMLIdPMetadataFile "%s"' % common
        code, out = sp.configtest()
        self.assertEqual(0, code, out)
        line = [l for l in out.splitlines() if "SAML1105" in l]
        self.assertEqual(1, len(line), out)
        self.assertIn("[auth_saml:warn]", line[0])
        self.assertIn("IdP 'https://sts.windows.net/{tenantid}/'", line[0])
        self.assertIn("no login through it can succeed", line[0])
        self.assertIn("https://login.microsoftonline.com/<tenant-id>/federationmetadata/2007-06/federationmetadata.xml", line[0])

    def test_a_long_aws_entity_id_is_printed_whole(self):
        aws = fixture("aws-iam-identity-center.xml")
        entity_id = re.search(r'entityID="([^"]+)"', aws).group(1)
        # Twice in one file: the refusal names the whole entityID (it was cut at 64 characters).
        body = aws[aws.index("<md:EntityDescriptor"):]
        doubled = ('<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">%s%s'
                   '</md:EntitiesDescriptor>' % (body, body))
        _, code, out = self.configtest("aws", doubled)
        self.assertNotEqual(0, code, out)
        self.assertIn("the entityID '%s' occurs more than once" % entity_id, out)


class SignedSpMetadataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-mdfiles-signed-")
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port())
        cls.idp.start()
        xml = cls.idp.metadata_xml()
        cls.signed = ModuleSp(os.path.join(cls.work, "signed"), ports.free_port(), xml).start()
        cls.unsigned = ModuleSp(os.path.join(cls.work, "unsigned"), ports.free_port(), xml,
                                server_conf="SAMLSPMetadataSigned Off").start()

    @classmethod
    def tearDownClass(cls):
        for sp in (cls.signed, cls.unsigned):
            sp.stop()
        cls.idp.stop()
        if not KEEP:
            shutil.rmtree(cls.work, ignore_errors=True)

    def metadata(self, sp):
        r = Browser(verify=False).get(sp.base_url + "/saml/metadata")
        self.assertEqual(200, r.status)
        self.assertEqual("application/samlmetadata+xml", r.headers.get("Content-Type"))
        return r.text

    def xmlsec_verify(self, xml, cert):
        path = os.path.join(self.work, "metadata-%d.xml" % time.monotonic_ns())
        with open(path, "w") as f:
            f.write(xml)
        p = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", cert,
                            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_the_served_metadata_verifies_with_the_sp_certificate(self):
        xml = self.metadata(self.signed)
        self.assertRegex(xml, r"<md:EntityDescriptor [^>]*ID=\"_[0-9a-f]+\"")
        self.assertIn("<ds:Signature", xml)
        code, out = self.xmlsec_verify(xml, os.path.join(self.signed.sp_dir, "sp.crt"))
        self.assertEqual(0, code, out)
        self.assertIn("OK", out)
        # A changed byte, or another certificate: refused.
        code, out = self.xmlsec_verify(xml.replace("/saml/acs", "/saml/acx", 1), os.path.join(self.signed.sp_dir, "sp.crt"))
        self.assertNotEqual(0, code, out)
        code, out = self.xmlsec_verify(xml, os.path.join(self.signed.sp_dir, "tls.crt"))
        self.assertNotEqual(0, code, out)

    def test_simplesamlphp_reads_the_signed_metadata_and_verifies_it(self):
        xml = self.metadata(self.signed)
        doc = os.path.join(self.work, "signed-for-php.xml")
        with open(doc, "w") as f:
            f.write(xml)
        script = os.path.join(self.work, "check.php")
        with open(script, "w") as f:
            f.write(PHP_CHECK)
        env = dict(os.environ, SIMPLESAMLPHP_CONFIG_DIR=self.idp.config_dir)
        p = subprocess.run(["php", script, doc, os.path.join(self.signed.sp_dir, "sp.crt")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(0, p.returncode, out)
        self.assertIn("entity %s\n" % self.signed.entity_id, out)
        self.assertIn("acs %s/saml/acs\n" % self.signed.base_url, out)
        self.assertIn("signature valid\n", out)
        # The same check on a changed document fails: the parser really verifies.
        with open(doc, "w") as f:
            f.write(xml.replace("/saml/acs", "/saml/acx", 1))
        p = subprocess.run(["php", script, doc, os.path.join(self.signed.sp_dir, "sp.crt")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertNotIn("signature valid", p.stdout.decode("utf-8", "replace"))
        # And the IdP harness, which registers SPs from their metadata, takes it: a login works.
        self.idp.add_sp(xml)
        b = Browser(verify=False)
        r = b.login(self.signed.base_url + "/protected/env.cgi", "alice", idpmod.USERS["alice"]["password"])
        self.assertEqual(200, r.status, r.text[:500])
        self.assertTrue(env_of(r).get("REMOTE_USER"))

    def test_the_signed_document_is_made_once_and_served_again(self):
        # Signing costs an RSA signature; an endpoint anyone may call serves the kept document
        # (same ID, same bytes), and it still verifies.
        first, second = self.metadata(self.signed), self.metadata(self.signed)
        self.assertEqual(first, second)
        code, out = self.xmlsec_verify(second, os.path.join(self.signed.sp_dir, "sp.crt"))
        self.assertEqual(0, code, out)

    def test_off_serves_it_unsigned(self):
        xml = self.metadata(self.unsigned)
        self.assertNotIn("Signature", xml)
        self.assertIn('entityID="%s"' % self.unsigned.entity_id, xml)


if __name__ == "__main__":
    unittest.main()
