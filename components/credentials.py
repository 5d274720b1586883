"""Where generated passwords and signing keys come from.

Normally pulumi_random and pulumi_tls. A stack may name either in `providerStandIns`, and then
the matching stand-in from components/standins.py produces the same outputs (CI only).
Components receive a CredentialSource and never decide this themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_random as random
import pulumi_tls as tls

from components import standins


@dataclass(frozen=True)
class GeneratedPassword:
    result: pulumi.Output[str]  # secret
    bcrypt_hash: pulumi.Output[str]  # secret


@dataclass(frozen=True)
class CredentialSource:
    stand_in_random: bool = False
    stand_in_tls: bool = False

    def password(self, name: str, length: int, opts: Optional[pulumi.ResourceOptions]) -> GeneratedPassword:
        """Letters and digits only: these passwords also land in GridDB's config files."""
        if self.stand_in_random:
            generated = standins.StandInPassword(name, length, opts=opts)
        else:
            generated = random.RandomPassword(name, length=length, special=False, opts=opts)
        return GeneratedPassword(result=generated.result, bcrypt_hash=generated.bcrypt_hash)

    def ecdsa_p256_key_pem(self, name: str, opts: Optional[pulumi.ResourceOptions]) -> pulumi.Output[str]:
        if self.stand_in_tls:
            return standins.StandInSigningKey(name, opts=opts).private_key_pem
        return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve="P256", opts=opts).private_key_pem
