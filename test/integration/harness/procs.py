"""Starting and stopping server processes with timeouts and captured output.

Each process runs in its own session (process group) so that stop() can end the server and the
children it forked (httpd's prefork workers) by that group's id, and nothing else.
"""
import ctypes
import os
import signal
import subprocess
import time


class ProcessError(RuntimeError):
    pass


class Process:
    """One server process whose stdout and stderr go to files.

    argv: the command; log_prefix: path prefix for "<prefix>.stdout" / "<prefix>.stderr";
    env: extra environment variables (added to a minimal copy of os.environ).
    """

    def __init__(self, argv, log_prefix, env=None, cwd=None):
        self.argv = list(argv)
        self.stdout_path = log_prefix + ".stdout"
        self.stderr_path = log_prefix + ".stderr"
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.cwd = cwd
        self.proc = None

    def start(self):
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=self.env, cwd=self.cwd, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        """The captured stdout and stderr so far, for error messages."""
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace").strip()
            except OSError:
                continue
            if text:
                parts.append("%s:\n%s" % (os.path.basename(path), text[-4000:]))
        return "\n".join(parts)

    def stop(self, timeout=10.0):
        """SIGTERM to the process group, then SIGKILL after `timeout` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # Workers of a prefork server may outlive the parent by a moment; end them too.
        _wait_group_gone(self.proc.pid, timeout=5.0)
        return self.proc.returncode


_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies (even by SIGKILL or
    os._exit, when atexit handlers do not run), so no server outlives its test run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _wait_group_gone(pgid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)


def wait_until(predicate, timeout, what, process=None, interval=0.1):
    """Polls predicate() until it returns a true value (which is returned).

    Raises ProcessError after `timeout` seconds, or at once if `process` exits; the message holds
    the process's captured output.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and not process.running():
            raise ProcessError("%s: process exited with %s before it was ready\n%s"
                               % (what, process.proc.returncode, process.output()))
        if time.monotonic() >= deadline:
            raise ProcessError("%s: not ready after %.0f s\n%s"
                               % (what, timeout, process.output() if process else ""))
        time.sleep(interval)


def run(argv, timeout=60, **kwargs):
    """Runs a short command; raises ProcessError with its output when it fails."""
    try:
        if "input" not in kwargs:
            kwargs["stdin"] = subprocess.DEVNULL
        done = subprocess.run(argv, capture_output=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as e:
        raise ProcessError("%s: timed out after %s s" % (argv[0], timeout)) from e
    if done.returncode != 0:
        raise ProcessError("%s failed (%d):\n%s%s" % (" ".join(argv), done.returncode,
                           done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")))
    return done


def make_ancestors_traversable(path):
    """httpd's workers run as www-data when the tests run as root: every directory above a work
    dir (a mkdtemp() dir is 0700) must let them through."""
    path = os.path.abspath(path)
    while True:
        st = os.stat(path)
        if not st.st_mode & 0o001:
            os.chmod(path, st.st_mode | 0o001)
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent
