"""A real SimpleSAMLphp 1.19 IdP (Debian's package) in a private Apache httpd on loopback.

Everything the IdP writes lives under one work dir:

    <work>/config/      config.php, authsources.php (SIMPLESAMLPHP_CONFIG_DIR)
    <work>/metadata/    saml20-idp-hosted.php, saml20-sp-remote.php
    <work>/cert/        idp.key, idp.crt (RSA-2048, SHA-256, made by openssl for this run)
    <work>/var/         tmp/, data/, sessions/ (PHP sessions), writable by the httpd user
    <work>/logs/        error.log (httpd + PHP), access.log, simplesamlphp.log
    <work>/httpd/       httpd.conf, pid file, mutexes, runtime dir

The SP entries are generated from SP metadata XML and may be changed while the IdP runs
(SimpleSAMLphp reads its metadata files on every request).
"""
import atexit
import grp
import glob
import os
import pwd
import re
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from . import pki, procs

APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
SSP_ROOT = "/usr/share/simplesamlphp"
SSP_WWW = SSP_ROOT + "/www"
SSP_ATTRIBUTEMAP = "/etc/simplesamlphp/attributemap"

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
ATTRNAME_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTRNAME_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"

# The test users. Passwords are "<user>-password". givenName is not ASCII on purpose.
USERS = {
    "alice": {
        "password": "alice-password",
        "attributes": {
            "uid": ["alice"],
            "username": ["alice"],
            "mail": ["alice@example.org"],
            "givenName": ["Zoë"],
            "sn": ["Lefèvre"],
            "eduPersonAffiliation": ["member", "staff"],
            "groups": ["admins", "users"],
        },
    },
    "bob": {
        "password": "bob-password",
        "attributes": {
            "uid": ["bob"],
            "username": ["bob"],
            "mail": ["bob@example.org"],
            "givenName": ["Björn"],
            "sn": ["Smith"],
            "eduPersonAffiliation": ["member", "student"],
            "groups": ["users"],
        },
    },
}

ADMIN_PASSWORD_LENGTH = 24


class IdpError(RuntimeError):
    pass


# --- PHP source generation -------------------------------------------------------------------

class PhpCode(str):
    """A string emitted into PHP source as is (a constant, an expression)."""


def php(value, indent=0):
    """PHP source for a Python value: dict -> array with keys, list/tuple -> list, str -> '...'."""
    pad = "    " * (indent + 1)
    end = "    " * indent
    if isinstance(value, PhpCode):
        return str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, dict):
        if not value:
            return "[]"
        items = ["%s%s => %s," % (pad, php(k), php(v, indent + 1)) for k, v in value.items()]
        return "[\n" + "\n".join(items) + "\n" + end + "]"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = ["%s%s," % (pad, php(v, indent + 1)) for v in value]
        return "[\n" + "\n".join(items) + "\n" + end + "]"
    raise TypeError("no PHP form for %r" % (value,))


