"""Hostile input against the live module: every case test/hostile/hostile_cases generates (signature
wrapping, forged and tampered signatures, text splitting, parser tricks, broken time, audience,
destination and correlation rules, bad transport, encryption tricks, Redirect-binding logout
signatures) is posted to a running httpd with mod_auth_saml, one test per case, and judged:

  deny        a 4xx page naming the expected SAMLxxxx rule, exactly one [auth_saml:warn] log line
              naming it (and the page's reference id), no session cookie, no redirect
  grant:user  303 and a session for exactly that user (REMOTE_USER on a protected page)
  redirect:idp     a LogoutRequest accepted and answered with a LogoutResponse to the IdP
  redirect:return  a LogoutResponse accepted, the browser sent where its logout began

and after each case the server must still answer (no crashed child in the log).

The IdP is the generator's: entityID https://idp.test.example/saml2/idp signing with the test
PKI's idp-rsa key; the SP decrypts with the PKI's sp-encryption key. The generator comes from
$SAML_HOSTILE_CASES, else the build tree of $SAML_MODULE, else build/plain (make check builds it);
the PKI from $SAML_TEST_PKI, else that build tree's test-pki.
"""
import base64
import http.client
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import zlib

from harness import pki_idp, ports
from harness.sp import ModuleSp, env_of, TOP

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
IDP_ENTITY, IDP_SSO, IDP_SLO = pki_idp.IDP_ENTITY, pki_idp.IDP_SSO, pki_idp.IDP_SLO


def _build_dirs():
    dirs = []
    module = os.environ.get("SAML_MODULE")
    if module:
        dirs.append(os.path.dirname(os.path.dirname(os.path.abspath(module))))
    dirs.append(os.path.join(TOP, "build", "plain"))
    return dirs


def _find(env, relative):
    if os.environ.get(env):
        return os.environ[env]
    for d in _build_dirs():
        path = os.path.join(d, relative)
        if os.path.exists(path):
            return path
    return None


GENERATOR = _find("SAML_HOSTILE_CASES", os.path.join("test", "hostile", "hostile_cases"))
PKI = _find("SAML_TEST_PKI", "test-pki")


def _list_cases():
    if not GENERATOR or not PKI:
        return []
    out = subprocess.run([GENERATOR, "--list"], stdout=subprocess.PIPE, check=True, timeout=60).stdout.decode()
    return [line.split("\t") for line in out.splitlines() if line]


CASES = _list_cases()


def idp_metadata():
    return pki_idp.metadata(PKI)


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.text = body.decode("utf-8", "replace")

    @property
    def location(self):
        return self.headers.get("Location")

    def set_cookies(self):
        """{name: value} of every Set-Cookie (an empty value clears a cookie)."""
        out = {}
        for header in self.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            out[name.strip()] = value.strip()
        return out


def message_id(location, field):
    """The ID of the Redirect-binding message in a Location URL."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    xml = zlib.decompress(base64.b64decode(query[field][0]), -15).decode()
    return re.search(r'\sID="([^"]+)"', xml).group(1)


def read_case(path):
    case = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(": ")
            case[key] = value
    return case


class HostileTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not CASES:
            raise unittest.SkipTest("the hostile_cases generator or the test PKI is missing: run make check")
        cls.work = tempfile.mkdtemp(prefix="saml-hostile-test-")
        sp_dir = os.path.join(cls.work, "sp", "sp")
        os.makedirs(sp_dir)
        for src, dst in (("sp-encryption", "sp"), ("https", "tls")):
            for ext in ("key", "crt"):
                shutil.copy(os.path.join(PKI, "%s.%s" % (src, ext)), os.path.join(sp_dir, "%s.%s" % (dst, ext)))
        # auth_saml:debug: a refused session cookie is logged at debug (it only means "log in").
        cls.sp = ModuleSp(os.path.join(cls.work, "sp"), ports.free_port(), idp_metadata(),
                          server_conf="LogLevel warn auth_saml:debug", extra_conf="""
