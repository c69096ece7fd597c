"""A real Apache httpd (event MPM, TLS) with the built mod_auth_saml, protecting CGI and PHP
pages, on loopback. Everything it uses lives under one work dir:

    <work>/sp/          sp.key/sp.crt (SAMLSPCertificateFile), secret (SAMLSessionSecretFile),
                        idp-metadata.xml, tls.key/tls.crt (the site's HTTPS certificate)
    <work>/htdocs/      env.cgi (prints REMOTE_USER and SAML_*), index.php (the walkthrough's page)
    <work>/logs/        error.log, access.log
    <work>/httpd/       httpd.conf, pid file, mutexes

The module comes from $SAML_MODULE (default: the plain build's .libs/mod_auth_saml.so).

With valgrind=True (or SAML_VALGRIND=1 in the environment) httpd runs single-process (-X) under
valgrind memcheck; its reports go to $SAML_VALGRIND_LOGS (default <work>/logs) as
valgrind-<port>.<pid>.log, one per process (the cgid daemon is a fork and gets its own).
test/valgrind-integration runs tests this way and judges those logs.
"""
import atexit
import grp
import os
import pwd
import re
import secrets
import stat

from . import pki, procs

APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_MODULE = os.path.join(TOP, "build", "plain", ".libs", "mod_auth_saml.so")
VALGRIND_SUPPRESSIONS = os.path.join(TOP, "valgrind", "suppressions.supp")

ENV_CGI = """#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\n\\n'
env | grep -E '^(REMOTE_USER|AUTH_TYPE|SAML_|APP_|MELLON_|HTTP_X_SAML)' | LC_ALL=C sort
"""

# The walkthrough's Django index, as a PHP page: a Login link when anonymous, the user's
# attributes when logged in.
INDEX_PHP = """#!/usr/bin/php-cgi -dcgi.force_redirect=0
<?php
header('Content-Type: text/html; charset=utf-8');
$user = getenv('REMOTE_USER');
echo "<!DOCTYPE html><html><head><title>Demo app</title></head><body>\\n";
if ($user) {
    echo "<p id='user'>Logged in as " . htmlspecialchars($user) . "</p>\\n<dl>\\n";
    $vars = getenv();
    ksort($vars);
    foreach ($vars as $name => $value) {
        if (strpos($name, 'SAML_') === 0) {
            echo "<dt>" . htmlspecialchars($name) . "</dt><dd>" . htmlspecialchars($value) . "</dd>\\n";
        }
    }
    echo "</dl>\\n<p><a id='logout' href='/saml/logout?ReturnTo=/public/index.php'>Logout</a></p>\\n";
} else {
    echo "<p><a id='login' href='/saml/sso?ReturnTo=/public/index.php'>Login</a></p>\\n";
}
echo "</body></html>\\n";
"""

# Directories of htdocs that get env.cgi and index.php; tests protect them with extra_conf.
PAGE_DIRS = ("protected", "public", "alice-only", "staff", "admins", "short", "idle", "expr", "headers",
             "mapped", "mapped-require", "renamed", "forged")

# Lines in the error log that a test may expect (rejections are logged as warnings on purpose).
DEFAULT_ALLOWED = (
    r"AH00558",              # could not reliably determine the server's FQDN
    r"AH01909",              # TLS certificate hostname mismatch
    r"AH00489|AH00094",      # notices at start
    # mod_ssl's start-up remarks about the test's TLS setup and the Debian image: a self-signed
    # (CA) test certificate, no SSLSessionCache, and Debian 12's apache2-bin built against a
    # newer OpenSSL point release than the image's libssl3. None of them is about our module.
    r"\[ssl:warn\].*(AH01882|AH01906|AH01873)",
)


def env_of(response):
    """The env.cgi page (REMOTE_USER, SAML_* ...) as a dict."""
    return dict(line.split("=", 1) for line in response.text.splitlines() if "=" in line)


class SpError(RuntimeError):
    pass


