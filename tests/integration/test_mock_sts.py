"""Tests of the mock STS itself and of the shared fixtures.

Two independent clients check the mock: botocore's own SigV4 signer (from Debian's AWS CLI
v2 package) for fast in-process requests, and the `aws` command itself.
"""

import datetime
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

import mock_sts as M
from conftest import SEED_CONFIG, clean_env

AWS = "/usr/bin/aws"
NS = {"s": M.NAMESPACE}
TESTDATA = os.environ.get("AWSR_TESTDATA") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), "shared", "testdata")
if not os.path.isdir(TESTDATA):
    TESTDATA = "/work/shared/testdata"

import awscli  # noqa: E402,F401  (makes the bundled botocore importable)
import botocore.auth  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402


# ---------------------------------------------------------------------------------------
# An independent client: botocore signs, http.client sends.
# ---------------------------------------------------------------------------------------
class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.xml = None
        if body:
            try:
                self.xml = ET.fromstring(body)
            except ET.ParseError:
                pass

    def text(self, tag):
        """Text of the first element named tag anywhere in the document."""
        el = self.xml.find(".//{%s}%s" % (M.NAMESPACE, tag))
        return None if el is None else el.text

    @property
    def code(self):
        return self.text("Code")

    @property
    def message(self):
        return self.text("Message")

    def creds(self):
        return (self.text("AccessKeyId"), self.text("SecretAccessKey"), self.text("SessionToken"))


def _connection(mock, timeout):
    if mock.https:
        ctx = ssl.create_default_context(cafile=mock.ca_file)
        return http.client.HTTPSConnection(mock.host, mock.port, timeout=timeout, context=ctx)
    return http.client.HTTPConnection(mock.host, mock.port, timeout=timeout)


def call(mock, params, key=M.SEED_USER_KEY, secret=M.SEED_USER_SECRET, token=None,
         region="us-west-2", method="POST", timeout=10, sign=True, extra_headers=None):
    params = dict(params)
    params.setdefault("Version", "2011-06-15")
    body = urllib.parse.urlencode(params)
    if method == "POST":
        req = AWSRequest(method="POST", url=mock.url + "/", data=body,
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded; charset=utf-8"})
    else:
        req = AWSRequest(method="GET", url=mock.url + "/?" + body)
    for k, v in (extra_headers or {}).items():
        req.headers[k] = v
    if sign:
        SigV4Auth(Credentials(key, secret, token), "sts", region).add_auth(req)
    p = req.prepare()
    u = urllib.parse.urlsplit(p.url)
    conn = _connection(mock, timeout)
    try:
        data = p.body.encode() if isinstance(p.body, str) else p.body
        conn.request(method, u.path + ("?" + u.query if u.query else ""), body=data,
                     headers=dict(p.headers))
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read())
    finally:
        conn.close()


def assume(mock, role=M.SEED_ROLE_ARN, mfa=True, code=None, **kw):
    params = {"Action": "AssumeRole", "RoleArn": role, "RoleSessionName": "test-session"}
    if mfa:
        params["SerialNumber"] = M.SEED_MFA_SERIAL
        params["TokenCode"] = code or mock.totp_code()
    params.update(kw.pop("params", {}))
    return call(mock, params, **kw)


def session_token(mock, mfa=True, **kw):
    params = {"Action": "GetSessionToken"}
    if mfa:
        params.update(SerialNumber=M.SEED_MFA_SERIAL, TokenCode=mock.totp_code())
    params.update(kw.pop("params", {}))
    return call(mock, params, **kw)


def with_creds(reply):
    k, s, t = reply.creds()
    return {"key": k, "secret": s, "token": t}


def parse_iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# ---------------------------------------------------------------------------------------
# TOTP
# ---------------------------------------------------------------------------------------
def test_totp_matches_rfc6238_vectors():
    path = os.path.join(TESTDATA, "totp", "rfc6238.txt")
    rows = [line.split() for line in open(path) if line.strip() and not line.startswith("#")]
    assert len(rows) == 6
    seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    for unix_time, _utc, _t_hex, totp8, totp6 in rows:
        assert M.totp(seed, int(unix_time), digits=8) == totp8
        assert M.totp(seed, int(unix_time)) == totp6


def test_fresh_codes_are_distinct_and_accepted(sts):
    a, b = sts.totp_code(), sts.totp_code()
    assert a != b
    assert assume(sts, code=a).status == 200
    assert assume(sts, code=b).status == 200


