"""A memcached or redis-server of the test's own, on loopback, for the replay cache of a cluster.

Each runs in the foreground from Debian's binary with its own port, work dir and log, keeps
nothing on disk, and is stopped by the test (stop() can be followed by start() on the same port,
as when the cache server restarts). Nothing of the system's own memcached/redis is used.
"""
import atexit
import os

from . import ports, procs

MEMCACHED = "/usr/bin/memcached"
REDIS = "/usr/bin/redis-server"


def binary(kind):
    return MEMCACHED if kind == "memcache" else REDIS


def available(kind):
    """True when the server program for `kind` is installed (scripts/install-deps)."""
    return os.access(binary(kind), os.X_OK)


class CacheServer:
    """kind: "memcache" or "redis" (the socache provider's name)."""

    def __init__(self, kind, work_dir, port=None):
        if kind not in ("memcache", "redis"):
            raise ValueError("kind must be memcache or redis")
        self.kind = kind
        self.work_dir = os.path.abspath(work_dir)
        os.makedirs(self.work_dir, exist_ok=True)
        self.port = port or ports.free_port()
        self._process = None

    def spec(self):
        """The SAMLReplayCache value."""
        return "%s:127.0.0.1:%d" % (self.kind, self.port)

    def load_module(self):
        """The LoadModule line for httpd's provider."""
        return "LoadModule socache_%s_module /usr/lib/apache2/modules/mod_socache_%s.so" % (self.kind, self.kind)

    def argv(self):
        if self.kind == "memcache":
            argv = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16", "-c", "256"]
            if os.geteuid() == 0:
                argv += ["-u", "nobody"]  # memcached refuses to run as root
            return argv
        return [REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--dir", self.work_dir, "--daemonize", "no", "--protected-mode", "yes",
                "--logfile", os.path.join(self.work_dir, "redis.log")]

    def start(self, timeout=15.0):
        self._process = procs.Process(self.argv(), os.path.join(self.work_dir, self.kind),
                                      cwd=self.work_dir).start()
        atexit.register(self.stop)
        procs.wait_until(lambda: ports.is_listening(self.port), timeout,
                         "%s on port %d" % (self.kind, self.port), self._process)
        return self

    def stop(self, timeout=10.0):
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None
            procs.wait_until(lambda: not ports.is_listening(self.port), timeout,
                             "%s on port %d to stop" % (self.kind, self.port))

    def running(self):
        return self._process is not None and self._process.running()