class ModuleSp:
    """httpd + mod_auth_saml on https://127.0.0.1:<port>.

    idp_metadata_xml: the IdP's metadata (written to a file for SAMLIdPMetadataFile); None for
        none (server_conf then gives the IdPs, e.g. with SAMLIdPMetadataURL).
    extra_conf: more httpd.conf text (Locations, directives) appended to the default.
    server_conf: extra server-level SAML directives.
    """

    def __init__(self, work_dir, port, idp_metadata_xml, extra_conf="", server_conf="", module=None,
                 host="127.0.0.1", secret=None, valgrind=None):
        self.work_dir = os.path.abspath(work_dir)
        self.port = int(port)
        self.host = host
        self.base_url = "https://%s:%d" % (host, self.port)
        self.entity_id = self.base_url + "/saml/metadata"
        self.module = module or os.environ.get("SAML_MODULE", DEFAULT_MODULE)
        self.extra_conf = extra_conf
        self.server_conf = server_conf
        self.valgrind = os.environ.get("SAML_VALGRIND") == "1" if valgrind is None else valgrind
        d = self.work_dir
        self.sp_dir = os.path.join(d, "sp")
        self.htdocs = os.path.join(d, "htdocs")
        self.log_dir = os.path.join(d, "logs")
        self.httpd_dir = os.path.join(d, "httpd")
        self.error_log_path = os.path.join(self.log_dir, "error.log")
        self.conf_path = os.path.join(self.httpd_dir, "httpd.conf")
        for sub in (self.sp_dir, self.htdocs, self.log_dir, self.httpd_dir, os.path.join(self.httpd_dir, "run")):
            os.makedirs(sub, exist_ok=True)
        self.idp_metadata_path = os.path.join(self.sp_dir, "idp-metadata.xml")
        if idp_metadata_xml is not None:
            with open(self.idp_metadata_path, "w") as f:
                f.write(idp_metadata_xml)
        self.metadata_file_line = (
            'SAMLIdPMetadataFile "%s"' % self.idp_metadata_path if idp_metadata_xml is not None else "")
        self.secret_path = os.path.join(self.sp_dir, "secret")
        if not os.path.exists(self.secret_path):
            with open(self.secret_path, "wb") as f:
                f.write(secret if secret is not None else secrets.token_bytes(32))
            os.chmod(self.secret_path, 0o600)
        if not os.path.exists(os.path.join(self.sp_dir, "sp.key")):
            pki.make_key_and_cert(self.sp_dir, "sp", "sp.test.example")
            pki.make_key_and_cert(self.sp_dir, "tls", host)
        self._write_pages()
        self._process = None
        self._log_offset = 0

    # -- configuration ------------------------------------------------------------------------------

    def _write_pages(self):
        for sub in PAGE_DIRS:
            os.makedirs(os.path.join(self.htdocs, sub), exist_ok=True)
            for name, text in (("env.cgi", ENV_CGI), ("index.php", INDEX_PHP)):
                path = os.path.join(self.htdocs, sub, name)
                with open(path, "w") as f:
                    f.write(text)
                os.chmod(path, 0o755)
        with open(os.path.join(self.htdocs, "protected", "hello.txt"), "w") as f:
            f.write("hello\n")

    def conf_text(self):
        loads = [
            ("mpm_event_module", "mod_mpm_event.so"), ("authn_core_module", "mod_authn_core.so"),
            ("authz_core_module", "mod_authz_core.so"), ("authz_user_module", "mod_authz_user.so"),
            ("authz_host_module", "mod_authz_host.so"),
            ("mime_module", "mod_mime.so"), ("dir_module", "mod_dir.so"), ("cgid_module", "mod_cgid.so"),
            ("ssl_module", "mod_ssl.so"), ("socache_shmcb_module", "mod_socache_shmcb.so"),
            ("env_module", "mod_env.so"), ("headers_module", "mod_headers.so"), ("setenvif_module", "mod_setenvif.so"),
        ]
        lines = ["LoadModule %s %s" % (n, os.path.join(APACHE_MODULES, so)) for n, so in loads]
        lines.append("LoadModule auth_saml_module %s" % self.module)
        user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
        return """# Written by test/integration/harness/sp.py
ServerRoot "{httpd}"
ServerName {host}
Listen {host}:{port}
PidFile "{httpd}/httpd.pid"
DefaultRuntimeDir "{httpd}/run"
Mutex file:{httpd}/run default
ErrorLog "{logs}/error.log"
LogLevel warn auth_saml:info
{loads}
{user}
ScriptSock "{httpd}/run/cgid.sock"
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
# Default MinSpareThreads (75) is more than this server can ever have: AH10159 under load.
MinSpareThreads 2
MaxSpareThreads 16
TypesConfig /etc/mime.types
LogFormat "%h %t \\"%r\\" %>s %b %D" timed
CustomLog "{logs}/access.log" timed
SSLEngine on
SSLCertificateFile "{sp}/tls.crt"
SSLCertificateKeyFile "{sp}/tls.key"
DocumentRoot "{htdocs}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{htdocs}">
    Options +ExecCGI
    AddHandler cgi-script .cgi .php
    DirectoryIndex index.php
    Require all granted
</Directory>

SAMLSPEntityID {entity_id}
SAMLSPCertificateFile "{sp}/sp.crt"
SAMLSPPrivateKeyFile "{sp}/sp.key"
{metadata_file_line}
SAMLSessionSecretFile "{sp}/secret"
{server_conf}

# A logged-in user who is not allowed in gets 403, not 401 (which would invite a new login).
<Location />
    AuthzSendForbiddenOnFailure On
</Location>

<Location /protected>
    AuthType SAML
    Require valid-user
</Location>
<Location /alice-only>
    AuthType SAML
    SAMLUserAttribute uid
    Require saml-user alice
</Location>
<Location /staff>
    AuthType SAML
    Require saml-attribute eduPersonAffiliation staff
</Location>
<Location /admins>
    AuthType SAML
    SAMLUserAttribute uid
    <RequireAll>
        Require saml-attribute groups ~ ^adm
        Require not saml-user bob
    </RequireAll>
</Location>
<Location /public>
    AuthType SAML
    SAMLMode passive
    Require all granted
</Location>
{extra}
""".format(httpd=self.httpd_dir, host=self.host, port=self.port, logs=self.log_dir, loads="\n".join(lines),
           user=user, sp=self.sp_dir, htdocs=self.htdocs, entity_id=self.entity_id,
           server_conf=self.server_conf, extra=self.extra_conf, metadata_file_line=self.metadata_file_line)

    def _fix_permissions(self):
        if os.geteuid() != 0:
            return
        uid = pwd.getpwnam("www-data").pw_uid
        procs.make_ancestors_traversable(self.work_dir)
        for d in (self.work_dir, self.htdocs, self.httpd_dir):
            os.chmod(d, 0o755)
        for root, dirs, files in os.walk(self.htdocs):
            os.chmod(root, 0o755)
        # The cgid daemon runs as www-data and creates its socket in run/.
        os.chown(os.path.join(self.httpd_dir, "run"), uid, -1)

    # -- running --------------------------------------------------------------------------------

    def configtest(self, conf_text=None):
        """Runs `apache2 -t` on this config (or the given text); returns (exit code, output)."""
        path = self.conf_path if conf_text is None else self.conf_path + ".test"
        with open(path, "w") as f:
            f.write(conf_text if conf_text is not None else self.conf_text())
        import subprocess
        p = subprocess.run([APACHE, "-t", "-f", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def start(self, timeout=30.0):
        with open(self.conf_path, "w") as f:
            f.write(self.conf_text())
        self._fix_permissions()
        code, out = self.configtest()
        if code != 0:
            raise SpError("configtest failed:\n" + out)
        self.mark_log()
        argv = [APACHE, "-f", self.conf_path, "-DFOREGROUND"]
        if self.valgrind:
            argv = self.valgrind_argv()
            timeout = max(timeout, 180.0)
        self._process = procs.Process(argv, os.path.join(self.log_dir, "httpd"), cwd=self.httpd_dir).start()
        atexit.register(self.stop)
        import socket
        import ssl

        # Ready means answering HTTP: the port accepts connections as soon as httpd listens,
        # before its start-up is done and logged, and a test that marks the log then would see
        # start-up lines as its own.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        def ready():
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as raw:
                    with context.wrap_socket(raw, server_hostname=self.host) as tls:
                        tls.sendall(b"HEAD /saml/metadata HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                                    % self.host.encode())
                        return tls.recv(16).startswith(b"HTTP/1.")
            except OSError:
                return False
        procs.wait_until(ready, timeout, "mod_auth_saml httpd on port %d" % self.port, self._process)
        return self

    def valgrind_argv(self):
        """httpd -X (one process, one event-MPM child in the foreground) under memcheck.

        Children that httpd execs (CGI, PHP) are not traced; the cgid daemon is a fork of httpd,
        so valgrind follows it and writes its own log (%p). --keep-debuginfo keeps the stacks of
        mod_auth_saml readable after httpd unloads its modules at exit, when the leak check runs.
        """
        log_dir = os.environ.get("SAML_VALGRIND_LOGS") or self.log_dir
        os.makedirs(log_dir, exist_ok=True)
        argv = ["valgrind", "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite", "--error-exitcode=99", "--track-origins=no",
                "--trace-children=no", "--child-silent-after-fork=yes", "--keep-debuginfo=yes", "--vgdb=no",
                "--num-callers=40", "--fullpath-after=",
                "--log-file=%s" % os.path.join(log_dir, "valgrind-%d.%%p.log" % self.port)]
        if os.path.exists(VALGRIND_SUPPRESSIONS):
            argv.append("--suppressions=%s" % VALGRIND_SUPPRESSIONS)
        return argv + [APACHE, "-X", "-f", self.conf_path]

    def stop(self, timeout=10.0):
        if self.valgrind:
            timeout = max(timeout, 120.0)  # the leak check at exit takes a while
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None

    def restart(self):
        self.stop()
        return self.start()

    # -- logs -------------------------------------------------------------------------------------

    def mark_log(self):
        self._log_offset = os.path.getsize(self.error_log_path) if os.path.exists(self.error_log_path) else 0

    def log_since_mark(self):
        if not os.path.exists(self.error_log_path):
            return ""
        with open(self.error_log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", "replace")

    def problems(self, allow=()):
        """[warn]/[error]/[crit]/[alert]/[emerg] lines since the mark not matched by an allowed pattern."""
        patterns = [re.compile(p) for p in tuple(DEFAULT_ALLOWED) + tuple(allow)]
        found = []
        for line in self.log_since_mark().splitlines():
            if not re.search(r"\[[a-z_]*:(warn|error|crit|alert|emerg)\]", line):
                continue
            if any(p.search(line) for p in patterns):
                continue
            found.append(line)
        return found
