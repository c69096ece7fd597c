"""Several IdPs in one SP: two real SimpleSAMLphp IdPs (different entityIDs, keys and display
names) configured side by side, chosen through the module's chooser page or through an IdP
discovery service (a small one written here, answering per the SAML IdP Discovery Protocol).

Every test fails on an unexpected [warn]/[error] line in the SP's error log.
"""
import copy
import html.parser
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

from harness import idp as idpmod
from harness import ports, samlmsg
from harness.browser import Browser
from harness.sp import ModuleSp, env_of

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"
IDPDISC = "urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
UNKNOWN_IDP = "https://unknown.example.org/idp/shibboleth"


# --- a discovery service ---------------------------------------------------------------------

class DiscoveryService:
    """An IdP discovery service on loopback: GET /ds?entityID=..&return=..&returnIDParam=..
    sends the browser back to `return` with the IdP in `choice` (nothing when it is None).
    As the protocol asks of a service, it refuses a return URL that the SP's metadata does not
    list as a DiscoveryResponse (allowed_returns, filled from that metadata)."""

    def __init__(self):
        self.choice = None
        self.allowed_returns = []
        self.requests = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                service.requests.append(query)
                back = query.get("return", "")
                bare = urllib.parse.urlunsplit(urllib.parse.urlsplit(back)._replace(query="", fragment=""))
                if url.path != "/ds" or not query.get("entityID") or bare not in service.allowed_returns:
                    self.send_response(400)
                    self.end_headers()
                    return
                if service.choice is not None:
                    param = query.get("returnIDParam") or "entityID"
                    back += ("&" if "?" in back else "?") + urllib.parse.urlencode({param: service.choice})
                self.send_response(302)
                self.send_header("Location", back)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", ports.free_port()), Handler)
        self.url = "http://127.0.0.1:%d/ds" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- reading the chooser page ----------------------------------------------------------------

class ChooserPage(html.parser.HTMLParser):
    """The chooser's list items (link, text, classes) and the ids on the page."""

    def __init__(self, text):
        super().__init__()
        self.ids = set()
        self.items = []
        self._in_list = False
        self._item = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "ul" and a.get("id") == "idp-list":
            self._in_list = True
        elif tag == "li" and self._in_list:
            self._item = {"href": None, "name": "", "text": "", "class": a.get("class", "")}
        elif tag == "a" and self._item is not None and self._item["href"] is None:
            self._item["href"] = a.get("href")
            self._item["in_link"] = True

    def handle_endtag(self, tag):
        if tag == "a" and self._item is not None:
            self._item["in_link"] = False
        elif tag == "li" and self._item is not None:
            self.items.append(self._item)
            self._item = None
        elif tag == "ul":
            self._in_list = False

    def handle_data(self, data):
        if self._item is not None:
            self._item["text"] += data
            if self._item.get("in_link"):
                self._item["name"] += data


FEDERATION_SIZE = 1500

SCOPED_USERS = copy.deepcopy(idpmod.USERS)
SCOPED_USERS["alice"]["attributes"]["eduPersonPrincipalName"] = ["alice@alpha.example"]
SCOPED_USERS["alice"]["attributes"]["eduPersonScopedAffiliation"] = ["staff@alpha.example", "member@beta.example"]


def federation_aggregate(count, cert_body):
    """An EntitiesDescriptor of `count` IdPs named "Federation member NNNN" (mdui, English and
    Dutch), all with the same signing certificate, as hosted IdPs of a federation often are."""
    entities = []
    for n in range(count):
        entities.append(
            '<md:EntityDescriptor entityID="https://idp%04d.federation.example/idp"><md:IDPSSODescriptor '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:Extensions><mdui:UIInfo>'
            '<mdui:DisplayName xml:lang="nl">Federatielid %04d</mdui:DisplayName>'
            '<mdui:DisplayName xml:lang="en">Federation member %04d</mdui:DisplayName></mdui:UIInfo></md:Extensions>'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>'
            '</ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService '
            'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://idp%04d.federation.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
            % (n, n, n, cert_body, n))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<md:EntitiesDescriptor xmlns:md="%s" '
            'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui">%s'
            '</md:EntitiesDescriptor>\n' % (MD, "\n".join(entities)))


