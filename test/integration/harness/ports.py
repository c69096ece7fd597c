"""Free loopback ports.

The kernel picks an unused port when we bind to port 0; we close the socket and hand the number
to the server that will listen on it. Another process could take the port in between, so servers
started by the harness report "Address already in use" clearly (see procs.wait_until) rather than
hang.
"""
import socket

HOST = "127.0.0.1"


def free_port(host=HOST):
    """Returns a TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_listening(port, host=HOST, timeout=0.2):
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
