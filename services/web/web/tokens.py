"""Verify auth's JWTs against its published JWKS.

Only ES256 is accepted (the header's alg is checked before any key is chosen, so "none",
HS256-with-the-public-key and other algorithm confusions are refused). iss, aud, exp, iat and
sub are required and checked. Keys are cached; an unknown kid triggers a refresh of the JWKS,
at most once per refresh_interval seconds, so forged kids cannot make us hammer auth.
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


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by auth (answer 401)."""


class KeysUnavailable(Exception):
    """auth's JWKS could not be fetched and no key is cached (answer 503)."""


def http_jwks_fetcher(url: str, timeout: float = 3.0) -> Callable[[], dict]:
    client = httpx.Client(timeout=timeout)

    def fetch() -> dict:
        resp = client.get(url)
        resp.raise_for_status()
        return resp.json()

    return fetch


class TokenVerifier:
    def __init__(self, fetch_jwks: Callable[[], dict], issuer: str, audience: str,
                 refresh_interval: float = 30.0, leeway: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch_jwks
        self.issuer = issuer
        self.audience = audience
        self.refresh_interval = refresh_interval
        self.leeway = leeway
        self._clock = clock
        self._keys: dict[str, object] = {}
        self._last_refresh: float | None = None
        self._lock = threading.Lock()
        self.refresh_count = 0
        # token -> claims of tokens whose signature and claims already checked out; exp is
        # re-checked on every use, so a cached token still expires on time.
        self._verified: OrderedDict[str, dict] = OrderedDict()
        self._verified_max = 4096
        self._wall = time.time

    def _refresh(self) -> None:
        """Fetch the JWKS unless it was fetched less than refresh_interval ago."""
        with self._lock:
            now = self._clock()
            # with no key at all (auth was down) retry sooner than with a working cache
            interval = self.refresh_interval if self._keys else min(2.0, self.refresh_interval)
            if self._last_refresh is not None and now - self._last_refresh < interval:
                return
            self._last_refresh = now
            self.refresh_count += 1
            try:
                data = self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("JWKS fetch failed", extra={"fields": {"error": type(exc).__name__}})
                return
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
            self._keys = keys
            log.info("JWKS refreshed", extra={"fields": {"kids": sorted(keys)}})

    def _key_for(self, kid: str):
        key = self._keys.get(kid)
        if key is None:
            self._refresh()
            key = self._keys.get(kid)
        if key is None:
            if not self._keys and self._last_refresh is not None:
                # we have never obtained any key: auth is unreachable, not the caller's fault
                raise KeysUnavailable("auth's JWKS is unavailable")
            raise InvalidToken("token signed by an unknown key")
        return key

    def verify(self, token: str) -> dict:
        cached = self._verified.get(token)
        if cached is not None:
            if cached["exp"] + self.leeway > self._wall():
                return cached
            self._verified.pop(token, None)
        claims = self._verify(token)
        self._verified[token] = claims
        while len(self._verified) > self._verified_max:
            try:
                self._verified.popitem(last=False)
            except KeyError:
                break
        return claims

    def _verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != "ES256":
            raise InvalidToken("token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = self._key_for(kid)
        try:
            claims = jwt.decode(
                token, key=key, algorithms=["ES256"], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("invalid token")
        if not isinstance(claims.get("exp"), (int, float)):
            raise InvalidToken("invalid token")
        return claims