<Location /mapped>
    AuthType SAML
    SAMLUserAttribute uid
    Require valid-user
</Location>
""")
        cls.sp.start()
        # A second SP that takes unsolicited (IdP-initiated) Responses, for RelayState tricks.
        os.makedirs(os.path.join(cls.work, "open", "sp"))
        for name in ("sp.key", "sp.crt", "tls.key", "tls.crt"):
            shutil.copy(os.path.join(sp_dir, name), os.path.join(cls.work, "open", "sp", name))
        cls.open_sp = ModuleSp(os.path.join(cls.work, "open"), ports.free_port(), idp_metadata(),
                               server_conf="SAMLAllowUnsolicited On\nSAMLAllowTripleDES On\n"
                                           "LogLevel warn auth_saml:debug")
        cls.open_sp.start()
        cls.context = ssl._create_unverified_context()
        cls.first_id, cls.first_cookie = cls.start_login()
        cls.second_id, cls.second_cookie = cls.start_login()
        cls.cases = cls.generate(os.path.join(cls.work, "cases"))
        # A logout in progress, for the LogoutResponse cases: a session (from a fixture Response
        # of its own) logged out at /saml/logout leaves the SP's LogoutRequest ID pending.
        fixture = cls.generate(os.path.join(cls.work, "fixture"))["baseline-signed-response-and-assertion"]
        session = cls.session_cookies(cls.post_acs(fixture["body"], cls.first_cookie))
        out = cls.request("GET", "/saml/logout?ReturnTo=/public/", cookie=session, headers={"Sec-Fetch-Site": "same-origin"})
        assert out.status == 303 and out.location.startswith(IDP_SLO), (out.status, out.location)
        cls.logout_cookie = "; ".join("%s=%s" % kv for kv in out.set_cookies().items() if kv[0].startswith("saml_logout_"))
        cls.cases.update(cls.generate(os.path.join(cls.work, "cases"), message_id(out.location, "SAMLRequest")))

    @classmethod
    def tearDownClass(cls):
        cls.sp.stop()
        cls.open_sp.stop()
        if KEEP:
            print("\nkept work dir: %s" % cls.work)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    # -- the browser's side ---------------------------------------------------------------------

    @classmethod
    def request(cls, method, path, body=None, cookie="", headers=None, sp=None):
        sp = sp or cls.sp
        conn = http.client.HTTPSConnection(sp.host, sp.port, context=cls.context, timeout=60)
        try:
            h = dict(headers or {})
            if cookie:
                h["Cookie"] = cookie
            if body is not None:
                h.setdefault("Content-Type", "application/x-www-form-urlencoded")
            conn.request(method, path, body=body, headers=h)
            raw = conn.getresponse()
            return Answer(raw.status, raw.headers, raw.read())
        finally:
            conn.close()

    @classmethod
    def start_login(cls):
        """GET /saml/sso: the pending AuthnRequest's ID and its login-state cookie."""
        out = cls.request("GET", "/saml/sso?ReturnTo=/protected/")
        assert out.status in (302, 303) and out.location.startswith(IDP_SSO), (out.status, out.text[:300])
        cookies = out.set_cookies()
        (name, value), = [(n, v) for n, v in cookies.items() if n.startswith("saml_login_")]
        return message_id(out.location, "SAMLRequest"), "%s=%s" % (name, value)

    @classmethod
    def post_acs(cls, body, cookie):
        form = urllib.parse.urlencode({"SAMLResponse": body, "RelayState": "/protected/"})
        return cls.request("POST", "/saml/acs", body=form, cookie=cookie)

    @staticmethod
    def session_cookies(answer):
        return "; ".join("%s=%s" % (n, v) for n, v in answer.set_cookies().items()
                         if v and not n.startswith("saml_login_") and not n.startswith("saml_logout_"))

    @classmethod
    def generate(cls, out_dir, logout_request_id=None, sp=None):
        """Runs the generator for this SP and these pending requests; {name: case}."""
        sp = sp or cls.sp
        os.makedirs(out_dir, exist_ok=True)
        argv = [GENERATOR, "--out", out_dir, "--base-url", sp.base_url, "--sp-entity", sp.entity_id,
                "--idp-entity", IDP_ENTITY, "--request-id", cls.first_id, "--other-request-id", cls.second_id]
        if logout_request_id:
            argv += ["--logout-request-id", logout_request_id]
        env = dict(os.environ, SAML_TEST_PKI=PKI)
        subprocess.run(argv, check=True, env=env, timeout=120)
        return {name: read_case(os.path.join(out_dir, name)) for name in os.listdir(out_dir)}

    # -- judging ----------------------------------------------------------------------------------

    def setUp(self):
        self.sp.mark_log()
        self.open_sp.mark_log()

    def send(self, case):
        cookie = {"first": self.first_cookie, "second": self.second_cookie, "none": "",
                  "logout": self.logout_cookie}[case["cookie"]]
        if case["endpoint"] == "acs":
            return self.post_acs(case["body"], cookie)
        if case["endpoint"] == "sls-post":
            form = urllib.parse.urlencode({"SAMLRequest": case["body"], "RelayState": "relay-42"})
            return self.request("POST", "/saml/sls", body=form, cookie=cookie)
        return self.request("GET", "/saml/sls?" + case["body"], cookie=cookie)

    def our_lines(self, level):
        return [l for l in self.sp.log_since_mark().splitlines() if "[auth_saml:%s]" % level in l]

    def assertStillUp(self):
        self.assertEqual(200, self.request("GET", "/saml/metadata").status, "the server stopped answering")
        log = self.sp.log_since_mark()
        self.assertNotRegex(log, r"exit signal|AH00052|AH00060|SAML0899", "a child crashed or an internal error")

    def assertDenied(self, out, code):
        self.assertTrue(400 <= out.status < 500, "status %d, not 4xx: %s" % (out.status, out.text[:500]))
        self.assertIsNone(out.location, "a refused message must not redirect")
        self.assertEqual("", self.session_cookies(out), "a session cookie was set for a refused message")
        m = re.search(r"reference: <code>([0-9a-f]{12})</code> \((SAML\d{4})\)", out.text)
        self.assertIsNotNone(m, out.text[:800])
        self.assertEqual(code, m.group(2), "refused by another rule: " + "\n".join(self.our_lines("warn")))
        lines = self.our_lines("warn")
        self.assertEqual(1, len(lines), lines)
        self.assertIn(code + " ", lines[0])
        self.assertIn("[ref %s]" % m.group(1), lines[0])
        self.assertEqual([], self.sp.problems([code + " "]))

    def assertGranted(self, out, user, check):
        self.assertEqual(303, out.status, "not granted: " + out.text[:800] + "\n".join(self.our_lines("warn")))
        cookies = self.session_cookies(out)
        self.assertNotEqual("", cookies)
        page = self.request("GET", check, cookie=cookies)
        self.assertEqual(200, page.status, page.text[:500])
        self.assertIn("REMOTE_USER=%s\n" % user, page.text)
        logins = [l for l in self.our_lines("info") if "SAML0835 login of " in l]
        self.assertEqual(1, len(logins), self.sp.log_since_mark())
        self.assertEqual([], self.sp.problems())

    def run_case(self, name):
        case = self.cases[name]
        out = self.send(case)
        expect = case["expect"]
        if expect == "deny":
            self.assertDenied(out, case["code"])
        elif expect.startswith("grant:"):
            self.assertGranted(out, expect[len("grant:"):], case["check"])
        else:
            self.assertIn(expect, ("redirect:idp", "redirect:return"))
            self.assertEqual(303, out.status, out.text[:800] + "\n".join(self.our_lines("warn")))
            if expect == "redirect:idp":
                self.assertTrue(out.location.startswith(IDP_SLO + "?SAMLResponse="), out.location)
                self.assertIn("RelayState=relay-42", out.location)
            else:
                self.assertEqual("/public/", out.location)
            self.assertEqual([], self.sp.problems())
        self.assertStillUp()

    # -- transport quirks at /saml/acs --------------------------------------------------------------

    def test_transport_acs_by_get(self):
        out = self.request("GET", "/saml/acs?SAMLResponse=PHNhbWxwOlJlc3BvbnNlLz4%3D", cookie=self.first_cookie)
        self.assertEqual(405, out.status)
        self.assertDenied(out, "SAML0830")
        self.assertStillUp()

    def test_transport_acs_multipart(self):
        body = self.fresh("baseline-signed-response-and-assertion")["body"]
        form = ("--b\r\nContent-Disposition: form-data; name=\"SAMLResponse\"\r\n\r\n%s\r\n--b--\r\n" % body)
        out = self.request("POST", "/saml/acs", body=form, cookie=self.first_cookie,
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
        self.assertDenied(out, "SAML0831")
        self.assertStillUp()

    def test_transport_acs_ten_megabytes_chunked(self):
        conn = http.client.HTTPSConnection(self.sp.host, self.sp.port, context=self.context, timeout=60)
        try:
            def chunks():
                yield b"SAMLResponse="
                for _ in range(160):
                    yield b"A" * 65536
            conn.request("POST", "/saml/acs", body=chunks(), encode_chunked=True,
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.first_cookie})
            raw = conn.getresponse()
            out = Answer(raw.status, raw.headers, raw.read())
        except (BrokenPipeError, ConnectionResetError):
            self.fail("the server closed the connection instead of answering 413")
        finally:
            conn.close()
        self.assertEqual(413, out.status, out.text[:300])
        self.assertDenied(out, "SAML0831")
        self.assertStillUp()

    # -- replay: sequences, each with Responses of its own -------------------------------------------

    def fresh(self, name, sp=None):
        return self.generate(tempfile.mkdtemp(dir=self.work, prefix="fresh-"), sp=sp)[name]

    def post_unsolicited(self, relay_state):
        """A fresh unsolicited Response for alice posted to the SP that takes them."""
        body = self.fresh("unsolicited-when-not-allowed", self.open_sp)["body"]
        form = urllib.parse.urlencode({"SAMLResponse": body, "RelayState": relay_state})
        return body, self.request("POST", "/saml/acs", body=form, sp=self.open_sp)

    def test_unsolicited_login_where_allowed_and_its_replay(self):
        body, out = self.post_unsolicited("/protected/")
        self.assertEqual(303, out.status, out.text[:500])
        self.assertEqual("/protected/", out.location)
        self.assertEqual([], self.open_sp.problems())
        form = urllib.parse.urlencode({"SAMLResponse": body, "RelayState": "/protected/"})
        again = self.request("POST", "/saml/acs", body=form, sp=self.open_sp)
        self.assertEqual(403, again.status)
        self.assertIn("(SAML0258)", again.text)
        self.assertEqual([], self.open_sp.problems(["SAML0258 "]))

    def test_legacy_encryption_is_refused_naming_its_directive_and_accepted_where_allowed(self):
        for name, directive in (("encrypted-with-3des-cbc", "SAMLAllowTripleDES On"),
                                ("encrypted-with-rsa-1-5-key-transport", "SAMLAllowRSA15 On")):
            self.sp.mark_log()
            out = self.send(self.cases[name])
            self.assertTrue(400 <= out.status < 500, out.status)
            self.assertIn(directive, out.text)  # the page says what the administrator can change
            lines = self.our_lines("warn")
            self.assertEqual(1, len(lines), lines)
            self.assertIn(directive + " accepts it", lines[0])
            self.assertIn("[idp %s]" % IDP_ENTITY, lines[0])
        # The SP with SAMLAllowTripleDES On logs the user in from a 3DES-encrypted assertion.
        body = self.fresh("unsolicited-encrypted-with-3des-cbc", self.open_sp)["body"]
        self.assertIn("xmlenc#tripledes-cbc", base64.b64decode(body).decode())
        form = urllib.parse.urlencode({"SAMLResponse": body, "RelayState": "/protected/"})
        out = self.request("POST", "/saml/acs", body=form, sp=self.open_sp)
        self.assertEqual(303, out.status, out.text[:500])
        page = self.request("GET", "/protected/env.cgi", cookie=self.session_cookies(out), sp=self.open_sp)
        self.assertIn("REMOTE_USER=alice\n", page.text)
        self.assertEqual([], self.open_sp.problems())

    def test_replay_with_the_same_login_state(self):
        response = self.fresh("baseline-signed-response-and-assertion")
        self.assertGranted(self.post_acs(response["body"], self.first_cookie), "alice", "/protected/env.cgi")
        self.sp.mark_log()
        self.assertDenied(self.post_acs(response["body"], self.first_cookie), "SAML0258")
        self.assertStillUp()

    def test_replay_after_a_new_login(self):
        first = self.fresh("baseline-signed-response-and-assertion")
        self.assertGranted(self.post_acs(first["body"], self.first_cookie), "alice", "/protected/env.cgi")
        second = self.fresh("baseline-for-the-second-login")
        self.sp.mark_log()
        self.assertGranted(self.post_acs(second["body"], self.second_cookie), "alice", "/protected/env.cgi")
        self.sp.mark_log()
        both = self.first_cookie + "; " + self.second_cookie
        self.assertDenied(self.post_acs(first["body"], both), "SAML0258")
        self.assertStillUp()

    def test_refusal_log_lines_name_the_idp_once_known(self):
        # With several IdPs an administrator must tell whose message was refused: named once
        # the Issuer is a configured IdP, marked when no signature of it covered the message.
        expected = {
            "status-not-success-with-assertion": IDP_ENTITY,
            "conditions-missing": IDP_ENTITY,
            "attacker-signed-response-and-assertion": IDP_ENTITY + " (claimed, not verified)",
            "issuer-wrong-on-response": "-",
        }
        for name, idp in expected.items():
            with self.subTest(case=name):
                case = self.fresh(name)
                self.sp.mark_log()
                self.assertDenied(self.send(case), case["code"])
                self.assertIn("[idp %s] [ref " % idp, self.our_lines("warn")[0])
        self.assertStillUp()

    def test_replayed_logout_request_is_refused_and_ends_no_session(self):
        # An IdP's LogoutRequest, captured and sent again after alice logged in anew, must not
        # end her new session: its ID is in the replay cache.
        logout = self.fresh("logout-request-signed-baseline")
        first = self.request("GET", "/saml/sls?" + logout["body"])
        self.assertEqual(303, first.status, first.text[:500])
        self.assertTrue(first.location.startswith(IDP_SLO + "?SAMLResponse="), first.location)
        login = self.post_acs(self.fresh("baseline-signed-response-and-assertion")["body"], self.first_cookie)
        self.assertGranted(login, "alice", "/protected/env.cgi")
        session = self.session_cookies(login)
        self.sp.mark_log()
        self.assertDenied(self.request("GET", "/saml/sls?" + logout["body"], cookie=session), "SAML0735")
        page = self.request("GET", "/protected/env.cgi", cookie=session)
        self.assertEqual(200, page.status)
        self.assertIn("REMOTE_USER=alice\n", page.text)
        self.assertStillUp()

    def test_replay_with_no_login_state(self):
        response = self.fresh("baseline-signed-response-and-assertion")
        self.assertGranted(self.post_acs(response["body"], self.first_cookie), "alice", "/protected/env.cgi")
        self.sp.mark_log()
        self.assertDenied(self.post_acs(response["body"], ""), "SAML0238")
        self.assertStillUp()


    def test_blank_user_attribute_is_no_user_where_it_is_the_user_id(self):
        """A uid of only (no-break) spaces: the login stands on the NameID, but at /mapped, where
        SAMLUserAttribute uid makes it the user id, no one is logged in (SAML core 1.3.1)."""
        case = self.fresh("user-attribute-blank")
        out = self.post_acs(case["body"], self.first_cookie)
        self.assertGranted(out, "alice", "/protected/env.cgi")
        self.sp.mark_log()
        mapped = self.request("GET", "/mapped/env.cgi", cookie=self.session_cookies(out), headers={"Accept": "text/html"})
        self.assertNotEqual(200, mapped.status, mapped.text[:500])
        self.assertNotIn("REMOTE_USER=", mapped.text)
        self.assertIn("SAML0850 ", self.sp.log_since_mark())
        self.assertEqual([], self.sp.problems())
        self.assertStillUp()

    def test_optional_module_variables_are_not_taken_from_attributes_of_that_name(self):
        """No NameID Format and no SessionIndex in the assertion, but attributes NAME_ID_FORMAT
        and SESSION_INDEX: SAML_NAME_ID_FORMAT and SAML_SESSION_INDEX stay unset, on a
        connection's first request (the export built for it) and on its next ones (the export
        the connection keeps and appends)."""
        case = self.fresh("optional-module-variables-named-by-attributes")
        out = self.post_acs(case["body"], self.first_cookie)
        self.assertGranted(out, "alice", "/protected/env.cgi")
        conn = http.client.HTTPSConnection(self.sp.host, self.sp.port, context=self.context, timeout=60)
        try:
            for _ in range(3):
                conn.request("GET", "/protected/env.cgi", headers={"Cookie": self.session_cookies(out)})
                raw = conn.getresponse()
                page = Answer(raw.status, raw.headers, raw.read())
                self.assertEqual(200, page.status, page.text[:500])
                env = env_of(page)
                self.assertEqual("alice", env.get("REMOTE_USER"), page.text[:500])
                self.assertEqual("urn:forged", env.get("SAML_NAME_ID_FORMAT_0"), "the attribute itself is exported")
                self.assertNotIn("SAML_NAME_ID_FORMAT", env)
                self.assertNotIn("SAML_SESSION_INDEX", env)
        finally:
            conn.close()
        self.assertEqual([], self.sp.problems())


