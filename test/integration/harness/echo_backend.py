"""A back end for the auth-proxy recipe (conf.d/auth-proxy.conf): plain HTTP on loopback that
answers every GET with what it received, as JSON: {"method", "path", "headers": [[name, value]...]}
(header values as the raw bytes read, decoded as UTF-8), and keeps each request in `received`,
so a test sees exactly which headers reached the application, including any a client forged.
"""
import json

from .loopback import LoopbackServer, QuietHandler


class _EchoHandler(QuietHandler):
    def do_GET(self):
        # http.server decodes header lines as Latin-1; give the UTF-8 the module sent.
        headers = [[k, v.encode("latin-1").decode("utf-8", "replace")] for k, v in self.headers.items()]
        record = {"method": self.command, "path": self.path, "headers": headers}
        backend = self.server.owner
        with backend._lock:
            backend.received.append(record)
        self.send(200, json.dumps(record, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


class EchoBackend(LoopbackServer):
    def __init__(self, port, host="127.0.0.1"):
        super().__init__(port, host)
        self.url = "http://%s:%d/" % (host, port)
        self.received = []

    def handler_class(self):
        return _EchoHandler

    def requests_since(self, count):
        with self._lock:
            return list(self.received[count:])
