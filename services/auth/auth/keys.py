"""The signing key: an ECDSA P-256 private key in PEM (SEC1 "EC PRIVATE KEY" or PKCS#8), and the
public keys auth publishes beside it during a rotation (PEM "PUBLIC KEY")."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public key as a JWK with only the required members (RFC 7518 section 6.2.1)."""
    numbers = public_key.public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256): required members, sorted, no whitespace."""
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    jwk: dict[str, str]  # public members plus kid, use, alg


def load_signing_key(path: str) -> SigningKey:
    try:
        with open(path, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read signing key file {path}: {exc.strerror}") from None
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError(
            f"signing key file {path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"signing key in {path} must be an ECDSA P-256 key (ES256)")
    jwk = public_jwk(key.public_key())
    kid = thumbprint(jwk)
    return SigningKey(key, kid, {**jwk, "kid": kid, "use": "sig", "alg": "ES256"})


def load_published_key(path: str) -> dict[str, str]:
    """A public key auth publishes but does not sign with (the previous or the next one of a
    rotation), as the JWK web verifies with."""
    try:
        with open(path, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read published key file {path}: {exc.strerror}") from None
    try:
        key = load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise ValueError(f"published key file {path} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"published key in {path} must be an ECDSA P-256 key (ES256)")
    jwk = public_jwk(key)
    return {**jwk, "kid": thumbprint(jwk), "use": "sig", "alg": "ES256"}


def key_set(signing: SigningKey, published: list[dict[str, str]]) -> list[dict[str, str]]:
    """The JWKS's keys: the signing key first, then the others, each kid once."""
    keys, seen = [signing.jwk], {signing.kid}
    for jwk in published:
        if jwk["kid"] not in seen:
            keys.append(jwk)
            seen.add(jwk["kid"])
    return keys
