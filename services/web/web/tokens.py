"""Verify auth's JWTs against its published JWKS.

Only ES256 is accepted (the header's alg is checked before any key is chosen, so "none",
HS256-with-the-public-key and other algorithm confusions are refused). iss, aud, exp, iat and
sub are required and checked, and no token may live longer than max_lifetime (exp - iat, and
exp - now). Keys, and the tokens they verified, follow auth's JWKS:
- an unknown kid refreshes the JWKS at once, but at most once per min_refresh_interval
  (1 s) for all callers together, so forged kids cannot make us hammer auth; a key auth has
  just started signing with is therefore accepted on its first token;
- the key set is refetched when it is older than max_key_age (30 s), so a key auth retired
  stops being accepted within that time; if auth is unreachable then, the keys it last
  published stay in use (no outage because auth blinked);
- a token verified before is served from a cache only while its key is still in the set.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Callable

import httpx
import jwt
from jwt.algorithms import ECAlgorithm

log = logging.getLogger("web.tokens")

SUB_MAX = 128


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by auth (answer 401).

    `reason` is one word from REJECTION_REASONS (a metric label); the message is the client's."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


REJECTION_REASONS = ("missing", "malformed", "algorithm", "no_key_id", "unknown_key", "expired",
                     "signature", "claims", "lifetime")


class KeysUnavailable(Exception):
    """auth's JWKS could not be fetched and no key is cached (answer 503)."""


def http_jwks_fetcher(url: str, timeout: float = 3.0) -> Callable[[], dict]:
    client = httpx.Client(timeout=timeout)

    def fetch() -> dict:
        try:
            resp = client.get(url)
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            # a kept-alive connection to an auth pod that has since stopped: a GET, so again
            resp = client.get(url)
        resp.raise_for_status()
        return resp.json()

    return fetch


def _parse_jwks(data) -> dict[str, object]:
    keys = {}
    for jwk in data.get("keys", []) if isinstance(data, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        if jwk.get("alg", "ES256") != "ES256" or not isinstance(jwk.get("kid"), str):
            continue
        try:
            keys[jwk["kid"]] = ECAlgorithm.from_jwk(json.dumps(jwk))
        except (jwt.InvalidKeyError, ValueError, KeyError):
            continue
    return keys


class TokenVerifier:
    def __init__(self, fetch_jwks: Callable[[], dict], issuer: str, audience: str,
                 min_refresh_interval: float = 1.0, max_key_age: float = 30.0,
                 leeway: float = 5.0, max_lifetime: float = 86400.0,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch_jwks
        self.issuer = issuer
        self.audience = audience
        self.min_refresh_interval = min_refresh_interval
        self.max_key_age = max_key_age
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self._clock = clock
        self._keys: dict[str, object] = {}
        self._last_refresh: float | None = None   # last attempt
        self._last_success: float | None = None   # last fetch that returned a key set
        self._lock = threading.Lock()
        self.refresh_count = 0
        # token -> (kid, claims) of tokens whose signature and claims checked out; exp and
        # the key's presence are re-checked on every use.
        self._verified: OrderedDict[str, tuple[str, dict]] = OrderedDict()
        self._verified_max = 4096
        self._wall = time.time

    def _refresh(self, why: str) -> None:
        """Fetch the JWKS unless an attempt was made less than min_refresh_interval ago."""
        with self._lock:
            now = self._clock()
            if self._last_refresh is not None and now - self._last_refresh < self.min_refresh_interval:
                return
            self._last_refresh = now
            self.refresh_count += 1
            try:
                data = self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("JWKS fetch failed", extra={"fields": {"error": type(exc).__name__, "why": why}})
                return
            self._keys = _parse_jwks(data)
            self._last_success = now
            log.info("JWKS refreshed", extra={"fields": {"kids": sorted(self._keys), "why": why}})

    def _keys_fresh(self) -> None:
        if self._last_success is not None and self._clock() - self._last_success > self.max_key_age:
            self._refresh("key set older than max_key_age")

    def _key_for(self, kid: str):
        key = self._keys.get(kid)
        if key is None:
            self._refresh("unknown kid")
            key = self._keys.get(kid)
        if key is None:
            if self._last_success is None and self._last_refresh is not None:
                # we have never obtained any key: auth is unreachable, not the caller's fault
                raise KeysUnavailable("auth's JWKS is unavailable")
            raise InvalidToken("token signed by an unknown key", "unknown_key")
        return key

    def cached(self, token: str) -> dict | None:
        """The claims of a token verify() accepted before, when that answer still holds and
        needs nothing fetched (key set fresh, key still in it, not expired); None otherwise,
        and the caller falls back to verify(). Never blocks: safe on an event loop."""
        if self._last_success is None or self._clock() - self._last_success > self.max_key_age:
            return None
        cached = self._verified.get(token)
        if cached is None:
            return None
        kid, claims = cached
        if kid in self._keys and claims["exp"] + self.leeway > self._wall():
            return claims
        return None

    def verify(self, token: str) -> dict:
        self._keys_fresh()
        cached = self._verified.get(token)
        if cached is not None:
            kid, claims = cached
            if kid in self._keys and claims["exp"] + self.leeway > self._wall():
                return claims
            self._verified.pop(token, None)
        kid, claims = self._verify(token)
        self._verified[token] = (kid, claims)
        while len(self._verified) > self._verified_max:
            try:
                self._verified.popitem(last=False)
            except KeyError:
                break
        return claims

    def _verify(self, token: str) -> tuple[str, dict]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token", "malformed") from None
        if header.get("alg") != "ES256":
            raise InvalidToken("token algorithm not accepted", "algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id", "no_key_id")
        key = self._key_for(kid)
        try:
            claims = jwt.decode(
                token, key=key, algorithms=["ES256"], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired", "expired") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("invalid token", "signature") from None
        except jwt.DecodeError:  # e.g. a signature that is not base64url
            raise InvalidToken("invalid token", "malformed") from None
        except jwt.PyJWTError:  # issuer, audience, a required claim, not yet valid
            raise InvalidToken("invalid token", "claims") from None
        self._check_claims(claims)
        return kid, claims

    def _check_claims(self, claims: dict) -> None:
        sub, exp, iat = claims.get("sub"), claims.get("exp"), claims.get("iat")
        if not isinstance(sub, str) or not 1 <= len(sub) <= SUB_MAX or not sub.isprintable():
            raise InvalidToken("invalid token", "claims")
        try:
            sub.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidToken("invalid token", "claims") from None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, iat)):
            raise InvalidToken("invalid token", "claims")
        if exp - iat > self.max_lifetime or exp - self._wall() > self.max_lifetime + self.leeway:
            raise InvalidToken("token lifetime is longer than allowed", "lifetime")