# ---------------------------------------------------------------------------------------
# SigV4 verification
# ---------------------------------------------------------------------------------------
def test_get_caller_identity_for_user(sts):
    r = call(sts, {"Action": "GetCallerIdentity"})
    assert r.status == 200
    assert r.xml.tag == "{%s}GetCallerIdentityResponse" % M.NAMESPACE
    assert r.text("Arn") == M.SEED_USER_ARN
    assert r.text("Account") == M.SEED_ACCOUNT
    assert r.text("UserId") == M.SEED_USER_ID
    assert re.fullmatch(r"[0-9a-f-]{36}", r.text("RequestId"))
    assert r.headers["x-amzn-RequestId"] == r.text("RequestId")


def test_get_query_form_is_accepted(sts):
    r = call(sts, {"Action": "GetCallerIdentity"}, method="GET")
    assert r.status == 200 and r.text("Arn") == M.SEED_USER_ARN


def test_unknown_access_key(sts):
    r = call(sts, {"Action": "GetCallerIdentity"}, key="AKIAUNKNOWNKEY000000")
    assert (r.status, r.code, r.message) == (403, "InvalidClientTokenId", M.MSG_INVALID_TOKEN)
    assert r.text("Type") == "Sender"


def test_wrong_secret(sts):
    r = call(sts, {"Action": "GetCallerIdentity"}, secret="not-the-secret")
    assert (r.status, r.code, r.message) == (403, "SignatureDoesNotMatch", M.MSG_BAD_SIGNATURE)


def test_tampered_body_fails_signature(sts):
    params = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    body = urllib.parse.urlencode(params)
    req = AWSRequest(method="POST", url=sts.url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(M.SEED_USER_KEY, M.SEED_USER_SECRET), "sts", "us-east-1").add_auth(req)
    p = req.prepare()
    conn = http.client.HTTPConnection(sts.host, sts.port, timeout=10)
    headers = {k: v for k, v in p.headers.items() if k.lower() != "content-length"}
    conn.request("POST", "/", body=body + "&Extra=1", headers=headers)
    r = conn.getresponse()
    reply = Reply(r.status, r.headers, r.read())
    assert reply.code == "SignatureDoesNotMatch"


def test_unsigned_request_is_rejected(sts):
    r = call(sts, {"Action": "GetCallerIdentity"}, sign=False)
    assert r.status == 403 and r.code == "MissingAuthenticationToken"


def test_clock_skew_beyond_tolerance(sts, monkeypatch):
    class Skewed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcnow() - datetime.timedelta(minutes=10)

    class FakeModule:
        datetime = Skewed
    monkeypatch.setattr(botocore.auth, "datetime", FakeModule)
    r = call(sts, {"Action": "GetCallerIdentity"})
    assert r.status == 403 and r.code == "SignatureDoesNotMatch"
    assert r.message.startswith("Signature expired: ")
    sts.configure(skew_tolerance=3600)
    assert call(sts, {"Action": "GetCallerIdentity"}).status == 200


def test_wrong_service_in_scope(sts):
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    req = AWSRequest(method="POST", url=sts.url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(M.SEED_USER_KEY, M.SEED_USER_SECRET), "iam", "us-east-1").add_auth(req)
    p = req.prepare()
    conn = http.client.HTTPConnection(sts.host, sts.port, timeout=10)
    conn.request("POST", "/", body=body, headers=dict(p.headers))
    r = conn.getresponse()
    assert Reply(r.status, r.headers, r.read()).code == "SignatureDoesNotMatch"


# ---------------------------------------------------------------------------------------
# GetSessionToken and session credentials
# ---------------------------------------------------------------------------------------
def test_get_session_token_with_mfa_and_use(sts):
    r = session_token(sts)
    assert r.status == 200
    assert r.xml.tag == "{%s}GetSessionTokenResponse" % M.NAMESPACE
    key, secret, token = r.creds()
    assert key.startswith("ASIA") and len(key) == 20
    assert len(token) >= 400
    exp = parse_iso(r.text("Expiration"))
    assert abs(exp - (time.time() + 43200)) < 60     # default duration
    me = call(sts, {"Action": "GetCallerIdentity"}, **with_creds(r))
    assert me.status == 200 and me.text("Arn") == M.SEED_USER_ARN
    info = [c for c in sts.issued if c["AccessKeyId"] == key][0]
    assert info["mfa"] is True and info["kind"] == "session"


def test_session_credentials_need_the_token(sts):
    c = with_creds(session_token(sts, mfa=False))
    missing = call(sts, {"Action": "GetCallerIdentity"}, key=c["key"], secret=c["secret"])
    assert (missing.code, missing.message) == ("InvalidClientTokenId", M.MSG_INVALID_TOKEN)
    wrong = call(sts, {"Action": "GetCallerIdentity"}, key=c["key"], secret=c["secret"],
                 token=c["token"][:-4] + "AAAA")
    assert wrong.code == "InvalidClientTokenId"


