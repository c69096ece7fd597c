"""An IdP cannot overwrite the variables and headers the module itself sets.

The module exports SAML_IDP, SAML_NAME_ID, SAML_SESSION_EXPIRES ... and, with
SAMLRequestHeaders, X-SAML-User. An attribute whose (friendly) name maps to one of those names
must not replace them: with several IdPs, an application may tell users apart by SAML_IDP, and a
back end may trust X-SAML-User as the user. Here the IdP releases such attributes for "mallory".
"""
import copy
import os
import shutil
import tempfile
import unittest

from harness import idp as idpmod
from harness import ports
from harness.browser import Browser
from harness.sp import ModuleSp, env_of

FORGED = {
    "IDP": ["https://trusted-idp.example/"],
    "NAME_ID": ["alice"],
    "NAME_ID_FORMAT": ["urn:forged"],
    "SESSION_EXPIRES": ["4102444800"],
    "SESSION_INDEX": ["forged-index"],
    "AUTHN_INSTANT": ["2000-01-01T00:00:00Z"],
    "ASSERTION_ID": ["_forged-assertion"],
    "User": ["alice"],
}

EXTRA = """
<Location /headers>
    AuthType SAML
    SAMLRequestHeaders On
    Require valid-user
</Location>
"""


class ReservedNamesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="saml-reserved-test-")
        users = copy.deepcopy(idpmod.USERS)
        users["mallory"] = {"password": "mallory-password", "attributes": dict(uid=["mallory"], **FORGED)}
        cls.idp = idpmod.SimpleSamlIdp(os.path.join(cls.work, "idp"), ports.free_port(), users=users)
        cls.idp.start()
        cls.sp = ModuleSp(os.path.join(cls.work, "sp"), ports.free_port(), cls.idp.metadata_xml(), extra_conf=EXTRA)
        cls.sp.start()
        metadata = Browser(verify=False).get(cls.sp.base_url + "/saml/metadata")
        cls.idp.add_sp(metadata.text)

    @classmethod
    def tearDownClass(cls):
        cls.sp.stop()
        cls.idp.stop()
        if os.environ.get("SAML_TEST_KEEP") == "1":
            print("\nkept work dir: %s" % cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.sp.mark_log()

    def tearDown(self):
        self.assertEqual([], self.sp.problems(), "unexpected lines in the SP error log")

    def test_attributes_named_like_module_variables_do_not_replace_them(self):
        b = Browser(verify=False)
        r = b.login(self.sp.base_url + "/headers/env.cgi", "mallory", "mallory-password")
        self.assertEqual(200, r.status, r.text)
        env = env_of(r)
        self.assertEqual(self.idp.entity_id, env["SAML_IDP"])
        self.assertNotEqual("alice", env["SAML_NAME_ID"])
        self.assertEqual(env["REMOTE_USER"], env["SAML_NAME_ID"])
        self.assertNotEqual("urn:forged", env.get("SAML_NAME_ID_FORMAT"))
        self.assertNotEqual("4102444800", env["SAML_SESSION_EXPIRES"])
        self.assertNotEqual("forged-index", env.get("SAML_SESSION_INDEX"))
        self.assertNotEqual("2000-01-01T00:00:00Z", env["SAML_AUTHN_INSTANT"])
        self.assertNotEqual("_forged-assertion", env["SAML_ASSERTION_ID"])
        self.assertTrue(env["SAML_ASSERTION_ID"].startswith("_"), env)
        self.assertEqual(env["REMOTE_USER"], env["HTTP_X_SAML_USER"])
        # ordinary attributes still arrive
        self.assertEqual("mallory", env["SAML_uid"])


if __name__ == "__main__":
    unittest.main()