# ReturnTo tricks at /saml/sso (the classic open-redirect bypasses) and the rule that refuses each.
RETURN_TO = [
    ("absolute-foreign-host", "https://evil.example/", "SAML0612"),
    ("scheme-relative", "//evil.example/", "SAML0604"),
    ("scheme-relative-triple-slash", "///evil.example/", "SAML0604"),
    ("backslash-host", "/\\evil.example/", "SAML0603"),
    ("encoded-backslash", "/%5Cevil.example/", "SAML0605"),
    ("http-without-slashes", "https:evil.example", "SAML0608"),
    ("javascript", "javascript:alert(1)", "SAML0607"),
    ("data-url", "data:text/html,<script>alert(1)</script>", "SAML0607"),
    ("tab-in-scheme-relative", "/\t/evil.example/", "SAML0602"),
    ("newline-header-injection", "/x\r\nSet-Cookie: a=b", "SAML0602"),
    ("userinfo-disguise", "https://127.0.0.1@evil.example/", "SAML0609"),
    ("dot-dot-segment", "/protected/../../etc/passwd", "SAML0606"),
    ("encoded-control", "/%0d%0aLocation:%20https://evil.example/", "SAML0605"),
    ("https-to-http", "http://127.0.0.1/", "SAML0613"),
]

