"""A back end for the auth-proxy recipe (conf.d/auth-proxy.conf): plain HTTP on loopback that
answers every GET with what it received, as JSON: {"method", "path", "headers": [[name, value]...]}
(header values as the raw bytes read, decoded as UTF-8), and keeps each request in `received`,
so a test sees exactly which headers reached the application, including any a client forged.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoBackend:
    def __init__(self, port, host="127.0.0.1"):
        self.host, self.port = host, port
        self.url = "http://%s:%d/" % (host, port)
        self.received = []
        self._lock = threading.Lock()
        self._server = None

    def start(self):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                # http.server decodes header lines as Latin-1; give the UTF-8 the module sent.
                headers = [[k, v.encode("latin-1").decode("utf-8", "replace")] for k, v in self.headers.items()]
                record = {"method": self.command, "path": self.path, "headers": headers}
                with backend._lock:
                    backend.received.append(record)
                body = json.dumps(record, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests_since(self, count):
        with self._lock:
            return list(self.received[count:])
