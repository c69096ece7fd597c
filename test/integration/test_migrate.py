"""auth-saml-migrate end to end: a mod_auth_mellon site and the AWS SSO walkthrough's python3-saml
settings (test/migrate/fixtures/) are converted, the result passes `apache2 -t` with the module,
and a login through the test IdP works with it; the CGI sees what the old setup exported (the
MELLON_* variables, through SAMLMellonCompat).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import idp as idpmod
from harness import ports
from harness.browser import Browser
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


def mellon_expected(user, name_id, idp_entity_id, merge=None):
    """What mod_auth_mellon exported for the fixture site: MELLON_<Name> (first value) and
    MELLON_<Name>_<i> per value, MellonSetEnv's names, NAME_ID and IDP as attributes."""
    attrs = dict(idpmod.USERS[user]["attributes"])
    attrs["email"] = attrs.pop("mail")             # MellonSetEnv "email" "mail"
    attrs["DISPLAY_NAME"] = attrs.pop("givenName")  # MellonSetEnvNoPrefix: now MELLON_DISPLAY_NAME
    attrs["NAME_ID"] = [name_id]
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
                       "not mapped: mellon-site.conf:23: MellonSetEnvNoPrefix DISPLAY_NAME",
                       "not mapped: mellon-site.conf:26: MellonDefaultLoginPath"):
            self.assertIn(needle, report)

    def test_mellon_login_exports_what_mellon_did(self):
        sp = self.mellon_sp()
        _, r = self.login(sp, "/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        env = env_of(r)
        self.assertEqual("alice", env["REMOTE_USER"])  # MellonUser "uid"
        mellon = {k: v for k, v in env.items() if k.startswith("MELLON_")}
        self.assertEqual(mellon_expected("alice", env["SAML_NAME_ID"], self.idp.entity_id), mellon)
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
        self.assertEqual(mellon_expected("alice", env["SAML_NAME_ID"], self.idp.entity_id, merge=";"), mellon)
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
        # Logout through mellon's URL: the user's request goes to the IdP, whose LogoutResponse
        # comes back to the same /mellon/logout.
        r = b.get(sp.base_url + "/mellon/logout?ReturnTo=/public/env.cgi")
        self.assertEqual(200, r.status, r.text[:800])
        self.assertTrue(any("/mellon/logout?SAMLResponse=" in str(h) for h in r.history), r.history)
        self.assertNotIn("REMOTE_USER", env_of(r))
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
        for key in ("strict", "security.wantAssertionsSigned", "security.signatureAlgorithm",
                    "security.digestAlgorithm", "security.rejectDeprecatedAlgorithm",
                    "sp.assertionConsumerService.url"):
            self.assertIn("refused: %s:" % key, err)
        with open(os.path.join(d, "out.conf")) as f:
            conf = f.read()
        self.assertNotIn("SAMLAllowSHA1", conf)
        self.assertNotIn("Off", conf)


class ConverterTest(unittest.TestCase):
    """The mellon conversion rules that need no servers."""

    def convert(self, conf):
        d = tempfile.mkdtemp(prefix="saml-migrate-conv-")
        self.addCleanup(shutil.rmtree, d, True)
        src = os.path.join(d, "site.conf")
        with open(src, "w") as f:
            f.write(conf)
        code, out, err = run_migrate("mellon", src, "--session-secret", os.path.join(d, "secret"))
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


if __name__ == "__main__":
    unittest.main()
