"""Two servers, one cluster: two httpd nodes with mod_auth_saml behind an (imagined) load balancer,
sharing the session secret, the SP key and the replay cache, the latter through a real memcached
and, in a second run, a real redis-server, both started here on loopback through httpd's own
socache providers (mod_socache_memcache, mod_socache_redis).

The cluster as a load balancer presents it: one public site, so every node is configured alike
with the same SAMLSPEntityID, SAMLBaseURL (the public URL), SP key and session secret, and the IdP
knows one SP with one ACS URL. Which node gets a request is the balancer's choice; the tests make
that choice themselves by posting to node A's or node B's own port. With no balancer here, node
A's URL stands in for the public one: the IdP posts the browser to it, and a test that wants the
request to land on B sends the same form to B's port, as a balancer without sticky sessions
would. (Registering two ACS URLs, one per node, would expose the nodes to the IdP and the users,
and a Response for one ACS would not be valid at the other; that is not how a cluster is run.)

What each test shows:
- a login started on A completes on B (the login-state cookie opens with the shared secret);
- a Response consumed on A is refused on B as a replay (SAML0258), while a node keeping its replay
  cache to itself (shmcb) would accept it: the control that makes the shared cache matter;
- a session made on A is valid on B;
- with the cache server down, /acs fails closed (503, SAML0259) while logged-in users keep
  working on both nodes; a node with `SAMLReplayCacheFailure allow` lets the login through with
  SAML0833; once the cache server is back, logins work again;
- a Response posted to both nodes in turn while the cache server comes back is accepted at most
  once, every other post refused (503 SAML0259 or 403 SAML0258) with one line (soak finding F5);
- the memcache/redis providers run without the module's global mutex (they are multi-process
  safe; shmcb is not and gets one).

Every test fails on an unexpected [warn]/[error] line in any node's error log.
"""
import base64
import calendar
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

from harness import idp as idpmod
from harness import ports
from harness import samlmsg
from harness.browser import Browser
from harness import cacheserver
from harness.cacheserver import CacheServer
from harness.sp import ModuleSp, env_of

KEEP = os.environ.get("SAML_TEST_KEEP") == "1"

# What the socache providers themselves log when their server is unreachable (one line per failed
# call, next to the module's own line): memcache 'retrieve' FAIL / error setting key, and redis's.
PROVIDER_DOWN_LINES = r"AH00790|AH00791|AH03478|AH03479"

# PHP's opcache looks at a changed file after this long (opcache.revalidate_freq 2).
PHP_REVALIDATE_SECONDS = 2.5

# apr_memcache / apr_redis mark an unreachable server dead and try it again every 5 seconds.
RECOVERY_SECONDS = 30


def graceful_restart(node):
    """apachectl -k graceful: SIGUSR1 to the parent, then wait for the new generation to answer."""
    with open(os.path.join(node.httpd_dir, "httpd.pid")) as f:
        parent = int(f.read().strip())
    before = node.log_since_mark().count("resuming normal operations")
    os.kill(parent, signal.SIGUSR1)
    deadline = time.monotonic() + 20
    while node.log_since_mark().count("resuming normal operations") <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert time.monotonic() < deadline, "no new generation after the graceful restart"
    time.sleep(0.5)


def granted_session(response):
    return [c for c in response.set_cookies() if c.startswith("saml_session=") and "Max-Age=0" not in c]