def test_get_session_token_with_session_credentials_is_denied(sts):
    c = with_creds(session_token(sts, mfa=False))
    r = call(sts, {"Action": "GetSessionToken"}, **c)
    assert (r.status, r.code, r.message) == (403, "AccessDenied", M.MSG_GST_WITH_SESSION)


def test_get_session_token_duration_limits(sts):
    r = session_token(sts, mfa=False, params={"DurationSeconds": "899"})
    assert r.code == "ValidationError" and "greater than or equal to 900" in r.message
    r = session_token(sts, mfa=False, params={"DurationSeconds": "129601"})
    assert r.code == "ValidationError" and "less than or equal to 129600" in r.message
    r = session_token(sts, mfa=False, params={"DurationSeconds": "129600"})
    assert r.status == 200


def test_credential_lifetime_and_expiry(sts):
    sts.configure(credential_lifetime=120)
    r = assume(sts, params={"DurationSeconds": "3600"})
    assert r.status == 200
    assert abs(parse_iso(r.text("Expiration")) - (time.time() + 120)) < 10
    c = with_creds(r)
    assert call(sts, {"Action": "GetCallerIdentity"}, **c).status == 200
    assert sts.expire_issued() >= 1
    r2 = call(sts, {"Action": "GetCallerIdentity"}, **c)
    assert (r2.code, r2.message) == ("ExpiredToken", M.MSG_EXPIRED_TOKEN)


# ---------------------------------------------------------------------------------------
# AssumeRole: trust, MFA, durations
# ---------------------------------------------------------------------------------------
def test_assume_role_with_mfa_shape_and_identity(sts):
    r = assume(sts)
    assert r.status == 200
    assert r.xml.tag == "{%s}AssumeRoleResponse" % M.NAMESPACE
    result = r.xml.find("s:AssumeRoleResult", NS)
    assert result.find("s:AssumedRoleUser/s:Arn", NS).text == \
        "arn:aws:sts::128716708097:assumed-role/cli-role/test-session"
    assert re.fullmatch(r"AROA[A-Z0-9]+:test-session",
                        result.find("s:AssumedRoleUser/s:AssumedRoleId", NS).text)
    exp = result.find("s:Credentials/s:Expiration", NS).text
    assert exp.endswith("Z") and abs(parse_iso(exp) - (time.time() + 3600)) < 60
    me = call(sts, {"Action": "GetCallerIdentity"}, **with_creds(r))
    assert me.text("Arn") == "arn:aws:sts::128716708097:assumed-role/cli-role/test-session"
    assert me.text("Account") == "128716708097"


def test_assume_role_without_mfa_is_access_denied(sts):
    r = assume(sts, mfa=False)
    assert (r.status, r.code, r.message) == (403, "AccessDenied", "Access denied")


def test_mfa_session_satisfies_require_mfa(sts):
    mfa_session = with_creds(session_token(sts))
    assert assume(sts, mfa=False, **mfa_session).status == 200
    plain_session = with_creds(session_token(sts, mfa=False))
    r = assume(sts, mfa=False, **plain_session)
    assert (r.code, r.message) == ("AccessDenied", "Access denied")


def test_untrusted_principal(sts):
    r = assume(sts, mfa=False, key=M.SEED_OTHER_USER_KEY, secret=M.SEED_OTHER_USER_SECRET)
    assert r.code == "AccessDenied"
    assert r.message == ("User: %s is not authorized to perform: sts:AssumeRole on resource: %s"
                         % (M.SEED_OTHER_USER_ARN, M.SEED_ROLE_ARN))


def test_totp_reuse_and_wrong_code_and_unknown_serial(sts):
    code = sts.totp_code()
    assert assume(sts, code=code).status == 200
    again = assume(sts, code=code)
    assert (again.status, again.code, again.message) == (403, "AccessDenied",
                                                         M.MSG_MFA_INVALID_CODE)
    step = int(time.time()) // 30
    valid = {M.totp_at_step(M.SEED_MFA_SEED, step + d) for d in range(-2, 3)}
    bad = next(c for c in ("000000", "111111", "222222") if c not in valid)
    wrong = assume(sts, code=bad)
    assert wrong.message == M.MSG_MFA_INVALID_CODE
    unknown = assume(sts, params={"SerialNumber": "arn:aws:iam::128716708097:mfa/nobody"})
    assert unknown.message == M.MSG_MFA_UNKNOWN_SERIAL
    tokens = [c["params"].get("TokenCode") for c in sts.calls_for("AssumeRole")]
    assert tokens[0] == tokens[1] == code


