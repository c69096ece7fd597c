#!/usr/bin/python3 -EsB
"""The soak: real users' traffic against two nodes sharing memcached, while things break.

Two httpd nodes with the module (the same public URL, SP key, session secret; the replay cache in
one memcached; the IdP's metadata from a URL, signed by a test federation key), one SimpleSAMLphp
IdP, and for --minutes (default 10):

traffic (--threads workers, each with its own keep-alive connection to each node, shared by all
users: a reverse proxy multiplexes users that way, so one connection carries many users' cookies
in turn):
  SP-initiated logins through SimpleSAMLphp (the answer posted to either node), IdP-initiated
  logins, protected static, CGI and PHP pages, local logouts, hostile and malformed posts to
  /saml/acs, replays of Responses already used;
faults, on a schedule scaled to the run:
  a graceful restart every 20 s (alternating nodes), a child killed with SIGKILL, memcached killed
  and restarted, the metadata URL down / slow / serving a tampered or an expired document, an IdP
  signing-key rollover (new key published beside the old, then used, then the old withdrawn; in
  its middle every worker of a node killed and the new key's Response posted to the new child at
  once), a session-secret rotation, a full disk under the metadata backup directory (a 1 MB tmpfs;
  needs root, otherwise skipped and said), a graceful restart while a refresh waits for a slow
  metadata server, a browser that abandoned 9 and then 40 logins;
judged by:
  no page ever answered as another user (every page's REMOTE_USER and mail checked against the
  cookie's owner), no 5xx but the documented ones (client side, and every 5xx line of the nodes'
  access logs classified by its path, time and log line), no child crash but the ones we killed,
  no replay accepted, children's RSS flat after warm-up, each fault's log line present, the
  restart during a refresh logs nothing above info (F2), the new child mid-rollover logs the user
  in (F4), the browser with abandoned logins logs in (F3).

    test/soak/run [--minutes 10] [--threads 4] [--seed N]

Prints the figures and ends with one line "N passed, N failed" (one check per judged property).
"""
import argparse
import base64
import collections
import datetime
import fcntl
import http.client
import os
import pwd
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "test", "integration"))

from harness import idp as idpmod  # noqa: E402
from harness import mdsign, pki, ports  # noqa: E402
from harness.browser import Browser, BrowserError  # noqa: E402
from harness.cacheserver import CacheServer  # noqa: E402
from harness.metaserver import MetadataServer  # noqa: E402
from harness.sp import ModuleSp, env_of  # noqa: E402

PHP_REVALIDATE_SECONDS = 2.5
REFRESH = 2  # seconds between metadata refreshes
USERS = {"u%02d" % i: {"password": "pw-u%02d" % i,
                       "attributes": {"uid": ["u%02d" % i], "mail": ["u%02d@soak.example" % i],
                                      "groups": ["g%d" % (i % 3), "everyone"]}} for i in range(1, 17)}
# Static pages show who mod_headers saw: the module's variables of this very request.
EXTRA_CONF = """
<Location /protected>
    SAMLUserAttribute uid
</Location>
<Location /protected/hello.txt>
    Header always set X-Soak-User "expr=%{REMOTE_USER}"
    Header always set X-Soak-Mail "%{SAML_mail}e"
</Location>
"""
PAGES = ("/protected/hello.txt", "/protected/env.cgi", "/protected/index.php")


def now():
    return time.monotonic()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.examples = {}

    def add(self, key, example=None, n=1):
        with self.lock:
            self.counts[key] += n
            if example and key not in self.examples:
                self.examples[key] = example