def _write(path, text, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# --- SP metadata -----------------------------------------------------------------------------

class SpMetadata:
    """What the IdP needs from an SP's metadata XML (an EntityDescriptor or EntitiesDescriptor)."""

    def __init__(self, xml):
        if isinstance(xml, bytes):
            root = ET.fromstring(xml)
        else:
            root = ET.fromstring(xml.encode("utf-8"))
        if root.tag == "{%s}EntityDescriptor" % NS["md"]:
            entities = [root]
        else:
            entities = root.findall(".//md:EntityDescriptor", NS)
        entity = next((e for e in entities if e.find("md:SPSSODescriptor", NS) is not None), None)
        if entity is None:
            raise IdpError("SP metadata has no EntityDescriptor with an SPSSODescriptor")
        sp = entity.find("md:SPSSODescriptor", NS)
        self.entity_id = entity.get("entityID")
        if not self.entity_id:
            raise IdpError("SP metadata: EntityDescriptor has no entityID")
        self.authn_requests_signed = sp.get("AuthnRequestsSigned") == "true"
        self.want_assertions_signed = sp.get("WantAssertionsSigned") == "true"
        self.acs = []
        for i, e in enumerate(sp.findall("md:AssertionConsumerService", NS)):
            self.acs.append({
                "Binding": e.get("Binding"),
                "Location": e.get("Location"),
                "index": int(e.get("index", i)),
                **({"isDefault": e.get("isDefault") == "true"} if e.get("isDefault") else {}),
            })
        if not any(a["Binding"] == BINDING_POST for a in self.acs):
            raise IdpError("SP metadata has no AssertionConsumerService with the HTTP-POST binding")
        self.slo = []
        for e in sp.findall("md:SingleLogoutService", NS):
            item = {"Binding": e.get("Binding"), "Location": e.get("Location")}
            if e.get("ResponseLocation"):
                item["ResponseLocation"] = e.get("ResponseLocation")
            self.slo.append(item)
        self.nameid_formats = [(e.text or "").strip() for e in sp.findall("md:NameIDFormat", NS)]
        self.signing_certs = []
        self.encryption_certs = []
        for kd in sp.findall("md:KeyDescriptor", NS):
            use = kd.get("use")
            for c in kd.findall(".//ds:X509Certificate", NS):
                body = "".join((c.text or "").split())
                if use in (None, "signing"):
                    self.signing_certs.append(body)
                if use in (None, "encryption"):
                    self.encryption_certs.append(body)

    def keys(self):
        """The 'keys' array of a SimpleSAMLphp SP entry."""
        out = []
        for body in dict.fromkeys(self.signing_certs + self.encryption_certs):
            out.append({
                "encryption": body in self.encryption_certs,
                "signing": body in self.signing_certs,
                "type": "X509Certificate",
                "X509Certificate": body,
            })
        return out


# --- the IdP ---------------------------------------------------------------------------------

class SimpleSamlIdp:
    """A SimpleSAMLphp IdP served by its own Apache httpd on 127.0.0.1:<port>.

    work_dir: a fresh directory for this IdP (created if missing).
    port:     a free loopback port (ports.free_port()).
    sp_metadata_xml: optional SP metadata XML (str/bytes); more SPs with add_sp().
    sp_options: keyword options for that SP, as add_sp() takes them.
    users:    {name: {"password": ..., "attributes": {...}}}; default USERS (alice, bob).
    hosted_extra: more keys for the IdP's own (hosted) entry, as is, e.g. a display name:
              {"UIInfo": {"DisplayName": {"en": "..."}}} or OrganizationName/DisplayName/URL.
    """

    def __init__(self, work_dir, port, sp_metadata_xml=None, users=None, host="127.0.0.1",
                 log_level="DEBUG", public_host=None, hosted_extra=None, tls=False, artifact=False, **sp_options):
        self.work_dir = os.path.abspath(work_dir)
        self.port = int(port)
        self.host = host
        # The name in the IdP's URLs (metadata, login form): another site than the SP for the
        # browser tests (e.g. idp.test, which Chromium maps to 127.0.0.1). The harness itself
        # always talks to host.
        self.public_host = public_host or host
        self.users = users if users is not None else USERS
        self.log_level = log_level
        self.hosted_extra = dict(hosted_extra or {})
        # tls: httpd answers https, with a certificate from a CA of its own (tls_ca_path).
        # artifact: SimpleSAMLphp may answer with HTTP-Artifact (saml20.sendartifact), keeps the
        # artifacts in an SQLite store and serves its ArtifactResolutionService (SOAP).
        self.tls = tls
        self.artifact = artifact
        scheme = "https" if tls else "http"
        self.base_url = "%s://%s:%d/simplesaml/" % (scheme, self.public_host, self.port)
        self.entity_id = self.base_url + "saml2/idp/metadata.php"
        self.metadata_url = "%s://%s:%d/simplesaml/saml2/idp/metadata.php" % (scheme, host, self.port)
        self.sso_url = self.base_url + "saml2/idp/SSOService.php"
        self.artifact_resolution_url = self.base_url + "saml2/idp/ArtifactResolutionService.php"
        self.slo_url = self.base_url + "saml2/idp/SingleLogoutService.php"
        self.admin_password = secrets.token_urlsafe(ADMIN_PASSWORD_LENGTH)
        self.secret_salt = secrets.token_hex(32)

        d = self.work_dir
        self.config_dir = os.path.join(d, "config")
        self.metadata_dir = os.path.join(d, "metadata")
        self.cert_dir = os.path.join(d, "cert")
        self.var_dir = os.path.join(d, "var")
        self.log_dir = os.path.join(d, "logs")
        self.httpd_dir = os.path.join(d, "httpd")
        self.error_log_path = os.path.join(self.log_dir, "error.log")
        self.access_log_path = os.path.join(self.log_dir, "access.log")
        self.ssp_log_path = os.path.join(self.log_dir, "simplesamlphp.log")
        self.httpd_conf_path = os.path.join(self.httpd_dir, "httpd.conf")
        self.pid_path = os.path.join(self.httpd_dir, "httpd.pid")
        self.signing_key_path = os.path.join(self.cert_dir, "idp.key")
        self.signing_cert_path = os.path.join(self.cert_dir, "idp.crt")
        self.tls_dir = os.path.join(d, "tls")
        self.tls_ca_path = os.path.join(self.tls_dir, "ca.crt")
        self.tls_key_path = os.path.join(self.tls_dir, "tls.key")
        self.tls_cert_path = os.path.join(self.tls_dir, "tls.crt")
        self.store_path = os.path.join(self.var_dir, "data", "store.sqlite")

        self._sps = {}  # entityID -> (SpMetadata, options)
        self._process = None
        self._offsets = {}
        if sp_metadata_xml is not None:
            self.add_sp(sp_metadata_xml, **sp_options)
        elif sp_options:
            raise TypeError("SP options given without sp_metadata_xml: %s" % ", ".join(sp_options))

    # -- SPs ------------------------------------------------------------------------------------

    def add_sp(self, sp_metadata_xml, encrypt_assertion=False, nameid_format=None,
               nameid_attribute=None, attributes=None, attribute_name_format="basic",
               sign_response=True, sign_assertion=True, validate_requests=True,
               sign_redirect=True, sign_logout=True, extra=None):
        """Adds (or replaces) an SP, from its metadata XML. Returns its entityID.

        encrypt_assertion: send EncryptedAssertion (the SP's encryption cert must be in its metadata).
        nameid_format: NameID format URI; default the SP metadata's first NameIDFormat, else
            persistent. Persistent values are SimpleSAMLphp's salted hash of uid per SP pair.
        nameid_attribute: take the NameID value from this attribute (e.g. "mail" with emailAddress,
            "uid" with unspecified) instead of the persistent hash.
        attributes: list of attribute names to release (None: all the user has).
        attribute_name_format: "basic" (names as they are) or "uri" (OIDs via name2oid).
        sign_response / sign_assertion: sign the Response / the Assertion (both by default).
        validate_requests: require signed AuthnRequest/LogoutRequest from the SP ('redirect.validate').
        sign_redirect / sign_logout: sign what the IdP sends over HTTP-Redirect / logout messages.
        extra: more keys for the SimpleSAMLphp SP entry, as is (they win).
        """
        md = SpMetadata(sp_metadata_xml)
        if encrypt_assertion and not md.encryption_certs:
            raise IdpError("encrypt_assertion needs an encryption certificate in the SP metadata")
        if validate_requests and not md.signing_certs:
            raise IdpError("validate_requests needs a signing certificate in the SP metadata")
        if attribute_name_format not in ("basic", "uri"):
            raise ValueError("attribute_name_format must be 'basic' or 'uri'")
        self._sps[md.entity_id] = (md, dict(
            encrypt_assertion=encrypt_assertion, nameid_format=nameid_format,
            nameid_attribute=nameid_attribute, attributes=attributes,
            attribute_name_format=attribute_name_format, sign_response=sign_response,
            sign_assertion=sign_assertion, validate_requests=validate_requests,
            sign_redirect=sign_redirect, sign_logout=sign_logout, extra=extra or {}))
        if os.path.isdir(self.metadata_dir):
            self._write_sp_remote()
        return md.entity_id

    def remove_sp(self, entity_id):
        del self._sps[entity_id]
        if os.path.isdir(self.metadata_dir):
            self._write_sp_remote()

    def idp_initiated_url(self, sp_entity_id, relay_state=None):
        """The URL that starts an IdP-initiated (unsolicited) login at `sp_entity_id`."""
        q = {"spentityid": sp_entity_id}
        if relay_state is not None:
            q["RelayState"] = relay_state
        return self.sso_url + "?" + urllib.parse.urlencode(q)

    # -- files ----------------------------------------------------------------------------------

    def _prepare(self):
        for d in (self.work_dir, self.config_dir, self.metadata_dir, self.cert_dir, self.var_dir,
                  self.log_dir, self.httpd_dir):
            os.makedirs(d, exist_ok=True)
        for sub in ("tmp", "data", "sessions"):
            os.makedirs(os.path.join(self.var_dir, sub), exist_ok=True)
        if not os.path.exists(self.signing_cert_path):
            pki.make_key_and_cert(self.cert_dir, "idp", "SimpleSAMLphp test IdP %s:%d" % (self.host, self.port))
        if self.tls and not os.path.exists(self.tls_cert_path):
            pki.make_ca_and_tls_cert(self.tls_dir, self.host)
        self._write_config()
        self._write_authsources()
        self._write_idp_hosted()
        self._write_sp_remote()
        self._write_httpd_conf()
        self._fix_permissions()

    def _write_config(self):
        cfg = {
            "baseurlpath": self.base_url,
            "certdir": self.cert_dir + "/",
            "loggingdir": self.log_dir + "/",
            "datadir": os.path.join(self.var_dir, "data") + "/",
            "tempdir": os.path.join(self.var_dir, "tmp"),
            "metadatadir": self.metadata_dir + "/",
            "attributenamemapdir": SSP_ATTRIBUTEMAP + "/",
            "secretsalt": self.secret_salt,
            "auth.adminpassword": self.admin_password,
            "admin.protectindexpage": False,
            "admin.protectmetadata": False,
            "admin.checkforupdates": False,
            "technicalcontact_name": "Integration tests",
            "technicalcontact_email": "na@example.org",
            "timezone": "UTC",
            "trusted.url.domains": [r"127\.0\.0\.1(:[0-9]+)?", r"localhost(:[0-9]+)?",
                                    re.escape(self.public_host) + r"(:[0-9]+)?"],
            "trusted.url.regex": True,
            "enable.saml20-idp": True,
            "enable.shib13-idp": False,
            "enable.adfs-idp": False,
            "enable.http_post": False,
            "module.enable": {"exampleauth": True, "core": True, "saml": True, "admin": True},
            "debug": {"saml": True, "backtraces": True, "validatexml": False},
            "showerrors": True,
            "errorreporting": False,
            "production": False,
            "logging.level": PhpCode("SimpleSAML\\Logger::" + self.log_level),
            "logging.handler": "file",
            "logging.logfile": os.path.basename(self.ssp_log_path),
            # No %date: SimpleSAMLphp 1.19 formats it with strftime(), deprecated in PHP 8.1, and
            # its error handler logs every deprecation as an ERROR with a backtrace.
            "logging.format": "%process %level %stat[%trackid] %msg",
            "statistics.out": [],
            # Artifacts wait in a store until resolved; PHP sessions cannot hold them.
            **({"store.type": "sql", "store.sql.dsn": "sqlite:" + self.store_path}
               if self.artifact else {"store.type": "phpsession"}),
            "session.phpsession.savepath": os.path.join(self.var_dir, "sessions"),
            "session.phpsession.cookiename": "SimpleSAML",
            "session.phpsession.httponly": True,
            "session.cookie.name": "SimpleSAMLSessionID",
            "session.cookie.path": "/simplesaml/",
            "session.cookie.secure": False,  # the IdP speaks plain HTTP on loopback
            "session.cookie.samesite": None,
            "session.authtoken.cookiename": "SimpleSAMLAuthToken",
            "session.duration": 8 * 3600,
            "language.cookie.secure": False,
            "language.cookie.samesite": None,
            "language.default": "en",
            "theme.use": "default",
            "authproc.idp": {},
            "authproc.sp": {},
            "metadata.sources": [{"type": "flatfile", "directory": self.metadata_dir + "/"}],
            "metadata.sign.enable": False,
        }
        _write(os.path.join(self.config_dir, "config.php"),
               "<?php\n// Written by test/integration/harness/idp.py for one test run.\n$config = %s;\n"
               % php(cfg))

    def _write_authsources(self):
        users = {}
        for name, u in self.users.items():
            users["%s:%s" % (name, u["password"])] = u["attributes"]
        sources = {
            "admin": ["core:AdminPassword"],
            "example-userpass": {0: "exampleauth:UserPass", **users},
        }
        _write(os.path.join(self.config_dir, "authsources.php"),
               "<?php\n$config = %s;\n" % php(sources))

    def _write_idp_hosted(self):
        idp = {
            "host": "__DEFAULT__",
            "privatekey": self.signing_key_path,
            "certificate": self.signing_cert_path,
            "auth": "example-userpass",
            "userid.attribute": "uid",
            "signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "NameIDFormat": NAMEID_PERSISTENT,
            "sign.logout": True,
            "redirect.sign": True,
            "attributes.NameFormat": ATTRNAME_BASIC,
            "SingleSignOnServiceBinding": [BINDING_REDIRECT, BINDING_POST],
            "SingleLogoutServiceBinding": [BINDING_REDIRECT, BINDING_POST],
            "saml20.sendartifact": self.artifact,
        }
        idp.update(self.hosted_extra)
        _write(os.path.join(self.metadata_dir, "saml20-idp-hosted.php"),
               "<?php\n$metadata[%s] = %s;\n" % (php(self.entity_id), php(idp)))

    def _sp_entry(self, md, o):
        fmt = o["nameid_format"] or (md.nameid_formats[0] if md.nameid_formats else NAMEID_PERSISTENT)
        e = {
            "entityid": md.entity_id,
            "AssertionConsumerService": md.acs,
            "SingleLogoutService": md.slo,
            "NameIDFormat": fmt,
            "keys": md.keys(),
            "saml20.sign.response": o["sign_response"],
            "saml20.sign.assertion": o["sign_assertion"],
            "redirect.sign": o["sign_redirect"],
            "redirect.validate": o["validate_requests"],
            "sign.logout": o["sign_logout"],
            "assertion.encryption": o["encrypt_assertion"],
            "signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        }
        authproc = {}
        if o["nameid_attribute"]:
            # A filter, run before attributes are limited or renamed, sets this format's NameID.
            authproc[30] = {"class": "saml:AttributeNameID", "attribute": o["nameid_attribute"],
                            "Format": fmt}
        if o["attributes"] is not None:
            e["attributes"] = list(o["attributes"])
            # PHP: ['class' => 'core:AttributeLimit', 'uid', 'mail', ...]; int keys = list items.
            limit = {"class": "core:AttributeLimit"}
            limit.update(enumerate(o["attributes"]))
            authproc[40] = limit
        if o["attribute_name_format"] == "uri":
            e["attributes.NameFormat"] = ATTRNAME_URI
            authproc[50] = {"class": "core:AttributeMap", 0: "name2oid"}
        else:
            e["attributes.NameFormat"] = ATTRNAME_BASIC
        e["authproc"] = authproc
        e.update(o["extra"])
        return e

    def _write_sp_remote(self):
        parts = ["<?php\n// SP entries generated from SP metadata by harness/idp.py.\n"]
        for entity_id, (md, o) in self._sps.items():
            parts.append("$metadata[%s] = %s;\n" % (php(entity_id), php(self._sp_entry(md, o))))
        path = os.path.join(self.metadata_dir, "saml20-sp-remote.php")
        _write(path, "".join(parts))
        # PHP's opcache keeps a compiled copy while the file's mtime (in seconds) is unchanged:
        # an SP added in the same second as the one before would stay unknown. A later mtime on
        # every write, and opcache.revalidate_freq 0 below, make each request see the last write.
        self._sp_remote_mtime = max(int(time.time()), getattr(self, "_sp_remote_mtime", 0) + 1)
        os.utime(path, (self._sp_remote_mtime, self._sp_remote_mtime))

    def _write_httpd_conf(self):
        php_so = sorted(glob.glob(os.path.join(APACHE_MODULES, "libphp*.so")))
        if not php_so:
            raise IdpError("mod_php not found in %s (install libapache2-mod-php)" % APACHE_MODULES)
        modules = [
            ("mpm_prefork_module", "mod_mpm_prefork.so"),
            ("authz_core_module", "mod_authz_core.so"),
            ("mime_module", "mod_mime.so"),
            ("dir_module", "mod_dir.so"),
            ("alias_module", "mod_alias.so"),
            ("env_module", "mod_env.so"),
        ]
        if self.tls:
            modules += [("ssl_module", "mod_ssl.so"), ("socache_shmcb_module", "mod_socache_shmcb.so")]
        lines = []
        # mod_unixd and mod_log_config are compiled into Debian's httpd.
        for name, so in modules:
            lines.append("LoadModule %s %s" % (name, os.path.join(APACHE_MODULES, so)))
        lines.append("LoadModule php_module %s" % php_so[-1])
        user = ""
        if os.geteuid() == 0:
            user = "User www-data\nGroup www-data\n"
        conf = """# Written by test/integration/harness/idp.py: a private httpd for the SimpleSAMLphp IdP.
ServerRoot "{httpd}"
ServerName {host}
Listen {host}:{port}
PidFile "{pid}"
DefaultRuntimeDir "{httpd}/run"
Mutex file:{httpd}/run default
ErrorLog "{error_log}"
LogLevel warn
{loads}
{user}
StartServers 2
MinSpareServers 1
MaxSpareServers 3
MaxRequestWorkers 8
MaxConnectionsPerChild 0
Timeout 30
KeepAlive On
TypesConfig /etc/mime.types
LogFormat "%h %t \\"%r\\" %>s %b %D" timed
CustomLog "{access_log}" timed
{tls}
DocumentRoot "{httpd}/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{httpd}/htdocs">
    Require all granted
</Directory>
Alias /simplesaml {www}
<Directory {www}>
    AllowOverride None
    Require all granted
    DirectoryIndex index.php
    SetEnv SIMPLESAMLPHP_CONFIG_DIR {config}
</Directory>
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>
php_admin_flag display_errors off
php_admin_flag log_errors on
php_admin_value error_reporting 32767
php_admin_value session.save_path "{sessions}"
php_admin_value upload_tmp_dir "{tmp}"
php_admin_value sys_temp_dir "{tmp}"
php_admin_value opcache.revalidate_freq 0
""".format(httpd=self.httpd_dir, host=self.host, port=self.port, pid=self.pid_path,
           error_log=self.error_log_path, access_log=self.access_log_path, loads="\n".join(lines),
           user=user, www=SSP_WWW, config=self.config_dir,
           sessions=os.path.join(self.var_dir, "sessions"), tmp=os.path.join(self.var_dir, "tmp"),
           tls=self._tls_conf())
        os.makedirs(os.path.join(self.httpd_dir, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.httpd_dir, "htdocs"), exist_ok=True)
        _write(self.httpd_conf_path, conf)

    def _tls_conf(self):
        if not self.tls:
            return ""
        return ('SSLEngine on\nSSLCertificateFile "%s"\nSSLCertificateKeyFile "%s"\n'
                'SSLSessionCache "shmcb:%s/run/ssl_scache(512000)"\n'
                % (self.tls_cert_path, self.tls_key_path, self.httpd_dir))

    def _fix_permissions(self):
        """When root, httpd's workers run as www-data: they must reach and read the config and key,
        and write var/ and the SimpleSAMLphp log."""
        if os.geteuid() != 0:
            return
        uid = pwd.getpwnam("www-data").pw_uid
        gid = grp.getgrnam("www-data").gr_gid
        procs.make_ancestors_traversable(self.work_dir)
        os.chmod(self.work_dir, 0o755)
        for d in (self.config_dir, self.metadata_dir, self.cert_dir, self.httpd_dir):
            os.chmod(d, 0o755)
        if self.tls:
            os.chmod(self.tls_dir, 0o755)
            os.chmod(self.tls_ca_path, 0o644)  # a module SP running as www-data reads it
        os.chown(self.cert_dir, 0, gid)
        os.chmod(self.cert_dir, 0o750)
        os.chown(self.signing_key_path, 0, gid)
        os.chmod(self.signing_key_path, 0o640)
        for root, dirs, files in os.walk(self.var_dir):
            os.chown(root, uid, gid)
            for f in files:
                os.chown(os.path.join(root, f), uid, gid)
        os.chown(self.log_dir, uid, gid)
        if os.path.exists(self.ssp_log_path):
            os.chown(self.ssp_log_path, uid, gid)

    # -- running --------------------------------------------------------------------------------

    def start(self, timeout=30.0):
        """Writes the config, starts httpd and waits until the IdP serves its metadata."""
        if self._process is not None and self._process.running():
            return self
        self._prepare()
        procs.run([APACHE, "-t", "-f", self.httpd_conf_path], timeout=30)
        self.mark_logs()
        self._process = procs.Process([APACHE, "-f", self.httpd_conf_path, "-DFOREGROUND"],
                                      os.path.join(self.log_dir, "httpd"), cwd=self.httpd_dir).start()
        if not getattr(self, "_atexit", False):
            atexit.register(self.stop)  # a test that forgets stop() leaves no httpd behind
            self._atexit = True

        def ready():
            try:
                return "EntityDescriptor" in self.metadata_xml(timeout=5)
            except (OSError, urllib.error.URLError):
                return False
        try:
            procs.wait_until(ready, timeout, "SimpleSAMLphp IdP on port %d" % self.port, self._process)
        except procs.ProcessError as e:
            tail = self._tail(self.error_log_path)
            self.stop()
            raise IdpError("%s\nerror.log:\n%s" % (e, tail)) from None
        return self

    def stop(self, timeout=10.0):
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None

    def running(self):
        return self._process is not None and self._process.running()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what it serves ---------------------------------------------------------------------------

    def https_context(self):
        """An SSL context that trusts this IdP's TLS CA (None when the IdP speaks plain HTTP)."""
        return ssl.create_default_context(cafile=self.tls_ca_path) if self.tls else None

    def metadata_xml(self, timeout=10):
        """The IdP's SAML 2.0 metadata XML (text), fetched over HTTP(S) from metadata.php."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=self.https_context()))
        with opener.open(self.metadata_url, timeout=timeout) as r:
            return r.read().decode("utf-8")

    def signing_cert_pem(self):
        with open(self.signing_cert_path) as f:
            return f.read()

    def signing_cert_body(self):
        """The IdP signing certificate's base64 DER, as it appears in ds:X509Certificate."""
        return pki.pem_body(self.signing_cert_path)

    # -- logs -------------------------------------------------------------------------------------

    PHP_PROBLEM = re.compile(r"PHP (Fatal error|Parse error|Recoverable fatal error|Warning)|"
                             r"\[php:(error|crit|alert|emerg)\]|Uncaught ")
    HTTPD_PROBLEM = re.compile(r"\] \[[a-z_0-9]+:(warn|error|crit|alert|emerg)\] ")
    # mod_ssl's start-up remark that Debian 12's apache2-bin was built against a newer OpenSSL
    # point release than the image's libssl3: not about the IdP.
    HTTPD_ALLOWED = re.compile(r"\[ssl:warn\].*AH01882")
    SSP_PROBLEM = re.compile(r"^\S+ (WARNING|ERROR|CRITICAL|ALERT|EMERGENCY) ")

    def php_problems(self):
        """Lines of the httpd error log (since start) that report PHP fatal errors or warnings."""
        return [l for l in self._since_start(self.error_log_path).splitlines()
                if self.PHP_PROBLEM.search(l)]

    def assert_no_php_errors(self):
        """Raises AssertionError listing the PHP fatal errors/warnings logged since start()."""
        problems = self.php_problems()
        if problems:
            raise AssertionError("PHP errors in %s:\n%s" % (self.error_log_path, "\n".join(problems)))

    def ssp_problems(self):
        """SimpleSAMLphp's own WARNING..EMERGENCY log lines since start() (e.g. a rejected
        AuthnRequest signature, an unknown SP)."""
        return [l for l in self._since_start(self.ssp_log_path).splitlines() if self.SSP_PROBLEM.search(l)]

    def log_problems(self, allow=()):
        """httpd [warn]-or-worse lines, PHP errors and SimpleSAMLphp warnings/errors since start(),
        minus lines matching any regex in `allow`."""
        lines = [l for l in self._since_start(self.error_log_path).splitlines()
                 if (self.HTTPD_PROBLEM.search(l) and not self.HTTPD_ALLOWED.search(l)) or self.PHP_PROBLEM.search(l)]
        lines += self.ssp_problems()
        return [l for l in lines if not any(re.search(a, l) for a in allow)]

    def assert_clean_logs(self, allow=()):
        """Raises AssertionError when log_problems(allow) is not empty. Tests that provoke an IdP
        error on purpose pass the expected lines in `allow`."""
        problems = self.log_problems(allow)
        if problems:
            raise AssertionError("IdP logged problems (%s):\n%s" % (self.log_dir, "\n".join(problems)))

    def mark_logs(self):
        """Makes the *_problems() methods look only at what is logged from now on."""
        self._offsets = {p: _size(p) for p in (self.error_log_path, self.ssp_log_path)}

    def _since_start(self, path):
        try:
            with open(path, "rb") as f:
                f.seek(self._offsets.get(path, 0))
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @staticmethod
    def _tail(path, n=40):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return "(no %s)" % path


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