def test_totp_window(sts):
    if time.time() % 30 > 27:      # keep "one step back" from sliding to two steps back
        time.sleep(30 - time.time() % 30 + 0.1)
    assert assume(sts, code=sts.totp_code(offset_steps=-1)).status == 200
    r = assume(sts, code=sts.totp_code(offset_steps=-3))
    assert r.message == M.MSG_MFA_INVALID_CODE
    sts.configure(totp_window=0)
    r = assume(sts, code=sts.totp_code(offset_steps=2))
    assert r.message == M.MSG_MFA_INVALID_CODE


def test_token_code_validation(sts):
    r = assume(sts, code="1234567")
    assert (r.status, r.code) == (400, "ValidationError")
    assert r.message == ("1 validation error detected: Value '1234567' at 'tokenCode' failed to "
                         "satisfy constraint: Member must have length less than or equal to 6")
    r = assume(sts, code="12a456")
    assert r.code == "ValidationError" and r.message.endswith("pattern: [\\d]*")


def test_role_session_name_validation(sts):
    r = assume(sts, mfa=False, params={"RoleSessionName": "x"})
    assert r.code == "ValidationError" and "roleSessionName" in r.message
    r = assume(sts, mfa=False, params={"RoleSessionName": "bad name!"})
    assert r.code == "ValidationError" and "regular expression pattern" in r.message
    r = assume(sts, mfa=False, params={"RoleSessionName": "y" * 65})
    assert r.code == "ValidationError" and "less than or equal to 64" in r.message


def test_max_session_duration(sts):
    r = assume(sts, role=M.SEED_OPEN_ROLE_ARN, mfa=False, params={"DurationSeconds": "7200"})
    assert (r.status, r.code, r.message) == (400, "ValidationError", M.MSG_MAX_DURATION)
    r = assume(sts, params={"DurationSeconds": "43200"})
    assert r.status == 200
    assert abs(parse_iso(r.text("Expiration")) - (time.time() + 43200)) < 60


def test_role_chaining_cap(sts):
    first = with_creds(assume(sts, params={"DurationSeconds": "43200"}))
    r = assume(sts, role=M.SEED_CHAIN_ROLE_ARN, mfa=False, params={"DurationSeconds": "7200"},
               **first)
    assert (r.status, r.code, r.message) == (400, "ValidationError", M.MSG_CHAINING)
    ok = assume(sts, role=M.SEED_CHAIN_ROLE_ARN, mfa=False, **first)
    assert ok.status == 200
    assert "assumed-role/chain-role/" in ok.text("Arn")
    # A user (not a role session) is not capped by chaining, only by MaxSessionDuration.
    assert assume(sts, role=M.SEED_CHAIN_ROLE_ARN, mfa=False).code == "AccessDenied"


def test_external_id(sts):
    r = assume(sts, role=M.SEED_EXTERNAL_ID_ROLE_ARN, mfa=False)
    assert r.code == "AccessDenied" and "not authorized" in r.message
    r = assume(sts, role=M.SEED_EXTERNAL_ID_ROLE_ARN, mfa=False,
               params={"ExternalId": M.SEED_EXTERNAL_ID})
    assert r.status == 200


def test_web_identity_unsigned(sts):
    params = {"Action": "AssumeRoleWithWebIdentity", "RoleArn": M.SEED_WEB_ROLE_ARN,
              "RoleSessionName": "web", "WebIdentityToken": M.SEED_WEB_IDENTITY_TOKEN}
    r = call(sts, params, sign=False)
    assert r.status == 200 and r.text("AccessKeyId").startswith("ASIA")
    assert r.text("Arn") == "arn:aws:sts::128716708097:assumed-role/web-role/web"
    bad = call(sts, dict(params, WebIdentityToken="not-the-token"), sign=False)
    assert bad.code == "AccessDenied"


def test_calls_are_recorded(sts):
    code = sts.totp_code()
    assume(sts, code=code)
    call(sts, {"Action": "GetCallerIdentity"})
    c = sts.calls_for("AssumeRole")[0]
    assert c["params"]["TokenCode"] == code
    assert c["access_key_id"] == M.SEED_USER_KEY
    assert c["principal"] == M.SEED_USER_ARN
    assert c["region"] == "us-west-2" and c["status"] == 200 and c["fault"] is None
    assert isinstance(c["time"], float)
    assert sts.count("AssumeRole") == 1 and sts.count("GetCallerIdentity") == 1
    assert sts.count() == 2
    sts.reset()
    assert sts.count() == 0 and sts.calls == []


