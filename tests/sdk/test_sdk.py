#!/usr/bin/python3
"""Microsoft's own Azure SDKs for Python (Debian's python3-azure) as clients of the local
stand-ins, through a TLS relay (the SDKs send bearer tokens over https only):

  azure-identity              ManagedIdentityCredential  -> emulator/identity (IMDS, plain http)
  azure-keyvault-keys         KeyClient get_key/release_key with the SDK's defaults -> emulator/keyvault
  azure-security-attestation  metadata, signing certificates, token validation -> emulator/maa

The SDKs' own request building, challenge handling and response parsing stay in the path;
nothing of theirs is patched.  The package has no SEV-SNP attest call (it has SGX, Open
Enclave and TPM only), so the AttestSevSnpVm request is sent as the REST spec writes it and
the token it returns is checked with the package's validation code.  Run by tests/sdk/run.sh,
which starts the stand-ins and sets the environment read below.  Prints "N passed, N failed".
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import traceback

import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys._shared import http_challenge_cache
from azure.security.attestation import AttestationClient, AttestationToken
from azure.security.attestation._models import AttestationTokenValidationException
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

ENV = os.environ
CA = ENV["SDK_CA"]
KV = ENV["SDK_KV"]
KEY = ENV["SDK_KEY"]
MAA = ENV["SDK_MAA"]
MAA_ISSUER = ENV["SDK_MAA_ISSUER"]
CLIENT_ID = ENV["SDK_CLIENT_ID"]
OID = ENV["SDK_OID"]
VAULT_CERT = ENV["SDK_VAULT_CERT"]

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), f"{h}.{p}".encode(), b64u_decode(s)


class Recorder:
    """azure-core's raw request/response hooks: what the SDK really sent and got."""

    def __init__(self):
        self.seen = []

    def request(self, pipeline_request):
        r = pipeline_request.http_request
        body = r.body if r.body is not None else b""
        self.seen.append({"method": r.method, "url": r.url, "auth": "Authorization" in r.headers,
                          "body": body if isinstance(body, (bytes, str)) else str(body)})

    def response(self, pipeline_response):
        r = pipeline_response.http_response
        self.seen[-1]["status"] = r.status_code
        self.seen[-1]["www_authenticate"] = r.headers.get("WWW-Authenticate", "")


def credential():
    return ManagedIdentityCredential(client_id=CLIENT_ID)


def key_client(rec=None):
    hooks = {"raw_request_hook": rec.request, "raw_response_hook": rec.response} if rec else {}
    # The vault is on 127.0.0.1, not *.vault.azure.net: the SDK's domain check of the challenge
    # resource (its documented verify_challenge_resource option) cannot hold; nothing else changes.
    return KeyClient(KV, credential(), verify_challenge_resource=False, connection_verify=CA, **hooks)


# ---- evidence: a virtual SEV-SNP report bound to our runtime data, attested by the MAA stand-in ----

def rsa_jwks(key):
    pub = key.public_key().public_numbers()
    n = b64u(pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big"))
    e = b64u(pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big"))
    thumb = b64u(hashlib.sha256(json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":")).encode()).digest())
    return {"keys": [{"e": e, "key_ops": ["encrypt"], "kid": thumb, "kty": "RSA", "n": n}]}


