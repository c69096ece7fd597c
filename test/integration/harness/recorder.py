"""A stand-in SP for testing the IdP alone: records what is POSTed to its ACS (stdlib http.server).

POST <acs_path>  stores the form fields (SAMLResponse, RelayState ...) and answers 303 to
                 <landing_path>; GET <landing_path> answers 200 "signed in".
GET|POST /slo    stores the raw query string / form fields (a LogoutRequest or LogoutResponse)
                 in slo_messages and answers 200 "logged out" (it sends no LogoutResponse).
"""
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AcsRecorder:
    def __init__(self, port, host="127.0.0.1", acs_path="/acs", landing_path="/done"):
        self.host, self.port = host, port
        self.acs_path, self.landing_path = acs_path, landing_path
        self.base_url = "http://%s:%d" % (host, port)
        self.entity_id = self.base_url + "/sp"
        self.acs_url = self.base_url + acs_path
        self.slo_url = self.base_url + "/slo"
        self.landing_url = self.base_url + landing_path
        self.posts = []  # one dict per POST to the ACS: field name -> first value
        self.slo_messages = []  # dicts: method, query (raw string), fields (first values)
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    def start(self):
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("ascii", "replace")
                path = urllib.parse.urlsplit(self.path).path
                fields = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                if path == "/slo":
                    return self._slo("POST", body, fields)
                if path != recorder.acs_path:
                    return self._send(404, b"not found")
                with recorder._lock:
                    recorder.posts.append(fields)
                self.send_response(303)
                self.send_header("Location", recorder.landing_url)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/slo":
                    fields = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
                    return self._slo("GET", url.query, fields)
                if url.path == recorder.landing_path:
                    return self._send(200, b"<html><body>signed in</body></html>")
                return self._send(404, b"not found")

            def _slo(self, method, raw, fields):
                with recorder._lock:
                    recorder.slo_messages.append({"method": method, "query": raw, "fields": fields})
                return self._send(200, b"<html><body>logged out</body></html>")

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def last(self):
        with self._lock:
            return self.posts[-1] if self.posts else None