# ---------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------
def test_fault_status_html_then_normal(sts):
    sts.add_fault("GetCallerIdentity", "status", count=2, status=503)
    for _ in range(2):
        r = call(sts, {"Action": "GetCallerIdentity"})
        assert r.status == 503 and b"<html>" in r.body
    assert call(sts, {"Action": "GetCallerIdentity"}).status == 200
    assert [c["fault"] for c in sts.calls] == ["status", "status", None]


def test_fault_status_500_empty(sts):
    sts.add_fault("*", "status", status=500, body="empty")
    r = call(sts, {"Action": "GetCallerIdentity"})
    assert r.status == 500 and r.body == b""


def test_fault_only_for_its_operation(sts):
    sts.add_fault("AssumeRole", "throttling")
    assert call(sts, {"Action": "GetCallerIdentity"}).status == 200
    r = assume(sts, mfa=False)
    assert (r.status, r.code, r.message) == (400, "Throttling", "Rate exceeded")


def test_fault_malformed_xml(sts):
    sts.add_fault("AssumeRole", "malformed")
    r = assume(sts, mfa=False)
    assert r.status == 200 and r.body and r.xml is None


def test_fault_truncated_body(sts):
    sts.add_fault("AssumeRole", "truncated")
    with pytest.raises(http.client.IncompleteRead):
        assume(sts, mfa=False)


def test_fault_empty_200(sts):
    sts.add_fault("GetSessionToken", "empty")
    r = session_token(sts, mfa=False)
    assert r.status == 200 and r.body == b""


def test_fault_huge_body(sts):
    sts.add_fault("AssumeRole", "huge")
    r = assume(sts, mfa=False)
    assert r.status == 200 and len(r.body) > 1024 * 1024


def test_fault_silent_never_answers(sts):
    sts.add_fault("AssumeRole", "silent")
    with pytest.raises(socket.timeout):
        assume(sts, mfa=False, timeout=1.5)


def test_fault_delay_then_normal_answer(sts):
    sts.add_fault("GetCallerIdentity", "delay", delay=0.5)
    r = call(sts, {"Action": "GetCallerIdentity"})
    assert r.status == 200 and sts.calls[0]["fault"] == "delay"
    # a delay longer than the client's patience is a timeout
    sts.add_fault("GetCallerIdentity", "delay", delay=5)
    with pytest.raises(socket.timeout):
        call(sts, {"Action": "GetCallerIdentity"}, timeout=1)


def test_fault_expired_token(sts):
    sts.add_fault("AssumeRole", "expired_token")
    r = assume(sts, mfa=False)
    assert (r.code, r.message) == ("ExpiredToken", M.MSG_EXPIRED_TOKEN)


def test_fault_clock_skew_sends_wrong_date(sts):
    sts.add_fault("GetCallerIdentity", "clock_skew", seconds=3600)
    r = call(sts, {"Action": "GetCallerIdentity"})
    assert r.code == "SignatureDoesNotMatch" and r.message.startswith("Signature expired: ")
    server_date = datetime.datetime.strptime(r.headers["Date"], "%a, %d %b %Y %H:%M:%S GMT")
    skew = server_date.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()
    assert 3000 < skew < 4000


def test_fault_close_connection(sts):
    sts.add_fault("GetCallerIdentity", "close")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        call(sts, {"Action": "GetCallerIdentity"})


def test_fault_after_processing_burns_the_code(sts):
    """The answer is lost after STS accepted the code: a retry with the same code fails."""
    code = sts.totp_code()
    sts.add_fault("AssumeRole", "status", status=500, process=True)
    assert assume(sts, code=code).status == 500
    r = assume(sts, code=code)
    assert r.message == M.MSG_MFA_INVALID_CODE


def test_unknown_fault_kind_is_refused(sts):
    with pytest.raises(ValueError):
        sts.add_fault("AssumeRole", "explode")


# ---------------------------------------------------------------------------------------
# Control API
# ---------------------------------------------------------------------------------------
def control(mock, method, name, payload=None):
    conn = _connection(mock, 10)
    body = json.dumps(payload).encode() if payload is not None else None
    conn.request(method, "/_mock/" + name, body=body,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read() or b"null")
    conn.close()
    return r.status, data