# Hostile session cookies on a protected page: never a session, never a 500; the browser is sent
# to log in, and the debug log names why the cookie was ignored.
COOKIES = [
    ("garbage", "saml_session=!!!not-a-cookie***", "SAML0811"),
    ("empty", "saml_session=", None),
    ("forged-random", "saml_session=" + base64.urlsafe_b64encode(os.urandom(120)).decode().rstrip("="), "SAML0811"),
    ("huge-chunk-count", "saml_session=99999999999999999999:AAAA", "SAML0810"),
    ("chunk-count-beyond-limit", "saml_session=1000:AAAA", "SAML0810"),
    ("chunk-missing", "saml_session=3:AAAA; saml_session_1=BBBB", "SAML0810"),
    ("login-state-as-session", None, "SAML0811"),
    ("truncated-real-session", None, "SAML0811"),
    ("encoded-nul-and-controls", "saml_session=AAAA%00BBBB%0d%0aSet-Cookie:x", "SAML0810"),
]


def _return_to_test(target, code):
    def test(self):
        self.sp.mark_log()
        out = self.request("GET", "/saml/sso?ReturnTo=" + urllib.parse.quote(target, safe=""))
        self.assertDenied(out, code)
        self.assertStillUp()
    return test


def _cookie_test(name, cookie, code):
    def test(self):
        if name == "login-state-as-session":
            cookie_header = "saml_session=" + self.first_cookie.split("=", 1)[1]
        elif name == "truncated-real-session":
            session = self.session_cookies(self.post_acs(self.fresh("baseline-signed-response-and-assertion")["body"],
                                                         self.first_cookie))
            self.assertTrue(session.startswith("saml_session="), session)
            cookie_header = session[:len(session) // 2]
        else:
            cookie_header = cookie
        self.sp.mark_log()
        out = self.request("GET", "/protected/env.cgi", cookie=cookie_header, headers={"Accept": "text/html"})
        self.assertIn(out.status, (302, 303), out.text[:500])
        self.assertTrue(out.location.startswith(IDP_SSO), out.location)
        self.assertEqual("", self.session_cookies(out).replace("saml_session=", "").strip("; "))
        self.assertEqual([], self.sp.problems())
        if code:
            debug = [l for l in self.our_lines("debug") if "session cookie" in l]
            self.assertEqual(1, len(debug), self.sp.log_since_mark())
            self.assertIn(code + " ", debug[0])
        self.assertStillUp()
    return test


for _name, _target, _code in RETURN_TO:
    setattr(HostileTest, "test_sso_return_to_%s" % _name.replace("-", "_"), _return_to_test(_target, _code))
for _name, _cookie, _code in COOKIES:
    setattr(HostileTest, "test_cookie_%s" % _name.replace("-", "_"), _cookie_test(_name, _cookie, _code))


def _relay_state_test(target, code):
    def test(self):
        _, out = self.post_unsolicited(target)
        self.assertEqual(303, out.status, out.text[:500])
        self.assertEqual("/", out.location, "the login keeps its session but never goes to %r" % target)
        self.assertNotEqual("", self.session_cookies(out))
        lines = [l for l in self.open_sp.log_since_mark().splitlines() if "SAML0836 " in l]
        self.assertEqual(1, len(lines), self.open_sp.log_since_mark())
        self.assertIn(code + " ", lines[0])
        self.assertEqual([], self.open_sp.problems())
        self.assertEqual(200, self.request("GET", "/saml/metadata", sp=self.open_sp).status)
    return test


for _name, _target, _code in RETURN_TO:
    setattr(HostileTest, "test_relay_state_%s" % _name.replace("-", "_"), _relay_state_test(_target, _code))


def _case_test(name):
    def test(self):
        self.run_case(name)
    test.__doc__ = None
    return test


for _name, _endpoint, _expect, _code in CASES:
    setattr(HostileTest, "test_%s_%s" % (_endpoint.replace("-", "_"), _name.replace("-", "_")), _case_test(_name))

if not CASES:
    def test_generator_missing(self):
        pass
    HostileTest.test_generator_missing = test_generator_missing