class Cluster:
    """One IdP, one cache server and cluster nodes (ModuleSp) that share entityID, SP key,
    session secret, public URL and replay cache."""

    def __init__(self, kind):
        self.work = tempfile.mkdtemp(prefix="saml-cluster-test-")
        self.cache = CacheServer(kind, os.path.join(self.work, kind))
        self.cache.start()
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port())
        self.idp.start()
        self.nodes = []
        self.idp_metadata = self.idp.metadata_xml()
        self.a = self.add_node("a")
        self.b = self.add_node("b")
        metadata = Browser(verify=False).get(self.a.base_url + "/saml/metadata")
        assert metadata.status == 200, metadata
        self.sp_metadata = metadata.text
        self.idp.add_sp(self.sp_metadata)

    def node_conf(self, replay_cache=None, failure=None, session_store=False):
        lines = []
        if replay_cache is None:
            lines.append(self.cache.load_module())
            replay_cache = self.cache.spec()
        lines.append("SAMLReplayCache " + replay_cache)
        if failure:
            lines.append("SAMLReplayCacheFailure " + failure)
        if session_store:
            # the sessions in the same cache server (another key prefix), and its counters on show
            lines += ["SAMLSessionStore cache " + self.cache.spec(),
                      "<Location /saml-status>\n    SetHandler saml-status\n    Require local\n</Location>"]
        return "\n".join(lines)

    def add_node(self, name, replay_cache=None, failure=None, session_store=False, leader=None):
        """A node of the cluster: it shares the files and the public URL of `leader` (default the
        first node); leader=False starts another site (its own public URL and SP) on the same
        IdP and cache server."""
        port = ports.free_port()
        work = os.path.join(self.work, name)
        first = None if leader is False else leader or (self.nodes[0] if self.nodes else None)
        if first is not None:
            # What a cluster shares: the SP's key and certificate, the session secret, the TLS
            # certificate of the public name.
            os.makedirs(os.path.join(work, "sp"))
            for f in ("sp.key", "sp.crt", "tls.key", "tls.crt", "secret"):
                shutil.copy2(os.path.join(first.sp_dir, f), os.path.join(work, "sp", f))
        public = first.base_url if first else "https://127.0.0.1:%d" % port
        conf = "SAMLBaseURL %s\n%s" % (public, self.node_conf(replay_cache, failure, session_store))
        node = ModuleSp(work, port, self.idp_metadata, server_conf=conf)
        node.entity_id = public + "/saml/metadata"
        node.start()
        node.mark_log()  # start-up notices are not what a test looks at
        self.nodes.append(node)
        if leader is False:
            metadata = Browser(verify=False).get(node.base_url + "/saml/metadata")
            assert metadata.status == 200, metadata
            self.idp.add_sp(metadata.text)
            time.sleep(PHP_REVALIDATE_SECONDS)  # the IdP's PHP sees its new metadata file
        return node

    def close(self):
        for node in self.nodes:
            node.stop()
        self.idp.stop()
        self.cache.stop()
        if KEEP:
            print("\nkept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class ClusterTests:
    """The tests, run once per cache server kind (the subclasses below)."""
    kind = None

    @classmethod
    def setUpClass(cls):
        if not cacheserver.available(cls.kind):
            raise unittest.SkipTest("%s is not installed: run scripts/install-deps" % cacheserver.binary(cls.kind))
        cls.cluster = Cluster(cls.kind)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def setUp(self):
        for node in self.cluster.nodes:
            node.mark_log()
        self.cluster.idp.mark_logs()
        self.allow = []

    def tearDown(self):
        for node in self.cluster.nodes:
            self.assertEqual([], node.problems(self.allow), "unexpected lines in the error log of %s" % node.base_url)

    # -- helpers ------------------------------------------------------------------------------------

    def idp_answer(self, node, user="alice"):
        """Starts a login at `node`, signs in at the IdP and stops before the browser posts the
        IdP's answer. Returns (browser, the form's action, its fields, the login-state cookie)."""
        b = Browser(verify=False)
        r = b.get(node.base_url + "/protected/env.cgi")
        login = next(f for f in r.forms() if any(c["type"] == "password" for c in f.controls))
        user_field = next(c["name"] for c in login.controls if c["type"] in ("text", "email") and c.get("name"))
        password_field = next(c["name"] for c in login.controls if c["type"] == "password")
        r = b.submit(login, {user_field: user, password_field: idpmod.USERS[user]["password"]})
        form = r.saml_post_form()
        self.assertIsNotNone(form, r.text[:500])
        state = ["%s=%s" % (c.name, c.value) for c in b.cookies if c.name.startswith("saml_login_")]
        self.assertEqual(1, len(state))
        return b, form.action, form.values(), state[0]

    def acs(self, node):
        return node.base_url + "/saml/acs"

    def post(self, browser, url, fields, cookie=None):
        headers = {"Cookie": cookie} if cookie else None
        return browser.request("POST", url, data=fields, headers=headers, follow_redirects=False)

    def logged_in(self, node=None):
        """A browser with a session made on `node` (default A)."""
        node = node or self.cluster.a
        b = Browser(verify=False)
        r = b.login(node.base_url + "/protected/env.cgi", "alice", idpmod.USERS["alice"]["password"])
        self.assertEqual(200, r.status, r.text[:500])
        self.user = env_of(r).get("REMOTE_USER")  # alice's persistent NameID
        self.assertTrue(self.user)
        return b

    def module_lines(self, node):
        """The module's own [warn] and worse lines since the mark."""
        return [l for l in node.log_since_mark().splitlines()
                if re.search(r"\[auth_saml:(warn|error|crit|alert|emerg)\]", l)]

    def assertFailedOnce(self, response, node, status, code):
        """An HTML error page naming `code` and exactly one line of ours in the node's log."""
        self.assertEqual(status, response.status, response.text[:800])
        self.assertEqual("text/html", response.headers.get_content_type())
        m = re.search(r"reference: <code>([0-9a-f]{12})</code> \((SAML\d{4})\)", response.text)
        self.assertIsNotNone(m, response.text)
        self.assertEqual(code, m.group(2), response.text)
        lines = self.module_lines(node)
        self.assertEqual(1, len(lines), lines)
        self.assertIn(code + " ", lines[0])
        self.assertIn("[ref %s]" % m.group(1), lines[0])
        self.assertFalse(granted_session(response))
        self.allow.append(code)

    # -- tests ----------------------------------------------------------------------------------------

    def test_login_started_on_a_completes_on_b(self):
        b, action, fields, _ = self.idp_answer(self.cluster.a)
        self.assertEqual(self.acs(self.cluster.a), action)  # the public ACS URL, the only one the IdP knows
        done = self.post(b, self.acs(self.cluster.b), fields)
        self.assertEqual(303, done.status, done.text[:500])
        # host-relative, so the browser stays on the public name whichever node answered
        self.assertEqual("/protected/env.cgi", done.headers.get("Location"))
        self.assertTrue(granted_session(done))
        self.assertIn("SAML0835 login of ", self.cluster.b.log_since_mark())

    def test_response_consumed_on_a_is_refused_on_b(self):
        b, action, fields, state = self.idp_answer(self.cluster.a)
        first = self.post(b, action, fields)
        self.assertEqual(303, first.status, first.text[:500])
        # The same Response, with the login-state cookie it came with, sent to the other node: the
        # request ID still matches, only the shared replay cache can tell it was used.
        again = self.post(Browser(verify=False), self.acs(self.cluster.b), fields, cookie=state)
        self.assertFailedOnce(again, self.cluster.b, 403, "SAML0258")
        self.assertIn("was already used", self.module_lines(self.cluster.b)[0])
        # and on A itself as well
        self.assertFailedOnce(self.post(Browser(verify=False), action, fields, cookie=state), self.cluster.a, 403,
                              "SAML0258")

    def test_replay_needs_the_shared_cache(self):
        # The control: a node of the same cluster that keeps its replay cache to itself (shmcb)
        # accepts the Response A has consumed. This is what the shared cache prevents.
        loner = self.cluster.add_node("loner", replay_cache="shmcb")
        try:
            b, action, fields, state = self.idp_answer(self.cluster.a)
            self.assertEqual(303, self.post(b, action, fields).status)
            replayed = self.post(Browser(verify=False), self.acs(loner), fields, cookie=state)
            self.assertEqual(303, replayed.status, replayed.text[:500])
            self.assertTrue(granted_session(replayed))
            self.assertEqual([], loner.problems())
        finally:
            loner.stop()
            self.cluster.nodes.remove(loner)

    def test_long_lived_assertion_is_remembered_as_long(self):
        # An IdP that makes assertions valid for 40 days: the cache must keep the ID that long.
        # memcached takes an expiry of more than 30 days as a Unix time (in 1970: gone at once).
        self.cluster.idp.add_sp(self.cluster.sp_metadata, extra={"assertion.lifetime": 40 * 86400})
        try:
            # The IdP's PHP picks up its new metadata file once its file cache revalidates, which
            # takes longer on a busy machine: ask again until the answer carries the long lifetime.
            deadline = time.time() + 30
            while True:
                time.sleep(PHP_REVALIDATE_SECONDS)
                b, action, fields, state = self.idp_answer(self.cluster.a)
                xml = base64.b64decode(dict(fields)["SAMLResponse"]).decode("utf-8")
                ends = re.findall(r'<saml:SubjectConfirmationData [^>]*NotOnOrAfter="([^"]+)"', xml)
                self.assertTrue(ends, xml)
                valid_for = calendar.timegm(time.strptime(ends[0], "%Y-%m-%dT%H:%M:%SZ")) - time.time()
                if valid_for > 31 * 86400 or time.time() > deadline:
                    break
        finally:
            self.cluster.idp.add_sp(self.cluster.sp_metadata)
        self.assertGreater(valid_for, 31 * 86400)
        self.assertEqual(303, self.post(b, action, fields).status)
        again = self.post(Browser(verify=False), self.acs(self.cluster.b), fields, cookie=state)
        self.assertFailedOnce(again, self.cluster.b, 403, "SAML0258")

    def test_session_made_on_a_is_valid_on_b(self):
        b = self.logged_in(self.cluster.a)
        r = b.request("GET", self.cluster.b.base_url + "/protected/env.cgi", follow_redirects=False)
        self.assertEqual(200, r.status, r.text[:500])
        self.assertEqual(self.user, env_of(r).get("REMOTE_USER"))
        session = b.request("GET", self.cluster.b.base_url + "/saml/session", follow_redirects=False)
        self.assertEqual(200, session.status, session.text[:500])

    def test_providers_run_without_the_global_mutex(self):
        # shmcb is not multi-process safe (AP_SOCACHE_FLAG_NOTMPSAFE): the module creates its
        # global mutex for it, a lock file in the node's run dir that httpd holds open (unlinked).
        # memcache and redis are safe (flags 0): no mutex.
        def lock_files(node):
            fd_dir = "/proc/%d/fd" % node._process.proc.pid
            paths = []
            for fd in os.listdir(fd_dir):
                try:
                    paths.append(os.readlink(os.path.join(fd_dir, fd)))
                except OSError:
                    pass
            return [p for p in paths if "auth-saml-replay" in p]
        self.assertEqual([], lock_files(self.cluster.a))
        self.assertEqual([], lock_files(self.cluster.b))
        loner = self.cluster.add_node("mutex-control", replay_cache="shmcb")
        try:
            self.assertNotEqual([], lock_files(loner))
        finally:
            loner.stop()
            self.cluster.nodes.remove(loner)

    def test_cache_server_down_fails_closed_and_sessions_keep_working(self):
        c = self.cluster
        lenient = c.add_node("lenient", failure="allow")
        before_a = self.logged_in(c.a)
        before_b = self.logged_in(c.b)
        c.cache.stop()
        try:
            for node in c.nodes:
                node.mark_log()
            b, action, fields, state = self.idp_answer(c.a)
            refused = self.post(b, action, fields)
            self.assertFailedOnce(refused, c.a, 503, "SAML0259")
            self.assertIn("Try again in a minute", refused.text)
            self.allow.append(PROVIDER_DOWN_LINES)
            # the same on B
            refused_b = self.post(b, self.acs(c.b), fields)
            self.assertFailedOnce(refused_b, c.b, 503, "SAML0259")
            # users already logged in keep working, on both nodes
            for browser in (before_a, before_b):
                for node in (c.a, c.b):
                    r = browser.request("GET", node.base_url + "/protected/env.cgi", follow_redirects=False)
                    self.assertEqual(200, r.status, r.text[:500])
                    self.assertTrue(env_of(r).get("REMOTE_USER"))
            # a node configured to allow logins then lets this one through, with a warning
            lenient.mark_log()
            allowed = self.post(b, self.acs(lenient), fields)
            self.assertEqual(303, allowed.status, allowed.text[:500])
            self.assertTrue(granted_session(allowed))
            ours = self.module_lines(lenient)
            self.assertEqual(1, len(ours), ours)
            self.assertIn("SAML0833 ", ours[0])
            self.allow.append("SAML0833")
        finally:
            c.cache.start()
            lenient.stop()
            c.nodes.remove(lenient)
        # Once the cache server is back, logins work again on every node that saw it down: apr
        # tries a dead server again every 5 s, and a connection it kept from before the restart
        # may cost it one more round.
        for node in (c.a, c.b):
            deadline = time.monotonic() + RECOVERY_SECONDS
            while True:
                b, action, fields, _ = self.idp_answer(node)
                r = self.post(b, action if node is c.a else self.acs(node), fields)
                if r.status == 303 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            self.assertEqual(303, r.status, "%s: no login %d s after the cache server came back"
                             % (node.base_url, RECOVERY_SECONDS))

    def test_a_response_posted_while_the_cache_server_comes_back_is_accepted_at_most_once(self):
        # Soak finding F5: apr's client answers "not found" while it holds the server for dead and
        # may reach it again for the store right after; a Response used on one node was accepted
        # once more on the other while memcached came back. Here the same Response is posted
        # over and over to both nodes, from the outage until both have the server back: one
        # login at most, every other answer a refusal with one line of ours naming it.
        c = self.cluster
        c.cache.stop()
        answers = {c.a: [], c.b: []}
        try:
            for node in c.nodes:
                node.mark_log()
            _, _, fields, state = self.idp_answer(c.a)
            self.allow += [PROVIDER_DOWN_LINES, "SAML0259", "SAML0258"]
            for node in (c.a, c.b):  # both see the outage, and both then wait for apr's retry
                refused = self.post(Browser(verify=False), self.acs(node), fields, cookie=state)
                self.assertEqual(503, refused.status, refused.text[:500])
                answers[node].append(refused)
        finally:
            c.cache.start()

        # One post at a time, to A and B in turn, as the soak saw it (the Response used on one
        # node, then posted to the other): two posts at the same moment on two nodes are the
        # race that socache's look-then-store cannot close (docs/CLUSTER.md), not this finding.
        deadline = time.monotonic() + RECOVERY_SECONDS
        while time.monotonic() < deadline:
            for node in (c.a, c.b):
                answers[node].append(self.post(Browser(verify=False), self.acs(node), fields, cookie=state))
            if all(sum(1 for r in answers[node] if r.status == 403) >= 3 for node in (c.a, c.b)):
                break
        everything = answers[c.a] + answers[c.b]
        granted = [r for r in everything if r.status == 303]
        self.assertLessEqual(len(granted), 1, "the same Response was accepted %d times" % len(granted))
        for node in (c.a, c.b):
            # both nodes reached the server again and know the ID
            self.assertIn(403, [r.status for r in answers[node]], "%s: never answered SAML0258" % node.base_url)
            lines = self.module_lines(node)
            refs = []
            for r in answers[node]:
                if r.status == 303:
                    self.assertTrue(granted_session(r))
                    continue
                self.assertIn(r.status, (403, 503), r.text[:500])
                m = re.search(r"reference: <code>([0-9a-f]{12})</code> \((SAML\d{4})\)", r.text)
                self.assertIsNotNone(m, r.text[:800])
                self.assertEqual("SAML0258" if r.status == 403 else "SAML0259", m.group(2))
                self.assertFalse(granted_session(r))
                ours = [l for l in lines if "[ref %s]" % m.group(1) in l]
                self.assertEqual(1, len(ours), ours)
                self.assertIn(m.group(2) + " ", ours[0])
                refs.append(m.group(1))
            self.assertEqual(len(refs), len(lines), lines)


class StoreClusterTests(ClusterTests):
    """With SAMLSessionStore cache on two more nodes sharing the cache server: sessions,
    revocation and back-channel logout across nodes; the server going away and coming back empty.
    (The cookie-mode tests above run here too, on the same cluster.)"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.store_a = cls.cluster.add_node("store-a", session_store=True, leader=False)
        cls.store_b = cls.cluster.add_node("store-b", session_store=True, leader=cls.store_a)

    def get(self, node, path, cookie):
        return Browser(verify=False).request("GET", node.base_url + path, headers={"Cookie": cookie},
                                             follow_redirects=False)

    def stored_login(self, node):
        # After another test restarted the cache server, apr tries it again only every 5 s.
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            b = Browser(verify=False)
            r = b.login(node.base_url + "/protected/env.cgi", "alice", idpmod.USERS["alice"]["password"])
            if r.status != 503 or time.monotonic() > deadline:
                break
            self.allow += [PROVIDER_DOWN_LINES, "SAML0259", "SAML0815"]
            time.sleep(1)
        self.assertEqual(200, r.status, r.text[:500])
        value = b.cookie("saml_session")
        self.assertLess(len(value), 200)
        return b, "saml_session=" + value

    def test_a_stored_session_works_on_both_nodes_and_a_logout_on_one_ends_it_on_the_other(self):
        b, copy = self.stored_login(self.store_a)
        self.assertEqual(200, self.get(self.store_b, "/protected/env.cgi", copy).status)
        # A graceful restart (a reload, a log rotation) keeps sessions kept in memcached or redis.
        graceful_restart(self.store_a)
        self.assertEqual(200, self.get(self.store_a, "/protected/env.cgi", copy).status)
        out = b.request("GET", self.store_b.base_url + "/saml/logout?local=1&ReturnTo=/public/index.php",
                        follow_redirects=False)
        self.assertEqual(303, out.status, out.text[:300])
        for node in (self.store_a, self.store_b):
            self.assertIn(self.get(node, "/protected/env.cgi", copy).status, (302, 303))

    def test_a_back_channel_logout_to_one_node_ends_the_session_used_on_the_other(self):
        b, copy = self.stored_login(self.store_a)
        env = env_of(b.get(self.store_b.base_url + "/protected/env.cgi"))
        request_id, envelope = samlmsg.soap_logout_request(
            self.cluster.idp.signing_key_path, self.cluster.idp.entity_id, self.store_a.entity_id.replace(
                "/saml/metadata", "/saml/sls"), env["SAML_NAME_ID"], env.get("SAML_NAME_ID_FORMAT", ""))
        answer = Browser(verify=False).request("POST", self.store_a.base_url + "/saml/sls", data=envelope,
                                               headers={"Content-Type": "text/xml"}, follow_redirects=False)
        self.assertEqual(200, answer.status, answer.text[:300])
        self.assertIn("status:Success", answer.text)
        self.assertIn(self.get(self.store_b, "/protected/env.cgi", copy).status, (302, 303))

    def test_the_store_down_is_a_503_not_a_login_loop_and_back_empty_is_a_fresh_login(self):
        c = self.cluster
        b, copy = self.stored_login(self.store_a)
        c.cache.stop()
        try:
            self.store_a.mark_log()
            r = self.get(self.store_a, "/protected/env.cgi", copy)
            self.assertEqual(503, r.status, r.text[:300])
            self.assertIsNone(r.headers.get("Location"))
            self.assertIn("Try again in a minute", r.text)
            lines = self.module_lines(self.store_a)
            self.assertEqual(1, len(lines), lines)
            self.assertIn("SAML0815 ", lines[0])
            self.allow += ["SAML0815", PROVIDER_DOWN_LINES]
        finally:
            c.cache.start()
        # Back, and empty (memcached and this redis keep nothing): the user logs in again, and the
        # miss is counted. apr retries a dead server every 5 s.
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            r = self.get(self.store_a, "/protected/env.cgi", copy)
            if r.status != 503 or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertIn(r.status, (302, 303), r.text[:300])
        status = Browser(verify=False).get(self.store_a.base_url + "/saml-status").text
        self.assertRegex(status, r"SessionStoreMisses: [1-9]")
        self.assertRegex(status, r"SessionStoreUnavailable: [1-9]")


class MemcacheClusterTest(StoreClusterTests, unittest.TestCase):
    kind = "memcache"


class RedisClusterTest(StoreClusterTests, unittest.TestCase):
    kind = "redis"


if __name__ == "__main__":
    unittest.main()
