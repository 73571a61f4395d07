"""Verifies a compact JWS with jwcrypto, an independent JOSE implementation, using only a JWKS.

Usage: jws_verify.py JWKS_FILE JWS_FILE -- prints the verified payload, exits 1 if it does not verify.
"""
import sys

from jwcrypto import jwk, jws

with open(sys.argv[1], encoding="utf-8") as f:
    keys = jwk.JWKSet.from_json(f.read())
with open(sys.argv[2], encoding="utf-8") as f:
    token = f.read().strip()

signed = jws.JWS()
signed.deserialize(token)
kid = signed.jose_header.get("kid")
key = keys.get_key(kid)
if key is None:
    sys.exit(f"no key {kid!r} in the JWKS")
signed.verify(key, alg="EdDSA")
sys.stdout.write(signed.payload.decode("utf-8"))