def test_control_api(sts):
    st, _ = control(sts, "POST", "faults", {"op": "AssumeRole", "kind": "throttling", "count": 1})
    assert st == 200
    assert assume(sts, mfa=False).code == "Throttling"
    st, data = control(sts, "GET", "calls")
    assert data["counts"] == {"AssumeRole": 1}
    assert data["calls"][0]["fault"] == "throttling"
    st, data = control(sts, "POST", "config", {"credential_lifetime": 300})
    assert data["config"]["credential_lifetime"] == 300
    r = assume(sts)
    assert abs(parse_iso(r.text("Expiration")) - (time.time() + 300)) < 10
    st, data = control(sts, "GET", "totp?serial=" + urllib.parse.quote(M.SEED_MFA_SERIAL))
    assert assume(sts, code=data["code"]).status == 200
    control(sts, "POST", "reset", {})
    assert control(sts, "GET", "calls")[1] == {"calls": [], "counts": {}}
    assert control(sts, "POST", "config", {"nonsense": 1})[0] == 400
    assert control(sts, "POST", "faults", {"op": "X", "kind": "nonsense"})[0] == 400
    assert control(sts, "POST", "expire", {})[1]["expired"] >= 1


# ---------------------------------------------------------------------------------------
# IMDSv2 and container credentials
# ---------------------------------------------------------------------------------------
def raw(mock, method, path, headers=None):
    conn = _connection(mock, 10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_imds_v2(sts):
    assert raw(sts, "PUT", "/latest/api/token")[0] == 404      # off by default
    sts.configure(imds=True)
    assert raw(sts, "PUT", "/latest/api/token")[0] == 400      # TTL header required
    st, token = raw(sts, "PUT", "/latest/api/token",
                    {"x-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert st == 200 and token
    base = "/latest/meta-data/iam/security-credentials/"
    assert raw(sts, "GET", base)[0] == 401
    hdr = {"x-aws-ec2-metadata-token": token.decode()}
    st, role = raw(sts, "GET", base, hdr)
    assert role.decode() == M.SEED_IMDS_ROLE_NAME
    st, doc = raw(sts, "GET", base + role.decode(), hdr)
    doc = json.loads(doc)
    assert doc["Code"] == "Success" and doc["Expiration"].endswith("Z")
    me = call(sts, {"Action": "GetCallerIdentity"}, key=doc["AccessKeyId"],
              secret=doc["SecretAccessKey"], token=doc["Token"])
    assert me.text("Arn").startswith("arn:aws:sts::123456789012:assumed-role/imds-role/")


def test_container_credentials(sts):
    sts.configure(container=True)
    assert raw(sts, "GET", M.SEED_CONTAINER_PATH)[0] == 403
    st, doc = raw(sts, "GET", M.SEED_CONTAINER_PATH, {"Authorization": M.SEED_CONTAINER_TOKEN})
    doc = json.loads(doc)
    assert st == 200 and set(doc) >= {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    me = call(sts, {"Action": "GetCallerIdentity"}, key=doc["AccessKeyId"],
              secret=doc["SecretAccessKey"], token=doc["Token"])
    assert "assumed-role/container-role/" in me.text("Arn")


# ---------------------------------------------------------------------------------------
# The AWS CLI against the mock
# ---------------------------------------------------------------------------------------
def aws(tmp_path, args, env=None, timeout=60):
    home = str(tmp_path / "cli-home")
    os.makedirs(home, exist_ok=True)
    e = clean_env(home, str(tmp_path), {"AWS_PAGER": "", "AWS_DEFAULT_REGION": "us-west-2",
                                        "AWS_EC2_METADATA_DISABLED": "true",
                                        "AWS_CONFIG_FILE": os.path.join(home, "config"),
                                        "AWS_SHARED_CREDENTIALS_FILE":
                                            os.path.join(home, "credentials")})
    e.update(env or {})
    return subprocess.run([AWS] + args, env={k: v for k, v in e.items() if v is not None},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def user_env(key=M.SEED_USER_KEY, secret=M.SEED_USER_SECRET):
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}


def test_cli_get_caller_identity(sts, tmp_path):
    p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", sts.url], user_env())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Arn"] == M.SEED_USER_ARN
    assert sts.calls[0]["user_agent"].startswith("aws-cli/")


def test_cli_get_session_token_with_mfa(sts, tmp_path):
    p = aws(tmp_path, ["sts", "get-session-token", "--endpoint-url", sts.url,
                       "--serial-number", M.SEED_MFA_SERIAL, "--token-code", sts.totp_code(),
                       "--duration-seconds", "900"], user_env())
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    # and the CLI can use what the mock issued
    p2 = aws(tmp_path, ["sts", "assume-role", "--endpoint-url", sts.url, "--role-arn",
                        M.SEED_ROLE_ARN, "--role-session-name", "from-mfa-session"],
             {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY":
              c["SecretAccessKey"], "AWS_SESSION_TOKEN": c["SessionToken"]})
    assert p2.returncode == 0, p2.stderr
    assert json.loads(p2.stdout)["AssumedRoleUser"]["Arn"].endswith("cli-role/from-mfa-session")


def test_cli_assume_role_and_code_reuse(sts, tmp_path):
    code = sts.totp_code()
    args = ["sts", "assume-role", "--endpoint-url", sts.url, "--role-arn", M.SEED_ROLE_ARN,
            "--role-session-name", "cli", "--serial-number", M.SEED_MFA_SERIAL,
            "--token-code", code]
    p = aws(tmp_path, args, user_env())
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["AssumedRoleUser"]["Arn"] == \
        "arn:aws:sts::128716708097:assumed-role/cli-role/cli"
    p = aws(tmp_path, args, user_env())
    assert p.returncode == 254
    assert ("An error occurred (AccessDenied) when calling the AssumeRole operation: "
            "MultiFactorAuthentication failed with invalid MFA one time pass code.") in p.stderr


def test_cli_wrong_secret(sts, tmp_path):
    p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", sts.url],
            user_env(secret="wrong/secret"))
    assert p.returncode == 254
    assert "An error occurred (SignatureDoesNotMatch) when calling the GetCallerIdentity " \
           "operation: The request signature we calculated does not match" in p.stderr


def test_cli_chaining_cap(sts, tmp_path):
    first = json.loads(aws(tmp_path, [
        "sts", "assume-role", "--endpoint-url", sts.url, "--role-arn", M.SEED_ROLE_ARN,
        "--role-session-name", "first", "--serial-number", M.SEED_MFA_SERIAL,
        "--token-code", sts.totp_code()], user_env()).stdout)["Credentials"]
    p = aws(tmp_path, ["sts", "assume-role", "--endpoint-url", sts.url, "--role-arn",
                       M.SEED_CHAIN_ROLE_ARN, "--role-session-name", "second",
                       "--duration-seconds", "7200"],
            {"AWS_ACCESS_KEY_ID": first["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": first["SecretAccessKey"],
             "AWS_SESSION_TOKEN": first["SessionToken"]})
    assert p.returncode == 254
    assert M.MSG_CHAINING in p.stderr


def test_cli_throttling_is_retried(sts, tmp_path):
    sts.add_fault("GetCallerIdentity", "throttling", count=None)
    p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", sts.url],
            dict(user_env(), AWS_MAX_ATTEMPTS="2", AWS_RETRY_MODE="standard"))
    assert p.returncode == 254
    assert "(Throttling)" in p.stderr and "Rate exceeded" in p.stderr
    assert sts.count("GetCallerIdentity") == 2


def test_cli_sees_5xx_html(sts, tmp_path):
    sts.add_fault("GetCallerIdentity", "status", count=None, status=503)
    p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", sts.url],
            dict(user_env(), AWS_MAX_ATTEMPTS="1"))
    assert p.returncode == 254 and "An error occurred (503)" in p.stderr


def test_cli_https_with_ca_bundle(sts_https, tmp_path):
    assert sts_https.url.startswith("https://")
    args = ["sts", "get-caller-identity", "--endpoint-url", sts_https.url]
    p = aws(tmp_path, args + ["--ca-bundle", sts_https.ca_file], user_env())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Arn"] == M.SEED_USER_ARN
    bad = aws(tmp_path, args + ["--ca-bundle", sts_https.wrong_ca_file],
              dict(user_env(), AWS_MAX_ATTEMPTS="1"))
    assert bad.returncode != 0 and "SSL validation failed" in bad.stderr


def _seed_cli_env(sts, tmp_path):
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)
    (home / "config").write_text(SEED_CONFIG)
    (home / "credentials").write_text("[cli-user]\naws_access_key_id = %s\n"
                                      "aws_secret_access_key = %s\n"
                                      % (M.SEED_USER_KEY, M.SEED_USER_SECRET))
    # CLI 2.9 cannot redirect the assume-role provider's STS client, so the mock acts as
    # the HTTPS proxy for sts.us-west-2.amazonaws.com, with its throwaway CA trusted.
    return {"HTTPS_PROXY": sts.proxy_url, "AWS_CA_BUNDLE": sts.ca_file,
            "AWS_DEFAULT_REGION": None}


