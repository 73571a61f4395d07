"""A partner written with an independent RFC 9421 implementation (Python's
http-message-signatures), used by the interop integration test.

It signs a GET and an idempotent POST to the gateway and verifies both receipts
with only the gateway's published JWKS. Prints one JSON line with what it saw;
exits non-zero on any failure.
"""

import argparse
import base64
import datetime
import json
import secrets
import sys

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)


def b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True, help="partner private JWK")
    parser.add_argument("--ca", required=True, help="CA certificate (PEM) to trust")
    parser.add_argument("--new-key", required=True, help="public JWK to register")
    args = parser.parse_args()

    with open(args.key) as f:
        jwk = json.load(f)
    with open(args.new_key) as f:
        new_public = json.load(f)
    session = requests.Session()
    # Ignore REQUESTS_CA_BUNDLE and proxies from the environment: trust exactly the given CA.
    session.trust_env = False
    session.verify = args.ca

    jwks = session.get(f"{args.base_url}/.well-known/jwks.json", timeout=10).json()
    gateway_keys = {
        k["kid"]: Ed25519PublicKey.from_public_bytes(b64url(k["x"]))
        for k in jwks["keys"]
        if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"
    }
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={},
            private_keys={jwk["kid"]: Ed25519PrivateKey.from_private_bytes(b64url(jwk["d"]))},
        ),
    )
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys=gateway_keys, private_keys={}),
    )

    def exchange(request, components, body=None, idempotency_key=None):
        prepared = request.prepare()
        nonce = secrets.token_urlsafe(16)
        signer.sign(
            prepared,
            key_id=jwk["kid"],
            nonce=nonce,
            label="py",
            covered_component_ids=components,
            body=body,
        )
        response = session.send(prepared, timeout=10)
        required = ["@status", "content-digest", "request-nonce"]
        if idempotency_key is not None:
            required.append("idempotency-key")
        verifier.verify(
            response,
            require_components=required,
            body=response.content,
            max_age=datetime.timedelta(minutes=5),
        )
        if response.headers.get("request-nonce") != nonce:
            raise SystemExit("receipt does not echo our nonce")
        if idempotency_key is not None and response.headers.get("idempotency-key") != idempotency_key:
            raise SystemExit("receipt does not echo our idempotency key")
        return response

    whoami = exchange(
        requests.Request("GET", f"{args.base_url}/v1/partner"),
        ("@method", "@authority", "@path"),
    )
    body = json.dumps({"jwk": new_public}).encode()
    registered = exchange(
        requests.Request(
            "POST",
            f"{args.base_url}/v1/partner/keys",
            data=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": "py-register-1"},
        ),
        ("@method", "@authority", "@path", "idempotency-key"),
        body=body,
        idempotency_key="py-register-1",
    )
    print(
        json.dumps(
            {
                "whoami_status": whoami.status_code,
                "whoami": whoami.json(),
                "register_status": registered.status_code,
                "registered": registered.json(),
                "receipts_verified": 2,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
