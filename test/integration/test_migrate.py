"""auth-saml-migrate end to end: a mod_auth_mellon site and the AWS SSO walkthrough's python3-saml
settings (test/migrate/fixtures/) are converted, the result passes `apache2 -t` with the module,
and a login through the test IdP works with it; the CGI sees what the old setup exported (the
MELLON_* variables, through SAMLMellonCompat).

PublishedMellonTest runs Debian's mod_auth_mellon with each published configuration of
test/migrate/fixtures/published/ and the module with its conversion, side by side on two ports,
posts the same signed Responses to both and compares what a CGI sees and who is let in.
"""
import copy
import glob
import json
import os
import re
import urllib.parse
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import idp as idpmod
from harness import pki
from harness import ports
from harness import spmeta
from harness.browser import Browser, _has_password, _password_field, _username_field
from harness.sp import ModuleSp, env_of

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MIGRATE = os.path.join(TOP, "scripts", "auth-saml-migrate")
FIXTURES = os.path.join(TOP, "test", "migrate", "fixtures")
KEEP = os.environ.get("SAML_TEST_KEEP") == "1"


def fill(text, values):
    for k, v in values.items():
        text = text.replace("{{%s}}" % k, v)
    assert "{{" not in text, text
    return text


def run_migrate(*args):
    p = subprocess.run([sys.executable, MIGRATE] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class ConvertedSp(ModuleSp):
    """The harness SP (modules, TLS, CGI pages) with the converted configuration in place of its own
    SAML settings and <Location>s."""

    converted = ""

    def conf_text(self):
        base = super().conf_text()
        return base[:base.index("\nSAMLSPEntityID")] + "\n" + self.converted


def body(pem_path):
    with open(pem_path) as f:
        return "".join(l.strip() for l in f if not l.startswith("-----"))


def mellon_expected(user, name_id, assertion_id, idp_entity_id, merge=None):
    """What mod_auth_mellon exported for the fixture site: MELLON_<Name> (first value) and
    MELLON_<Name>_<i> per value, MellonSetEnv's names, NAME_ID, ASSERTION_ID and IDP as
    attributes (givenName went to DISPLAY_NAME, unprefixed: MellonSetEnvNoPrefix)."""
    attrs = dict(idpmod.USERS[user]["attributes"])
    attrs["email"] = attrs.pop("mail")             # MellonSetEnv "email" "mail"
    del attrs["givenName"]
    attrs["NAME_ID"] = [name_id]
    attrs["ASSERTION_ID"] = [assertion_id]
    attrs["IDP"] = [idp_entity_id]
    out = {}
    for name, values in attrs.items():
        if merge:
            out["MELLON_" + name] = merge.join(values)
            continue
        out["MELLON_" + name] = values[0]
        for i, v in enumerate(values):
            out["MELLON_%s_%d" % (name, i)] = v
    return out


class MigrationTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-migrate-test-")
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port())
        cls.idp.start()
        cls.sps = []

    @classmethod
    def tearDownClass(cls):
        for sp in cls.sps:
            sp.stop()
        cls.idp.stop()
        if KEEP:
            print("\nkept work dir: %s" % cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        for sp in self.sps:
            sp.mark_log()

    def start_sp(self, name, make_conf, metadata_path):
        sp = ConvertedSp(os.path.join(self.work, name), ports.free_port(), self.idp.metadata_xml())
        sp.converted = make_conf(sp)
        code, output = sp.configtest()
        self.assertEqual(0, code, output + "\n" + sp.converted)
        sp.start()
        self.sps.append(sp)
        metadata = Browser(verify=False).get(sp.base_url + metadata_path)
        self.assertEqual(200, metadata.status, metadata.text[:500])
        self.idp.add_sp(metadata.text)
        sp.mark_log()
        return sp

    def login(self, sp, path, user="alice"):
        b = Browser(verify=False)
        r = b.login(sp.base_url + path, user, idpmod.USERS[user]["password"])
        return b, r

    def assertCleanLog(self, sp, allow=()):
        self.assertEqual([], sp.problems(allow))

    # -- mod_auth_mellon ------------------------------------------------------------------------

    def mellon_sp(self):
        if getattr(type(self), "_mellon", None):
            return type(self)._mellon

        def make(sp):
            src = os.path.join(sp.work_dir, "mellon-site.conf")
            with open(os.path.join(FIXTURES, "mellon-site.conf")) as f:
                text = fill(f.read(), {"HOST": sp.host, "PORT": str(sp.port), "SP_DIR": sp.sp_dir,
                                       "ENTITY_ID": sp.base_url + "/mellon/metadata"})
            with open(src, "w") as f:
                f.write(text)
            out = os.path.join(sp.work_dir, "auth_saml.conf")
            code, _, err = run_migrate("mellon", src, "-o", out, "--session-secret", sp.secret_path)
            self.assertEqual(1, code, err)  # converted, with items to review
            type(self).mellon_report = err
            with open(out) as f:
                return f.read()

        type(self)._mellon = self.start_sp("mellon", make, "/mellon/metadata")
        return type(self)._mellon

    def test_mellon_report_lists_what_is_not_mapped(self):
        self.mellon_sp()
        report = self.mellon_report
        for needle in ("/mellon/postResponse (ACS)",
                       "not mapped: mellon-site.conf:17: MellonVariable",
                       "note: server 127.0.0.1: IdP-initiated logins: mod_auth_mellon accepted them, so "
                       "SAMLAllowUnsolicited On is written",
                       "not mapped: mellon-site.conf:26: MellonDefaultLoginPath"):
            self.assertIn(needle, report)

    def test_mellon_login_exports_what_mellon_did(self):
        sp = self.mellon_sp()
        _, r = self.login(sp, "/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        env = env_of(r)
        self.assertEqual("alice", env["REMOTE_USER"])  # MellonUser "uid"
        mellon = {k: v for k, v in env.items() if k.startswith("MELLON_")}
        self.assertTrue(env["SAML_ASSERTION_ID"].startswith("_"), env)
        self.assertEqual(mellon_expected("alice", env["SAML_NAME_ID"], env["SAML_ASSERTION_ID"], self.idp.entity_id),
                         mellon)
        self.assertEqual("alice@example.org", env["SAML_email"])  # MellonSetEnv -> SAMLAttributeMap
        # The IdP posted to the ACS URL mellon had registered (SAMLEndpointNames mellon).
        self.assertTrue(any("/mellon/postResponse" in str(h) for h in r.history), r.history)
        self.assertCleanLog(sp)

    def test_mellon_merged_values(self):
        sp = self.mellon_sp()
        _, r = self.login(sp, "/admins/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        env = env_of(r)
        mellon = {k: v for k, v in env.items() if k.startswith("MELLON_")}
        self.assertEqual(mellon_expected("alice", env["SAML_NAME_ID"], env["SAML_ASSERTION_ID"], self.idp.entity_id,
                                         merge=";"), mellon)
        self.assertCleanLog(sp)

    def test_mellon_conditions_become_requires(self):
        sp = self.mellon_sp()
        b, r = self.login(sp, "/staff/env.cgi")  # alice: staff, admins, @example.org
        self.assertEqual(200, r.status, r.text[:800])
        b, r = self.login(sp, "/staff/env.cgi", user="bob")  # bob: neither staff nor adm*
        self.assertEqual(403, r.status, r.text[:800])
        b, r = self.login(sp, "/admins/env.cgi", user="bob")  # MellonRequire groups admins
        self.assertEqual(403, r.status, r.text[:800])
        self.assertCleanLog(sp, allow=("AH01630", "AH01631"))

    def test_mellon_urls_in_metadata_and_logout(self):
        sp = self.mellon_sp()
        md = Browser(verify=False).get(sp.base_url + "/mellon/metadata").text
        self.assertIn('Location="%s/mellon/postResponse"' % sp.base_url, md)
        self.assertIn('Location="%s/mellon/logout"' % sp.base_url, md)
        b, r = self.login(sp, "/mellon/login?ReturnTo=/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        self.assertEqual("alice", env_of(r)["REMOTE_USER"])
        copy = "saml_session=" + b.cookie("saml_session")
        self.assertLess(len(copy), 200)  # sessions on the server, as with mellon
        # Logout through mellon's URL: the user's request goes to the IdP, whose LogoutResponse
        # comes back to the same /mellon/logout.
        r = b.get(sp.base_url + "/mellon/logout?ReturnTo=/public/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        self.assertTrue(any("/mellon/logout?SAMLResponse=" in str(h) for h in r.history), r.history)
        self.assertNotIn("REMOTE_USER", env_of(r))
        # ...and, as with mellon, a copy of the session cookie is dead too.
        after = Browser(verify=False).request("GET", sp.base_url + "/protected/env.cgi", headers={"Cookie": copy},
                                              follow_redirects=False)
        self.assertIn(after.status, (302, 303), after.text[:300])
        self.assertCleanLog(sp)

    # -- python3-saml ---------------------------------------------------------------------------

    def python3_saml_sp(self):
        if getattr(type(self), "_p3", None):
            return type(self)._p3

        def make(sp):
            settings = os.path.join(sp.work_dir, "settings")
            os.makedirs(settings, exist_ok=True)
            with open(os.path.join(sp.sp_dir, "sp.key")) as f:
                key = f.read()
            values = {"BASE_URL": sp.base_url, "SP_CERT": body(os.path.join(sp.sp_dir, "sp.crt")),
                      "SP_KEY": "".join(l.strip() for l in key.splitlines() if not l.startswith("-----")),
                      "IDP_ENTITY_ID": self.idp.entity_id, "IDP_SSO_URL": self.idp.sso_url,
                      "IDP_SLO_URL": self.idp.slo_url,
                      "IDP_CERT": "".join(self.idp.signing_cert_body().split())}
            for name in ("settings.json", "advanced_settings.json"):
                with open(os.path.join(FIXTURES, "python3-saml", name)) as f:
                    text = fill(f.read(), values)
                with open(os.path.join(settings, name), "w") as f:
                    f.write(text)
            out = os.path.join(sp.work_dir, "auth_saml.conf")
            code, _, err = run_migrate("python3-saml", settings, "-o", out, "--key-dir",
                                       os.path.join(sp.work_dir, "converted"), "--session-secret", sp.secret_path)
            self.assertIn(code, (0, 1), err)
            self.assertNotIn("refused:", err)  # the walkthrough's settings are secure
            with open(out) as f:
                # The walkthrough protected pages in code; the example <Location> goes where the CGI is.
                return f.read().replace("<Location /private>", "<Location /protected>")

        type(self)._p3 = self.start_sp("python3-saml", make, "/metadata/")
        return type(self)._p3

    def test_python3_saml_login(self):
        sp = self.python3_saml_sp()
        with open(os.path.join(sp.work_dir, "auth_saml.conf")) as f:
            conf = f.read()
        for line in ("SAMLEndpointPath /", "SAMLWantAssertionsSigned On", "SAMLWantResponseSigned On",
                     "SAMLNameIDFormat urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"):
            self.assertIn(line + "\n", conf)
        _, r = self.login(sp, "/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        env = env_of(r)
        self.assertEqual("alice@example.org", env["SAML_mail"])
        self.assertEqual(self.idp.entity_id, env["SAML_IDP"])
        # The walkthrough's URLs: the IdP posted to /acs/.
        self.assertTrue(any("/acs/" in str(h) for h in r.history), r.history)
        self.assertCleanLog(sp)

    def test_python3_saml_insecure_settings_are_refused_loudly(self):
        d = os.path.join(self.work, "insecure")
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(FIXTURES, "python3-saml", "insecure-settings.json"), os.path.join(d, "settings.json"))
        code, _, err = run_migrate("python3-saml", d, "-o", os.path.join(d, "out.conf"))
        self.assertEqual(1, code, err)
        for key in ("strict", "security.signatureAlgorithm",
                    "security.digestAlgorithm", "security.rejectDeprecatedAlgorithm",
                    "sp.assertionConsumerService.url"):
            self.assertIn("refused: %s:" % key, err)
        # Both signature flags false is python3-saml's own "either one": a note, not a refusal.
        self.assertIn("note: security.wantAssertionsSigned: wantAssertionsSigned and wantMessagesSigned are both "
                      "false", err)
        with open(os.path.join(d, "out.conf")) as f:
            conf = f.read()
        self.assertNotIn("SAMLAllowSHA1", conf)
        self.assertIsNone(re.search(r"(?m)^\s*SAML\w+ Off\b", conf), conf)


class ConverterTest(unittest.TestCase):
    """The mellon conversion rules that need no servers."""

    def convert(self, conf, *options):
        d = tempfile.mkdtemp(prefix="saml-migrate-conv-")
        self.addCleanup(shutil.rmtree, d, True)
        src = os.path.join(d, "site.conf")
        with open(src, "w") as f:
            f.write(conf)
        code, out, err = run_migrate("mellon", src, "--session-secret", os.path.join(d, "secret"), *options)
        return code, out, err

    def test_server_level_directives_are_lifted_and_defaults_kept(self):
        code, out, err = self.convert(
            "ServerName www.example.org\n<Location />\n    MellonEndpointPath /auth/\n"
            "    MellonSPCertFile /k/sp.crt\n    MellonSPPrivateKeyFile /k/sp.key\n"
            "    MellonIdPMetadataFile /k/idp.xml\n    MellonRedirectDomains [self] *.example.org\n"
            "</Location>\n<Location /app>\n    MellonEnable auth\n</Location>\n")
        self.assertEqual(0, code, err)
        head = out.split("\n\n")[0]
        for line in ("SAMLSPEntityID http://www.example.org/auth/metadata", "SAMLEndpointPath /auth",
                     "SAMLEndpointNames mellon", "SAMLRedirectDomains .example.org", "SAMLIdPMetadataFile /k/idp.xml"):
            self.assertIn(line + "\n", head + "\n")
        self.assertIn("<Location /app>\n    SAMLMellonCompat On\n    AuthType SAML\n    Require valid-user\n"
                      "    SAMLMode auth\n</Location>", out)

    def test_mellons_session_cache_becomes_the_server_side_store(self):
        base = "ServerName www.example.org\n<Location />\n    MellonEnable auth\n    MellonSPentityId x\n</Location>\n"
        code, out, err = self.convert(base)
        self.assertEqual(0, code, err)
        self.assertIn("\nSAMLSessionStore cache\n", out)
        self.assertIn("sessions stay on the server as with mellon", err)
        # mellon's sizes, past the default: the shmcb holds as many sessions of that size.
        code, out, err = self.convert("MellonCacheSize 2000\nMellonCacheEntrySize 65536\n" + base)
        self.assertEqual(0, code, err)
        self.assertIn("\nSAMLSessionStore cache shmcb:auth_saml_sessions(%d)\n" % (2000 * 65536 * 3 // 2), out)
        self.assertNotIn("MellonCache", out.replace("# mod_auth_mellon", ""))
        code, out, err = self.convert("MellonCacheSize lots\n" + base)
        self.assertIn("MellonCacheSize lots: not a positive number", err)

    def test_conditions(self):
        code, out, err = self.convert(
            "<Location /x>\n    MellonEnable auth\n    MellonCond role admin [NOT]\n"
            "    MellonCond dept \"IT Ops\" [NC,OR]\n    MellonCond dept sales\n    MellonCond a b [REF]\n"
            "    Require valid-user\n</Location>\n")
        self.assertEqual(1, code, err)
        self.assertIn("MellonCond a b [REF]", err)
        self.assertIn("""    <RequireAll>
        Require valid-user
        Require not saml-attribute role admin
        <RequireAny>
            Require saml-attribute dept ~ "(?i)^IT Ops$"
            Require saml-attribute dept sales
        </RequireAny>
    </RequireAll>""", out)
        self.assertEqual(1, out.count("Require valid-user"))

    def test_idp_initiated_logins_are_carried_over_and_said_or_left_off_on_request(self):
        conf = "ServerName www.example.org\n<Location />\n    MellonEnable auth\n    MellonSPentityId x\n</Location>\n"
        code, out, err = self.convert(conf)
        self.assertEqual(0, code, err)
        self.assertIn("note: server www.example.org: IdP-initiated logins: mod_auth_mellon accepted them", err)
        head = out.split("<Location />")[0]
        self.assertIn("login CSRF", head)
        self.assertIn("(SAMLAllowUnsolicited Off, the module's default).\nSAMLAllowUnsolicited On\n", head)
        code, out, err = self.convert(conf, "--no-unsolicited")
        self.assertEqual(0, code, err)
        self.assertNotIn("SAMLAllowUnsolicited", out)
        self.assertNotIn("IdP-initiated", err)

    def sp_metadata(self, d, entity, acs, cert_pem):
        path = os.path.join(d, "sp-metadata.xml")
        with open(path, "w") as f:
            f.write(spmeta.sp_metadata_xml(entity, acs, slo_url=acs.replace("postResponse", "logout"),
                                           signing_cert=cert_pem))
        return path

    def test_entity_id_and_registration_come_from_mellon_sp_metadata_file(self):
        d = tempfile.mkdtemp(prefix="saml-migrate-md-")
        self.addCleanup(shutil.rmtree, d, True)
        pki.make_key_and_cert(d, "sp", "sp.example.org")
        pki.make_key_and_cert(d, "other", "other.example.org")
        conf = ("<VirtualHost *:443>\n    ServerName https://www.example.org\n    <Location />\n"
                "        MellonEnable info\n        MellonEndpointPath /saml2/\n"
                "        MellonSPMetadataFile %s\n        MellonSPCertFile %s\n        MellonSPPrivateKeyFile %s\n"
                "    </Location>\n</VirtualHost>\n")
        good = self.sp_metadata(d, "https://www.example.org/sp", "https://www.example.org/saml2/postResponse",
                                os.path.join(d, "sp.crt"))
        code, out, err = self.convert(conf % (good, os.path.join(d, "sp.crt"), os.path.join(d, "sp.key")))
        self.assertEqual(0, code, err)
        # The entityID the IdP registered, not mellon's default (the metadata URL): no re-registration.
        self.assertIn("    SAMLSPEntityID https://www.example.org/sp\n", out)
        self.assertNotIn("/saml2/metadata\n", out)
        self.assertIn("SAMLSPEntityID https://www.example.org/sp, read from MellonSPMetadataFile", err)
        self.assertNotIn("MellonSPMetadataFile", out)
        # An ACS elsewhere than <endpoint>/postResponse, and another certificate: listed.
        os.rename(good, good + ".old")
        self.sp_metadata(d, "https://www.example.org/sp", "https://www.example.org/mellon/postResponse",
                         os.path.join(d, "other.crt"))
        code, out, err = self.convert(conf % (good, os.path.join(d, "sp.crt"), os.path.join(d, "sp.key")))
        self.assertEqual(1, code, err)
        self.assertIn("AssertionConsumerService https://www.example.org/mellon/postResponse is not "
                      "/saml2/postResponse", err)
        self.assertIn("is not the certificate in MellonSPMetadataFile", err)
        # Unreadable: said, with what to do.
        code, out, err = self.convert(conf % (os.path.join(d, "missing.xml"), os.path.join(d, "sp.crt"),
                                              os.path.join(d, "sp.key")))
        self.assertEqual(1, code, err)
        self.assertIn("could not be read", err)
        self.assertIn("set SAMLSPEntityID to the entityID the IdP has registered", err)

    def test_two_sps_in_one_server_are_refused_with_the_reason(self):
        d = tempfile.mkdtemp(prefix="saml-migrate-two-")
        self.addCleanup(shutil.rmtree, d, True)
        src = os.path.join(d, "site.conf")
        with open(src, "w") as f:
            f.write("<Location /a>\n    MellonEnable auth\n    MellonEndpointPath /a/mellon\n</Location>\n"
                    "<Location /b>\n    MellonEnable auth\n    MellonEndpointPath /b/mellon\n</Location>\n")
        out = os.path.join(d, "out.conf")
        code, stdout, err = run_migrate("mellon", src, "-o", out, "--session-secret", os.path.join(d, "secret"))
        self.assertEqual(3, code, err)
        self.assertIn("refused: cannot convert: site.conf:7: MellonEndpointPath /b/mellon, but /a/mellon was set "
                      "at site.conf:3 in the same server", err)
        self.assertIn("one SP per virtual host", err)
        self.assertFalse(os.path.exists(out))
        self.assertEqual("", stdout)
        # The same two SPs in two virtual hosts are two servers: converted.
        with open(src, "w") as f:
            f.write("<VirtualHost *:443>\nServerName a.example.org\n<Location /a>\n    MellonEnable auth\n"
                    "    MellonEndpointPath /a/mellon\n</Location>\n</VirtualHost>\n"
                    "<VirtualHost *:443>\nServerName b.example.org\n<Location /b>\n    MellonEnable auth\n"
                    "    MellonEndpointPath /b/mellon\n</Location>\n</VirtualHost>\n")
        code, stdout, err = run_migrate("mellon", src, "-o", out, "--session-secret", os.path.join(d, "secret"))
        self.assertIn(code, (0, 1), err)
        with open(out) as f:
            text = f.read()
        self.assertEqual(1, text.count("SAMLEndpointPath /a/mellon"))
        self.assertEqual(1, text.count("SAMLEndpointPath /b/mellon"))

    def test_mellon_names_are_kept(self):
        code, out, err = self.convert(
            "<Location />\n    MellonEnable auth\n    MellonSPentityId x\n    MellonSetEnv login uid\n"
            "    MellonUser LOGIN\n    MellonSetEnv user-id NAME_ID\n    MellonSetEnv \"e-mail\" \"mail\"\n"
            "    MellonSetEnvNoPrefix REMOTE_USER_GROUPS groups\n    MellonEnvPrefix NOLLEM_\n"
            "    MellonMergeEnvVars On \":\"\n    MellonEnvVarsIndexStart 1\n    MellonEnvVarsSetCount On\n"
            "    MellonIdP IDP_ENTITY\n</Location>\n"
            "MellonDiagnosticsFile /var/log/apache2/mellon_diagnostics\nMellonDiagnosticsEnable On\n"
            "<Location /x>\n    MellonEnable auth\n    MellonUser ASSERTION_ID\n</Location>\n")
        self.assertEqual(1, code, err)
        for line in ("SAMLAttributeMap uid login", "SAMLUserAttribute uid", "SAMLAttributeMap NAME_ID user-id",
                     "SAMLAttributeMap mail e-mail", "SAMLAttributeMap groups REMOTE_USER_GROUPS NoPrefix",
                     "SAMLMellonPrefix NOLLEM_", 'SAMLMellonCompat On :', "SAMLMellonIndexStart 1",
                     "SAMLMellonSetCount On", "SAMLMellonIdPName IDP_ENTITY"):
            self.assertIn("    " + line + "\n", out)
        self.assertIn("note: site.conf:5: MellonUser LOGIN is the MellonSetEnv name of the attribute uid", err)
        self.assertIn("note: site.conf:15: MellonDiagnosticsFile is ignored: mellon's diagnostics log; use "
                      "'LogLevel auth_saml:debug'", err)
        self.assertIn("note: site.conf:16: MellonDiagnosticsEnable is ignored", err)
        self.assertIn("not mapped: site.conf:19: MellonUser ASSERTION_ID: the user cannot be the assertion ID", err)
        self.assertNotIn("SAMLAttributePrefix", out)

    def test_python3_saml_settings_without_a_key_get_a_new_pair(self):
        d = tempfile.mkdtemp(prefix="saml-migrate-p3-")
        self.addCleanup(shutil.rmtree, d, True)
        pki.make_key_and_cert(d, "idp", "idp.example.org")
        with open(os.path.join(d, "idp.crt")) as f:
            idp_cert = "".join(l.strip() for l in f if not l.startswith("-----"))
        settings = {"strict": True,
                    "sp": {"entityId": "https://app.example.org/saml/metadata",
                           "assertionConsumerService": {"url": "https://app.example.org/saml/acs"},
                           "x509cert": idp_cert, "privateKey": ""},
                    "idp": {"entityId": "https://idp.example.org", "x509cert": idp_cert,
                            "singleSignOnService": {"url": "https://idp.example.org/sso"}},
                    "security": {"wantAssertionsSigned": False, "wantMessagesSigned": False}}
        os.makedirs(os.path.join(d, "settings"))
        with open(os.path.join(d, "settings", "settings.json"), "w") as f:
            json.dump(settings, f)
        code, _, err = run_migrate("python3-saml", os.path.join(d, "settings"), "-o", os.path.join(d, "out.conf"),
                                   "--key-dir", os.path.join(d, "keys"))
        self.assertEqual(0, code, err)  # notes only
        self.assertNotIn("refused:", err)
        self.assertIn("note: sp.privateKey: none in the settings (python3-saml signed nothing): made a new key pair",
                      err)
        self.assertIn("the IdP's copy of the SP certificate (sp.x509cert) does not match the new key", err)
        self.assertIn("note: security.wantAssertionsSigned: wantAssertionsSigned and wantMessagesSigned are both "
                      "false", err)
        p = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", os.path.join(d, "keys", "sp.crt")],
                           stdout=subprocess.PIPE, check=True)
        q = subprocess.run(["openssl", "pkey", "-pubout", "-in", os.path.join(d, "keys", "sp.key")],
                           stdout=subprocess.PIPE, check=True)
        self.assertEqual(p.stdout, q.stdout)  # a pair
        with open(os.path.join(d, "out.conf")) as f:
            self.assertIn("SAMLSPPrivateKeyFile %s\n" % os.path.join(d, "keys", "sp.key"), f.read())

    def test_python3_saml_framework_demo_settings(self):
        """python3-saml's Flask demo: no SP key, neither signature asked for, ACS at /?acs over http.
        Converted with a new key pair; what cannot stay (the http ACS and its shape) is listed."""
        d = tempfile.mkdtemp(prefix="saml-migrate-demo-")
        self.addCleanup(shutil.rmtree, d, True)
        pki.make_key_and_cert(d, "idp", "idp.example.org")
        src = os.path.join(FIXTURES, "python3-saml-demo-flask")
        os.makedirs(os.path.join(d, "settings"))
        for name in ("settings.json", "advanced_settings.json"):
            with open(os.path.join(src, name)) as f:
                text = fill(f.read(), {"IDP_CERT": pki.pem_body(os.path.join(d, "idp.crt"))})
            with open(os.path.join(d, "settings", name), "w") as f:
                f.write(text)
        out = os.path.join(d, "out.conf")
        code, _, err = run_migrate("python3-saml", os.path.join(d, "settings"), "-o", out, "--key-dir",
                                   os.path.join(d, "keys"))
        self.assertEqual(1, code, err)
        self.assertIn("note: sp.privateKey: none in the settings", err)
        self.assertIn("note: security.wantAssertionsSigned: wantAssertionsSigned and wantMessagesSigned are both "
                      "false", err)
        self.assertIn("not mapped: sp.assertionConsumerService.url: http://pytoolkit.com:8000/?acs does not end in "
                      "/acs: the ACS is now http://pytoolkit.com:8000/saml/acs; update it at the IdP", err)
        self.assertIn("refused: sp.assertionConsumerService.url: plain http", err)
        self.assertEqual(["sp.assertionConsumerService.url"], re.findall(r"refused: (\S+):", err))
        self.assertIn("note: process_response: IdP-initiated logins", err)
        with open(out) as f:
            conf = f.read()
        for line in ("SAMLSPEntityID http://pytoolkit.com:8000/metadata/", "SAMLAllowUnsolicited On",
                     "SAMLSPPrivateKeyFile %s" % os.path.join(d, "keys", "sp.key")):
            self.assertIn(line + "\n", conf)
        self.assertTrue(os.path.getsize(os.path.join(d, "keys", "sp.key")) > 1000)

    def test_insecure_mellon_settings_are_refused(self):
        code, out, err = self.convert(
            "<Location />\n    MellonSecureCookie Off\n    MellonSignatureMethod rsa-sha1\n"
            "    MellonDoNotVerifyLogoutSignature On\n    MellonRedirectDomains *\n</Location>\n")
        self.assertEqual(1, code, err)
        for name in ("MellonSecureCookie Off", "MellonSignatureMethod rsa-sha1", "MellonDoNotVerifyLogoutSignature",
                     "MellonRedirectDomains *"):
            self.assertIn("refused: site.conf:", err)
            self.assertIn(name, err)
        self.assertNotIn("SAMLCookieSecure Off", out)
        self.assertNotIn("SAMLRedirectDomains", out)


# -- mod_auth_mellon and the module side by side ------------------------------------------------------

PUBLISHED = os.path.join(FIXTURES, "published")
MELLON_SO = "/usr/lib/apache2/modules/mod_auth_mellon.so"

# The harness users with the attributes the published configurations read (Keycloak's username,
# email, givenname, surname; ManageIQ's firstname, lastname, fullname; mellon's README displayName;
# Keycloak's role).
PUBLISHED_USERS = copy.deepcopy(idpmod.USERS)
PUBLISHED_USERS["alice"]["attributes"].update({
    "email": ["alice@example.org"], "givenname": ["Zoë"], "surname": ["Lefèvre"], "firstname": ["Zoë"],
    "lastname": ["Lefèvre"], "fullname": ["Zoë Lefèvre"], "displayName": ["Zoë L."], "role": ["admin", "user"]})
PUBLISHED_USERS["bob"]["attributes"].update({
    "email": ["bob@example.org"], "givenname": ["Björn"], "surname": ["Smith"], "firstname": ["Björn"],
    "lastname": ["Smith"], "fullname": ["Björn Smith"], "displayName": ["Björn S."], "role": ["user"]})

# Every variable, for the comparison; the request's own (server, TLS, headers of the client) are
# left out of it, as they differ by port.
ALL_CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain; charset=utf-8\\n\\n'\nenv | LC_ALL=C sort\n"
SERVER_VARIABLES = re.compile(
    r"^(SERVER_\w*|SCRIPT_\w*|REQUEST_\w*|DOCUMENT_\w*|CONTEXT_\w*|SSL_\w*|HTTPS|GATEWAY_INTERFACE|QUERY_STRING|PATH|"
    r"PWD|SHLVL|_|UNIQUE_ID|REMOTE_ADDR|REMOTE_PORT|HTTP_(HOST|USER_AGENT|ACCEPT\w*|COOKIE|CONNECTION))$")


def read_published(path):
    """(text, [(path, [users])], refusal or None) of a published fixture."""
    with open(path) as f:
        text = f.read()
    compares = [(m.group(1), m.group(2).split()) for m in re.finditer(r"^# compare: (\S+) (.+)$", text, re.M)]
    refuse = re.search(r"^# refuse: (.+)$", text, re.M)
    return text, compares, refuse.group(1) if refuse else None


class SideServer(ModuleSp):
    """The harness server (TLS, CGI) with a published configuration instead of the module's
    defaults; `module_line` loads mod_auth_mellon or the module. Its canonical name is the public
    one (ServerName https://127.0.0.1:PORT, UseCanonicalName On), so mellon, listening on another
    port, takes the Responses addressed to that URL as its own."""

    module_line = ""
    server_name = ""
    site = ""

    def conf_text(self):
        base = super().conf_text()
        base = base[:base.index("\nSAMLSPEntityID")]
        base = re.sub(r"(?m)^LoadModule auth_saml_module .*$", self.module_line, base)
        if "auth_saml_module" not in self.module_line:
            base = base.replace("LogLevel warn auth_saml:info", "LogLevel warn")
        base = re.sub(r"(?m)^ServerName .*$", "ServerName %s\nUseCanonicalName On" % self.server_name, base, count=1)
        return base + "\n" + self.site


def env_for_comparison(response):
    return {k: v for k, v in env_of(response).items() if not SERVER_VARIABLES.match(k)}


@unittest.skipUnless(os.path.exists(MELLON_SO), "needs Debian's libapache2-mod-auth-mellon (scripts/install-deps)")
class PublishedMellonTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-migrate-published-")
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port(), users=PUBLISHED_USERS)
        cls.idp.start()
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            server.stop()
        cls.idp.stop()
        if KEEP:
            print("\nkept work dir: %s" % cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def side_by_side(self, name):
        text, compares, refuse = read_published(os.path.join(PUBLISHED, name))
        work = os.path.join(self.work, name.replace(".conf", ""))
        public_port, mellon_port = ports.free_port(), ports.free_port()
        server_name = "https://127.0.0.1:%d" % public_port
        endpoint = re.search(r"(?m)^\s*MellonEndpointPath\s+\"?([^\"\s]+)", text)
        endpoint = (endpoint.group(1) if endpoint else "/mellon").rstrip("/")
        entity = re.search(r"(?m)^\s*MellonSPentityId\s+\"?([^\"\s]+)", text)
        entity_id = "https://sp.example.org/published-sp" if entity else server_name + endpoint + "/metadata"

        idp_metadata = self.idp.metadata_xml()
        mellon = SideServer(os.path.join(work, "mellon"), mellon_port, idp_metadata)
        os.makedirs(os.path.join(work, "module", "sp"), exist_ok=True)
        for f in ("sp.key", "sp.crt", "tls.key", "tls.crt"):  # one SP, one site: the same keys
            shutil.copy(os.path.join(mellon.sp_dir, f), os.path.join(work, "module", "sp", f))
        module = SideServer(os.path.join(work, "module"), public_port, idp_metadata)
        # What mellon_create_metadata.sh wrote and the IdP registered.
        sp_metadata = spmeta.sp_metadata_xml(entity_id, server_name + endpoint + "/postResponse",
                                             slo_url=server_name + endpoint + "/logout",
                                             signing_cert=os.path.join(mellon.sp_dir, "sp.crt"))
        for server in (mellon, module):
            with open(os.path.join(server.sp_dir, "sp-metadata.xml"), "w") as f:
                f.write(sp_metadata)
            for page, _ in compares:
                d = os.path.join(server.htdocs, os.path.dirname(page).lstrip("/"))
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, "all.cgi"), "w") as f:
                    f.write(ALL_CGI)
                os.chmod(os.path.join(d, "all.cgi"), 0o755)
            server.server_name = server_name
            server.site = fill(text, {"SP_DIR": server.sp_dir, "VHOST": "127.0.0.1:%d" % server.port,
                                      "SERVER_NAME": server_name, "ENTITY_ID": entity_id})

        # The conversion, of the file as the site had it.
        src = os.path.join(module.work_dir, "site.conf")
        with open(src, "w") as f:
            f.write(module.site)
        out = os.path.join(module.work_dir, "auth_saml.conf")
        code, _, report = run_migrate("mellon", src, "-o", out, "--session-secret", module.secret_path)
        if refuse:
            self.assertEqual(3, code, report)
            self.assertIn("refused: cannot convert:", report)
            self.assertIn(refuse, report)
            self.assertFalse(os.path.exists(out))
            return None
        self.assertIn(code, (0, 1), report)
        self.assertNotIn("refused:", report)
        self.assertIn("SAMLAllowUnsolicited On", report)  # said, not silent
        with open(out) as f:
            module.site = f.read()
        mellon.module_line = "LoadModule auth_mellon_module %s" % MELLON_SO
        module.module_line = "LoadModule auth_saml_module %s" % module.module
        for server in (mellon, module):
            code, output = server.configtest()
            self.assertEqual(0, code, output + "\n" + server.site)
        for server in (mellon, module):
            server.start()
            self.servers.append(server)
        self.idp.add_sp(sp_metadata, validate_requests=False)

        outcomes = []
        for page, users in compares:
            for user in users:
                fields, acs = self.idp_response(entity_id, page, user)
                self.assertEqual(server_name + endpoint + "/postResponse", acs)
                seen = {}
                for label, server in (("mellon", mellon), ("module", module)):
                    b = Browser(verify=False)
                    r = b.post(server.base_url + urllib.parse.urlsplit(acs).path, fields, follow_redirects=False)
                    self.assertIn(r.status, (302, 303), "%s %s: %s" % (label, name, r.text[:600]))
                    r = b.get(server.base_url + page)
                    seen[label] = (r.status, env_for_comparison(r) if r.status == 200 else {})
                outcomes.append((page, user, seen))
                self.compare(name, text, page, user, seen)
        self.assertEqual([], module.problems(allow=("AH01630", "AH01631", "SAML0202")))
        self.assertIn(200, [seen["mellon"][0] for _, _, seen in outcomes], "%s: nobody was let in" % name)
        return outcomes

    def idp_response(self, entity_id, relay_state, user):
        """An IdP-initiated Response from SimpleSAMLphp for `user`: (form fields, ACS URL)."""
        b = Browser(verify=False)
        r = b.get(self.idp.idp_initiated_url(entity_id, relay_state=relay_state))
        login = next((f for f in r.forms() if _has_password(f)), None)
        self.assertIsNotNone(login, r.text[:800])
        r = b.submit(login, {_username_field(login): user, _password_field(login): PUBLISHED_USERS[user]["password"]})
        form = r.saml_post_form()
        self.assertIsNotNone(form, r.text[:800])
        return form.values(), form.action

    def compare(self, name, text, page, user, seen):
        (m_status, m_env), (o_status, o_env) = seen["mellon"], seen["module"]
        where = "%s %s as %s" % (name, page, user)
        self.assertEqual(m_status, o_status, "%s: mellon answered %d, the module %d" % (where, m_status, o_status))
        if m_status != 200:
            return
        # Something to compare: mellon's user and its variables (NAME_ID at least, under some name).
        self.assertIn("REMOTE_USER", m_env, where)
        self.assertGreaterEqual(len(m_env), 4, "%s: %s" % (where, m_env))
        self.assertEqual("Mellon", m_env.pop("AUTH_TYPE", None), where)
        self.assertEqual("SAML", o_env.pop("AUTH_TYPE", None), where)
        prefix = re.search(r"(?m)^\s*MellonEnvPrefix\s+\"?([^\"\s]+)", text)
        prefix = prefix.group(1) if prefix else "MELLON_"

        def extra_is_expected(key):
            # The module's own variables; <name>_COUNT of an unprefixed export; the IdP variable,
            # which the module always sets (mellon only with MellonIdP).
            return (key.startswith("SAML_") or key.endswith("_COUNT") or
                    (not re.search(r"(?m)^\s*MellonIdP\s", text) and re.fullmatch(re.escape(prefix) + r"IDP(_\d+|_N)?", key)))

        missing = {k: v for k, v in m_env.items() if k not in o_env}
        differ = {k: (v, o_env[k]) for k, v in m_env.items() if k in o_env and o_env[k] != v}
        extra = {k: v for k, v in o_env.items() if k not in m_env and not extra_is_expected(k)}
        self.assertEqual(({}, {}, {}), (missing, differ, extra),
                         "%s: (mellon's variables the module lacks, (mellon, module) values that differ, "
                         "the module's extras)" % where)


def _published_test(name):
    def test(self):
        outcomes = self.side_by_side(name)
        if name == "keycloak-securing-apps.conf":  # MellonCond role admin: bob (role user) is refused
            self.assertEqual([("alice", 200), ("bob", 403)], [(u, seen["module"][0]) for _, u, seen in outcomes])
    test.__doc__ = "mod_auth_mellon with %s and the module with its conversion agree" % name
    return test


for _path in sorted(glob.glob(os.path.join(PUBLISHED, "*.conf"))):
    _name = os.path.basename(_path)
    setattr(PublishedMellonTest, "test_" + re.sub(r"\W", "_", _name[:-len(".conf")]), _published_test(_name))


if __name__ == "__main__":
    unittest.main()
