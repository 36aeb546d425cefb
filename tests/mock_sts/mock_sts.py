#!/usr/bin/python3
"""A mock AWS STS for awsrole-run's tests, written independently of the C code.

Standard library only. It speaks the STS query protocol (POST form body or GET query,
Version 2011-06-15), answers XML in STS's documented shape, verifies every SigV4 signature
itself, checks MFA codes as RFC 6238 TOTP (each code once per device), enforces role trust
policies (allowed principals, MFA required, ExternalId, MaxSessionDuration, the role
chaining cap), records every call, and injects faults on demand.

On the same port it can also serve an IMDSv2 endpoint and a container credentials endpoint,
act as an HTTPS CONNECT proxy that terminates TLS for *.amazonaws.com with a throwaway CA
(so clients that cannot be pointed at a custom endpoint still reach the mock), and exposes
a small JSON control API under /_mock/ so that tests in other processes can drive it.

Library use:
    m = MockSTS(scenario="seed").start(); ...; m.stop()
Program use:
    /usr/bin/python3 mock_sts.py --port 0 --scenario seed [--https --cert-dir D] --ready-file F
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape as _xml_escape

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
API_VERSION = "2011-06-15"

# ---------------------------------------------------------------------------------------
# The seed scenario (the AWS CLI user guide page "Using Multi-Factor Authentication").
# ---------------------------------------------------------------------------------------
SEED_ACCOUNT = "123456789012"          # anika's account
SEED_ROLE_ACCOUNT = "128716708097"     # the account holding cli-role and the MFA device
SEED_USER_NAME = "anika"
SEED_USER_ARN = "arn:aws:iam::123456789012:user/anika"
SEED_USER_ID = "AIDAANIKAEXAMPLE00001"
SEED_USER_KEY = "AKIAANIKAEXAMPLE0001"
SEED_USER_SECRET = "anika+Secret/Key0EXAMPLE0wJalrXUtnFEMI0K"
SEED_MFA_SERIAL = "arn:aws:iam::128716708097:mfa/cli-user"
SEED_MFA_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SEED_ROLE_ARN = "arn:aws:iam::128716708097:role/cli-role"
SEED_ROLE_NAME = "cli-role"
SEED_ROLE_MAX_DURATION = 43200
SEED_REGION = "us-west-2"

# Extra identities of the seed scenario, for tests beyond the seed document.
SEED_OTHER_USER_NAME = "bob"                   # a user cli-role does not trust, no MFA
SEED_OTHER_USER_ARN = "arn:aws:iam::123456789012:user/bob"
SEED_OTHER_USER_KEY = "AKIABOBEXAMPLE000002"
SEED_OTHER_USER_SECRET = "bobSecretKeyEXAMPLE/000000000000000+0000"
SEED_CHAIN_ROLE_ARN = "arn:aws:iam::128716708097:role/chain-role"   # trusts cli-role, no MFA
SEED_OPEN_ROLE_ARN = "arn:aws:iam::128716708097:role/open-role"     # trusts anika, no MFA, max 3600
SEED_EXTERNAL_ID_ROLE_ARN = "arn:aws:iam::128716708097:role/external-role"  # trusts anika + ExternalId
SEED_EXTERNAL_ID = "awsrole-ext-0001"
SEED_WEB_ROLE_ARN = "arn:aws:iam::128716708097:role/web-role"       # AssumeRoleWithWebIdentity
SEED_WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2E6d2ViIn0.c2lnbmF0dXJl"
SEED_IMDS_ROLE_NAME = "imds-role"                # served by the IMDS endpoint when enabled
SEED_IMDS_ROLE_ARN = "arn:aws:iam::123456789012:role/imds-role"
SEED_CONTAINER_ROLE_ARN = "arn:aws:iam::123456789012:role/container-role"
SEED_CONTAINER_PATH = "/v2/credentials/awsrole-test"
SEED_CONTAINER_TOKEN = "awsrole-container-auth-token"

MSG_INVALID_TOKEN = "The security token included in the request is invalid."
MSG_EXPIRED_TOKEN = "The security token included in the request is expired"
MSG_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult "
                     "the service documentation for details.")
MSG_MFA_INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
MSG_MFA_UNKNOWN_SERIAL = ("MultiFactorAuthentication failed, unable to validate MFA code.  Please "
                          "verify your MFA serial number is valid and associated with this user.")
MSG_GST_UNKNOWN_SERIAL = ("GetSessionToken call failed, unable to validate MFA code.  Please "
                          "verify your MFA serial number is valid and associated with this user.")
MSG_ACCESS_DENIED_MFA = "Access denied"
MSG_GST_WITH_SESSION = "Cannot call GetSessionToken with session credentials"
MSG_MAX_DURATION = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
MSG_CHAINING = ("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining.")
MSG_THROTTLING = "Rate exceeded"

FAULT_KINDS = ("delay", "status", "throttling", "malformed", "truncated", "empty", "huge",
               "silent", "expired_token", "clock_skew", "close")
CONFIG_DEFAULTS = {
    "skew_tolerance": 300,        # seconds X-Amz-Date may differ from the mock's clock
    "totp_window": 1,             # accepted TOTP steps either side of the current one
    "credential_lifetime": None,  # if set, issued credentials live at most this many seconds
    "check_region": None,         # if set, the credential scope region must equal it
    "imds": None,                 # None/False, True, or {"role": name, "region": r}
    "container": None,            # None/False, True, or {"path": p, "token": t or None}
    "log": False,                 # print one line per request on stderr
    "role_token_chars": None,     # if set, role session tokens have this many characters
}


# ---------------------------------------------------------------------------------------
# TOTP (RFC 6238 over RFC 4226 HOTP), SHA1, 30 s step.
# ---------------------------------------------------------------------------------------
def _b32decode(seed_b32):
    s = seed_b32.strip().replace(" ", "").upper()
    s += "=" * (-len(s) % 8)
    return base64.b32decode(s)


def hotp(key, counter, digits=6):
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return str(value % (10 ** digits)).zfill(digits)


def totp(seed_b32, t, digits=6, step=30):
    """The TOTP code of the base32 seed at Unix time t."""
    return hotp(_b32decode(seed_b32), int(t) // step, digits)


def totp_at_step(seed_b32, counter, digits=6):
    return hotp(_b32decode(seed_b32), counter, digits)


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------
def iso8601(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def amz_to_epoch(amzdate):
    d = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def epoch_to_amz(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")


def http_date(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")


def _stable_id(prefix, text, n=17):
    digest = base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()
    return prefix + digest[:n]


def _rand_upper(n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _x(s):
    return _xml_escape(str(s))


def _uri_encode(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


# ---------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------
class User:
    def __init__(self, name, access_key_id, secret, account=SEED_ACCOUNT, arn=None,
                 mfa_devices=None, user_id=None):
        self.name = name
        self.account = account
        self.arn = arn or "arn:aws:iam::%s:user/%s" % (account, name)
        self.user_id = user_id or _stable_id("AIDA", self.arn)
        self.access_keys = {access_key_id: secret}
        self.mfa_devices = dict(mfa_devices or {})   # serial -> base32 seed


class Role:
    def __init__(self, arn, trusted=(), require_mfa=False, max_session_duration=3600,
                 external_id=None, web_identity_tokens=()):
        self.arn = arn
        self.account = arn.split(":")[4]
        self.name = arn.rsplit("/", 1)[-1]
        self.role_id = _stable_id("AROA", arn)
        self.trusted = list(trusted)          # principal arns, "*", or arn:aws:iam::ACCT:root
        self.require_mfa = require_mfa
        self.max_session_duration = max_session_duration
        self.external_id = external_id
        self.web_identity_tokens = list(web_identity_tokens)


class TempCredentials:
    """Credentials the mock issued: a GetSessionToken session or a role session."""

    def __init__(self, kind, principal_arn, trust_arn, user_id, account, mfa, expiration,
                 source_op, user=None, role=None, session_name=None):
        self.access_key_id = "ASIA" + _rand_upper(16)
        self.secret = base64.b64encode(os.urandom(30)).decode()
        # Real session tokens are ~400-1200 characters of base64 (with + / =).
        self.token = "IQoJb3JpZ2luX2VjE" + base64.b64encode(os.urandom(330)).decode()
        self.kind = kind                      # "session" (GetSessionToken) or "role"
        self.principal_arn = principal_arn    # arn GetCallerIdentity reports
        self.trust_arn = trust_arn            # arn matched against trust policies
        self.user_id = user_id
        self.account = account
        self.mfa = mfa                        # aws:MultiFactorAuthPresent
        self.expiration = expiration          # epoch seconds
        self.source_op = source_op
        self.user = user
        self.role = role
        self.session_name = session_name
        self.issued_at = time.time()

    @property
    def is_role_session(self):
        return self.kind == "role"

    def as_dict(self):
        return {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret,
                "SessionToken": self.token, "Expiration": iso8601(self.expiration),
                "kind": self.kind, "principal": self.principal_arn, "mfa": self.mfa,
                "source_op": self.source_op}


class STSError(Exception):
    def __init__(self, status, code, message, type_="Sender"):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = type_


def _validation_error(problems):
    n = len(problems)
    head = "%d validation error%s detected: " % (n, "" if n == 1 else "s")
    return STSError(400, "ValidationError", head + "; ".join(problems))


def _constraint(value, field, text):
    shown = "null" if value is None else "'%s'" % value
    return "Value %s at '%s' failed to satisfy constraint: Member %s" % (shown, field, text)


def _check_string(problems, value, field, lo, hi, pattern=None, pattern_text=None,
                  required=False):
    if value is None:
        if required:
            problems.append(_constraint(None, field, "must not be null"))
        return
    if len(value) < lo:
        problems.append(_constraint(value, field, "must have length greater than or equal to %d" % lo))
    elif len(value) > hi:
        problems.append(_constraint(value, field, "must have length less than or equal to %d" % hi))
    if pattern and not re.fullmatch(pattern, value):
        problems.append(_constraint(value, field,
                                    "must satisfy regular expression pattern: " + pattern_text))


def _check_duration(problems, value, lo, hi):
    """Returns the integer DurationSeconds or None when absent."""
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        problems.append(_constraint(value, "durationSeconds", "must be an integer"))
        return None
    if n < lo:
        problems.append(_constraint(value, "durationSeconds",
                                    "must have value greater than or equal to %d" % lo))
    elif n > hi:
        problems.append(_constraint(value, "durationSeconds",
                                    "must have value less than or equal to %d" % hi))
    return n


# ---------------------------------------------------------------------------------------
# Throwaway certificates (openssl command, cached per directory)
# ---------------------------------------------------------------------------------------
TUNNEL_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1",
                  "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
                  "ap-south-1", "ca-central-1", "sa-east-1", "eu-north-1", "eu-west-2",
                  "eu-west-3")


class CertBundle:
    """A throwaway CA, a server certificate signed by it (127.0.0.1, localhost and the STS
    host names, for the CONNECT tunnel), and an unrelated 'wrong' CA."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_file = os.path.join(directory, "ca.pem")
        self.ca_key = os.path.join(directory, "ca.key")
        self.cert_file = os.path.join(directory, "server.pem")
        self.key_file = os.path.join(directory, "server.key")
        self.wrong_ca_file = os.path.join(directory, "wrong-ca.pem")
        self.wrong_ca_key = os.path.join(directory, "wrong-ca.key")

    def ready(self):
        return all(os.path.exists(p) for p in (self.ca_file, self.cert_file, self.key_file,
                                               self.wrong_ca_file))


