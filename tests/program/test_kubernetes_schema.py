"""Every Kubernetes object the program would create is valid against the Kubernetes OpenAPI
schema of the cluster version we deploy to, in strict mode: a misspelled field fails."""

import kubernetes_validate

# The e2e cluster (tools/e2e) runs Kubernetes 1.34, the k3s stable line this project targets.
KUBERNETES_VERSION = "1.34.0"


def _objects(run):
    return [(f"{r.kind}/{r.outputs['metadata']['name']}", r.inputs) for r in run.k8s_objects()]


def test_every_object_validates_strictly(any_run):
    objects = _objects(any_run)
    assert len(objects) >= 14
    for label, manifest in objects:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)

