"""A metadata server over HTTPS on loopback whose answers the test controls (what
SAMLIdPMetadataURL fetches): a document, a status, a delay, an ETag; it counts the requests and
how many were in flight at once.

    server = MetadataServer(work_dir).start()   # its own TLS key and certificate (SAN 127.0.0.1)
    server.serve(xml)                           # 200 with this body (ETag: a hash of it)
    server.serve(xml, delay=8)                  # answer after 8 s
    server.serve(status=503)                    # an error page
    server.url, server.ca_file                  # for SAMLIdPMetadataURL and SAMLIdPMetadataCAFile
    server.stop()
"""
import hashlib
import http.server
import os
import ssl
import threading
import time

from . import ports, procs

OPENSSL = "/usr/bin/openssl"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        owner = self.server.owner
        with owner.lock:
            owner.requests += 1
            owner.active += 1
            owner.max_active = max(owner.max_active, owner.active)
            owner.request_times.append(time.time())
            owner.request_headers.append(dict(self.headers))
            body, status, delay, etag = owner.body, owner.status, owner.delay, owner.etag
        try:
            if delay:
                owner.hanging.set()
                owner.release.wait(delay)
                owner.hanging.clear()
            if etag and self.headers.get("If-None-Match") == etag and status == 200:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = body if isinstance(body, bytes) else body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            if etag and status == 200:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up
        finally:
            with owner.lock:
                owner.active -= 1


class MetadataServer:
    def __init__(self, work_dir, port=None):
        self.work_dir = os.path.abspath(work_dir)
        os.makedirs(self.work_dir, exist_ok=True)
        self.port = port or ports.free_port()
        self.url = "https://127.0.0.1:%d/federation/metadata.xml" % self.port
        self.key_file = os.path.join(self.work_dir, "mdserver.key")
        self.ca_file = os.path.join(self.work_dir, "mdserver.crt")
        procs.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "30",
                   "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                   "-keyout", self.key_file, "-out", self.ca_file])
        self.lock = threading.Lock()
        self.body, self.status, self.delay, self.etag = b"", 503, 0, None
        self.requests = self.active = self.max_active = 0
        self.request_times = []
        self.request_headers = []
        self.hanging = threading.Event()
        self.release = threading.Event()
        self._httpd = None

    def serve(self, body=b"", status=200, delay=0, etag=True):
        """What the next requests get; etag=True derives one from the body, None sends none."""
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        with self.lock:
            self.body, self.status, self.delay = data, status, delay
            self.etag = ('"%s"' % hashlib.sha256(data).hexdigest()[:16]) if etag is True else etag
            self.release.clear()

    def requests_so_far(self):
        with self.lock:
            return self.requests

    def wait_for_requests(self, count, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.requests_so_far() >= count:
                return True
            time.sleep(0.05)
        return False

    def start(self):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.daemon_threads = True
        httpd.owner = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, self.key_file)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._httpd is not None:
            self.release.set()
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