def test_cli_seed_role_without_mfa_is_access_denied(sts, tmp_path):
    p = aws(tmp_path, ["sts", "get-caller-identity", "--profile", "role-without-mfa"],
            _seed_cli_env(sts, tmp_path))
    assert p.returncode == 254, p.stderr
    assert ("An error occurred (AccessDenied) when calling the AssumeRole operation: "
            "Access denied") in p.stderr
    c = sts.calls_for("AssumeRole")[0]
    assert c["tunnel_host"] == "sts.us-west-2.amazonaws.com"
    assert c["principal"] == M.SEED_USER_ARN and c["region"] == "us-west-2"


def test_cli_seed_role_with_mfa_prompts_on_a_terminal(sts, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = clean_env(str(tmp_path / "cli-home"), str(tmp_path))
    env.update({k: v for k, v in _seed_cli_env(sts, tmp_path).items() if v})
    env.update(AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "cli-home" / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "cli-home" / "credentials"))
    child = pexpect.spawn(AWS, ["sts", "get-caller-identity", "--profile", "role-with-mfa"],
                          env=env, encoding="utf-8", timeout=30)
    child.expect_exact("Enter MFA code for %s: " % M.SEED_MFA_SERIAL)
    child.sendline(sts.totp_code())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "assumed-role/cli-role/" in child.before
    assert sts.calls_for("AssumeRole")[0]["mfa"] is True


