"""Security of workloads and containers, through the model: the same control for Kubernetes and Compose."""

from __future__ import annotations

import re
from functools import lru_cache

from ..model import Loc, is_root_user
from ._k8s import EXTRA_SECRET_NAME_RX, PRIVATE_KEY_RX, m, obj_ref, service_targets
from ._util import containers, cref, datastore_workloads, is_datastore, is_literal_secret, is_secret_name
from .base import control, failed, not_applicable, passed

NSA = "NSA/CISA Kubernetes Hardening Guidance v1.2, 'Kubernetes Pod security'"


@control(
    id="security.container-non-root", title="Containers run as a non-root user", category="security",
    severity="high", evidence=["k8s", "compose", "dockerfile"],
    rationale="A process running as root inside a container is one kernel or runtime bug away from root on the "
              "node. Kubernetes can enforce non-root only when the pod says so (runAsNonRoot) or the image's "
              "final stage sets a non-root USER.",
    remediation="Kubernetes: set `securityContext.runAsNonRoot: true` and a numeric `runAsUser` (e.g. 10001).\n"
                "Compose: `user: \"10001:10001\"`.\nDockerfile (final stage): `USER 10001`.",
    references=["CIS Kubernetes Benchmark 5.2.6", NSA, "CIS Docker Benchmark 4.1"],
    concepts=["k8s.run_as_non_root", "k8s.run_as_root_group"], checklist=["security.container_non_root"],
    phrases=["non-root user", "run as non-root", "containers run as unprivileged user", "USER directive"],
)
def container_non_root(p):
    """Evidence, in order: the workload's own securityContext/user; else the Dockerfile in the repository
    that builds the image (its final stage's USER); else unknown = may run as root. A primary group 0 (root)
    is reported apart: files the root group can write stay writable by the process."""
    any_ = False
    for w, c in containers(p, include_init=True, production=True):
        any_ = True
        ref = cref(w, c)
        group = c.run_as_group
        if group is None and w.source == "compose" and c.user_declared and ":" in c.user_declared:
            gid = c.user_declared.split(":", 1)[1].strip()
            group = 0 if gid in ("0", "root") else None
        if group == 0:
            yield failed("runs with the root group (runAsGroup: 0)", c.loc, ref, concept="k8s.run_as_root_group")
        yield from _non_root_user(w, c, ref)
    if not any_:
        yield not_applicable("no workloads")


NON_ROOT = "k8s.run_as_non_root"


def _non_root_user(w, c, ref):
    if c.run_as_non_root is True or (c.run_as_user is not None and c.run_as_user > 0):
        how = "runAsNonRoot: true" if c.run_as_non_root else f"runs as uid {c.run_as_user}"
        if w.source == "compose":
            how = f"user: {c.user_declared}"
        yield passed(how, c.loc, ref)
        return
    if c.run_as_user == 0 or c.run_as_non_root is False:
        yield failed("explicitly runs as root (uid 0 / runAsNonRoot: false)", c.loc, ref, concept=NON_ROOT)
        return
    if c.dockerfile is not None and c.dockerfile.final is not None:
        user, ins = c.dockerfile.final.effective_user()
        where = Loc(c.dockerfile.path, ins.line if ins else c.dockerfile.final.line)
        if not is_root_user(user):
            yield passed(f"image built by {c.dockerfile.path} whose final stage runs as USER {user} "
                         f"({c.dockerfile_link})", c.loc, ref)
        else:
            yield failed(f"nothing in the workload sets a non-root user and the image's Dockerfile "
                         f"{c.dockerfile.path}:{where.line} final stage runs as root", c.loc, ref, concept=NON_ROOT)
        return
    yield failed("no runAsNonRoot/runAsUser (or compose user:) and no Dockerfile in the repository shows a "
                 "non-root USER for this image: it may run as root", c.loc, ref, concept=NON_ROOT)