class Node(ModuleSp):
    """A cluster node; its conf can be rewritten (secret rotation) and reloaded gracefully."""

    def parent_pid(self):
        with open(os.path.join(self.httpd_dir, "httpd.pid")) as f:
            return int(f.read().strip())

    def children(self):
        out = subprocess.run(["ps", "--ppid", str(self.parent_pid()), "-o", "pid=,rss=,nlwp="],
                             stdout=subprocess.PIPE).stdout.decode()
        rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
        return [(pid, rss) for pid, rss, threads in rows if threads > 1]  # workers; not the cgid daemon

    def graceful(self):
        with open(self.conf_path, "w") as f:
            f.write(self.conf_text())
        os.kill(self.parent_pid(), signal.SIGUSR1)

    def log_text(self):
        try:
            with open(self.error_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return None


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Stats()
        self.faults = collections.Counter()
        self.fault_notes = []
        self.killed_pids = set()
        self.rss = []  # (seconds since start, node name, [rss of each worker])
        self.expect_fail_closed = threading.Event()  # memcached down: 503 at /acs is the documented answer
        self.cache_restarted_at = 0.0
        self.last_graceful = -100.0
        self.kills_replaced = []  # per kill: whether httpd started a new child in its place
        # (kind, node name or None, start, end) in wall-clock seconds, to explain the access logs' 5xx
        self.windows = []
        self.windows_lock = threading.Lock()
        self.restart_meets_refresh = []  # (met the fetch, warn+ SAML09xx lines, evidence) per try (F2)
        self.fresh_child_logins = []     # (ok, detail) per child started mid-rollover (F4)
        self.abandoned = []              # (abandoned logins, ok, detail)
        self.work = tempfile.mkdtemp(prefix="saml-soak-")
        self.cache = CacheServer("memcache", os.path.join(self.work, "memcached"))
        self.idp = idpmod.SimpleSamlIdp(os.path.join(self.work, "idp"), ports.free_port(), users=USERS,
                                        log_level="WARNING")
        self.mdserver = MetadataServer(os.path.join(self.work, "mdserver"))
        fed = os.path.join(self.work, "federation")
        self.fed_key, self.fed_cert = pki.make_key_and_cert(fed, "signer", "Soak Federation Signer")
        self.extra_certs = []  # IdP certificates published beside the current one (rollover)
        self.nodes = []
        self.population = {}  # user -> Cookie header value (None: logged out)
        self.population_lock = threading.Lock()
        self.used = collections.deque(maxlen=20)  # (node, fields, state cookie) of Responses already posted
        self.stop = threading.Event()
        self.tmpfs = None

    # -- set-up -----------------------------------------------------------------------------------

    def metadata(self, valid_until=None):
        xml = self.idp.metadata_xml()
        for cert in self.extra_certs:
            descriptor = ('<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
                          '<ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo>'
                          '</md:KeyDescriptor>' % cert)
            at = xml.find("<md:KeyDescriptor")  # KeyDescriptors come first in the IDPSSODescriptor
            xml = xml[:at] + descriptor + xml[at:]
        return mdsign.sign(xml, self.fed_key, self.fed_cert, valid_until=valid_until)

    def add_node(self, name):
        port = ports.free_port()
        work = os.path.join(self.work, name)
        first = self.nodes[0] if self.nodes else None
        if first:
            os.makedirs(os.path.join(work, "sp"))
            for f in ("sp.key", "sp.crt", "tls.key", "tls.crt", "secret"):
                shutil.copy2(os.path.join(first.sp_dir, f), os.path.join(work, "sp", f))
        public = first.base_url if first else "https://127.0.0.1:%d" % port
        backup_dir = os.path.join(work, "mdcache")
        os.makedirs(backup_dir, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(backup_dir, pwd.getpwnam("www-data").pw_uid, -1)
        node = Node(work, port, None, extra_conf=EXTRA_CONF)
        node.backup_dir = backup_dir
        node.rotated = ""
        node.base_conf = "\n".join([
            "SAMLBaseURL %s" % public, self.cache.load_module(), "SAMLReplayCache %s" % self.cache.spec(),
            "SAMLAllowUnsolicited On", "LogLevel warn auth_saml:info",
            'SAMLIdPMetadataURL %s "%s" %d' % (self.mdserver.url, os.path.join(backup_dir, "federation.xml"), REFRESH),
            'SAMLIdPMetadataSigningCert "%s"' % self.fed_cert, 'SAMLIdPMetadataCAFile "%s"' % self.mdserver.ca_file,
            "SAMLIdPMetadataTimeout 4"])
        node.server_conf = node.base_conf
        node.name = name
        node.entity_id = public + "/saml/metadata"
        node.start()
        self.nodes.append(node)
        return node

    def setup(self):
        self.cache.start()
        self.idp.start()
        self.mdserver.start()
        self.mdserver.serve(self.metadata())
        self.a = self.add_node("a")
        self.b = self.add_node("b")
        md = Browser(verify=False).get(self.a.base_url + "/saml/metadata")
        assert md.status == 200, md.text[:300]
        self.idp.add_sp(md.text)
        time.sleep(PHP_REVALIDATE_SECONDS)

    def close(self):
        for node in self.nodes:
            node.stop()
        self.idp.stop()
        self.mdserver.stop()
        self.cache.stop()
        if self.tmpfs:
            subprocess.run(["umount", "-l", self.tmpfs])
        if os.environ.get("SAML_TEST_KEEP") == "1":
            print("kept work dir: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- traffic ----------------------------------------------------------------------------------

    def idp_answer(self, b, user, node, idp_initiated=False):
        """Starts a login of `user` at `node` (or at the IdP) with browser `b` and goes through the
        IdP: (the SAMLResponse form's fields, None), or (None, why) when the IdP gave no answer."""
        if idp_initiated:
            r = b.get(self.idp.idp_initiated_url(self.a.entity_id, "/protected/env.cgi"))
        else:
            r = b.get(node.base_url + "/protected/env.cgi")
        post = r.saml_post_form()  # the IdP may still know this browser: no password asked
        if post is None:
            form = next((f for f in r.forms() if any(c["type"] == "password" for c in f.controls)), None)
            if form is None:
                return None, "no IdP form: %s %s" % (r.status, r.url)
            fields = {c["name"]: c["value"] for c in form.controls if c.get("name")}
            user_field = next(c["name"] for c in form.controls if c["type"] in ("text", "email") and c.get("name"))
            pw_field = next(c["name"] for c in form.controls if c["type"] == "password")
            fields.update({user_field: user, pw_field: USERS[user]["password"]})
            r = b.submit(form, fields)
            post = r.saml_post_form()
        if post is None:
            return None, "no SAML form from the IdP: %s %s" % (r.status, r.text[:200])
        return post.values(), None

    def login(self, idp_initiated=False):
        user = self.rng.choice(sorted(USERS))
        node = self.rng.choice(self.nodes)
        b = Browser(verify=False, timeout=30)
        try:
            values, why = self.idp_answer(b, user, node, idp_initiated)
            if values is None:
                self.stats.add("login: " + why.split(":")[0], why)
                return
            state = "; ".join("%s=%s" % (c.name, c.value) for c in b.cookies if c.name.startswith("saml_login_"))
            acs = node.base_url + "/saml/acs"  # the answer reaches either node, as a balancer sends it
            done = b.request("POST", acs, data=values, follow_redirects=False)
        except (BrowserError, OSError, http.client.HTTPException, StopIteration) as e:
            self.stats.add("login: transport error", str(e)[:200])
            return
        kind = "idp-initiated login" if idp_initiated else "login"
        if done.status == 303:
            self.used.append((now(), values, state))  # consumed: any later post of it is a replay
            cookie = "; ".join("%s=%s" % (c.name, c.value) for c in b.cookies if c.name.startswith("saml_session"))
            with self.population_lock:
                self.population[user] = cookie
            self.stats.add(kind + "s")
        elif done.status == 503 and self.expect_fail_closed.is_set():
            self.stats.add("503 at /acs, replay cache down (SAML0259, fails closed)")
        else:
            self.stats.add("%s refused %d" % (kind, done.status), done.text[:300])

    def connection(self, conns, node):
        conn = conns.get(node.name)
        if conn is None:
            conn = http.client.HTTPSConnection(node.host, node.port, context=ssl._create_unverified_context(), timeout=30)
            conns[node.name] = conn
        return conn

    def page(self, conns):
        with self.population_lock:
            users = [(u, c) for u, c in self.population.items() if c]
        if not users:
            return
        user, cookie = self.rng.choice(users)
        node = self.rng.choice(self.nodes)
        path = self.rng.choice(PAGES)
        conn = self.connection(conns, node)
        try:
            conn.request("GET", path, headers={"Cookie": cookie})
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conns.pop(node.name, None)
            self.stats.add("page: connection dropped (restart or killed child)", "%s %s" % (path, e))
            return
        self.stats.add("pages")
        if r.status == 200:
            seen_user, seen_mail = self.identity(path, r, body)
            if seen_user != user or seen_mail != "%s@soak.example" % user:
                self.stats.add("WRONG USER", "%s for %s on %s: %r %r" % (path, user, node.name, seen_user, seen_mail))
            else:
                self.stats.add("pages checked: right user")
        elif r.status in (302, 303):
            # The session was not accepted (secret rotated, cookie sealed by the other node's new
            # secret): a new login, never another user.
            self.stats.add("page: sent to log in again")
            with self.population_lock:
                if self.population.get(user) == cookie:
                    self.population[user] = None
        elif r.status == 503 and path != "/protected/hello.txt" and now() - self.last_graceful < 3:
            # A graceful restart restarts mod_cgid's daemon too: a CGI started in that instant is
            # answered 503 by httpd ("AH10246 failed reading PID from cgi daemon"), not by the module.
            self.stats.add("503 from mod_cgid during a graceful restart (httpd's, AH10246)")
        else:
            self.stats.add("page: HTTP %d" % r.status, body[:200])

    @staticmethod
    def identity(path, response, body):
        if path.endswith(".txt"):
            return response.getheader("X-Soak-User"), response.getheader("X-Soak-Mail")
        if path.endswith(".cgi"):
            env = {}
            for line in body.splitlines():
                name, _, value = line.partition("=")
                env[name] = value
            return env.get("REMOTE_USER"), env.get("SAML_mail")
        user = re.search(r"Logged in as ([^<]+)</p>", body)
        mail = re.search(r"<dt>SAML_mail</dt><dd>([^<]*)</dd>", body)
        return user and user.group(1), mail and mail.group(1)

    def logout(self):
        with self.population_lock:
            users = [(u, c) for u, c in self.population.items() if c]
            if not users:
                return
            user, cookie = self.rng.choice(users)
            self.population[user] = None
        node = self.rng.choice(self.nodes)
        try:
            r = Browser(verify=False).request("GET", node.base_url + "/saml/logout?local=1&ReturnTo=/public/index.php",
                                              headers={"Cookie": cookie}, follow_redirects=False)
        except (BrowserError, OSError, http.client.HTTPException) as e:
            self.stats.add("logout: transport error", str(e))
            return
        self.stats.add("logouts" if r.status == 303 else "logout: HTTP %d" % r.status, r.text[:200])

    HOSTILE = [
        ("garbage base64", {"SAMLResponse": "bm90IHhtbA=="}),
        ("not base64", {"SAMLResponse": "%%%"}),
        ("empty", {"SAMLResponse": ""}),
        ("entity bomb", {"SAMLResponse": "PCFET0NUWVBFIHggWzwhRU5USVRZIGEgImFhYWEiPjwhRU5USVRZIGIgIiZhOyZhOyZhOyI+XT48eD4mYjs8L3g+"}),
        ("huge", {"SAMLResponse": "A" * 400000}),
        ("no field", {"RelayState": "/x"}),
    ]

    def hostile(self):
        name, fields = self.rng.choice(self.HOSTILE)
        node = self.rng.choice(self.nodes)
        try:
            r = Browser(verify=False).request("POST", node.base_url + "/saml/acs", data=fields, follow_redirects=False)
        except (BrowserError, OSError, http.client.HTTPException) as e:
            self.stats.add("hostile: transport error", "%s: %s" % (name, e))
            return
        if 400 <= r.status < 500:
            self.stats.add("hostile posts refused (4xx)")
        else:
            self.stats.add("hostile post answered %d" % r.status, "%s: %s" % (name, r.text[:200]))

    def replay(self):
        if not self.used:
            return
        used_at, fields, state = self.rng.choice(list(self.used))
        node = self.rng.choice(self.nodes)
        try:
            r = Browser(verify=False).request("POST", node.base_url + "/saml/acs", data=fields,
                                              headers={"Cookie": state}, follow_redirects=False)
        except (BrowserError, OSError, http.client.HTTPException) as e:
            self.stats.add("replay: transport error", str(e))
            return
        if r.status == 303 and used_at < self.cache_restarted_at:
            # memcached came back empty: it no longer knows the IDs used before (docs/CLUSTER.md)
            self.stats.add("replay accepted after memcached restarted empty (documented)")
        elif r.status == 303:
            self.stats.add("REPLAY ACCEPTED", "a Response posted again to %s was accepted" % node.name)
        elif r.status == 503 and self.expect_fail_closed.is_set():
            self.stats.add("503 at /acs, replay cache down (SAML0259, fails closed)")
        elif 400 <= r.status < 500:
            self.stats.add("replays refused")
        else:
            self.stats.add("replay answered %d" % r.status, r.text[:200])

    def worker(self, deadline):
        conns = {}
        actions = [(self.page, 80), (lambda _c: self.login(), 7), (lambda _c: self.login(True), 3),
                   (lambda _c: self.logout(), 3), (lambda _c: self.hostile(), 4), (lambda _c: self.replay(), 3)]
        choices = [a for a, w in actions for _ in range(w)]
        while now() < deadline and not self.stop.is_set():
            action = self.rng.choice(choices)
            try:
                action(conns)
            except Exception as e:  # noqa: BLE001 - counted, the soak goes on
                self.stats.add("client exception %s" % type(e).__name__, repr(e)[:300])
        for c in conns.values():
            c.close()

    # -- faults -----------------------------------------------------------------------------------

    def fault(self, kind, note=None):
        self.faults[kind] += 1
        if note:
            self.fault_notes.append("%s: %s" % (kind, note))

    def window(self, kind, node, start, end):
        with self.windows_lock:
            self.windows.append((kind, node and node.name, start, end))

    def graceful(self, node, kind="graceful restart"):
        self.last_graceful = now()
        # mod_cgid's daemon is replaced too: a CGI started in these seconds may get httpd's 503
        self.window("graceful", node, time.time() - 1, time.time() + 4)
        node.graceful()
        self.fault(kind)

    def kill_child(self, node):
        workers = node.children()
        if not workers:
            return
        pid = self.rng.choice(workers)[0]
        self.killed_pids.add(pid)
        os.kill(pid, signal.SIGKILL)
        self.fault("child killed (SIGKILL)")
        # httpd logs nothing for a SIGKILL'd child (it uses SIGKILL itself): judge by its place being taken.
        deadline = now() + 15
        while now() < deadline:
            pids = {p for p, _ in node.children()}
            if pid not in pids and pids:
                break
            time.sleep(0.5)
        self.kills_replaced.append(pid not in {p for p, _ in node.children()} and bool(node.children()))

    def memcached_outage(self, seconds):
        self.expect_fail_closed.set()
        killed_at = time.time()
        self.cache._process.proc.kill()
        self.cache._process.proc.wait()
        self.cache._process = None
        self.fault("memcached killed")
        time.sleep(seconds)
        self.cache.start()
        self.cache_restarted_at = now()
        self.window("memcached", None, killed_at, time.time() + 22)
        # apr tries a dead server again every 5 s, and a connection kept from before the outage
        # can cost one or two more rounds (docs/CLUSTER.md): fail-closed answers until then.
        timer = threading.Timer(20, self.expect_fail_closed.clear)
        timer.daemon = True
        timer.start()

    def metadata_fault(self, mode, seconds):
        good = self.metadata()
        if mode == "down":
            self.mdserver.serve(b"", status=503)
        elif mode == "slow":
            self.mdserver.serve(good, delay=8)
        elif mode == "tampered":
            self.mdserver.serve(good.replace("SingleSignOnService", "SingleSignOnServicX", 1))
        elif mode == "expired":
            self.mdserver.serve(self.metadata(valid_until="2020-01-01T00:00:00Z"))
        self.fault("metadata URL " + mode)
        time.sleep(seconds)
        self.mdserver.serve(self.metadata())

    def key_rollover(self, step_seconds):
        """Publish the new key beside the old, sign with it, then withdraw the old one."""
        old_key = open(self.idp.signing_key_path).read()
        old_crt_body = self.idp.signing_cert_body()
        new_dir = os.path.join(self.work, "rollover")
        key, crt = pki.make_key_and_cert(new_dir, "idp", "idp.rolled.example")
        with open(crt) as f:
            new_body = "".join(l.strip() for l in f if not l.startswith("-----"))
        self.extra_certs = [new_body]
        self.mdserver.serve(self.metadata())
        time.sleep(step_seconds)  # every node refreshes (REFRESH s) and knows both keys
        shutil.copy(key, self.idp.signing_key_path)
        shutil.copy(crt, self.idp.signing_cert_path)
        if os.geteuid() == 0:
            os.chown(self.idp.signing_key_path, -1, pwd.getpwnam("www-data").pw_gid)
            os.chmod(self.idp.signing_key_path, 0o640)
        # The IdP's own metadata now lists the new certificate; the old one stays published a while.
        self.extra_certs = [old_crt_body]
        self.mdserver.serve(self.metadata())
        self.child_started_mid_rollover(self.nodes[self.faults["IdP signing-key rollover"] % 2], new_body)
        time.sleep(step_seconds)
        self.extra_certs = []
        self.mdserver.serve(self.metadata())
        self.fault("IdP signing-key rollover")
        del old_key

    def child_started_mid_rollover(self, node, new_body):
        """Finding F4: every worker of `node` killed once the IdP signs with the key the running
        children took from refreshed metadata, and a Response signed with it posted at once to the
        child the parent starts instead. The parent last read the metadata at its last restart,
        before the rollover; the new child must trust what its siblings trusted."""
        b = Browser(verify=False, timeout=30)
        user = self.rng.choice(sorted(USERS))
        try:
            values, why = self.idp_answer(b, user, node, idp_initiated=True)
        except (BrowserError, OSError, http.client.HTTPException) as e:
            values, why = None, "transport error: %s" % e
        if values is None:
            self.fresh_child_logins.append((False, "the IdP gave no answer: %s" % why))
            return
        if new_body not in base64.b64decode(dict(values)["SAMLResponse"]).decode("utf-8", "replace"):
            self.fresh_child_logins.append((False, "the IdP did not sign with the new key"))
            return
        old = {pid for pid, _ in node.children()}
        self.killed_pids.update(old)
        killed_at = now()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        self.fault("child started mid-rollover (all workers of a node killed)")
        fresh = []
        while not fresh and now() < killed_at + 15:
            fresh = [pid for pid, _ in node.children() if pid not in old]
            time.sleep(0.02)
        if not fresh:
            self.fresh_child_logins.append((False, "%s: no new child within 15 s" % node.name))
            return
        try:
            r = b.request("POST", node.base_url + "/saml/acs", data=values, follow_redirects=False)
            status = r.status
            text = r.text
        except (BrowserError, OSError, http.client.HTTPException) as e:
            status, text = None, str(e)
        took = now() - killed_at
        session = any(c.name.startswith("saml_session") for c in b.cookies)
        ok = status == 303 and session
        code = re.search(r"SAML\d{4}", text or "")
        self.fresh_child_logins.append((ok, "%s: new child %s answered the new key's Response %s%s, %.1f s after "
                                            "the old ones were killed" % (node.name, fresh, status,
                                                                          " " + code.group(0) if code and not ok else "",
                                                                          took)))

    def restart_during_refresh(self, node):
        """Finding F2: a graceful restart while a child of `node` waits for a slow (3 s) but
        working metadata server, holding the fetch lock. The new generation starts from the backup
        (SAML0926 at info: nothing failed), the old child's cut download is a debug line: no
        warning. Tried up to three times until the restart meets a fetch in progress."""
        state = os.path.join(node.backup_dir, "federation.xml.state")

        def fetching():
            fd = os.open(state, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return self.mdserver.active > 0
            finally:
                os.close(fd)  # lets go at once if we got it
            return False

        for _ in range(3):
            self.mdserver.serve(self.metadata(), delay=3)
            deadline = now() + 10
            while not fetching() and now() < deadline:
                time.sleep(0.05)
            if not fetching():
                self.mdserver.serve(self.metadata())
                self.restart_meets_refresh.append((False, [], "%s: no refresh came to the metadata server" % node.name))
                continue
            mark = os.path.getsize(node.error_log_path)
            started = now()
            self.graceful(node, "graceful restart during a slow metadata refresh")
            took = None
            while now() < started + 10:
                if re.search(r"AH00489|resuming normal operations", self.log_from(node, mark)):
                    took = now() - started
                    break
                time.sleep(0.1)
            self.mdserver.serve(self.metadata())
            time.sleep(4)  # the slow download ends or is cut with the old generation
            text = self.log_from(node, mark)
            warned = [l for l in text.splitlines() if re.search(r"\] SAML09\d\d ", l)
                      and re.search(r"\[auth_saml:(warn|error|crit|alert|emerg)\]", l)]
            met = [l for l in text.splitlines() if "SAML0926 " in l]
            self.restart_meets_refresh.append((bool(met), warned, "%s: restart done in %s; %s" % (
                node.name, "%.1f s" % took if took is not None else "no AH00489 within 10 s",
                met[0].split("] ", 3)[-1][:160] if met else "the fetch had ended before the new generation read the metadata")))
            if met:
                return

    @staticmethod
    def log_from(node, offset):
        with open(node.error_log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def abandoned_logins(self):
        """A browser starts logins and finishes none (a user clicking a protected link again and
        again while the IdP is down, several tabs), each leaving a login-state cookie; after 9
        (more than the states /acs reads) and after 40 (a Cookie header near httpd's limit) its next
        login must work."""
        b = Browser(verify=False, timeout=30)
        user = self.rng.choice(sorted(USERS))
        started = 0
        for count in (9, 40):
            answers = collections.Counter()
            while started < count:
                node = self.nodes[started % 2]
                try:
                    r = b.request("GET", node.base_url + "/protected/env.cgi", follow_redirects=False)
                    answers[r.status] += 1
                except (BrowserError, OSError, http.client.HTTPException) as e:
                    answers[type(e).__name__] += 1
                started += 1
            states = [c for c in b.cookies if c.name.startswith("saml_login_")]
            size = sum(len(c.name) + len(c.value) + 2 for c in states)
            try:
                values, why = self.idp_answer(b, user, self.nodes[0])
                if values is None:
                    ok, outcome = False, why
                else:
                    r = b.request("POST", self.nodes[1].base_url + "/saml/acs", data=values, follow_redirects=False)
                    ok = r.status == 303 and any(c.name.startswith("saml_session") for c in b.cookies)
                    code = re.search(r"SAML\d{4}", r.text or "")
                    outcome = "worked" if ok else "answered %d %s" % (r.status, code.group(0) if code else "")
            except (BrowserError, OSError, http.client.HTTPException) as e:
                ok, outcome = False, "transport error: %s" % e
            self.abandoned.append((count, ok, "after %d abandoned logins (starts answered %s; %d login-state cookies "
                                              "kept, %d bytes) the next login %s" % (count, dict(answers), len(states),
                                                                                     size, outcome)))
            for c in list(b.cookies):  # logged in: start the next round with a fresh session
                if c.name.startswith("saml_session"):
                    b.cookies.clear(c.domain, c.path, c.name)
        self.fault("abandoned logins (9, then 40)")

    def rotate_secret(self):
        for node in self.nodes:
            old = os.path.join(node.sp_dir, "secret-old")
            shutil.copy2(node.secret_path, old)
        fresh = os.urandom(32)
        for node in self.nodes:
            with open(node.secret_path, "wb") as f:
                f.write(fresh)
            node.server_conf = node.base_conf + '\nSAMLSessionSecretFile "%s"' % os.path.join(node.sp_dir, "secret-old")
            self.window("graceful", node, time.time() - 1, time.time() + 4)
            self.last_graceful = now()
            node.graceful()
        self.fault("session secret rotated (old one kept for opening)")

    def full_disk(self, seconds):
        node = self.a
        if os.geteuid() != 0:
            self.fault_notes.append("full disk: skipped (needs root to mount a small tmpfs)")
            return
        mount = node.backup_dir
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", mount],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            self.fault_notes.append("full disk: skipped (mount failed: %s)" % p.stdout.decode().strip())
            return
        self.tmpfs = mount
        os.chown(mount, pwd.getpwnam("www-data").pw_uid, -1)
        with open(os.path.join(mount, "filler"), "wb", buffering=0) as f:  # unbuffered: ENOSPC comes here
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        # A new document (the IdP's metadata with another cacheDuration) must be written to the backup.
        self.mdserver.serve(mdsign.sign(self.idp.metadata_xml(), self.fed_key, self.fed_cert, cache_duration="PT1H"))
        self.fault("full disk under the metadata backup directory")
        time.sleep(seconds)
        self.mdserver.serve(self.metadata())
        subprocess.run(["umount", "-l", mount])
        self.tmpfs = None

    def schedule(self, start, duration):
        """(seconds after start, callable) for the faults of a run of `duration` seconds."""
        plan = []
        t = 20
        while t < duration - 10:
            plan.append((t, lambda n=self.nodes[(t // 20) % 2]: self.graceful(n)))
            t += 20
        for frac in (0.12, 0.55, 0.85):
            plan.append((duration * frac, lambda: self.kill_child(self.rng.choice(self.nodes))))
        plan.append((duration * 0.3, lambda: self.memcached_outage(6)))
        modes = ("down", "slow", "tampered", "expired")
        for i, mode in enumerate(modes):
            plan.append((duration * (0.18 + 0.06 * i), lambda m=mode: self.metadata_fault(m, 5)))
        plan.append((duration * 0.05, self.abandoned_logins))
        plan.append((duration * 0.45, lambda: self.key_rollover(3 * REFRESH + 1)))
        plan.append((duration * 0.5, lambda: self.restart_during_refresh(self.b)))
        if duration >= 300:
            plan.append((duration * 0.9, lambda: self.restart_during_refresh(self.a)))
        plan.append((duration * 0.65, self.rotate_secret))
        plan.append((duration * 0.75, lambda: self.full_disk(8)))
        return sorted(plan, key=lambda p: p[0])

    def fault_loop(self, start, duration):
        for at, action in self.schedule(start, duration):
            while now() < start + at:
                if self.stop.wait(0.2):
                    return
            try:
                action()
            except Exception as e:  # noqa: BLE001 - a fault that could not be injected is said
                self.fault_notes.append("fault %r failed: %r" % (action, e))

    def rss_loop(self, start):
        while not self.stop.wait(5):
            for node in self.nodes:
                try:
                    self.rss.append((now() - start, node.name, [rss for _, rss in node.children()]))
                except (OSError, ValueError):
                    pass

    # -- the run ----------------------------------------------------------------------------------

    def run(self):
        duration = self.args.minutes * 60
        for node in self.nodes:
            node.mark_log()
            node.log_start = os.path.getsize(node.error_log_path)
            node.access_start = os.path.getsize(os.path.join(node.log_dir, "access.log"))
        # Some users logged in before the clock starts, so pages flow from the first second.
        for _ in range(6):
            self.login()
        start = now()
        deadline = start + duration
        threads = [threading.Thread(target=self.worker, args=(deadline,)) for _ in range(self.args.threads)]
        threads.append(threading.Thread(target=self.fault_loop, args=(start, duration)))
        threads.append(threading.Thread(target=self.rss_loop, args=(start,)))
        for t in threads:
            t.daemon = True
            t.start()
        for t in threads[:self.args.threads]:
            t.join()
        self.stop.set()
        for t in threads[self.args.threads:]:
            t.join(timeout=60)
        time.sleep(1)
        return now() - start

    ACCESS = re.compile(r'\[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) ')

    def access_log(self):
        """(status counts by class, 5xx by explanation, an example of each) from the nodes'
        access logs since the run began: every 5xx the nodes answered, whoever asked."""
        served = collections.Counter()
        classes = collections.Counter()
        examples = {}
        with self.windows_lock:
            windows = list(self.windows)

        def within(kind, node, t):
            return any(k == kind and (n is None or n == node.name) and start - 1 <= t <= end + 1
                       for k, n, start, end in windows)

        for node in self.nodes:
            with open(os.path.join(node.log_dir, "access.log"), "rb") as f:
                f.seek(node.access_start)
                lines = f.read().decode("utf-8", "replace").splitlines()
            errors = self.log_from(node, node.log_start)
            cgid_lines = len(re.findall(r"AH10246|AH02833|AH01257", errors))
            cgid_503 = 0
            for line in lines:
                m = self.ACCESS.search(line)
                if not m:
                    continue
                status = int(m.group(4))
                served["%dxx" % (status // 100)] += 1
                if status < 500:
                    continue
                t = datetime.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
                path = m.group(3).split("?")[0]
                if status == 503 and path == "/saml/acs" and within("memcached", node, t) and "SAML0259" in errors:
                    cls = "503 at /saml/acs while memcached was down or reconnecting (SAML0259, fails closed)"
                elif status == 503 and path.endswith((".cgi", ".php")) and within("graceful", node, t):
                    cls = "503 from mod_cgid for a CGI/PHP page in a graceful restart (httpd's own, AH10246)"
                    cgid_503 += 1
                else:
                    cls = "UNEXPLAINED %d %s" % (status, path)
                classes[cls] += 1
                examples.setdefault(cls, "%s: %s" % (node.name, line))
            if cgid_503 > cgid_lines:
                cls = "UNEXPLAINED mod_cgid 503 without its log line"
                classes[cls] += cgid_503 - cgid_lines
                examples.setdefault(cls, "%s: %d 503s, %d AH10246/AH02833/AH01257 lines" % (node.name, cgid_503, cgid_lines))
        return served, classes, examples

    def judge(self, elapsed):
        c = self.stats.counts
        logs = {node.name: node.log_text() for node in self.nodes}
        missing = [name for name, text in logs.items() if text is None]
        logs = {name: text or "" for name, text in logs.items()}
        print("\n## Soak: %.0f s, %d worker threads, two nodes, memcached, SimpleSAMLphp" % (elapsed, self.args.threads))
        print("\n### Traffic")
        for key in sorted(c):
            print("- %s: %d%s" % (key, c[key], "  (e.g. %s)" % self.stats.examples[key] if key in self.stats.examples else ""))
        print("\n### Faults injected")
        for key in sorted(self.faults):
            print("- %s: %d" % (key, self.faults[key]))
        for note in self.fault_notes:
            print("- note: %s" % note)

        checks = []

        def check(name, ok, detail=""):
            checks.append((name, ok))
            print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail else ""))

        print("\n### Judged")
        check("every node's error log is there to judge", not missing, "missing: %s" % missing)
        check("traffic happened (logins, checked pages, logouts, replays, hostile posts)",
              c["logins"] > 0 and c["pages checked: right user"] > 100 and c["logouts"] > 0 and c["replays refused"] > 0
              and c["hostile posts refused (4xx)"] > 0 and c["idp-initiated logins"] > 0)
        check("no page answered as another user", c["WRONG USER"] == 0, self.stats.examples.get("WRONG USER", ""))
        check("no replay accepted", c["REPLAY ACCEPTED"] == 0)
        unexplained = {k: v for k, v in c.items()
                       if re.match(r"(page: HTTP 5|hostile post answered|replay answered|login(s)? refused 5|"
                                   r"idp-initiated login refused 5|logout: HTTP 5)", k)}
        check("no 5xx but the documented fail-closed ones", not unexplained, str(unexplained))
        hostile_other = {k: v for k, v in c.items() if k.startswith("hostile post answered")}
        check("hostile posts all refused with 4xx", not hostile_other, str(hostile_other))
        crashes = []
        for name, text in logs.items():
            for m in re.finditer(r"child pid (\d+) exit signal ([^,\n]+)", text):
                if int(m.group(1)) not in self.killed_pids:
                    crashes.append("%s: %s" % (name, m.group(0)))
        check("no child crash but the ones killed on purpose", not crashes, "; ".join(crashes[:3]))
        check("no SAML0899 internal error", not any("SAML0899" in t for t in logs.values()))
        # RSS: after warm-up (the first third), the largest worker may not grow by more than a
        # quarter between the second third and the last (restarts replace children, so the
        # samples are per moment, not per child).
        third = elapsed / 3
        mid = [max(r) for t, _, r in self.rss if r and third <= t < 2 * third]
        last = [max(r) for t, _, r in self.rss if r and t >= 2 * third]
        first_rss = [max(r) for t, _, r in self.rss if r and t < third]
        if mid and last:
            growth = max(last) - max(mid)
            check("children's RSS flat after warm-up", growth <= max(mid) // 4 + 8192,
                  "largest worker: first third %d KB, second %d KB, last %d KB" % (
                      max(first_rss) if first_rss else 0, max(mid), max(last)))
        else:
            check("children's RSS sampled", False, "no samples")
        expected_lines = [
            ("graceful restart", r"AH00493|SIGUSR1 received"),
            ("memcached killed", r"AH00790|AH00791|AH03478|AH03479|SAML0259|SAML0845|SAML0833"),
            ("metadata URL down", r"SAML0921|SAML0920|SAML0932"),
            ("metadata URL slow", r"SAML0922|SAML0920|SAML0932|SAML0928"),
            ("metadata URL tampered", r"SAML0923|SAML0920|SAML0932"),
            ("metadata URL expired", r"SAML0923|SAML0920|SAML0932"),
            ("IdP signing-key rollover", r"SAML0928"),
            ("full disk under the metadata backup directory", r"SAML0930|No space left"),
        ]
        all_text = "\n".join(logs.values())
        if self.faults.get("child killed (SIGKILL)"):
            check("each killed child was replaced by httpd", all(self.kills_replaced) and self.kills_replaced,
                  "%d of %d" % (sum(self.kills_replaced), len(self.kills_replaced)))
        for fault, pattern in expected_lines:
            if self.faults.get(fault):
                check("the log says so: %s" % fault, re.search(pattern, all_text) is not None, pattern)
        served, classes, examples = self.access_log()
        print("\nrequests the nodes served (access logs): %d (%s)" % (
            sum(served.values()), ", ".join("%s %d" % kv for kv in sorted(served.items()))))
        for cls in sorted(classes):
            print("- 5xx: %s: %d (e.g. %s)" % (cls, classes[cls], examples[cls]))
        unexplained = {k: v for k, v in classes.items() if k.startswith("UNEXPLAINED")}
        check("every 5xx in the access logs is a documented case (%d: %s)" % (
            sum(classes.values()), ", ".join("%d %s" % (v, k.split(" (")[0]) for k, v in sorted(classes.items())) or "none"),
            not unexplained, "; ".join("%s x%d (%s)" % (k, v, examples[k]) for k, v in unexplained.items()))
        # F2: a graceful restart that meets a metadata refresh in progress says nothing above info.
        tries = self.restart_meets_refresh
        met = [t for t in tries if t[0]]
        warned = [l for t in tries for l in t[1]]
        check("graceful restart during a slow metadata refresh: nothing above info (F2; %d of %d tries met a fetch "
              "in progress)" % (len(met), len(tries)), bool(met) and not warned,
              "; ".join([t[2] for t in tries] + [l.split("] ", 3)[-1][:200] for l in warned[:2]]) or "not injected")
        # F4: a child started mid-rollover logs in with the new key at once.
        check("a child started mid-rollover logs in with the new key at once (F4)",
              bool(self.fresh_child_logins) and all(ok for ok, _ in self.fresh_child_logins),
              "; ".join(d for _, d in self.fresh_child_logins) or "not injected")
        check("abandoned logins do not lock a browser out (after 9 and after 40 the next login works)",
              all(ok for _, ok, _ in self.abandoned) and {n for n, _, _ in self.abandoned} == {9, 40},
              "; ".join(d for _, _, d in self.abandoned) or "not injected")
        status = collections.Counter()
        for text in logs.values():
            for m in re.finditer(r"\] (SAML\d{4}) ", text):
                status[m.group(1)] += 1
        print("\nmodule log lines by code: " + ", ".join("%s %d" % kv for kv in sorted(status.items())))
        passed = sum(1 for _, ok in checks if ok)
        return passed, len(checks) - passed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print("soak: %.1f minutes, %d threads, seed %d" % (args.minutes, args.threads, args.seed))
    sys.stdout.flush()
    soak = Soak(args)
    try:
        soak.setup()
        elapsed = soak.run()
        passed, failed = soak.judge(elapsed)
    except Exception as e:  # noqa: BLE001 - a soak that could not run is a failure, said plainly
        import traceback
        traceback.print_exc()
        print("soak could not run: %r" % e)
        passed, failed = 0, 1
    finally:
        soak.close()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
