"""The CI stand-ins for pulumi-docker, pulumi-random and pulumi-tls (components/standins.py):
the program wires them exactly like the real providers, and each produces what the real one
would."""

from pathlib import Path

import bcrypt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from components import standins
from harness import run_program

DYNAMIC = "pulumi-python:dynamic:Resource"


@pytest.fixture(scope="module")
def stand_in_run():
    return run_program("dev", {"providerStandIns": ["docker", "random", "tls"]})


def test_no_real_provider_resource_is_registered(stand_in_run):
    types = {r.type for r in stand_in_run.resources}
    assert not any(t.startswith(("docker:", "random:", "tls:")) for t in types)
    names = sorted(r.name for r in stand_in_run.of_type(DYNAMIC))
    assert names == ["auth-image", "auth-password-demo", "auth-signing-key", "griddb-admin-password",
                     "griddb-image", "web-image"]


def test_deployments_run_the_stand_in_digests(stand_in_run):
    for service in ("griddb", "auth", "web"):
        digest = stand_in_run.one(DYNAMIC, f"{service}-image").outputs["repo_digest"]
        spec = stand_in_run.kube("Deployment", service).inputs["spec"]["template"]["spec"]
        assert {c["image"] for c in spec["containers"]} == {digest}


def test_stand_in_secrets_stay_secret(stand_in_run):
    assert stand_in_run.secret_outputs == {"accountPasswords"}


def test_unknown_stand_in_is_rejected():
    from components.settings import SettingsError

    with pytest.raises(SettingsError, match="providerStandIns = 'aws': each entry must be one of docker, random, tls"):
        run_program("dev", {"providerStandIns": ["aws"]})


def test_password_stand_in_gives_a_verifiable_bcrypt_hash():
    outs = standins._PasswordProvider().create({"length": 20}).outs
    assert len(outs["result"]) == 20 and outs["result"].isalnum()
    assert outs["bcrypt_hash"].startswith("$2b$10$")
    assert bcrypt.checkpw(outs["result"].encode(), outs["bcrypt_hash"].encode())
    assert standins._PasswordProvider().create({"length": 20}).outs["result"] != outs["result"]


def test_signing_key_stand_in_gives_a_p256_pem():
    pem = standins._SigningKeyProvider().create({"curve": "P256"}).outs["private_key_pem"]
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


def test_a_changed_file_changes_the_image_and_a_cache_file_does_not(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    before = standins.context_digest(str(tmp_path))
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\0")
    assert standins.context_digest(str(tmp_path)) == before
    (tmp_path / "app.py").write_text("print(2)\n")
    after = standins.context_digest(str(tmp_path))
    assert after != before
    provider = standins._DockerCliImageProvider()
    olds = {"image_name": "r/web:dev", "context": "/c", "context_digest": before, "build_args": {}, "platform": "linux/amd64"}
    assert provider.diff("id", olds, dict(olds)).changes is False
    assert provider.diff("id", olds, {**olds, "context_digest": after}).changes is True