# --- the site --------------------------------------------------------------------------------

class Sites:
    """Two IdPs; one SP with the chooser and one with the discovery service, both trusting both."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="saml-idps-test-")
        # Both IdPs assert the same scoped identifiers for alice; only A's metadata lists a scope
        # (shibmd:Scope alpha.example), so only A's alpha.example values survive.
        self.idp_a = idpmod.SimpleSamlIdp(
            os.path.join(self.work, "idp-a"), ports.free_port(), users=SCOPED_USERS,
            hosted_extra={"UIInfo": {"DisplayName": {"de": "Alpha-Universit\u00e4t", "en": "Alpha University"}},
                          "scope": ["alpha.example"]})
        # No mdui: the organisation's display name is shown, escaped.
        self.idp_b = idpmod.SimpleSamlIdp(
            os.path.join(self.work, "idp-b"), ports.free_port(), users=SCOPED_USERS,
            hosted_extra={"OrganizationName": {"en": "Beta"}, "OrganizationDisplayName": {"en": "Beta <College> & Co"},
                          "OrganizationURL": {"en": "https://beta.example.org/"}})
        self.sps = []
        self.ds = DiscoveryService()
        try:
            self.idp_a.start()
            self.idp_b.start()
            b_metadata = os.path.join(self.work, "idp-b-metadata.xml")
            with open(b_metadata, "w") as f:
                f.write(self.idp_b.metadata_xml())
            both = 'SAMLIdPMetadataFile "%s"\n' % b_metadata
            self.chooser_sp = self.add_sp("sp-chooser", both)
            self.ds_sp = self.add_sp("sp-ds", both + "SAMLDiscoveryURL %s\n" % self.ds.url)
            # A federation-sized aggregate beside IdP A, on an SP with SAMLEndpointPath /.
            aggregate = os.path.join(self.work, "federation.xml")
            with open(aggregate, "w") as f:
                f.write(federation_aggregate(FEDERATION_SIZE, self.idp_a.signing_cert_body()))
            self.aggregate_sp = self.add_sp("sp-aggregate", 'SAMLIdPMetadataFile "%s"\nSAMLEndpointPath /\n' % aggregate,
                                            metadata_path="/metadata/")
            metadata = ET.fromstring(Browser(verify=False).get(self.ds_sp.base_url + "/saml/metadata").body)
            self.ds.allowed_returns = [e.get("Location") for e in metadata.iter("{%s}DiscoveryResponse" % IDPDISC)]
        except Exception:
            self.close()
            raise

    def add_sp(self, name, server_conf, metadata_path="/saml/metadata"):
        sp = ModuleSp(os.path.join(self.work, name), ports.free_port(), self.idp_a.metadata_xml(),
                      server_conf=server_conf)
        sp.start()
        self.sps.append(sp)
        metadata = Browser(verify=False).get(sp.base_url + metadata_path)
        assert metadata.status == 200, metadata
        self.idp_a.add_sp(metadata.text)
        self.idp_b.add_sp(metadata.text)
        return sp

    def close(self):
        for sp in self.sps:
            sp.stop()
        self.idp_a.stop()
        self.idp_b.stop()
        self.ds.stop()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class SeveralIdpsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.sites = Sites()
        cls.a = cls.sites.idp_a
        cls.b = cls.sites.idp_b

    @classmethod
    def tearDownClass(cls):
        cls.sites.close()

    def setUp(self):
        for sp in self.sites.sps:
            sp.mark_log()
        self.a.mark_logs()
        self.b.mark_logs()
        self.allow = []
        self.sites.ds.choice = None
        self.sites.ds.requests.clear()

    def tearDown(self):
        for sp in self.sites.sps:
            self.assertEqual([], sp.problems(self.allow), "unexpected lines in the SP error log of %s" % sp.base_url)

    # -- helpers ----------------------------------------------------------------------------------

    def chooser(self, browser, path="/protected/env.cgi"):
        """Opens a protected page without a session: the module's chooser page."""
        r = browser.get(self.sites.chooser_sp.base_url + path)
        self.assertEqual(200, r.status, r.text[:500])
        self.assertTrue(r.url.startswith(self.sites.chooser_sp.base_url + "/saml/sso?"), r.url)
        return r, ChooserPage(r.text)

    def item_for(self, page, idp):
        found = [i for i in page.items if "idp=" + urllib.parse.quote(idp.entity_id, safe="") in i["href"]]
        self.assertEqual(1, len(found), page.items)
        return found[0]

    def session(self, sp, browser):
        r = browser.get(sp.base_url + "/saml/session")
        return json.loads(r.text)

    def warnings(self, sp):
        return [l for l in sp.log_since_mark().splitlines() if "[auth_saml:warn]" in l]

    def assertRefusedOnce(self, sp, response, status, code, text=None):
        """A 4xx page naming `code` and exactly one warning line for it."""
        self.assertEqual(status, response.status, response.text[:800])
        m = re.search(r"reference: <code>([0-9a-f]{12})</code> \((SAML\d{4})\)", response.text)
        self.assertIsNotNone(m, response.text)
        self.assertEqual(code, m.group(2))
        lines = self.warnings(sp)
        self.assertEqual(1, len(lines), lines)
        self.assertIn(code + " ", lines[0])
        self.assertIn("[ref %s]" % m.group(1), lines[0])
        if text:
            self.assertIn(text, lines[0])
        self.allow.append(code)

    # -- the chooser ------------------------------------------------------------------------------

    def test_chooser_lists_both_idps_by_their_metadata_names(self):
        r, page = self.chooser(Browser(verify=False))
        self.assertTrue({"idp-search", "idp-list", "idp-count", "idp-search-form"} <= page.ids, page.ids)
        self.assertIn('<html lang="en">', r.text)
        self.assertIn("<title>Choose where to log in</title>", r.text)
        self.assertIn('<label for="idp-search">', r.text)
        self.assertEqual(2, len(page.items), page.items)
        self.assertEqual("Alpha University", self.item_for(page, self.a)["name"])
        self.assertEqual("Beta <College> & Co", self.item_for(page, self.b)["name"])
        self.assertIn("Beta &lt;College&gt; &amp; Co", r.text)  # escaped on the wire
        for item in page.items:
            self.assertIn("ReturnTo=%2Fprotected%2Fenv.cgi", item["href"])
        csp = r.headers.get("Content-Security-Policy")
        self.assertRegex(csp, r"default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-")
        self.assertEqual("no-store", r.headers.get("Cache-Control"))

    def test_choosing_each_idp_logs_in_through_that_idp(self):
        for idp in (self.a, self.b):
            with self.subTest(idp=idp.entity_id):
                browser = Browser(verify=False)
                r, page = self.chooser(browser)
                link = urllib.parse.urljoin(r.url, self.item_for(page, idp)["href"])
                final = browser.login(link, "alice", "alice-password")
                self.assertEqual(200, final.status, final.text[:500])
                self.assertEqual(self.sites.chooser_sp.base_url + "/protected/env.cgi", final.url)
                self.assertEqual("alice", env_of(final)["SAML_uid"])
                self.assertTrue(any(url.startswith(idp.base_url) for _, url, _ in final.history), final.history)
                other = self.b if idp is self.a else self.a
                self.assertFalse(any(url.startswith(other.base_url) for _, url, _ in final.history), final.history)
                self.assertEqual(idp.entity_id, self.session(self.sites.chooser_sp, browser)["idp"])
                idp.assert_clean_logs()

    def test_scoped_identifiers_count_only_from_an_idp_that_lists_their_scope(self):
        # IdP B asserts alice@alpha.example too: with several IdPs that would be another IdP's
        # user. Only A lists alpha.example (shibmd:Scope in its metadata), so only A's counts.
        self.assertIn("shibmd:Scope", self.a.metadata_xml())
        for idp, eppn, affiliation in ((self.a, "alice@alpha.example", "staff@alpha.example"), (self.b, None, None)):
            with self.subTest(idp=idp.entity_id):
                sp = self.sites.chooser_sp
                sp.mark_log()
                browser = Browser(verify=False)
                final = browser.login(sp.base_url + "/saml/sso?idp=" + urllib.parse.quote(idp.entity_id, safe="") +
                                      "&ReturnTo=/protected/env.cgi", "alice", "alice-password")
                self.assertEqual(200, final.status, final.text[:500])
                env = env_of(final)
                self.assertEqual("alice", env["SAML_uid"])
                self.assertEqual(eppn, env.get("SAML_eduPersonPrincipalName"))
                self.assertEqual(affiliation, env.get("SAML_eduPersonScopedAffiliation"))
                dropped = [l for l in sp.log_since_mark().splitlines() if "SAML0287 " in l]
                self.assertEqual(1 if idp is self.a else 3, len(dropped), sp.log_since_mark())
                self.assertTrue(all(idp.entity_id in l for l in dropped))

    def test_the_last_choice_is_remembered_and_put_first(self):
        browser = Browser(verify=False)
        r, page = self.chooser(browser)
        self.assertNotIn("idp-last", " ".join(i["class"] for i in page.items))
        first = browser.get(urllib.parse.urljoin(r.url, self.item_for(page, self.b)["href"]), follow_redirects=False)
        self.assertEqual(303, first.status)
        self.assertTrue(first.location.startswith(self.b.sso_url), first.location)
        remembered = [c for c in first.set_cookies() if c.startswith("saml_last_idp=")]
        self.assertEqual(1, len(remembered), first.set_cookies())
        self.assertIn("SameSite=Lax", remembered[0])
        self.assertIn("Secure", remembered[0])  # the site is https
        self.assertIn("Path=/saml", remembered[0])
        # Back at the chooser (the login was abandoned): B comes first, marked, though A sorts first.
        _, again = self.chooser(browser)
        self.assertEqual(2, len(again.items))
        self.assertIn(self.b.entity_id.replace(":", "%3A").replace("/", "%2F"), again.items[0]["href"])
        self.assertIn("idp-last", again.items[0]["class"])
        self.assertIn("(last used)", again.items[0]["text"])
        self.assertNotIn("idp-last", again.items[1]["class"])

    def test_a_remembered_idp_that_is_not_configured_is_ignored(self):
        browser = Browser(verify=False)
        cookie = "saml_last_idp=" + __import__("base64").urlsafe_b64encode(UNKNOWN_IDP.encode()).decode().rstrip("=")
        r = browser.request("GET", self.sites.chooser_sp.base_url + "/saml/sso?ReturnTo=/protected/",
                            headers={"Cookie": cookie})
        self.assertEqual(200, r.status)
        page = ChooserPage(r.text)
        self.assertEqual(["Alpha University", "Beta <College> & Co"], [i["name"] for i in page.items])
        self.assertNotIn("unknown.example.org", r.text)
        self.assertNotIn("last used", r.text)

    def test_search_works_without_script(self):
        r = Browser(verify=False).get(self.sites.chooser_sp.base_url + "/saml/sso?ReturnTo=/protected/&q=COLLEGE")
        page = ChooserPage(r.text)
        self.assertEqual(["Beta <College> & Co"], [i["name"] for i in page.items])
        self.assertIn('value="COLLEGE"', r.text)

    def test_chooser_refuses_a_return_to_on_another_site(self):
        r = Browser(verify=False).get(self.sites.chooser_sp.base_url + "/saml/sso?ReturnTo=https://evil.example/x")
        self.assertEqual(400, r.status)
        self.assertNotIn("evil.example", ChooserPage(r.text).ids)
        self.assertNotIn("idp-list", r.text)
        self.allow.append(r"SAML0\d{3}")

    def test_an_idp_that_is_not_configured_is_refused(self):
        r = Browser(verify=False).get(self.sites.chooser_sp.base_url + "/saml/sso?ReturnTo=/protected/&idp=" +
                                      urllib.parse.quote(UNKNOWN_IDP, safe=""))
        self.assertRefusedOnce(self.sites.chooser_sp, r, 400, "SAML0821", UNKNOWN_IDP)
        self.assertFalse(any(c.startswith("saml_last_idp=") for c in r.set_cookies()))

    def test_a_response_from_idp_b_to_a_login_started_at_idp_a_is_refused(self):
        sp = self.sites.chooser_sp
        browser = Browser(verify=False)
        start = browser.get(sp.base_url + "/saml/sso?ReturnTo=/protected/env.cgi&idp=" +
                            urllib.parse.quote(self.a.entity_id, safe=""), follow_redirects=False)
        self.assertEqual(303, start.status)
        self.assertTrue(start.location.startswith(self.a.sso_url + "?"), start.location)
        # The same signed AuthnRequest, taken to B instead: B answers it, InResponseTo and all.
        to_b = self.b.sso_url + start.location[len(self.a.sso_url):]
        final = browser.login(to_b, "alice", "alice-password")
        self.assertTrue(any(url.startswith(self.b.base_url) for _, url, _ in final.history), final.history)
        self.assertEqual(sp.base_url + "/saml/acs", final.url)
        self.assertRefusedOnce(sp, final, 403, "SAML0285", self.b.entity_id)
        self.assertFalse(self.session(sp, browser)["authenticated"])
        self.b.assert_clean_logs()

    # -- a federation aggregate ------------------------------------------------------------------

    def test_a_federation_aggregate_is_capped_and_searchable(self):
        sp = self.sites.aggregate_sp
        browser = Browser(verify=False)
        r = browser.get(sp.base_url + "/protected/env.cgi")
        self.assertEqual(200, r.status, r.text[:500])
        self.assertTrue(r.url.startswith(sp.base_url + "/sso/?"), r.url)  # SAMLEndpointPath /
        page = ChooserPage(r.text)
        self.assertEqual(100, len(page.items))
        self.assertIn("idp-more", page.ids)
        self.assertIn('data-total="%d" data-complete="false"' % (FEDERATION_SIZE + 1), r.text)
        self.assertIn("%d more are not listed" % (FEDERATION_SIZE + 1 - 100), r.text)
        self.assertTrue(all(i["href"].startswith("/sso/?idp=") for i in page.items), page.items[:2])
        self.assertLess(len(r.body), 64 * 1024)
        # The search runs over every IdP: member 1234 is far beyond the first 100; A is found
        # by its display name and logs in.
        form = r.form(with_field="q")
        found = ChooserPage(browser.submit(form, {"q": "member 1234"}).text)
        self.assertEqual(["Federation member 1234"], [i["name"] for i in found.items])
        found = browser.submit(form, {"q": "alpha"})
        items = ChooserPage(found.text).items
        self.assertEqual(["Alpha University"], [i["name"] for i in items])
        final = browser.login(urllib.parse.urljoin(found.url, items[0]["href"]), "alice", "alice-password")
        self.assertEqual(sp.base_url + "/protected/env.cgi", final.url)
        self.assertEqual("alice", env_of(final)["SAML_uid"])
        # Remembered with the cookie path of SAMLEndpointPath /, and listed first from now on.
        self.assertIsNotNone(browser.cookie("saml_last_idp", path="/"))
        browser.get(sp.base_url + "/logout/?local=1")
        again = ChooserPage(browser.get(sp.base_url + "/protected/env.cgi").text)
        self.assertEqual("Alpha University", again.items[0]["name"])
        self.assertIn("idp-last", again.items[0]["class"])

    # -- the discovery service --------------------------------------------------------------------

    def test_sp_metadata_names_the_discovery_response_only_with_a_discovery_service(self):
        for sp, expected in ((self.sites.ds_sp, [self.sites.ds_sp.base_url + "/saml/sso"]), (self.sites.chooser_sp, [])):
            root = ET.fromstring(Browser(verify=False).get(sp.base_url + "/saml/metadata").body)
            found = [(e.get("Binding"), e.get("Location")) for e in root.iter("{%s}DiscoveryResponse" % IDPDISC)]
            self.assertEqual([(IDPDISC, url) for url in expected], found)

    def test_login_through_the_discovery_service(self):
        sp = self.sites.ds_sp
        self.sites.ds.choice = self.b.entity_id
        browser = Browser(verify=False)
        final = browser.login(sp.base_url + "/protected/env.cgi?x=1", "bob", "bob-password")
        self.assertEqual(200, final.status, final.text[:500])
        self.assertEqual(sp.base_url + "/protected/env.cgi?x=1", final.url)
        self.assertEqual("bob", env_of(final)["SAML_uid"])
        self.assertEqual(self.b.entity_id, self.session(sp, browser)["idp"])
        self.assertEqual(1, len(self.sites.ds.requests))
        asked = self.sites.ds.requests[0]
        self.assertEqual(sp.entity_id, asked["entityID"])
        self.assertEqual("idp", asked["returnIDParam"])
        self.assertNotIn("policy", asked)  # the default, single
        back = urllib.parse.urlsplit(asked["return"])
        self.assertEqual(sp.base_url + "/saml/sso", urllib.parse.urlunsplit(back._replace(query="")))
        self.assertEqual("/protected/env.cgi?x=1", urllib.parse.parse_qs(back.query)["ReturnTo"][0])
        self.b.assert_clean_logs()

    def test_the_discovery_service_choosing_an_unknown_idp_is_refused(self):
        sp = self.sites.ds_sp
        self.sites.ds.choice = UNKNOWN_IDP
        r = Browser(verify=False).get(sp.base_url + "/protected/env.cgi")
        self.assertEqual(1, len(self.sites.ds.requests))
        self.assertIn("not one this site trusts", r.text)
        self.assertRefusedOnce(sp, r, 400, "SAML0821", "discovery service")

    def test_the_discovery_service_answering_without_a_choice_gets_a_clear_page(self):
        sp = self.sites.ds_sp
        self.sites.ds.choice = None
        r = Browser(verify=False).get(sp.base_url + "/protected/env.cgi")
        self.assertEqual(1, len(self.sites.ds.requests))  # no loop back to the service
        self.assertIn("<h1>No identity provider chosen</h1>", r.text)
        self.assertRefusedOnce(sp, r, 400, "SAML0824")

    def test_force_authn_survives_the_discovery_service_and_the_chooser(self):
        browser = Browser(verify=False)
        self.sites.ds.choice = self.a.entity_id
        r = browser.get(self.sites.ds_sp.base_url + "/saml/sso?ReturnTo=/protected/&ForceAuthn=1")
        to_idp = [url for _, url, _ in r.history if url.startswith(self.a.sso_url + "?")]
        self.assertEqual(1, len(to_idp), r.history)
        self.assertIn("ForceAuthn=1", self.sites.ds.requests[0]["return"])
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(to_idp[0]).query)
        self.assertIn('ForceAuthn="true"', samlmsg.decode_redirect(query["SAMLRequest"][0]).decode())
        _, page = self.chooser(browser, "/saml/sso?ReturnTo=/protected/&ForceAuthn=1")
        self.assertTrue(all(i["href"].endswith("&ForceAuthn=1") for i in page.items), page.items)

    def test_configtest_refuses_a_discovery_url_that_is_not_absolute(self):
        sp = self.sites.ds_sp
        conf = sp.conf_text().replace("SAMLDiscoveryURL %s" % self.sites.ds.url, "SAMLDiscoveryURL ds.example.org/ds")
        self.assertNotEqual(sp.conf_text(), conf)
        code, out = sp.configtest(conf)
        self.assertNotEqual(0, code, out)
        self.assertIn("SAMLDiscoveryURL ds.example.org/ds: the discovery service URL must be an absolute http:// or https:// URL", out)

    def test_an_explicit_idp_skips_the_discovery_service(self):
        sp = self.sites.ds_sp
        r = Browser(verify=False).get(sp.base_url + "/saml/sso?ReturnTo=/protected/&idp=" +
                                      urllib.parse.quote(self.a.entity_id, safe=""), follow_redirects=False)
        self.assertEqual(303, r.status)
        self.assertTrue(r.location.startswith(self.a.sso_url), r.location)
        self.assertEqual([], self.sites.ds.requests)


if __name__ == "__main__":
    unittest.main()