def test_cli_uses_imds_and_container_credentials(sts, tmp_path):
    sts.configure(imds=True, container=True)
    p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", sts.url],
            {"AWS_EC2_METADATA_DISABLED": None, "AWS_EC2_METADATA_SERVICE_ENDPOINT": sts.url + "/"})
    assert p.returncode == 0, p.stderr
    assert "assumed-role/imds-role/" in json.loads(p.stdout)["Arn"]
    p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", sts.url],
            {"AWS_CONTAINER_CREDENTIALS_FULL_URI": sts.url + M.SEED_CONTAINER_PATH,
             "AWS_CONTAINER_AUTHORIZATION_TOKEN": M.SEED_CONTAINER_TOKEN})
    assert p.returncode == 0, p.stderr
    assert "assumed-role/container-role/" in json.loads(p.stdout)["Arn"]


def test_cli_web_identity(sts, tmp_path):
    p = aws(tmp_path, ["sts", "assume-role-with-web-identity", "--endpoint-url", sts.url,
                       "--role-arn", M.SEED_WEB_ROLE_ARN, "--role-session-name", "web",
                       "--web-identity-token", M.SEED_WEB_IDENTITY_TOKEN])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["Credentials"]["AccessKeyId"].startswith("ASIA")


# ---------------------------------------------------------------------------------------
# Program mode and fixtures
# ---------------------------------------------------------------------------------------
def test_program_mode_with_ready_file(tmp_path, mock_certs):
    ready = tmp_path / "ready"
    script = os.path.join(os.path.dirname(M.__file__), "mock_sts.py")
    proc = subprocess.Popen(["/usr/bin/python3", script, "--port", "0", "--scenario", "seed",
                             "--https", "--cert-dir", mock_certs.dir,
                             "--ready-file", str(ready)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        url = ready.read_text().strip()
        assert url.startswith("https://127.0.0.1:")
        p = aws(tmp_path, ["sts", "get-caller-identity", "--endpoint-url", url,
                           "--ca-bundle", mock_certs.ca_file], user_env())
        assert p.returncode == 0, p.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_awsenv_fixture(awsenv, sts):
    assert awsenv.env["HOME"] == str(awsenv.home)
    assert awsenv.env["AWS_ENDPOINT_URL_STS"] == sts.url
    assert awsenv.env["LANG"] == "C.UTF-8"
    assert not [k for k in awsenv.env if k.startswith("AWS_") and k != "AWS_ENDPOINT_URL_STS"]
    assert stat_mode(awsenv.env["XDG_RUNTIME_DIR"]) == 0o700
    awsenv.seed()
    config = open(os.path.join(awsenv.home, ".aws", "config")).read()
    assert "role_arn= arn:aws:iam::128716708097:role/cli-role" in config
    creds = open(os.path.join(awsenv.home, ".aws", "credentials")).read()
    assert creds.startswith("[cli-user]") and M.SEED_USER_SECRET in creds
    a, b = awsenv.totp(), awsenv.totp()
    assert a != b and re.fullmatch(r"\d{6}", a)
    assert awsenv.bin.endswith("/awsrole-run") and awsenv.shim.endswith("libawsrole-shim.so")
    # The CLI, given the same files, resolves the seed scenario against the mock.
    p = subprocess.run([AWS, "sts", "get-caller-identity", "--profile", "cli-user",
                        "--endpoint-url", sts.url],
                       env=dict(awsenv.env, AWS_PAGER="", AWS_DEFAULT_REGION="us-west-2"),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_awsenv_run_has_no_terminal(awsenv):
    if not os.access(awsenv.bin, os.X_OK):
        pytest.skip("launcher not built")
    p = awsenv.run(["--version"])
    assert p.returncode == 0


def stat_mode(path):
    return os.stat(path).st_mode & 0o777