def snp_report(report_data):
    """The guest side of emulator/vsnp-host's socket: 'VSNP' + vmpl + 64 bytes of report_data."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(ENV["SDK_SNP_SOCKET"])
        s.sendall(b"VSNP" + struct.pack("<I", 0) + report_data)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    status, length = struct.unpack("<II", data[:8])
    assert status == 0, data[8:].decode(errors="replace")
    assert length == 1184 == len(data) - 8, length
    return data[8:]


def attest(runtime, nonce):
    """AttestSevSnpVm as the REST spec (2022-08-01) writes it, over the TLS relay."""
    report = snp_report(hashlib.sha256(runtime).digest() + bytes(32))
    with open(ENV["SDK_THIM"]) as f:
        thim = json.load(f)
    b64p = lambda b: base64.urlsafe_b64encode(b).decode()  # padded, as the SKR sidecar sends it
    inner = {"SnpReport": b64p(report), "VcekCertChain": b64p((thim["vcekCert"] + thim["certificateChain"]).encode())}
    body = {"report": b64p(json.dumps(inner).encode()),
            "runtimeData": {"data": b64p(runtime), "dataType": "JSON"},
            "initTimeData": {"data": "", "dataType": ""},
            "nonce": nonce}
    r = requests.post(f"{MAA}/attest/SevSnpVm?api-version=2022-08-01", json=body, verify=CA, timeout=20)
    assert r.status_code == 200, r.text
    return r.json()["token"]


WRAP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = rsa_jwks(WRAP_KEY)
RUNTIME = json.dumps(JWKS, separators=(",", ":")).encode()
NONCE = "sdk-nonce-" + b64u(os.urandom(9))
TOKEN = None


def token():
    global TOKEN
    if TOKEN is None:
        TOKEN = attest(RUNTIME, NONCE)
    return TOKEN


# ---- azure-identity ----

@test
def identity_managed_identity_credential_gets_a_vault_token():
    for cred in (credential(), ManagedIdentityCredential()):  # user-assigned, then system-assigned
        t = cred.get_token("https://vault.azure.net/.default")
        _, claims, _, _ = jwt_parts(t.token)
        assert claims["aud"] == "https://vault.azure.net", claims
        assert claims["oid"] == OID and claims["appid"] == CLIENT_ID, claims
        assert claims["x-demo-emulated"] is True
        assert isinstance(t.expires_on, int) and t.expires_on > time.time() + 3000, t.expires_on
        assert cred.get_token("https://vault.azure.net/.default").token == t.token, "the SDK caches it"


@test
def identity_another_identity_is_unavailable_as_imds_says():
    try:
        ManagedIdentityCredential(client_id="00000000-1111-2222-3333-444444444444").get_token(
            "https://vault.azure.net/.default")
    except CredentialUnavailableError as e:
        assert "requested identity has not been assigned" in str(e), str(e)
    else:
        raise AssertionError("a client_id this instance does not own got a token")


@test
def identity_attestation_resource():
    t = credential().get_token("https://attest.azure.net/.default")
    assert jwt_parts(t.token)[1]["aud"] == "https://attest.azure.net"


# ---- azure-security-attestation ----

def attestation_client():
    return AttestationClient(MAA, credential(), connection_verify=CA)


@test
def attestation_metadata_and_signing_certificates():
    with attestation_client() as c:
        md = c.get_open_id_metadata()
        assert md["issuer"] == MAA_ISSUER, md
        assert md["jwks_uri"] == MAA_ISSUER + "/certs", md
        assert "nonce" in md["claims_supported"] and "x-ms-runtime" in md["claims_supported"]
        signers = c.get_signing_certificates()
    assert len(signers) >= 1
    header, _, _, _ = jwt_parts(token())
    mine = [s for s in signers if s.key_id == header["kid"]]
    assert len(mine) == 1, [s.key_id for s in signers]
    cert = x509.load_pem_x509_certificate(mine[0].certificates[0].encode())
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size >= 2048


@test
def attestation_token_validates_with_the_sdk():
    with attestation_client() as c:
        signers = c.get_signing_certificates()
    t = AttestationToken(token=token())
    # The package's own validation (signature against the signers from /certs, dates, issuer);
    # its public attest_* calls run exactly this on the tokens they get.
    t._validate_token(signers, validate_issuer=True, issuer=MAA_ISSUER)
    assert t.issuer == MAA_ISSUER and t.algorithm == "RS256"
    body = t._get_body()
    assert body["nonce"] == NONCE, body.get("nonce")
    assert body["x-ms-runtime"] == JWKS
    assert body["x-ms-sevsnpvm-reportdata"] == hashlib.sha256(RUNTIME).hexdigest() + "0" * 64
    assert body["x-ms-attestation-type"] == "sevsnpvm" and body["x-demo-emulated"] is True

    h, p, s = token().split(".")
    claims = json.loads(b64u_decode(p))
    claims["x-ms-sevsnpvm-is-debuggable"] = True
    forged = f"{h}.{b64u(json.dumps(claims).encode())}.{s}"
    for bad, kwargs in ((forged, {}), (token(), {"validate_issuer": True, "issuer": "https://evil.example"})):
        try:
            AttestationToken(token=bad)._validate_token(signers, **kwargs)
        except AttestationTokenValidationException:
            pass
        else:
            raise AssertionError("the SDK accepted a token it must refuse")


# ---- azure-keyvault-keys ----

@test
def keyvault_release_with_sdk_defaults_and_unwrap():
    http_challenge_cache.clear()  # this client discovers the challenge itself, on a POST
    rec = Recorder()
    with key_client(rec) as kc:
        result = kc.release_key(KEY, token())
    first, second = rec.seen[0], rec.seen[1]
    assert first["url"].startswith(f"{KV}/keys/{KEY}//release?api-version=7.4-preview.1"), first["url"]
    assert not first["auth"] and not first["body"], "the SDK's first request has no token and no body"
    assert first["status"] == 401, first
    assert first["www_authenticate"].startswith('Bearer authorization="') and \
        'resource="https://vault.azure.net"' in first["www_authenticate"], first["www_authenticate"]
    assert second["auth"] and json.loads(second["body"])["target"] == token() and second["status"] == 200, second
    assert len(rec.seen) == 2, rec.seen

    header, payload, signed, sig = jwt_parts(result.value)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    with open(VAULT_CERT, "rb") as f:
        assert leaf == x509.load_pem_x509_certificate(f.read()), "signed with the vault's certificate"
    leaf.public_key().verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
    assert payload["request"]["api-version"] == "7.4-preview.1", payload["request"]
    assert payload["request"]["enc"] == "CKM_RSA_AES_KEY_WRAP"
    released = unwrap(payload, hashes.SHA1())

    with key_client() as kc:
        key = kc.get_key(KEY)
    assert released.public_key().public_numbers().n == int.from_bytes(key.key.n, "big")
    assert payload["request"]["kid"] == key.id


def unwrap(payload, oaep_hash):
    """CKM_RSA_AES_KEY_WRAP: RSA-OAEP of a fresh AES key, then AES key wrap with padding (RFC 5649)."""
    hsm = json.loads(b64u_decode(payload["response"]["key"]["key"]["key_hsm"]))
    assert hsm["header"]["kid"] == JWKS["keys"][0]["kid"], hsm["header"]
    ct = b64u_decode(hsm["ciphertext"])
    kek = WRAP_KEY.decrypt(ct[:256], padding.OAEP(mgf=padding.MGF1(oaep_hash), algorithm=oaep_hash, label=None))
    return serialization.load_der_private_key(aes_key_unwrap_with_padding(kek, ct[256:]), password=None)


@test
def keyvault_release_with_version_algorithm_and_nonce():
    with key_client() as kc:
        version = kc.get_key(KEY).properties.version
        result = kc.release_key(KEY, token(), version=version, algorithm="RSA_AES_KEY_WRAP_256", nonce="n-123")
    _, payload, _, _ = jwt_parts(result.value)
    assert payload["request"]["enc"] == "RSA_AES_KEY_WRAP_256" and payload["request"]["nonce"] == "n-123", payload["request"]
    assert payload["request"]["kid"].endswith(f"/keys/{KEY}/{version}")
    assert isinstance(unwrap(payload, hashes.SHA256()), rsa.RSAPrivateKey)


@test
def keyvault_get_key_with_sdk_defaults():
    http_challenge_cache.clear()
    rec = Recorder()
    with key_client(rec) as kc:
        key = kc.get_key(KEY)
        same = kc.get_key(KEY, version=key.properties.version)
    assert same.id == key.id and same.key.n == key.key.n
    assert rec.seen[0]["url"].startswith(f"{KV}/keys/{KEY}/?api-version=7.4-preview.1"), rec.seen[0]["url"]
    assert [s["status"] for s in rec.seen] == [401, 200, 200], rec.seen
    assert key.name == KEY and key.id == f"{KV}/keys/{KEY}/{key.properties.version}", key.id
    assert key.key_type == "RSA-HSM", key.key_type
    assert set(key.key_operations) == {"wrapKey", "unwrapKey", "encrypt", "decrypt"}, key.key_operations
    assert key.properties.exportable is True and key.properties.enabled is True
    assert key.properties.created_on is not None and key.properties.recovery_level
    policy = json.loads(key.properties.release_policy.encoded_policy)
    assert policy["anyOf"][0]["authority"] == MAA_ISSUER, policy
    assert int.from_bytes(key.key.n, "big").bit_length() == 2048 and key.key.e == b"\x01\x00\x01"


@test
def keyvault_errors_parse_in_the_sdk():
    with key_client() as kc:
        for call in (lambda: kc.get_key("no-such-key"),
                     lambda: kc.get_key(KEY, version="0" * 32),
                     lambda: kc.release_key("no-such-key", token())):
            try:
                call()
            except ResourceNotFoundError as e:
                assert e.status_code == 404 and e.error.code == "KeyNotFound", (e.status_code, e.error)
                assert "was not found in this key vault" in e.error.message
            else:
                raise AssertionError("a missing key was found")
        try:
            kc.release_key(KEY, "not.a.token")
        except HttpResponseError as e:
            assert e.status_code == 403 and e.error.code == "Forbidden", (e.status_code, e.error)
            assert e.error.message.startswith("Target attestation token is invalid"), e.error.message
        else:
            raise AssertionError("a release without a valid attestation token succeeded")
    # A token for the attestation resource is not one for the vault.
    bearer = credential().get_token("https://attest.azure.net/.default").token
    r = requests.get(f"{KV}/keys/{KEY}?api-version=7.4", headers={"Authorization": f"Bearer {bearer}"},
                     verify=CA, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized", r.text
    assert r.headers["WWW-Authenticate"].startswith("Bearer authorization=")


def main():
    passed = failed = 0
    for fn in TESTS:
        t0 = time.monotonic()
        try:
            fn()
        except Exception:  # report every failure and go on
            failed += 1
            print(f"FAIL {fn.__name__}:")
            print("    " + traceback.format_exc().replace("\n", "\n    "))
        else:
            passed += 1
            print(f"ok   {fn.__name__} ({time.monotonic() - t0:.2f} s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