@control(
    id="security.no-privileged-containers", title="No privileged containers", category="security",
    severity="critical", evidence=["k8s", "compose"],
    rationale="A privileged container has every capability and access to all host devices: escaping it is "
              "trivial, so a compromise of the app is a compromise of the node.",
    remediation="Remove `privileged: true` (Kubernetes securityContext or Compose service). Grant the single "
                "capability actually needed with `capabilities.add` instead.",
    references=["CIS Kubernetes Benchmark 5.2.1", NSA, "CIS Docker Benchmark 5.4"],
    concepts=["k8s.privileged"], checklist=["security.pod_security"],
    phrases=["no privileged containers", "privileged mode disabled"],
)
def no_privileged(p):
    any_ = False
    for w, c in containers(p, include_init=True):
        any_ = True
        if c.privileged is True:
            yield failed("runs privileged", c.loc, cref(w, c))
        else:
            yield passed("not privileged", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no workloads")


@control(
    id="security.no-privilege-escalation", title="Privilege escalation is disabled", category="security",
    severity="medium", evidence=["k8s", "compose"],
    rationale="Without `allowPrivilegeEscalation: false` (Compose: `no-new-privileges`), a setuid binary in the "
              "image can regain privileges the container was meant to drop.",
    remediation="Kubernetes: `securityContext.allowPrivilegeEscalation: false` on every container.\n"
                "Compose: `security_opt: [\"no-new-privileges:true\"]`.",
    references=["CIS Kubernetes Benchmark 5.2.5", NSA],
    concepts=["k8s.privilege_escalation"], checklist=["security.pod_security"],
    phrases=["allowPrivilegeEscalation false", "no privilege escalation"],
)
def no_privilege_escalation(p):
    any_ = False
    for w, c in containers(p, include_init=True, production=True):
        any_ = True
        if c.allow_privilege_escalation is False and not c.privileged:
            yield passed("allowPrivilegeEscalation: false", c.loc, cref(w, c))
        elif c.allow_privilege_escalation is True:
            yield failed("allowPrivilegeEscalation: true", c.loc, cref(w, c))
        else:
            yield failed("allowPrivilegeEscalation not set to false (the default allows it)", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no workloads")


@control(
    id="security.read-only-root-filesystem", title="Root filesystems are read-only", category="security",
    severity="medium", evidence=["k8s", "compose"],
    rationale="A writable root filesystem lets an attacker drop tools or modify binaries; read-only root "
              "filesystems also make containers reproducible (state goes to declared volumes).",
    remediation="Kubernetes: `securityContext.readOnlyRootFilesystem: true` and an `emptyDir` for /tmp.\n"
                "Compose: `read_only: true` with `tmpfs: [/tmp]`.",
    references=["CIS Kubernetes Benchmark 5.7.x", NSA],
    concepts=["k8s.read_only_root_fs"], checklist=["security.pod_security"],
    phrases=["read-only root filesystem", "immutable containers"],
)
def read_only_root(p):
    any_ = False
    for w, c in containers(p, production=True):
        any_ = True
        if c.read_only_root_fs is True:
            yield passed("read-only root filesystem", c.loc, cref(w, c))
        else:
            yield failed("root filesystem is writable (readOnlyRootFilesystem not true)", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no workloads")


@control(
    id="security.no-host-namespaces", title="Pods do not share the host's network, PID or IPC namespaces",
    category="security", severity="high", evidence=["k8s", "compose"],
    rationale="Sharing host namespaces lets a container see and talk to every process and socket on the node, "
              "bypassing network policies and process isolation.",
    remediation="Remove `hostNetwork`, `hostPID` and `hostIPC` (Compose: `network_mode: host`, `pid: host`, "
                "`ipc: host`). Expose ports through a Service instead.",
    references=["CIS Kubernetes Benchmark 5.2.2-5.2.4", NSA],
    concepts=["k8s.host_network", "k8s.host_pid", "k8s.host_ipc"], checklist=["security.pod_security"],
    phrases=["no hostNetwork", "no hostPID or hostIPC"],
)
def no_host_namespaces(p):
    if not p.workloads:
        yield not_applicable("no workloads")
        return
    for w in p.workloads:
        shared = [(n, concept) for n, v, concept in (("network", w.host_network, "k8s.host_network"),
                                                     ("PID", w.host_pid, "k8s.host_pid"),
                                                     ("IPC", w.host_ipc, "k8s.host_ipc")) if v]
        for n, concept in shared:
            yield failed(f"shares the host {n} namespace", w.loc, obj_ref(w), concept=concept)
        if not shared:
            yield passed("no host namespaces", w.loc, obj_ref(w))


@lru_cache(maxsize=16384)  # pure, and the same variable names come back in many workloads
def _extra_secret_name(name: str) -> bool:
    return bool(EXTRA_SECRET_NAME_RX.search(name))


@control(
    id="security.no-secret-literals-in-env", title="No secrets as literal environment values",
    category="security", severity="high", evidence=["k8s", "compose"],
    rationale="A password written into a manifest or Compose file is in git history forever and readable by "
              "anyone with read access to the repository or the cluster's objects.",
    remediation="Kubernetes: `valueFrom.secretKeyRef` (or a mounted Secret file).\nCompose: `secrets:` or an "
                "env_file kept out of git; reference `${VAR}` from the shell environment.",
    references=["OWASP ASVS 2.10.4", "CIS Kubernetes Benchmark 5.4.1"],
    concepts=["k8s.secrets.env_literal"], checklist=["security.secrets_from_env", "security.secrets_manager"],
    phrases=["secrets not hardcoded", "environment variables for secrets", "no plaintext secrets in manifests"],
)
def no_secret_literals(p):
    any_ = False
    for w, c in containers(p, include_init=True):
        for e in c.env:
            if e.source is None and e.value and "PRIVATE KEY" in e.value and PRIVATE_KEY_RX.search(e.value):
                any_ = True
                yield failed(f"{e.name} holds a private key written into the manifest", e.loc, cref(w, c),
                             snippet=f"{e.name}: {_mask(e.value)}")
                continue
            if not (is_secret_name(e.name) or _extra_secret_name(e.name)):
                continue
            any_ = True
            if e.source is None and is_literal_secret(e.value) and not _VAR_REF_RX.match(e.value or ""):
                yield failed(f"{e.name} is set to a literal value in the manifest", e.loc, cref(w, c),
                             snippet=f"{e.name}: {_mask(e.value)}")
            else:
                src = e.source or ("reference" if e.value else "unset")
                yield passed(f"{e.name} comes from {src}", e.loc, cref(w, c))
    if not any_:
        yield not_applicable("no secret-like environment variables")


# a value that is only a variable reference ($NAME, as Compose and envsubst interpolate it) holds no secret
_VAR_REF_RX = re.compile(r"^\s*\$[A-Za-z_][A-Za-z0-9_]*\s*$")


def _mask(v: str | None) -> str:
    from ..secrets import mask_value

    return mask_value(v or "")


DEFAULT_CREDENTIALS = {
    # env var -> values that are defaults or demo values
    "POSTGRES_PASSWORD": {"postgres", "password", "admin", "root", "example", "changeme", "secret"},
    "MYSQL_ROOT_PASSWORD": {"root", "password", "mysql", "admin", "example", "changeme", "secret"},
    "MYSQL_PASSWORD": {"password", "mysql", "admin", "changeme"},
    "MARIADB_ROOT_PASSWORD": {"root", "password", "admin", "changeme"},
    "MONGO_INITDB_ROOT_PASSWORD": {"password", "admin", "example", "mongo", "changeme"},
    "MINIO_ROOT_PASSWORD": {"minioadmin", "minio123", "password", "changeme"},
    "MINIO_SECRET_KEY": {"minioadmin", "minio123"},
    "MINIO_ROOT_USER": set(),
    "GF_SECURITY_ADMIN_PASSWORD": {"admin", "password", "grafana", "changeme"},
    "RABBITMQ_DEFAULT_PASS": {"guest", "password", "admin", "changeme"},
    "REDIS_PASSWORD": {"redis", "password", "changeme"},
    "ELASTIC_PASSWORD": {"changeme", "elastic", "password"},
    "PGADMIN_DEFAULT_PASSWORD": {"admin", "password", "pgadmin"},
}
from ..secrets import WEAK_VALUE_RX  # noqa: E402

# products whose image starts with well-known credentials unless a password variable is set
_PRODUCT_DEFAULTS = (
    ("RabbitMQ", lambda repo: "rabbitmq" in repo, ("RABBITMQ_DEFAULT_PASS",), "guest/guest"),
    ("MinIO", lambda repo: repo.endswith("minio/minio"), ("MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY"),
     "minioadmin/minioadmin"))


@control(
    id="security.no-default-credentials", title="No default or demo credentials", category="security",
    severity="critical", evidence=["k8s", "compose"],
    rationale="Default credentials (postgres/postgres, minioadmin, admin/admin, guest/guest) are the first thing "
              "an attacker tries; they are also in every scanner's wordlist.",
    remediation="Generate a strong value (`openssl rand -base64 32`), store it in a secret manager or an untracked "
                "env file, and reference it (`${POSTGRES_PASSWORD}` / secretKeyRef).",
    references=["OWASP ASVS 2.5.4", "CWE-1392"],
    checklist=["security.default_credentials_changed", "security.strong_secrets"],
    phrases=["change default passwords", "no default credentials", "default admin password changed"],
)
def no_default_credentials(p):
    any_ = False
    for w, c in containers(p, include_init=True):
        for e in c.env:
            name = e.name.upper()
            if name in DEFAULT_CREDENTIALS or is_secret_name(name):
                if e.source is not None or e.value is None or e.value.startswith(("$", "{{")):
                    if name in DEFAULT_CREDENTIALS:
                        any_ = True
                        yield passed(f"{e.name} is not a literal", e.loc, cref(w, c))
                    continue
                any_ = True
                v = e.value.strip()
                if v.lower() in DEFAULT_CREDENTIALS.get(name, set()) or WEAK_VALUE_RX.match(v):
                    yield failed(f"{e.name} uses a default/guessable value", e.loc, cref(w, c),
                                 snippet=f"{e.name}: {_mask(v)}")
                elif name in DEFAULT_CREDENTIALS:
                    yield passed(f"{e.name} is not a known default", e.loc, cref(w, c))
        for product, matches, password_vars, default in _PRODUCT_DEFAULTS:
            if c.image is None or not matches(c.image.repository) or any(e.name in password_vars for e in c.env):
                continue
            any_ = True
            if c.env_from:  # the password comes from an env file / Secret, not from the manifest
                yield passed(f"{product} credentials come from {', '.join(c.env_from)}", c.loc, cref(w, c))
            else:
                yield failed(f"{product} without {password_vars[0]} keeps {default}", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no credentials configured in workloads")


@control(
    id="security.datastores-not-exposed", title="Databases and brokers are not published on all interfaces",
    category="security", severity="high", evidence=["k8s", "compose"],
    rationale="A database port published on 0.0.0.0 is reachable from any network the host is on; combined with "
              "default credentials it is the most common data breach.",
    remediation="Compose: drop `ports:` (services on the same network reach each other by name) or bind to "
                "loopback: `\"127.0.0.1:5432:5432\"`.\nKubernetes: keep datastore Services `ClusterIP`; no "
                "LoadBalancer/NodePort, no hostPort.",
    references=["CIS Docker Benchmark 5.13", "OWASP ASVS 14.4"],
    checklist=["security.internal_services_private", "security.firewall_rules"],
    phrases=["block direct database access from internet", "database not publicly accessible"],
)
def datastores_not_exposed(p):
    any_ = False
    for w, c in containers(p):
        if not is_datastore(c):
            continue
        any_ = True
        # a Compose `ports:` entry always publishes (no host port = a random one); Kubernetes only with hostPort
        public = [pt for pt in c.ports if (pt.host_port is not None or w.source == "compose")
                  and pt.host_ip in (None, "0.0.0.0", "::", "")]
        if public:
            ports = ", ".join(str(pt.host_port) if pt.host_port is not None else f"random -> {pt.container_port}"
                              for pt in public)
            yield failed(f"{c.image.name if c.image else c.name} published on all interfaces (port {ports})",
                         c.loc, cref(w, c))
        else:
            yield passed("not published on a public interface", c.loc, cref(w, c))
    stores = datastore_workloads(p)
    for svc in p.objects("Service"):
        spec = m(svc.raw.get("spec"))
        stype = spec.get("type", "ClusterIP")
        targets = service_targets(p, svc)
        if any(id(w) in stores for w in targets):
            any_ = True
            if stype in ("LoadBalancer", "NodePort"):
                yield failed(f"datastore Service of type {stype}", svc.loc, svc.ref)
            else:
                yield passed(f"datastore Service of type {stype}", svc.loc, svc.ref)
    if not any_:
        yield not_applicable("no datastore containers")
