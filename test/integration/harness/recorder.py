"""A stand-in SP for testing the IdP alone: records what is POSTed to its ACS (stdlib http.server).

POST <acs_path>  stores the form fields (SAMLResponse, RelayState ...) and answers 303 to
                 <landing_path>; GET <landing_path> answers 200 "signed in".
GET|POST /slo    stores the raw query string / form fields (a LogoutRequest or LogoutResponse)
                 in slo_messages and answers 200 "logged out" (it sends no LogoutResponse).
"""
import urllib.parse

from .loopback import LoopbackServer, QuietHandler


class AcsRecorder(LoopbackServer):
    def __init__(self, port, host="127.0.0.1", acs_path="/acs", landing_path="/done"):
        super().__init__(port, host)
        self.acs_path, self.landing_path = acs_path, landing_path
        self.base_url = "http://%s:%d" % (host, port)
        self.entity_id = self.base_url + "/sp"
        self.acs_url = self.base_url + acs_path
        self.slo_url = self.base_url + "/slo"
        self.landing_url = self.base_url + landing_path
        self.posts = []  # one dict per POST to the ACS: field name -> first value
        self.slo_messages = []  # dicts: method, query (raw string), fields (first values)

    def handler_class(self):
        recorder = self

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("ascii", "replace")
                path = urllib.parse.urlsplit(self.path).path
                fields = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                if path == "/slo":
                    return self._slo("POST", body, fields)
                if path != recorder.acs_path:
                    return self.send(404, b"not found")
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
                    return self.send(200, b"<html><body>signed in</body></html>")
                return self.send(404, b"not found")

            def _slo(self, method, raw, fields):
                with recorder._lock:
                    recorder.slo_messages.append({"method": method, "query": raw, "fields": fields})
                return self.send(200, b"<html><body>logged out</body></html>")

        return Handler

    def last(self):
        with self._lock:
            return self.posts[-1] if self.posts else None
