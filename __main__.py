"""griddb-todo: a GridDB-backed Todo app on Kubernetes.

Thin on purpose: load the settings, build the images, compose the components, export.
Components know nothing of stacks; settings know nothing of resources.
"""

import pulumi
import pulumi_kubernetes as k8s

from components import settings as stack_settings
from components.admission import AdmissionPolicy, AdmissionPolicyArgs
from components.auth import AuthService, AuthServiceArgs
from components.griddb import GridDbNode, GridDbNodeArgs
from components.image import AppImage, AppImageArgs
from components.namespace import AppNamespace, AppNamespaceArgs
from components.registry import RegistryPullSecret, RegistryPullSecretArgs
from components.web import WebFrontend, WebFrontendArgs

TOKEN_ISSUER = "griddb-todo-auth"
TOKEN_AUDIENCE = "griddb-todo-web"

settings = stack_settings.load()
stack = pulumi.get_stack()

# An explicit provider: never deploy to whatever cluster the ambient kubeconfig points at
# unless the stack says so.
provider = k8s.Provider(
    "cluster",
    kubeconfig=settings.cluster.kubeconfig,
    context=settings.cluster.kube_context,
)
in_cluster = pulumi.ResourceOptions(provider=provider)


# The image component: pulumi-docker's, or (CI only, its plugin cannot be built offline) the
# stand-in of components/standins.py. Same component, names and output either way.
image_component = AppImage
if settings.stand_ins.docker:
    from components.standins import StandInAppImage as image_component


def app_image(service: str, build_args: dict[str, str]) -> AppImage:
    registry = settings.registry
    return image_component(
        service,
        AppImageArgs(
            context=f"services/{service}",
            repository=f"{registry.address}/{service}",
            tag=stack,
            build_args=build_args,
            registry_server=registry.server,
            registry_username=registry.username,
            registry_password=registry.password,
        ),
    )


python_base = {"PYTHON_BASE_IMAGE": settings.images.python_base}
auth_image = app_image("auth", python_base)
web_image = app_image("web", python_base)
griddb_settings = settings.griddb
if griddb_settings.replicas > 0:
    griddb_image_ref = app_image("griddb", {"GRIDDB_BASE_IMAGE": settings.images.griddb_base}).ref
else:
    # Parked: no pod will run, so nothing is built; the reference only fills the template.
    griddb_image_ref = pulumi.Output.from_input(settings.images.griddb_base)

namespace = AppNamespace(
    "app", AppNamespaceArgs(settings.cluster.namespace, protect=griddb_settings.storage.protect), opts=in_cluster
)
# The cluster refuses what breaks our conventions in the namespace (components/admission.py),
# unless the stack may not create cluster-scoped objects.
guards = [namespace]
if settings.cluster.admission_policy:
    guards.append(AdmissionPolicy(
        "admission",
        AdmissionPolicyArgs(namespace=namespace.name, registry=settings.registry.address, public_services=("web",)),
        opts=in_cluster,
    ))
# depends_on the components, i.e. on all their children: no workload exists before the
# namespace's default-deny policy and the admission policies do.
in_namespace = pulumi.ResourceOptions(provider=provider, depends_on=guards)

# A registry that wants credentials to push wants them to pull too: every pod lists this secret.
pull_secret = None
if settings.registry.username:
    pull_secret = RegistryPullSecret(
        "registry",
        RegistryPullSecretArgs(
            namespace=namespace.name,
            server=settings.registry.server,
            username=settings.registry.username,
            password=settings.registry.password,
        ),
        opts=in_namespace,
    ).name

griddb = GridDbNode(
    "griddb",
    GridDbNodeArgs(
        namespace=namespace.name,
        image=griddb_image_ref,
        cluster_name=griddb_settings.cluster_name,
        replicas=griddb_settings.replicas,
        username=griddb_settings.username,
        password=griddb_settings.password,
        log_write_mode=griddb_settings.log_write_mode,
        storage_size=griddb_settings.storage.size,
        storage_class=griddb_settings.storage.storage_class,
        host_path=griddb_settings.storage.host_path,
        protect_data=griddb_settings.storage.protect,
        wait_seconds=griddb_settings.storage.wait_seconds,
        clients=("web",),
        image_pull_secret=pull_secret,
    ),
    opts=in_namespace,
)
auth = AuthService(
    "auth",
    AuthServiceArgs(
        namespace=namespace.name,
        image=auth_image.ref,
        accounts=settings.auth.accounts,
        password_hashes=settings.auth.password_hashes,
        issuer=TOKEN_ISSUER,
        audience=TOKEN_AUDIENCE,
        token_ttl_seconds=settings.auth.token_ttl_seconds,
        clients=("web",),
        replicas=settings.auth.replicas,
        signing_key_generation=settings.auth.signing_key_generation,
        image_pull_secret=pull_secret,
        metrics_scrape_namespace=settings.metrics.scrape_namespace,
    ),
    opts=in_namespace,
)
web = WebFrontend(
    "web",
    WebFrontendArgs(
        namespace=namespace.name,
        image=web_image.ref,
        replicas=settings.web.replicas,
        service_type=settings.web.service_type,
        port=settings.web.port,
        node_port=settings.web.node_port,
        cpu_millicores=settings.web.cpu_millicores,
        auth_url=auth.url,
        issuer=TOKEN_ISSUER,
        audience=TOKEN_AUDIENCE,
        griddb_host=griddb.host,
        griddb_port=griddb.port,
        griddb_cluster_name=griddb.cluster_name,
        griddb_credentials_secret=griddb.credentials_secret_name,
        upstreams=(("auth", auth.port), ("griddb", griddb.port)),
        image_pull_secret=pull_secret,
        service_annotations=settings.web.service_annotations,
        wait_for_store=griddb_settings.replicas > 0,
        store_wait_seconds=griddb_settings.storage.wait_seconds,
        metrics_scrape_namespace=settings.metrics.scrape_namespace,
    ),
    opts=in_namespace,
)

pulumi.export("url", web.url)
pulumi.export("namespace", namespace.name)
pulumi.export("images", {"auth": auth_image.ref, "web": web_image.ref, "griddb": griddb_image_ref})
pulumi.export("accountPasswords", auth.passwords)
