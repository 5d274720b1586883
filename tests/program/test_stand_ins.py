"""The CI stand-in for pulumi-docker's Image (components/standins.py): the program wires it exactly
like the real resource, and it rebuilds exactly when the build context changes."""

from pathlib import Path

import pytest

from components import standins
from harness import ProgramFailed, run_program

DYNAMIC = "pulumi-python:dynamic:Resource"


@pytest.fixture(scope="module")
def stand_in_run():
    return run_program("dev", {"providerStandIns": ["docker"]})


def test_no_pulumi_docker_resource_is_registered(stand_in_run):
    assert not any(r.type.startswith("docker:") for r in stand_in_run.resources)
    assert sorted(r.name for r in stand_in_run.of_type(DYNAMIC)) == ["auth-image", "griddb-image", "web-image"]
    # Passwords and the signing keys (current and next) still come from the real providers.
    assert len(stand_in_run.of_type("random:index/randomPassword:RandomPassword")) == 2
    assert len(stand_in_run.of_type("tls:index/privateKey:PrivateKey")) == 2


def test_deployments_run_the_stand_in_digests(stand_in_run):
    for service in ("griddb", "auth", "web"):
        image = stand_in_run.one(DYNAMIC, f"{service}-image")
        assert image.inputs["context"].endswith(f"/services/{service}")
        digest = image.outputs["repo_digest"]
        spec = stand_in_run.workload(service).inputs["spec"]["template"]["spec"]
        assert {c["image"] for c in spec["containers"]} == {digest}


def test_unknown_stand_in_is_rejected():
    with pytest.raises(ProgramFailed) as raised:
        run_program("dev", {"providerStandIns": ["random"]})
    assert raised.value.errors == [
        "invalid stack configuration (1 problem(s)):\n"
        "  - griddb-todo:providerStandIns = 'random': each entry must be one of docker"
    ]


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
    assert provider.diff("id", olds, {**olds, "build_args": {"PYTHON_BASE_IMAGE": "x"}}).changes is True