_cert_lock = threading.Lock()


def _openssl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def ensure_certs(directory=None):
    """Creates (once) the CA, server certificate and wrong CA in directory; returns a
    CertBundle. With no directory a fresh temporary one is used."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix="mock-sts-certs-")
    os.makedirs(directory, exist_ok=True)
    b = CertBundle(directory)
    with _cert_lock:
        if b.ready():
            return b
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for key, pem, cn in ((b.ca_key, b.ca_file, "awsrole-run test CA"),
                             (b.wrong_ca_key, b.wrong_ca_file, "awsrole-run wrong CA")):
            _openssl(["req", "-x509"] + ec + ["-keyout", key, "-out", pem, "-days", "3650",
                      "-subj", "/CN=" + cn,
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
        names = ["IP:127.0.0.1", "IP:::1", "DNS:localhost", "DNS:sts.amazonaws.com"]
        names += ["DNS:*.%s.amazonaws.com" % r for r in TUNNEL_REGIONS]
        names += ["DNS:*.%s.api.aws" % r for r in TUNNEL_REGIONS]  # dual-stack endpoints
        ext = os.path.join(directory, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid,issuer\n"
                    "subjectAltName=" + ",".join(names) + "\n")
        csr = os.path.join(directory, "server.csr")
        _openssl(["req", "-new"] + ec + ["-keyout", b.key_file, "-out", csr,
                  "-subj", "/CN=localhost"], directory)
        tmp = b.cert_file + ".tmp"
        _openssl(["x509", "-req", "-in", csr, "-CA", b.ca_file, "-CAkey", b.ca_key,
                  "-CAcreateserial", "-out", tmp, "-days", "825", "-sha256",
                  "-extfile", ext], directory)
        os.rename(tmp, b.cert_file)
        return b


# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------
class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # TLS handshake failures and clients hanging up are expected in tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockSTS/1.0"
    sys_version = ""
    timeout = 120    # idle keep-alive connections

    # -- connection plumbing ------------------------------------------------------------
    def setup(self):
        mock = self.server.mock
        mock._track(self.request, True)
        self.tunnel_host = None
        if mock.https:
            raw = self.request
            try:
                raw.settimeout(10)
                self.request = mock._ssl_context.wrap_socket(raw, server_side=True)
            finally:
                mock._track(raw, False)
            mock._track(self.request, True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.mock._track(self.request, False)

    def log_message(self, fmt, *args):
        if self.server.mock.config.get("log"):
            sys.stderr.write("mock-sts: %s\n" % (fmt % args))

    def _send(self, status, body=b"", content_type="text/xml", headers=None, date=None,
              close=False):
        if isinstance(body, str):
            body = body.encode()
        self.send_response_only(status)
        self.send_header("Server", self.server_version)
        self.send_header("Date", http_date(date if date is not None else time.time()))
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- dispatch -------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_CONNECT(self):
        mock = self.server.mock
        if mock._tunnel_context is None or mock.https:
            self._send(405, "CONNECT not supported without certificates", "text/plain",
                       close=True)
            return
        host = self.path.rsplit(":", 1)[0]
        self.send_response_only(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = mock._tunnel_context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        mock._track(self.connection, False)
        mock._track(tls, True)
        self.request = self.connection = tls
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(tls)
        self.tunnel_host = host
        self.close_connection = False

    def _dispatch(self):
        mock = self.server.mock
        raw_path, _, raw_query = self.path.partition("?")
        try:
            if raw_path.startswith("/_mock/"):
                return self._control(raw_path, raw_query)
            if raw_path.startswith("/latest/"):
                return self._imds(raw_path)
            cont = mock._container_config()
            if cont and raw_path == cont["path"]:
                return self._container(cont)
            return self._sts(raw_path, raw_query)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    # -- control API ----------------------------------------------------------------------
    def _control(self, raw_path, raw_query):
        mock = self.server.mock
        body = self._read_body()
        try:
            data = json.loads(body.decode() or "null") if body else None
        except ValueError:
            return self._send(400, json.dumps({"error": "bad JSON"}), "application/json")
        name = raw_path[len("/_mock/"):].strip("/")
        try:
            if name == "faults" and self.command == "POST":
                items = data
                if isinstance(data, dict) and "faults" in data:
                    items = data["faults"]
                if isinstance(data, dict) and data.get("clear"):
                    mock.clear_faults()
                    items = data.get("faults", [])
                if isinstance(items, dict):
                    items = [items]
                for f in items or []:
                    f = dict(f)
                    mock.add_fault(f.pop("op", "*"), f.pop("kind"), f.pop("count", 1), **f)
                out = {"ok": True, "faults": mock.pending_faults()}
            elif name == "faults" and self.command == "GET":
                out = {"faults": mock.pending_faults()}
            elif name == "config" and self.command == "POST":
                mock.configure(**(data or {}))
                out = {"ok": True, "config": mock.config_snapshot()}
            elif name == "config" and self.command == "GET":
                out = {"config": mock.config_snapshot()}
            elif name == "calls" and self.command == "GET":
                out = {"calls": mock.calls, "counts": mock.counts}
            elif name == "reset" and self.command == "POST":
                mock.reset(full=bool((data or {}).get("full")))
                out = {"ok": True}
            elif name == "expire" and self.command == "POST":
                out = {"ok": True, "expired": mock.expire_issued()}
            elif name == "totp" and self.command == "GET":
                q = dict(urllib.parse.parse_qsl(raw_query))
                code = mock.totp_code(q.get("serial", SEED_MFA_SERIAL),
                                      int(q.get("offset_steps", 0)))
                out = {"code": code}
            elif name == "issued" and self.command == "GET":
                out = {"issued": mock.issued}
            else:
                return self._send(404, json.dumps({"error": "no such control"}),
                                  "application/json")
        except (KeyError, TypeError, ValueError) as e:
            return self._send(400, json.dumps({"error": str(e)}), "application/json")
        self._send(200, json.dumps(out), "application/json")

    # -- IMDSv2 ---------------------------------------------------------------------------
    def _imds(self, raw_path):
        mock = self.server.mock
        cfg = mock._imds_config()
        self._read_body()
        if not cfg:
            return self._send(404, "Not Found", "text/plain")
        fault = mock._take_fault("IMDS")
        if fault and self._apply_transport_fault(fault, "IMDS"):
            return
        if raw_path == "/latest/api/token":
            if self.command != "PUT":
                return self._send(405, "", "text/plain")
            ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
            if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                mock._record({"op": "IMDS:token", "status": 400})
                return self._send(400, "", "text/plain")
            token = mock._new_imds_token(int(ttl))
            mock._record({"op": "IMDS:token", "status": 200})
            return self._send(200, token, "text/plain",
                              {"x-aws-ec2-metadata-token-ttl-seconds": ttl})
        if self.command != "GET":
            return self._send(405, "", "text/plain")
        if not mock._imds_token_valid(self.headers.get("x-aws-ec2-metadata-token")):
            mock._record({"op": "IMDS:get", "path": raw_path, "status": 401})
            return self._send(401, "", "text/plain")
        base = "/latest/meta-data/iam/security-credentials/"
        role = cfg["role"]
        if raw_path == base:
            mock._record({"op": "IMDS:role", "path": raw_path, "status": 200})
            return self._send(200, role, "text/plain")
        if raw_path == base + role:
            creds = mock._workload_credentials("imds")
            mock._record({"op": "IMDS:credentials", "path": raw_path, "status": 200,
                          "access_key_id": creds.access_key_id})
            doc = {"Code": "Success", "LastUpdated": iso8601(creds.issued_at),
                   "Type": "AWS-HMAC", "AccessKeyId": creds.access_key_id,
                   "SecretAccessKey": creds.secret, "Token": creds.token,
                   "Expiration": iso8601(creds.expiration)}
            return self._send(200, json.dumps(doc, indent=2), "text/plain")
        if raw_path == "/latest/meta-data/placement/region":
            return self._send(200, cfg["region"], "text/plain")
        if raw_path == "/latest/meta-data/placement/availability-zone":
            return self._send(200, cfg["region"] + "a", "text/plain")
        mock._record({"op": "IMDS:get", "path": raw_path, "status": 404})
        return self._send(404, "Not Found", "text/plain")

    # -- container credentials ------------------------------------------------------------
    def _container(self, cfg):
        mock = self.server.mock
        self._read_body()
        fault = mock._take_fault("Container")
        if fault and self._apply_transport_fault(fault, "Container"):
            return
        if self.command != "GET":
            return self._send(405, "", "text/plain")
        if cfg.get("token") is not None and self.headers.get("Authorization") != cfg["token"]:
            mock._record({"op": "Container", "status": 403})
            return self._send(403, json.dumps({"code": "AccessDenied",
                                               "message": "Unauthorized"}),
                              "application/json")
        creds = mock._workload_credentials("container")
        mock._record({"op": "Container", "status": 200, "access_key_id": creds.access_key_id})
        doc = {"RoleArn": creds.role.arn, "AccessKeyId": creds.access_key_id,
               "SecretAccessKey": creds.secret, "Token": creds.token,
               "Expiration": iso8601(creds.expiration)}
        return self._send(200, json.dumps(doc), "application/json")

    # -- STS ------------------------------------------------------------------------------
    def _sts(self, raw_path, raw_query):
        mock = self.server.mock
        body = self._read_body()
        if self.command not in ("GET", "POST"):
            return self._send(405, "", "text/plain")
        params = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        ctype = (self.headers.get("Content-Type") or "").lower()
        if self.command == "POST" and body and ("form-urlencoded" in ctype or not ctype):
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        op = params.get("Action", "")
        record = {"op": op or None, "params": params, "method": self.command,
                  "path": raw_path, "host": self.headers.get("Host"),
                  "tunnel_host": self.tunnel_host, "access_key_id": None,
                  "principal": None, "region": None, "fault": None, "status": None,
                  "error": None, "user_agent": self.headers.get("User-Agent")}
        fault = mock._take_fault(op)
        if fault:
            record["fault"] = fault["kind"]
        if fault and fault.get("delay"):
            mock._stop_event.wait(float(fault["delay"]))
        if fault and fault["kind"] == "delay":
            fault = None
        if fault and not fault.get("process"):
            mock._record(record)
            return self._apply_fault(fault, op, record)
        request_id = str(uuid.uuid4())
        try:
            xml = mock._handle_sts(self, raw_path, raw_query, body, params, record)
            status = 200
        except STSError as e:
            record["error"] = e.code
            record["message"] = e.message
            status = e.status
            xml = error_xml(e.type, e.code, e.message, request_id)
        if fault:   # "process": STS did the work, the answer gets lost or mangled
            mock._record(record)
            return self._apply_fault(fault, op, record)
        record["status"] = status
        mock._record(record)
        xml = xml.replace("@@REQUEST_ID@@", request_id)
        self._send(status, xml, "text/xml", {"x-amzn-RequestId": request_id})

    def _apply_transport_fault(self, fault, op):
        """Faults that apply to non-STS endpoints too. True when the answer was sent."""
        kind = fault["kind"]
        if fault.get("delay"):
            self.server.mock._stop_event.wait(float(fault["delay"]))
        if kind == "delay":
            return False
        self.server.mock._record({"op": op, "fault": kind})
        self._apply_fault(fault, op, {})
        return True

    def _apply_fault(self, fault, op, record):
        mock = self.server.mock
        kind = fault["kind"]
        rid = str(uuid.uuid4())
        op_name = op or "Unknown"
        record["status"] = None
        if kind == "silent":
            mock._stop_event.wait()
            self.close_connection = True
            return
        if kind == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if kind == "status":
            status = int(fault.get("status", 500))
            record["status"] = status
            style = fault.get("body", "html")
            reason = self.responses.get(status, ("Error",))[0]
            if style == "empty":
                return self._send(status, b"", "text/html")
            if style == "xml":
                return self._send(status, error_xml("Receiver", "InternalFailure",
                                                    "An internal error occurred.", rid))
            html = ("<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>"
                    % (status, reason, status, reason))
            return self._send(status, html, "text/html")
        if kind == "throttling":
            record["status"] = 400
            return self._send(400, error_xml("Sender", "Throttling", MSG_THROTTLING, rid),
                              headers={"x-amzn-RequestId": rid})
        if kind == "expired_token":
            record["status"] = 403
            return self._send(403, error_xml("Sender", "ExpiredToken", MSG_EXPIRED_TOKEN, rid),
                              headers={"x-amzn-RequestId": rid})
        if kind == "clock_skew":
            skew = float(fault.get("seconds", 900))
            server_now = time.time() + skew
            amzdate = self.headers.get("X-Amz-Date") or epoch_to_amz(time.time())
            tol = int(mock.config["skew_tolerance"])
            msg = ("Signature expired: %s is now earlier than %s (%s - %d min.)"
                   % (amzdate, epoch_to_amz(server_now - tol), epoch_to_amz(server_now),
                      tol // 60))
            record["status"] = 403
            return self._send(403, error_xml("Sender", "SignatureDoesNotMatch", msg, rid),
                              headers={"x-amzn-RequestId": rid}, date=server_now)
        record["status"] = 200
        if kind == "empty":
            return self._send(200, b"", "text/xml")
        if kind == "malformed":
            body = ('<%sResponse xmlns="%s"><%sResult><Credentials><AccessKeyId>ASIAMALFORMED'
                    '</SecretAccessKey><SessionToken>abc</Credentials' % (op_name, NAMESPACE,
                                                                          op_name))
            return self._send(200, body, "text/xml")
        if kind == "huge":
            size = int(fault.get("size", 2 * 1024 * 1024))
            body = ('<%sResponse xmlns="%s"><%sResult><Padding>' % (op_name, NAMESPACE, op_name)
                    + "A" * size
                    + '</Padding></%sResult><ResponseMetadata><RequestId>%s</RequestId>'
                      '</ResponseMetadata></%sResponse>' % (op_name, rid, op_name))
            return self._send(200, body, "text/xml")
        if kind == "truncated":
            fake = TempCredentials("role", "arn:x", "arn:x", "AROAX", SEED_ACCOUNT, False,
                                   time.time() + 3600, op_name)
            full = success_xml(op_name, credentials_xml(fake), rid).encode()
            cut = full[: len(full) // 2]
            self.send_response_only(200)
            self.send_header("Date", http_date(time.time()))
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            self.wfile.write(cut)
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        raise ValueError("unknown fault kind %r" % kind)


def error_xml(type_, code, message, request_id):
    return ('<ErrorResponse xmlns="%s">\n'
            '  <Error>\n'
            '    <Type>%s</Type>\n'
            '    <Code>%s</Code>\n'
            '    <Message>%s</Message>\n'
            '  </Error>\n'
            '  <RequestId>%s</RequestId>\n'
            '</ErrorResponse>\n' % (NAMESPACE, _x(type_), _x(code), _x(message), _x(request_id)))


def credentials_xml(c):
    return ('    <Credentials>\n'
            '      <AccessKeyId>%s</AccessKeyId>\n'
            '      <SecretAccessKey>%s</SecretAccessKey>\n'
            '      <SessionToken>%s</SessionToken>\n'
            '      <Expiration>%s</Expiration>\n'
            '    </Credentials>\n' % (_x(c.access_key_id), _x(c.secret), _x(c.token),
                                      iso8601(c.expiration)))


def success_xml(op, result_inner, request_id="@@REQUEST_ID@@"):
    return ('<%sResponse xmlns="%s">\n'
            '  <%sResult>\n%s'
            '  </%sResult>\n'
            '  <ResponseMetadata>\n'
            '    <RequestId>%s</RequestId>\n'
            '  </ResponseMetadata>\n'
            '</%sResponse>\n' % (op, NAMESPACE, op, result_inner, op, _x(request_id), op))


class MockSTS:
    """The mock STS server. See the module docstring."""

    def __init__(self, scenario="seed", https=False, cert_dir=None, host="127.0.0.1", port=0,
                 **config):
        self.host = host
        self.port = port
        self.https = https
        self.scenario = scenario
        self.certs = None
        if https or cert_dir:
            self.certs = ensure_certs(cert_dir)
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._server = None
        self._thread = None
        self._open = set()
        self.config = dict(CONFIG_DEFAULTS)
        self._ssl_context = None
        self._tunnel_context = None
        if self.certs:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certs.cert_file, self.certs.key_file)
            self._tunnel_context = ctx
            if https:
                self._ssl_context = ctx
        self._load(scenario)
        self.configure(**config)

    # -- state ----------------------------------------------------------------------------
    def _load(self, scenario):
        with self._lock:
            self.users = {}          # access key id -> User
            self.roles = {}          # arn -> Role
            self.sessions = {}       # access key id -> TempCredentials
            self._used_steps = {}    # serial -> set of TOTP steps already accepted
            self._handed_out = {}    # serial -> set of TOTP steps given to tests
            self._faults = []
            self._calls = []
            self._counts = {}
            self._imds_tokens = {}
            self._workload = {}
            if scenario == "seed":
                load_seed(self)
            elif scenario not in (None, "", "empty"):
                raise ValueError("unknown scenario %r" % scenario)

    def add_user(self, name, access_key_id, secret, account=SEED_ACCOUNT, mfa_devices=None,
                 arn=None, user_id=None):
        u = User(name, access_key_id, secret, account, arn, mfa_devices, user_id)
        with self._lock:
            self.users[access_key_id] = u
        return u

    def add_access_key(self, user, access_key_id, secret):
        with self._lock:
            user.access_keys[access_key_id] = secret
            self.users[access_key_id] = user

    def add_mfa_device(self, user, serial, seed_b32):
        with self._lock:
            user.mfa_devices[serial] = seed_b32

    def add_role(self, arn, trusted=(), require_mfa=False, max_session_duration=3600,
                 external_id=None, web_identity_tokens=()):
        r = Role(arn, trusted, require_mfa, max_session_duration, external_id,
                 web_identity_tokens)
        with self._lock:
            self.roles[arn] = r
        return r

    def user(self, name):
        for u in self.users.values():
            if u.name == name:
                return u
        raise KeyError(name)

    def _device_seed(self, serial):
        for u in self.users.values():
            if serial in u.mfa_devices:
                return u.mfa_devices[serial]
        raise KeyError("no MFA device %s" % serial)

    def configure(self, **kw):
        with self._lock:
            for k, v in kw.items():
                if k not in CONFIG_DEFAULTS:
                    raise ValueError("unknown config key %r" % k)
                self.config[k] = v
        return self

    def config_snapshot(self):
        with self._lock:
            return dict(self.config)

    def _imds_config(self):
        v = self.config.get("imds")
        if not v:
            return None
        d = {"role": SEED_IMDS_ROLE_NAME, "region": SEED_REGION}
        if isinstance(v, dict):
            d.update(v)
        return d

    def _container_config(self):
        v = self.config.get("container")
        if not v:
            return None
        d = {"path": SEED_CONTAINER_PATH, "token": SEED_CONTAINER_TOKEN,
             "role_arn": SEED_CONTAINER_ROLE_ARN}
        if isinstance(v, dict):
            d.update(v)
        return d

    # -- faults ---------------------------------------------------------------------------
    def add_fault(self, op, kind, count=1, **params):
        """Queue a fault for operation op ("AssumeRole", ..., "IMDS", "Container" or "*").
        count: how many calls it applies to (None or -1: until cleared). params: delay
        (seconds, before answering; with kind "delay" the call then proceeds normally),
        status (kind status: 500, 503...), body ("html" | "empty" | "xml"), size (huge),
        seconds (clock_skew: how far the server's clock is ahead), process (True: carry
        out the operation, consuming the MFA code, then send the fault instead of the
        answer)."""
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (kind, ", ".join(FAULT_KINDS)))
        if count is not None and count == 0:
            return
        f = dict(params, op=op, kind=kind, count=(None if count in (None, -1) else int(count)))
        with self._lock:
            self._faults.append(f)

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def pending_faults(self):
        with self._lock:
            return [dict(f) for f in self._faults]

    def _take_fault(self, op):
        with self._lock:
            for f in self._faults:
                if f["op"] in (op, "*") and (op not in ("IMDS", "Container") or f["op"] == op):
                    if f["count"] is not None:
                        f["count"] -= 1
                        if f["count"] <= 0:
                            self._faults.remove(f)
                    return dict(f)
        return None

    # -- calls ----------------------------------------------------------------------------
    def _record(self, rec):
        rec.setdefault("time", time.time())
        with self._lock:
            self._calls.append(rec)
            op = rec.get("op") or "Unknown"
            self._counts[op] = self._counts.get(op, 0) + 1

    @property
    def calls(self):
        with self._lock:
            return json.loads(json.dumps(self._calls))

    @property
    def counts(self):
        with self._lock:
            return dict(self._counts)

    def count(self, op=None):
        with self._lock:
            if op is None:
                return sum(v for k, v in self._counts.items() if not k.startswith(("IMDS", "Container")))
            return self._counts.get(op, 0)

    def calls_for(self, op):
        return [c for c in self.calls if c.get("op") == op]

    @property
    def issued(self):
        with self._lock:
            return [c.as_dict() for c in self.sessions.values()]

    def reset(self, full=False):
        """Forget calls, counters and faults; full=True also reloads the scenario (issued
        credentials, used MFA codes) and the default configuration."""
        if full:
            self._load(self.scenario)
            with self._lock:
                self.config = dict(CONFIG_DEFAULTS)
            return
        with self._lock:
            self._faults = []
            self._calls = []
            self._counts = {}

    def expire_issued(self):
        """Mark every credential issued so far as expired (ExpiredToken when used)."""
        with self._lock:
            past = time.time() - 1
            for c in self.sessions.values():
                c.expiration = min(c.expiration, past)
            self._workload = {}
            return len(self.sessions)

    # -- TOTP ------------------------------------------------------------------------------
    def totp_code(self, serial=SEED_MFA_SERIAL, offset_steps=0):
        """A code the mock will accept and that no test was given before. With offset_steps
        the code of that step relative to now (for window tests), as is."""
        seed = self._device_seed(serial)
        while True:
            now_step = int(time.time()) // 30
            with self._lock:
                used = self._used_steps.setdefault(serial, set())
                given = self._handed_out.setdefault(serial, set())
                if offset_steps:
                    given.add(now_step + offset_steps)
                    return totp_at_step(seed, now_step + offset_steps)
                for s in (now_step, now_step + 1):
                    if s not in used and s not in given:
                        given.add(s)
                        return totp_at_step(seed, s)
            # Both usable steps taken: wait for the next one instead of risking a reuse.
            time.sleep(30 - time.time() % 30 + 0.05)

    def _check_totp(self, serial, seed, code):
        now_step = int(time.time()) // 30
        window = int(self.config["totp_window"])
        with self._lock:
            used = self._used_steps.setdefault(serial, set())
            for s in range(now_step - window, now_step + window + 1):
                if totp_at_step(seed, s) == code and s not in used:
                    used.add(s)
                    return True
        return False

    # -- credentials ----------------------------------------------------------------------
    def _lifetime(self, duration):
        lt = self.config.get("credential_lifetime")
        return min(duration, int(lt)) if lt else duration

    def _issue(self, **kw):
        c = TempCredentials(**kw)
        n = self.config.get("role_token_chars")
        if n and c.kind == "role":  # large tokens (many session tags, policies)
            c.token = (c.token * (n // len(c.token) + 1))[:n]
        with self._lock:
            self.sessions[c.access_key_id] = c
        return c

    def _issue_role_session(self, role, session_name, duration, mfa, source_op):
        arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (role.account, role.name, session_name)
        return self._issue(kind="role", principal_arn=arn, trust_arn=role.arn,
                           user_id="%s:%s" % (role.role_id, session_name),
                           account=role.account, mfa=mfa,
                           expiration=time.time() + self._lifetime(duration),
                           source_op=source_op, role=role, session_name=session_name)

    def _workload_credentials(self, which):
        """Instance/container role credentials, reused until 5 minutes before expiry."""
        with self._lock:
            c = self._workload.get(which)
            if c and c.expiration - time.time() > 300:
                return c
            if which == "imds":
                name = self._imds_config()["role"]
                arn = "arn:aws:iam::%s:role/%s" % (SEED_ACCOUNT, name)
                session = "i-0123456789abcdef0"
            else:
                arn = self._container_config()["role_arn"]
                session = "awsrole-container-task"
            role = self.roles.get(arn) or self.add_role(arn, max_session_duration=21600)
            c = self._issue_role_session(role, session, 21600, False, which)
            self._workload[which] = c
            return c

    def _new_imds_token(self, ttl):
        tok = base64.urlsafe_b64encode(os.urandom(42)).decode()
        with self._lock:
            self._imds_tokens[tok] = time.time() + ttl
        return tok

    def _imds_token_valid(self, tok):
        with self._lock:
            exp = self._imds_tokens.get(tok or "")
            return exp is not None and exp > time.time()

    # -- SigV4 ----------------------------------------------------------------------------
    def _authenticate(self, handler, raw_path, raw_query, body, record):
        """Returns (caller, access key id) where caller is a User or TempCredentials."""
        h = handler.headers
        auth = h.get("Authorization")
        if not auth:
            raise STSError(403, "MissingAuthenticationToken",
                           "Request is missing Authentication Token")
        m = re.match(r"\s*AWS4-HMAC-SHA256\s+(.*)$", auth, re.S)
        if not m:
            raise STSError(400, "IncompleteSignature",
                           "Unsupported AWS authentication scheme or malformed Authorization header.")
        fields = {}
        for part in m.group(1).split(","):
            k, _, v = part.strip().partition("=")
            fields[k.strip()] = v.strip()
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
        if missing:
            raise STSError(400, "IncompleteSignature",
                           "Authorization header requires '%s' parameter. Authorization=%s"
                           % (missing[0], auth))
        cred = fields["Credential"].split("/")
        if len(cred) != 5:
            raise STSError(400, "IncompleteSignature",
                           "Credential must have exactly 5 slash-delimited elements, e.g. "
                           "keyid/date/region/service/term, got '%s'" % fields["Credential"])
        akid, scope_date, region, service, term = cred
        record["access_key_id"] = akid
        record["region"] = region
        record["signed_headers"] = fields["SignedHeaders"]

        with self._lock:
            user = self.users.get(akid)
            session = self.sessions.get(akid)
        if user is not None:
            secret, caller = user.access_keys[akid], user
            if h.get("X-Amz-Security-Token") is not None:
                raise STSError(403, "InvalidClientTokenId", MSG_INVALID_TOKEN)
        elif session is not None:
            secret, caller = session.secret, session
            if h.get("X-Amz-Security-Token") != session.token:
                raise STSError(403, "InvalidClientTokenId", MSG_INVALID_TOKEN)
            if session.expiration <= time.time():
                raise STSError(403, "ExpiredToken", MSG_EXPIRED_TOKEN)
        else:
            raise STSError(403, "InvalidClientTokenId", MSG_INVALID_TOKEN)
        record["principal"] = caller.principal_arn if session else caller.arn

        amzdate = h.get("X-Amz-Date")
        if not amzdate:
            raise STSError(400, "IncompleteSignature",
                           "Authorization header requires existence of either a 'X-Amz-Date' "
                           "or a 'Date' header. Authorization=%s" % auth)
        try:
            req_time = amz_to_epoch(amzdate)
        except ValueError:
            raise STSError(400, "IncompleteSignature", "Date must be in ISO-8601 'basic format'. "
                           "Got '%s'." % amzdate)
        now = time.time()
        tol = int(self.config["skew_tolerance"])
        if req_time < now - tol:
            raise STSError(403, "SignatureDoesNotMatch",
                           "Signature expired: %s is now earlier than %s (%s - %d min.)"
                           % (amzdate, epoch_to_amz(now - tol), epoch_to_amz(now), tol // 60))
        if req_time > now + tol:
            raise STSError(403, "SignatureDoesNotMatch",
                           "Signature not yet current: %s is still later than %s (%s + %d min.)"
                           % (amzdate, epoch_to_amz(now + tol), epoch_to_amz(now), tol // 60))
        if scope_date != amzdate[:8]:
            raise STSError(403, "SignatureDoesNotMatch",
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                           "version of date from HTTP: '%s' != '%s', from '%s'."
                           % (scope_date, amzdate[:8], amzdate))
        if service != "sts":
            raise STSError(403, "SignatureDoesNotMatch",
                           "Credential should be scoped to correct service: 'sts'. ")
        if term != "aws4_request":
            raise STSError(403, "SignatureDoesNotMatch",
                           "Credential should be scoped with a valid terminator: 'aws4_request', "
                           "not '%s'." % term)
        want_region = self.config.get("check_region")
        if want_region and region != want_region:
            raise STSError(403, "SignatureDoesNotMatch",
                           "Credential should be scoped to a valid region, not '%s'. " % region)

        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise STSError(403, "SignatureDoesNotMatch",
                           "'Host' must be a 'SignedHeader' in the AWS Authorization.")
        canonical = canonical_request(handler.command, raw_path, raw_query,
                                      [(n, h.get_all(n)) for n in signed],
                                      hashlib.sha256(body).hexdigest())
        scope = "/".join(cred[1:])
        sts_ = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                          hashlib.sha256(canonical.encode()).hexdigest()])
        key = signing_key(secret, scope_date, region, service)
        expect = hmac.new(key, sts_.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expect, fields["Signature"]):
            record["canonical_request"] = canonical
            raise STSError(403, "SignatureDoesNotMatch", MSG_BAD_SIGNATURE)
        return caller, akid

    # -- operations -----------------------------------------------------------------------
    def _handle_sts(self, handler, raw_path, raw_query, body, params, record):
        op = params.get("Action")
        if not op:
            raise STSError(400, "MissingAction", "Missing Action")
        if params.get("Version") != API_VERSION:
            raise STSError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (op, params.get("Version", "NO_VERSION_SPECIFIED")))
        if op == "AssumeRoleWithWebIdentity":
            return self._assume_role_with_web_identity(params, record)
        handlers = {"GetCallerIdentity": self._get_caller_identity,
                    "GetSessionToken": self._get_session_token,
                    "AssumeRole": self._assume_role}
        if op not in handlers:
            raise STSError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (op, API_VERSION))
        caller, _ = self._authenticate(handler, raw_path, raw_query, body, record)
        return handlers[op](caller, params, record)

    def _get_caller_identity(self, caller, params, record):
        if isinstance(caller, TempCredentials):
            arn, uid, acct = caller.principal_arn, caller.user_id, caller.account
        else:
            arn, uid, acct = caller.arn, caller.user_id, caller.account
        inner = ("    <Arn>%s</Arn>\n    <UserId>%s</UserId>\n    <Account>%s</Account>\n"
                 % (_x(arn), _x(uid), _x(acct)))
        return success_xml("GetCallerIdentity", inner)

    def _check_mfa_params(self, problems, params):
        _check_string(problems, params.get("SerialNumber"), "serialNumber", 9, 256,
                      r"[\w+=/:,.@-]*", r"[\w+=/:,.@-]*")
        code = params.get("TokenCode")
        if code is not None:
            if len(code) > 6:
                problems.append(_constraint(code, "tokenCode",
                                            "must have length less than or equal to 6"))
            elif len(code) < 6:
                problems.append(_constraint(code, "tokenCode",
                                            "must have length greater than or equal to 6"))
            if not re.fullmatch(r"\d*", code):
                problems.append(_constraint(code, "tokenCode",
                                            r"must satisfy regular expression pattern: [\d]*"))

    def _verify_mfa(self, user, params, unknown_serial_msg):
        """True when SerialNumber+TokenCode are present and valid; raises on a bad code."""
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        if serial is None and code is None:
            return False
        if user is None or serial not in user.mfa_devices:
            raise STSError(403, "AccessDenied", unknown_serial_msg)
        if code is None or not self._check_totp(serial, user.mfa_devices[serial], code):
            raise STSError(403, "AccessDenied", MSG_MFA_INVALID_CODE)
        return True

    def _get_session_token(self, caller, params, record):
        problems = []
        duration = _check_duration(problems, params.get("DurationSeconds"), 900, 129600)
        self._check_mfa_params(problems, params)
        if problems:
            raise _validation_error(problems)
        if isinstance(caller, TempCredentials):
            raise STSError(403, "AccessDenied", MSG_GST_WITH_SESSION)
        mfa = self._verify_mfa(caller, params, MSG_GST_UNKNOWN_SERIAL)
        record["mfa"] = mfa
        duration = duration or 43200
        c = self._issue(kind="session", principal_arn=caller.arn, trust_arn=caller.arn,
                        user_id=caller.user_id, account=caller.account, mfa=mfa,
                        expiration=time.time() + self._lifetime(duration),
                        source_op="GetSessionToken", user=caller)
        record["issued"] = c.access_key_id
        return success_xml("GetSessionToken", credentials_xml(c))

    def _trusts(self, role, caller):
        arn = caller.trust_arn if isinstance(caller, TempCredentials) else caller.arn
        acct = caller.account
        for p in role.trusted:
            if p == "*" or p == arn or p == "arn:aws:iam::%s:root" % acct:
                return True
            if isinstance(caller, TempCredentials) and p == caller.principal_arn:
                return True
        return False

    def _assume_role(self, caller, params, record):
        problems = []
        role_arn = params.get("RoleArn")
        session_name = params.get("RoleSessionName")
        _check_string(problems, role_arn, "roleArn", 20, 2048, required=True)
        _check_string(problems, session_name, "roleSessionName", 2, 64, r"[\w+=,.@-]*",
                      r"[\w+=,.@-]*", required=True)
        duration = _check_duration(problems, params.get("DurationSeconds"), 900, 43200)
        _check_string(problems, params.get("ExternalId"), "externalId", 2, 1224,
                      r"[\w+=,.@:/-]*", r"[\w+=,.@:\/-]*")
        self._check_mfa_params(problems, params)
        if problems:
            raise _validation_error(problems)

        is_session = isinstance(caller, TempCredentials)
        caller_arn = caller.principal_arn if is_session else caller.arn
        denied = STSError(403, "AccessDenied", "User: %s is not authorized to perform: "
                          "sts:AssumeRole on resource: %s" % (caller_arn, role_arn))
        with self._lock:
            role = self.roles.get(role_arn)
        if role is None or not self._trusts(role, caller):
            raise denied
        if role.external_id is not None and params.get("ExternalId") != role.external_id:
            raise denied
        chaining = is_session and caller.is_role_session
        if duration is not None:
            if chaining and duration > 3600:
                raise STSError(400, "ValidationError", MSG_CHAINING)
            if duration > role.max_session_duration:
                raise STSError(400, "ValidationError", MSG_MAX_DURATION)
        user = caller.user if is_session else caller
        mfa_now = self._verify_mfa(user, params, MSG_MFA_UNKNOWN_SERIAL)
        mfa = mfa_now or (is_session and caller.mfa)
        record["mfa"] = bool(mfa)
        if role.require_mfa and not mfa:
            raise STSError(403, "AccessDenied", MSG_ACCESS_DENIED_MFA)
        c = self._issue_role_session(role, session_name, duration or 3600, bool(mfa),
                                     "AssumeRole")
        c.user = user
        record["issued"] = c.access_key_id
        inner = ""
        if params.get("SourceIdentity"):
            inner += "    <SourceIdentity>%s</SourceIdentity>\n" % _x(params["SourceIdentity"])
        inner += ("    <AssumedRoleUser>\n"
                  "      <Arn>%s</Arn>\n"
                  "      <AssumedRoleId>%s</AssumedRoleId>\n"
                  "    </AssumedRoleUser>\n" % (_x(c.principal_arn), _x(c.user_id)))
        inner += credentials_xml(c)
        if params.get("Policy"):
            inner += "    <PackedPolicySize>6</PackedPolicySize>\n"
        return success_xml("AssumeRole", inner)

    def _assume_role_with_web_identity(self, params, record):
        problems = []
        role_arn = params.get("RoleArn")
        session_name = params.get("RoleSessionName")
        token = params.get("WebIdentityToken")
        _check_string(problems, role_arn, "roleArn", 20, 2048, required=True)
        _check_string(problems, session_name, "roleSessionName", 2, 64, r"[\w+=,.@-]*",
                      r"[\w+=,.@-]*", required=True)
        _check_string(problems, token, "webIdentityToken", 4, 20000, required=True)
        duration = _check_duration(problems, params.get("DurationSeconds"), 900, 43200)
        if problems:
            raise _validation_error(problems)
        with self._lock:
            role = self.roles.get(role_arn)
        if role is None or token not in role.web_identity_tokens:
            raise STSError(403, "AccessDenied",
                           "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        if duration is not None and duration > role.max_session_duration:
            raise STSError(400, "ValidationError", MSG_MAX_DURATION)
        record["principal"] = "web-identity"
        c = self._issue_role_session(role, session_name, duration or 3600, False,
                                     "AssumeRoleWithWebIdentity")
        record["issued"] = c.access_key_id
        inner = ("    <SubjectFromWebIdentityToken>system:sa:web</SubjectFromWebIdentityToken>\n"
                 "    <Audience>sts.amazonaws.com</Audience>\n"
                 "    <AssumedRoleUser>\n"
                 "      <Arn>%s</Arn>\n"
                 "      <AssumedRoleId>%s</AssumedRoleId>\n"
                 "    </AssumedRoleUser>\n" % (_x(c.principal_arn), _x(c.user_id)))
        inner += credentials_xml(c)
        inner += "    <Provider>oidc.mock-sts.local</Provider>\n"
        return success_xml("AssumeRoleWithWebIdentity", inner)

    # -- lifecycle ------------------------------------------------------------------------
    def _track(self, sock, add):
        with self._lock:
            if add:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def start(self):
        self._stop_event.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.mock = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="mock-sts", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stop_event.set()
        self._server.shutdown()
        with self._lock:
            open_socks = list(self._open)
        for s in open_socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.https else "http", self.host, self.port)

    @property
    def proxy_url(self):
        """An HTTPS proxy URL (CONNECT) that sends *.amazonaws.com to this mock; clients
        must trust ca_file. Only for a plain-http mock created with a cert_dir."""
        if self.https or not self.certs:
            return None
        return "http://%s:%d" % (self.host, self.port)

    @property
    def ca_file(self):
        return self.certs.ca_file if self.certs else None

    @property
    def wrong_ca_file(self):
        return self.certs.wrong_ca_file if self.certs else None


def load_seed(mock):
    """The seed scenario, plus a few identities other tests need."""
    mock.add_user(SEED_USER_NAME, SEED_USER_KEY, SEED_USER_SECRET, SEED_ACCOUNT,
                  {SEED_MFA_SERIAL: SEED_MFA_SEED}, user_id=SEED_USER_ID)
    mock.add_user(SEED_OTHER_USER_NAME, SEED_OTHER_USER_KEY, SEED_OTHER_USER_SECRET, SEED_ACCOUNT)
    mock.add_role(SEED_ROLE_ARN, trusted=[SEED_USER_ARN], require_mfa=True,
                  max_session_duration=SEED_ROLE_MAX_DURATION)
    mock.add_role(SEED_CHAIN_ROLE_ARN, trusted=[SEED_ROLE_ARN], max_session_duration=43200)
    mock.add_role(SEED_OPEN_ROLE_ARN, trusted=[SEED_USER_ARN], max_session_duration=3600)
    mock.add_role(SEED_EXTERNAL_ID_ROLE_ARN, trusted=[SEED_USER_ARN], external_id=SEED_EXTERNAL_ID,
                  max_session_duration=3600)
    mock.add_role(SEED_WEB_ROLE_ARN, web_identity_tokens=[SEED_WEB_IDENTITY_TOKEN],
                  max_session_duration=3600)
    mock.add_role(SEED_IMDS_ROLE_ARN, max_session_duration=21600)
    mock.add_role(SEED_CONTAINER_ROLE_ARN, max_session_duration=21600)


# ---------------------------------------------------------------------------------------
# SigV4 pieces (server side: rebuilt from what was received)
# ---------------------------------------------------------------------------------------
def _normalize_path(raw_path):
    path = urllib.parse.unquote(raw_path or "/")
    if not path.startswith("/"):
        path = "/" + path
    parts = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    norm = "/" + "/".join(parts)
    if path.endswith("/") and norm != "/":
        norm += "/"
    # Non-S3 services encode the path twice: once on the wire, once in the canonical form.
    return _uri_encode(_uri_encode(norm, safe="/-_.~"), safe="/-_.~")


def _canonical_query(raw_query):
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        if not item:
            continue
        k, _, v = item.partition("=")
        pairs.append((_uri_encode(urllib.parse.unquote(k)), _uri_encode(urllib.parse.unquote(v))))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_request(method, raw_path, raw_query, headers, payload_hash):
    """headers: [(lowercase name, [values] or None)] in SignedHeaders order."""
    lines = []
    names = []
    for name, values in headers:
        name = name.lower()
        names.append(name)
        vals = [" ".join(v.split()) for v in (values or [])]
        lines.append("%s:%s\n" % (name, ",".join(vals)))
    return "\n".join([method, _normalize_path(raw_path), _canonical_query(raw_query),
                      "".join(lines), ";".join(names), payload_hash])


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def seed_constants():
    return {k: v for k, v in globals().items() if k.startswith("SEED_")}


# ---------------------------------------------------------------------------------------
# Program mode
# ---------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock AWS STS for awsrole-run tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--scenario", default="seed")
    ap.add_argument("--https", action="store_true")
    ap.add_argument("--cert-dir", help="where the throwaway CA and certificate live "
                    "(created if missing); enables the CONNECT tunnel for plain http")
    ap.add_argument("--ready-file", help="write the URL here once listening")
    ap.add_argument("--imds", action="store_true", help="serve IMDSv2 on the same port")
    ap.add_argument("--container", action="store_true",
                    help="serve container credentials at %s" % SEED_CONTAINER_PATH)
    ap.add_argument("--credential-lifetime", type=int)
    ap.add_argument("--totp-window", type=int, default=1)
    ap.add_argument("--skew-tolerance", type=int, default=300)
    ap.add_argument("--log", action="store_true")
    ap.add_argument("--describe", action="store_true",
                    help="print the seed constants as JSON and exit")
    a = ap.parse_args(argv)
    if a.describe:
        print(json.dumps(seed_constants(), indent=2, sort_keys=True))
        return 0
    mock = MockSTS(scenario=a.scenario, https=a.https, cert_dir=a.cert_dir, host=a.host,
                   port=a.port, imds=a.imds or None, container=a.container or None,
                   credential_lifetime=a.credential_lifetime, totp_window=a.totp_window,
                   skew_tolerance=a.skew_tolerance, log=a.log)
    mock.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    if a.ready_file:
        tmp = a.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(mock.url + "\n")
        os.rename(tmp, a.ready_file)
    sys.stderr.write("mock-sts: listening on %s%s\n" % (
        mock.url, (" (CA %s)" % mock.ca_file) if mock.ca_file else ""))
    sys.stderr.flush()
    while not done.wait(1):
        pass
    mock.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
