"""The stand-in servers' common part: a stdlib HTTP server on loopback in a daemon thread."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that answers with send() and logs nothing to the test's output."""

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class LoopbackServer:
    """start() serves handler_class() (a QuietHandler subclass that sees this object as
    self.server.owner) on host:port until stop()."""

    def __init__(self, port, host="127.0.0.1"):
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._server = None

    def handler_class(self):
        raise NotImplementedError

    def start(self):
        self._server = ThreadingHTTPServer((self.host, self.port), self.handler_class())
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
