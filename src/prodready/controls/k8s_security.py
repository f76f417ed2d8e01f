"""Kubernetes security beyond the basics: capabilities, kernel confinement, Pod Security Standards baseline items,
host mounts, RBAC, service-account tokens, secrets in ConfigMaps and NetworkPolicy coverage.

Controls here read raw manifests (``Container.raw``, ``Workload.pod_spec``, ``K8sObject.raw``) where the model has
no field, and resolve references by kind, name and namespace (unset namespace = ``default``).
"""

from __future__ import annotations

import re

from ..model import Loc
from ._k8s import (
    EXTRA_SECRET_NAME_RX,
    OWN,
    PRIVATE_KEY_RX,
    Objects,
    at,
    by_name,
    container_sc,
    cref,
    item_line,
    iter_pod_volumes,
    k8s_containers,
    k8s_workloads,
    line_of,
    lst,
    m,
    norm_cap,
    ns,
    obj_ref,
    pod_annotations,
    pod_index,
    pod_sc,
    selector_matches,
)
from ._util import is_literal_secret, is_secret_name
from .base import control, failed, not_applicable, passed

PSS = "Kubernetes docs: Pod Security Standards (Baseline / Restricted)"
NSA = "NSA/CISA Kubernetes Hardening Guidance v1.2"

# the capabilities a container runtime grants by default (containerd/CRI-O/Docker)
DEFAULT_CAPS = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
                "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}
# capabilities that amount to (or directly lead to) root on the node
DANGEROUS_CAPS = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "BPF", "DAC_READ_SEARCH"}


def _caps(c) -> tuple[set[str], set[str], dict]:
    """(added, dropped, raw capabilities) of a container; remembered on it (three controls ask; read only)."""
    memo = c.__dict__.get("_caps")
    if memo is None:
        caps = m(container_sc(c).get("capabilities"))
        memo = c._caps = ({norm_cap(x) for x in lst(caps.get("add"))}, {norm_cap(x) for x in lst(caps.get("drop"))},
                          caps)
    return memo


@control(
    id="security.container-capabilities", title="Containers drop Linux capabilities and add no dangerous ones",
    category="security", severity="high", evidence=["k8s"],
    rationale="Containers start with a default set of capabilities (NET_RAW, SETUID, CHOWN, ...) that most "
              "services never need: NET_RAW allows packet spoofing on the pod network, and adding SYS_ADMIN, "
              "NET_ADMIN or ALL gives near-root power over the node. Dropping ALL and adding back only what is "
              "needed (at most NET_BIND_SERVICE) is the Pod Security Standards 'restricted' profile.",
    remediation="securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]   # only if "
                "it binds a port < 1024",
    references=[PSS, "CIS Kubernetes Benchmark 5.2.7-5.2.9", NSA],
    concepts=["k8s.capabilities.dangerous_added", "k8s.capabilities.insecure_not_dropped",
              "k8s.capabilities.net_raw_not_dropped"],
    checklist=["security.pod_security"],
    phrases=["drop all capabilities", "no dangerous capabilities", "least privilege containers"],
)
def container_capabilities(p):
    any_ = False
    for w, c in k8s_containers(p, linux=True):
        any_ = True
        add, drop, caps = _caps(c)
        where = at(c.loc, caps, "add") if caps else c.loc
        ref = cref(w, c)
        danger = sorted(add & DANGEROUS_CAPS)
        if danger:
            yield failed(f"adds {', '.join(danger)}", where, ref, concept="k8s.capabilities.dangerous_added")
        dropped_all = "ALL" in drop or DEFAULT_CAPS <= drop
        readded = sorted(x for x in add if x == "ALL" or (x in DEFAULT_CAPS and x != "NET_BIND_SERVICE"))
        if not dropped_all:
            held = "drops none" if not drop else f"still holds {', '.join(sorted(DEFAULT_CAPS - drop))}"
            yield failed(f"does not drop ALL capabilities ({held})", where, ref,
                         concept="k8s.capabilities.insecure_not_dropped")
        elif readded:
            yield failed(f"drops capabilities but adds back {', '.join(readded)}", where, ref,
                         concept="k8s.capabilities.insecure_not_dropped")
        if "NET_RAW" in add or "ALL" in add or not ({"NET_RAW", "ALL"} & drop):
            yield failed("keeps NET_RAW (raw sockets: ARP/ICMP spoofing on the pod network)", where, ref,
                         concept="k8s.capabilities.net_raw_not_dropped")
        if not danger and dropped_all and not readded and "NET_RAW" not in add and "ALL" not in add:
            yield passed(f"drops {'ALL' if 'ALL' in drop else 'every default capability'}"
                         + (f", adds {', '.join(sorted(add))}" if add else ""), where, ref)
    if not any_:
        yield not_applicable("no Kubernetes containers")


@control(
    id="security.no-added-capabilities", title="Containers add no Linux capabilities at all",
    category="security", severity="low", evidence=["k8s"], optional=True,
    rationale="Strict policy: any added capability widens what a compromised process can do; services that need "
              "one (e.g. NET_BIND_SERVICE to bind port 80) can usually listen on a high port instead.",
    remediation="Remove `securityContext.capabilities.add`; listen on a port >= 1024 and map it in the Service "
                "(`port: 80, targetPort: 8080`).",
    references=["Checkov CKV_K8S_25 policy", PSS],
    concepts=["k8s.capabilities.added"], checklist=["security.pod_security"],
    phrases=["no added Linux capabilities"],
)
def no_added_capabilities(p):
    any_ = False
    for w, c in k8s_containers(p, linux=True):
        any_ = True
        add, _drop, caps = _caps(c)
        if add:
            yield failed(f"adds {', '.join(sorted(add))}", at(c.loc, caps, "add"), cref(w, c))
        else:
            yield passed("adds no capabilities", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")


_CONFINING_SECCOMP = ("RuntimeDefault", "Localhost")


def _seccomp(w, c, csc: dict, psc: dict) -> tuple[str | None, str]:
    """The effective seccomp profile of a container (field or legacy annotation) and where it comes from
    (``csc``, ``psc``: the container's and the pod's securityContext, as the caller has them)."""
    t = m(csc.get("seccompProfile")).get("type")
    if t:
        return str(t), "container securityContext"
    ann = pod_annotations(w)
    legacy = ann.get(f"container.seccomp.security.alpha.kubernetes.io/{c.name}") if ann else None
    if legacy:
        return _legacy_seccomp(legacy), "container annotation"
    t = m(psc.get("seccompProfile")).get("type")
    if t:
        return str(t), "pod securityContext"
    legacy = ann.get("seccomp.security.alpha.kubernetes.io/pod")
    if legacy:
        return _legacy_seccomp(legacy), "pod annotation"
    return None, ""


def _legacy_seccomp(value) -> str:
    v = str(value)
    if v in ("runtime/default", "docker/default"):
        return "RuntimeDefault"
    if v.startswith("localhost/"):
        return "Localhost"
    return "Unconfined"


def _apparmor(w, c) -> str | None:
    """The container's AppArmor profile; remembered on it (two controls ask; the model is read-only)."""
    memo = c.__dict__.get("_apparmor")
    if memo is None or memo[0] is not w:
        memo = c._apparmor = (w, _read_apparmor(w, c))
    return memo[1]


def _read_apparmor(w, c) -> str | None:
    t = m(container_sc(c).get("appArmorProfile")).get("type") or m(pod_sc(w).get("appArmorProfile")).get("type")
    if t:
        return str(t)
    ann = pod_annotations(w)
    v = ann.get(f"container.apparmor.security.beta.kubernetes.io/{c.name}") if ann else None
    if v:
        return "Unconfined" if str(v) == "unconfined" else "RuntimeDefault" if str(v) == "runtime/default" \
            else "Localhost"
    return None


@control(
    id="security.kernel-hardening", title="Containers run under a seccomp profile and kernel confinement",
    category="security", severity="medium", evidence=["k8s"],
    rationale="Without seccomp a container can make every system call the kernel offers, which is how most "
              "container escapes work; RuntimeDefault blocks the dangerous ones at no cost. A container with no "
              "seccomp, AppArmor or SELinux profile and no dropped capability has no kernel confinement at all.",
    remediation="spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n"
                "  containers:\n    - securityContext:\n        capabilities: {drop: [\"ALL\"]}",
    references=[PSS, "Kubernetes docs: Restrict a Container's Syscalls with seccomp", NSA],
    concepts=["k8s.seccomp_profile", "k8s.linux_hardening"], checklist=["security.pod_security"],
    phrases=["seccomp profile", "apparmor", "selinux", "linux hardening"],
)
def kernel_hardening(p):
    any_ = False
    for w, c in k8s_containers(p, linux=True):
        any_ = True
        ref = cref(w, c)
        csc, psc = container_sc(c), pod_sc(w)
        profile, source = _seccomp(w, c, csc, psc)
        if profile in _CONFINING_SECCOMP:
            yield passed(f"seccomp {profile} ({source})", c.loc, ref)
            continue
        why = f"seccomp profile {profile} ({source})" if profile else "no seccomp profile"
        yield failed(why, c.loc, ref, concept="k8s.seccomp_profile")
        # any other confinement? (looked at only now: a confining seccomp profile is enough)
        add, drop, _caps_raw = _caps(c)
        confined = (_apparmor(w, c) in _CONFINING_SECCOMP
                    or bool(m(csc.get("seLinuxOptions")) or m(psc.get("seLinuxOptions")))
                    or (bool(drop) and "ALL" not in add))
        if not confined:
            yield failed("no seccomp, AppArmor or SELinux profile and no dropped capability: no kernel confinement",
                         c.loc, ref, concept="k8s.linux_hardening")
    if not any_:
        yield not_applicable("no Kubernetes containers")


# sysctls the Pod Security Standards baseline allows (namespaced and isolated from the node)
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}


@control(
    id="security.pod-security-baseline", title="Pods stay within the Pod Security Standards baseline",
    category="security", severity="high", evidence=["k8s"],
    rationale="The baseline profile forbids the settings that let a pod reach the node: host ports (bypass "
              "NetworkPolicies and pin pods to nodes), an unmasked /proc, sysctls that are not namespaced, "
              "Windows HostProcess containers (they run as a process on the host) and disabling AppArmor.",
    remediation="Remove `hostPort` (expose through a Service), `procMount: Unmasked`, unsafe entries under "
                "`securityContext.sysctls` and `windowsOptions.hostProcess: true`; label the namespace "
                "`pod-security.kubernetes.io/enforce: baseline` so the API server rejects them.",
    references=[PSS, "CIS Kubernetes Benchmark 5.2", NSA],
    concepts=["k8s.host_port", "k8s.proc_mount_unmasked", "k8s.unsafe_sysctls", "k8s.windows_host_process"],
    checklist=["security.pod_security"],
    phrases=["pod security standards", "pod security admission", "no host ports"],
)
def pod_security_baseline(p):
    any_ = False
    for w in k8s_workloads(p):
        any_ = True
        bad = False
        psc = pod_sc(w)
        for i, s in enumerate(lst(psc.get("sysctls"))):
            name = str(m(s).get("name", ""))
            if name and name not in SAFE_SYSCTLS:
                bad = True
                yield failed(f"sets unsafe sysctl {name}", Loc(w.loc.path, item_line(psc["sysctls"], i)), obj_ref(w),
                             concept="k8s.unsafe_sysctls")
        pod_hp = m(psc.get("windowsOptions")).get("hostProcess") is True
        for c in w.containers:
            sc = container_sc(c)
            ref = cref(w, c)
            for pt in lst(c.raw.get("ports")):
                hp = m(pt).get("hostPort")
                if hp not in (None, 0, "0"):
                    bad = True
                    yield failed(f"binds hostPort {hp}", at(c.loc, m(pt), "hostPort"), ref, concept="k8s.host_port")
            if sc.get("procMount") == "Unmasked":
                bad = True
                yield failed("procMount: Unmasked exposes the host's /proc", at(c.loc, sc, "procMount"), ref,
                             concept="k8s.proc_mount_unmasked")
            hp_c = m(sc.get("windowsOptions")).get("hostProcess")
            if hp_c is True or (pod_hp and hp_c is not False):
                bad = True
                yield failed("runs as a Windows HostProcess container (a process on the host)", c.loc, ref,
                             concept="k8s.windows_host_process")
            if _apparmor(w, c) == "Unconfined":
                bad = True
                yield failed("AppArmor profile set to unconfined", c.loc, ref, concept=OWN + "apparmor_unconfined")
        if not bad:
            yield passed("no host ports, unmasked /proc, unsafe sysctls or HostProcess", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no Kubernetes workloads")


# host paths whose exposure gives control over the node or other containers
SENSITIVE_EXACT = {"/", "/etc", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/var", "/var/run", "/run", "/root",
                   "/home", "/var/lib"}
SENSITIVE_TREES = ("/proc", "/sys", "/dev", "/boot", "/etc/kubernetes", "/var/lib/kubelet", "/var/lib/docker",
                   "/var/lib/containerd", "/var/lib/etcd", "/etc/shadow", "/etc/sudoers", "/root/.ssh",
                   "/var/run/secrets", "/run/secrets")
RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock", "podman.sock")


def _norm_path(path: str) -> str:
    path = "/" + path.strip().strip("/") if path.strip() not in ("", "/") else "/"
    while "//" in path:
        path = path.replace("//", "/")
    return path


@control(
    id="security.no-host-path-mounts", title="Pods do not mount the node's filesystem",
    category="security", severity="high", evidence=["k8s"],
    rationale="A hostPath volume reaches outside the container onto the node: the container runtime socket gives "
              "full control of every container on the node, /etc, /proc or kubelet directories give the node "
              "itself, and any writable host mount lets a compromised pod plant files other pods or the node "
              "will read. Pod Security Standards baseline forbids hostPath.",
    remediation="Use an emptyDir, a PersistentVolumeClaim, a ConfigMap/Secret or a CSI volume instead. A node agent "
                "that truly needs a host path should mount the narrowest path `readOnly: true` and be reviewed "
                "(suppress with a reason).",
    references=[PSS, "CIS Kubernetes Benchmark 5.2.12", NSA],
    concepts=["k8s.host_path", "k8s.host_path.docker_sock", "k8s.host_path.sensitive", "k8s.host_path.writable"],
    checklist=["security.pod_security"],
    phrases=["no hostPath volumes", "docker socket not mounted", "host filesystem isolation"],
)
def no_host_path_mounts(p):
    any_ = False
    for w in k8s_workloads(p):
        any_ = True
        host_vols: dict[str, str] = {}
        vols = w.pod_spec.get("volumes")
        for i, v in iter_pod_volumes(w):
            hp = v.get("hostPath")
            if hp is None:
                continue
            path = _norm_path(str(m(hp).get("path", "")))
            host_vols[str(v.get("name"))] = path
            where = Loc(w.loc.path, line_of(hp) or item_line(vols, i))
            yield failed(f"hostPath volume {v.get('name')} mounts {path} from the node", where, obj_ref(w),
                         concept="k8s.host_path")
            if path.rsplit("/", 1)[-1] in RUNTIME_SOCKETS or path in ("/var/run/docker", "/run/containerd"):
                yield failed(f"mounts the container runtime socket {path}: full control of the node's containers",
                             where, obj_ref(w), concept="k8s.host_path.docker_sock")
            if path in SENSITIVE_EXACT or any(path == t or path.startswith(t + "/") for t in SENSITIVE_TREES) \
                    or path.rsplit("/", 1)[-1] in RUNTIME_SOCKETS:
                yield failed(f"mounts sensitive host path {path}", where, obj_ref(w), concept="k8s.host_path.sensitive")
        if not host_vols:
            yield passed("no hostPath volumes", w.loc, obj_ref(w))
            continue
        for c in w.containers:
            mounts = c.raw.get("volumeMounts")
            for i, vm in enumerate(lst(mounts)):
                vm = m(vm)
                name = str(vm.get("name"))
                if name in host_vols and vm.get("readOnly") is not True:
                    yield failed(f"mounts host path {host_vols[name]} writable at {vm.get('mountPath')}",
                                 Loc(c.loc.path, item_line(mounts, i)), cref(w, c), concept="k8s.host_path.writable")
    if not any_:
        yield not_applicable("no Kubernetes workloads")


@control(
    id="security.run-as-high-uid", title="Containers run with a high user and group id (> 10000)",
    category="security", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: a uid/gid above 10000 never collides with a user on the node, so a process that escapes "
              "the container does not map to a real host account (kube-score policy).",
    remediation="securityContext:\n  runAsUser: 10001\n  runAsGroup: 10001",
    references=["kube-score container-security-context-user-group-id"],
    concepts=["k8s.run_as_high_uid_gid"], checklist=["security.container_non_root"],
    phrases=["high UID for containers", "runAsUser above 10000"],
)
def run_as_high_uid(p):
    any_ = False
    for w, c in k8s_containers(p):
        any_ = True
        low = [f"{k} {v if v is not None else 'unset'}" for k, v in (("runAsUser", c.run_as_user),
                                                                     ("runAsGroup", c.run_as_group))
               if v is None or v <= 10000]
        if low:
            yield failed(", ".join(low) + " (want > 10000)", c.loc, cref(w, c))
        else:
            yield passed(f"uid {c.run_as_user}, gid {c.run_as_group}", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")


# --- RBAC -----------------------------------------------------------------------------------------

# names the platform manages (control plane, cloud providers, kubeadm): not the repository's policy
PLATFORM_PREFIXES = ("system:", "gce:", "eks:", "kubeadm:", "aks:")
BUILTIN_CLUSTER_ROLES = {"cluster-admin", "admin", "edit", "view"}
BUILTIN_CLUSTER_BINDINGS = {"cluster-admin"}
ALL_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


def _platform(name: str) -> bool:
    return name.startswith(PLATFORM_PREFIXES)


def _rules(role, roles_by_label) -> list[dict]:
    """A role's rules, including those an aggregated ClusterRole collects from labelled ClusterRoles."""
    rules = [r for r in lst(role.raw.get("rules")) if isinstance(r, dict)]
    agg = m(role.raw.get("aggregationRule"))
    for sel in lst(agg.get("clusterRoleSelectors")):
        for other in roles_by_label:
            if other is not role and selector_matches(sel, {str(k): str(v) for k, v in
                                                                  m(m(other.raw.get("metadata")).get("labels")).items()}):
                rules += [r for r in lst(other.raw.get("rules")) if isinstance(r, dict)]
    return rules


def _allows(rules: list[dict], group: str, resources: set[str], verbs: set[str]) -> bool:
    for r in rules:
        groups = {str(g) for g in lst(r.get("apiGroups"))}
        res = {str(x) for x in lst(r.get("resources"))}
        vs = {str(v).lower() for v in lst(r.get("verbs"))}
        if not (groups & {group, "*"}):
            continue
        base = {x.split("/", 1)[0] + "/*" for x in resources if "/" in x}
        if not (res & (resources | base | {"*"})):
            continue
        if "*" in vs or vs & verbs:
            return True
    return False


def _admin_equivalent(rules: list[dict]) -> bool:
    for r in rules:
        vs = {str(v).lower() for v in lst(r.get("verbs"))}
        if "*" in [str(g) for g in lst(r.get("apiGroups"))] and "*" in [str(x) for x in lst(r.get("resources"))] \
                and ("*" in vs or ALL_VERBS <= vs):
            return True
    return False


EXEC = ("", {"pods/exec", "pods/attach"}, {"get", "create"})
CREATE_PODS = ("", {"pods"}, {"create"})
READ_SECRETS = ("", {"secrets"}, {"get", "list", "watch"})
# what the built-in user-facing ClusterRoles grant, for bindings to roles not defined in the repository
BUILTIN_GRANTS = {"cluster-admin": {"admin", "exec", "pods", "secrets"}, "admin": {"exec", "pods", "secrets"},
                  "edit": {"exec", "pods", "secrets"}, "view": set()}


class _Rbac:
    def __init__(self, p) -> None:
        self.cluster_roles = p.objects("ClusterRole")
        self.roles = p.objects("Role")
        self.objs = Objects(self.cluster_roles + self.roles)
        self.bindings = p.objects("RoleBinding") + p.objects("ClusterRoleBinding")
        self._rules: dict[int, list[dict]] = {}

    def rules_of(self, role) -> list[dict]:
        key = id(role)
        if key not in self._rules:
            self._rules[key] = _rules(role, self.cluster_roles if role.kind == "ClusterRole" else ())
        return self._rules[key]

    def resolve(self, b):
        """(role object or None, roleRef kind, roleRef name) of a binding."""
        ref = m(b.raw.get("roleRef"))
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind == "ClusterRole":
            return self.objs.get("ClusterRole", None, name, near=b), kind, name
        return self.objs.get("Role", b.namespace, name, near=b), kind, name

    def grants(self, b) -> tuple[set[str] | None, str]:
        """What a binding grants ({"admin", "exec", "pods", "secrets"} subset), None when unknown."""
        role, kind, name = self.resolve(b)
        label = f"{kind} {name}"
        if role is not None:
            rules = self.rules_of(role)
            g = set()
            if _admin_equivalent(rules):
                g.add("admin")
            for key, (grp, res, verbs) in (("exec", EXEC), ("pods", CREATE_PODS), ("secrets", READ_SECRETS)):
                if _allows(rules, grp, res, verbs):
                    g.add(key)
            if kind == "ClusterRole" and name == "cluster-admin":
                g.add("admin")
            return g, label
        if kind == "ClusterRole" and name in BUILTIN_GRANTS:
            return set(BUILTIN_GRANTS[name]), label + " (built-in)"
        return None, label


@control(
    id="security.rbac-least-privilege", title="RBAC grants no cluster-admin, wildcards or pod exec/attach",
    category="security", severity="high", evidence=["k8s"],
    rationale="cluster-admin (or a role with `*` on `*`) makes its subject the owner of the cluster; wildcards "
              "silently grant every resource and verb added later, including Secrets; `pods/exec` and "
              "`pods/attach` let a subject run commands inside any pod it can reach, with that pod's identity "
              "and secrets. A binding to a role the repository does not define cannot be verified.",
    remediation="Bind narrow, namespaced Roles listing explicit apiGroups, resources and verbs:\n"
                "rules:\n  - apiGroups: [\"\"]\n    resources: [\"configmaps\"]\n    verbs: [\"get\", \"list\", "
                "\"watch\"]\nKeep cluster-admin for break-glass humans, never service accounts; grant pods/exec "
                "only to an audited on-call group.",
    references=["Kubernetes docs: RBAC Good Practices", "CIS Kubernetes Benchmark 5.1.1, 5.1.3", NSA],
    concepts=["k8s.rbac.cluster_admin_binding", "k8s.rbac.wildcard", "k8s.rbac.role_pod_exec_attach",
              "k8s.rbac.binding_pod_exec_attach"],
    checklist=["security.k8s_rbac", "security.rbac"],
    phrases=["least privilege RBAC", "no cluster-admin", "RBAC configured", "no wildcard permissions"],
)
def rbac_least_privilege(p):
    rb = _Rbac(p)
    if not (rb.roles or rb.cluster_roles or rb.bindings):
        yield not_applicable("no Roles, ClusterRoles or bindings")
        return
    for role in rb.roles + rb.cluster_roles:
        if _platform(role.name) or (role.kind == "ClusterRole" and role.name in BUILTIN_CLUSTER_ROLES):
            yield passed("platform-managed role", role.loc, obj_ref(role))
            continue
        bad = False
        rules = lst(role.raw.get("rules"))
        for i, r in enumerate(rules):
            r = m(r)
            wild = [k for k in ("apiGroups", "resources", "verbs") if "*" in [str(x) for x in lst(r.get(k))]]
            if wild:
                bad = True
                yield failed(f"rule uses '*' in {', '.join(wild)}", Loc(role.loc.path, item_line(rules, i)),
                             obj_ref(role), concept="k8s.rbac.wildcard")
        if _allows(rb.rules_of(role), *EXEC):
            bad = True
            yield failed("allows pods/exec or pods/attach (run commands in pods)", role.loc, obj_ref(role),
                         concept="k8s.rbac.role_pod_exec_attach")
        if not bad:
            yield passed("explicit rules without exec/attach", role.loc, obj_ref(role))
    for b in rb.bindings:
        if _platform(b.name) or (b.kind == "ClusterRoleBinding" and b.name in BUILTIN_CLUSTER_BINDINGS):
            yield passed("platform-managed binding", b.loc, obj_ref(b))
            continue
        grants, label = rb.grants(b)
        ref_name = str(m(b.raw.get("roleRef")).get("name", ""))
        if grants is None:
            if _platform(ref_name):
                yield passed(f"binds platform role {label}", b.loc, obj_ref(b))
            else:
                yield failed(f"binds {label}, which is not defined in the manifests: its permissions (pods/exec, "
                             f"attach) cannot be verified", b.loc, obj_ref(b),
                             concept="k8s.rbac.binding_pod_exec_attach")
            continue
        bad = False
        if "admin" in grants:
            bad = True
            yield failed(f"grants {label}: cluster-admin equivalent", b.loc, obj_ref(b),
                         concept="k8s.rbac.cluster_admin_binding")
        if "exec" in grants:
            bad = True
            yield failed(f"grants {label}, which allows pods/exec or pods/attach", b.loc, obj_ref(b),
                         concept="k8s.rbac.binding_pod_exec_attach")
        if not bad:
            yield passed(f"binds {label}", b.loc, obj_ref(b))


@control(
    id="security.rbac-sensitive-access", title="RBAC bindings grant no Secret reads or Pod creation",
    category="security", severity="medium", evidence=["k8s"], optional=True,
    rationale="Strict policy: reading Secrets discloses every credential in the namespace, and creating Pods is "
              "privilege escalation (a new pod can mount any Secret and run as any service account of the "
              "namespace). Controllers that need it should be reviewed and suppressed with a reason.",
    remediation="Remove `secrets` get/list/watch and `pods` create from the role, or scope it with "
                "`resourceNames: [the-one-secret]`; let a Deployment create pods instead of the subject.",
    references=["Kubernetes docs: RBAC Good Practices (Secrets, workload creation)"],
    concepts=["k8s.rbac.create_pods", "k8s.rbac.secrets_access"], checklist=["security.k8s_rbac", "security.rbac"],
    phrases=["restrict access to secrets", "limit who can create pods"],
)
def rbac_sensitive_access(p):
    rb = _Rbac(p)
    if not rb.bindings:
        yield not_applicable("no RoleBindings or ClusterRoleBindings")
        return
    for b in rb.bindings:
        if _platform(b.name) or (b.kind == "ClusterRoleBinding" and b.name in BUILTIN_CLUSTER_BINDINGS):
            yield passed("platform-managed binding", b.loc, obj_ref(b))
            continue
        grants, label = rb.grants(b)
        if grants is None:
            yield passed(f"binds {label}, not defined in the manifests", b.loc, obj_ref(b))
            continue
        bad = False
        if "pods" in grants:
            bad = True
            yield failed(f"grants {label}, which can create Pods", b.loc, obj_ref(b), concept="k8s.rbac.create_pods")
        if "secrets" in grants:
            bad = True
            yield failed(f"grants {label}, which can read Secrets", b.loc, obj_ref(b),
                         concept="k8s.rbac.secrets_access")
        if not bad:
            yield passed(f"binds {label}", b.loc, obj_ref(b))


# --- service accounts -----------------------------------------------------------------------------

@control(
    id="security.service-account-token", title="Pods mount no service-account token they do not need",
    category="security", severity="medium", evidence=["k8s"],
    rationale="Every pod gets an API token for its service account unless automounting is turned off; an attacker "
              "in the pod uses it against the API server with whatever RBAC that account (or the shared "
              "`default` account of the namespace) was given.",
    remediation="On the ServiceAccount or the pod spec:\n  automountServiceAccountToken: false\nGive a pod that calls "
                "the API its own ServiceAccount (`serviceAccountName: api`) with a narrow Role, never `default`.",
    references=["Kubernetes docs: Configure Service Accounts for Pods", "CIS Kubernetes Benchmark 5.1.5-5.1.6", NSA],
    concepts=["k8s.sa_token.automount", "k8s.service_account.default"],
    checklist=["security.k8s_rbac", "security.rbac"],
    phrases=["disable service account token automount", "dedicated service accounts"],
)
def service_account_token(p):
    sas = by_name(p, "ServiceAccount")
    any_ = False
    for w in k8s_workloads(p):
        any_ = True
        spec = w.pod_spec
        name = spec.get("serviceAccountName") or spec.get("serviceAccount")
        explicit_default = str(name) == "default"
        sa = sas.get("ServiceAccount", w.namespace, str(name or "default"), near=w)
        pod_mount = spec.get("automountServiceAccountToken")
        sa_mount = sa.raw.get("automountServiceAccountToken") if sa is not None else None
        mounted = pod_mount if isinstance(pod_mount, bool) else (sa_mount if isinstance(sa_mount, bool) else True)
        who = f"service account {name or 'default'}"
        if explicit_default:
            yield failed("names the namespace's shared `default` service account explicitly",
                         at(w.loc, spec, "serviceAccountName" if "serviceAccountName" in spec else "serviceAccount"),
                         obj_ref(w), concept="k8s.service_account.default")
        if mounted:
            where = "pod sets automountServiceAccountToken: true" if pod_mount is True else \
                "automountServiceAccountToken is not false on the pod or its ServiceAccount"
            yield failed(f"mounts the API token of {who} ({where})", w.loc, obj_ref(w), concept="k8s.sa_token.automount")
        else:
            yield passed(f"token of {who} not mounted", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no Kubernetes workloads")


# --- secrets --------------------------------------------------------------------------------------

# names that point at a secret or describe one rather than hold it (secret_name, token_url, api_key_id ...)
_REFERENCE_NAME_RX = re.compile(r"(?i)[_.\-](name|ref|id|url|uri|endpoint|host|port|type|enabled|dir|issuer|audience|"
                                r"header|length|ttl|expiry|algorithm|version)$")


def sensitive_name(name: str) -> bool:
    return (is_secret_name(name) or bool(EXTRA_SECRET_NAME_RX.search(name))) and not _REFERENCE_NAME_RX.search(name)


@control(
    id="security.configmap-no-secrets", title="ConfigMaps hold no secrets",
    category="security", severity="high", evidence=["k8s"],
    rationale="ConfigMaps are stored unencrypted, shown by `kubectl describe`, readable by every role that can "
              "read configuration, and committed to git with the manifests: a password or private key there is "
              "disclosed to all of them.",
    remediation="Move the value into a Secret (created by External Secrets / Sealed Secrets, not committed in "
                "clear) and reference it with `secretKeyRef` or a mounted secret volume.",
    references=["Kubernetes docs: ConfigMaps ('ConfigMap does not provide secrecy')", "OWASP ASVS 2.10.4"],
    concepts=["k8s.secrets.configmap_sensitive"], checklist=["security.no_committed_secrets"],
    phrases=["no secrets in ConfigMaps"],
)
def configmap_no_secrets(p):
    cms = p.objects("ConfigMap")
    if not cms:
        yield not_applicable("no ConfigMaps")
        return
    for cm in cms:
        bad = False
        for section in ("data", "binaryData"):
            data = m(cm.raw.get(section))
            for k, v in data.items():
                key, val = str(k), None if v is None else str(v)
                line = line_of(data, k) or cm.loc.line
                secret_line = p.secret_lines.get((cm.loc.path, line or 0))
                if val is not None and PRIVATE_KEY_RX.search(val):
                    why = "holds a private key"
                elif sensitive_name(key) and is_literal_secret(val):
                    why = "has a secret-looking name and a literal value"
                elif secret_line is not None and section == "data":
                    why = f"value looks like a secret ({secret_line[0]})"
                else:
                    continue
                bad = True
                yield failed(f"key {key} {why}", Loc(cm.loc.path, line), obj_ref(cm))
        if not bad:
            yield passed("no secret-looking keys or values", cm.loc, obj_ref(cm))


@control(
    id="security.secrets-as-files", title="Secrets reach containers as mounted files, not environment variables",
    category="security", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: environment variables leak — into crash reports, `/proc/<pid>/environ`, child processes "
              "and debug endpoints that dump the environment — and are fixed for the pod's lifetime; a mounted "
              "Secret file is readable only by the process that opens it and is refreshed on rotation.",
    remediation="volumes:\n  - name: db\n    secret: {secretName: db}\ncontainers:\n  - volumeMounts:\n"
                "      - {name: db, mountPath: /var/run/secrets/db, readOnly: true}\n(read the file, or point "
                "`*_FILE` variables at it)",
    references=["Kubernetes docs: Good practices for Kubernetes Secrets", "kube-linter read-secret-from-env-var"],
    concepts=["k8s.secrets.secret_ref_in_env"], checklist=["security.secrets_manager"],
    phrases=["mount secrets as files", "secrets not in environment variables"],
)
def secrets_as_files(p):
    any_ = False
    for w, c in k8s_containers(p):
        any_ = True
        bad = False
        for e in c.env:
            if e.source and e.source.startswith("secretKeyRef:"):
                bad = True
                yield failed(f"{e.name} reads Secret {e.source.split(':', 1)[1]} into the environment", e.loc,
                             cref(w, c))
        for ef in c.env_from:
            if ef.startswith("secretRef:"):
                bad = True
                yield failed(f"envFrom loads Secret {ef.split(':', 1)[1]} into the environment", c.loc, cref(w, c))
        if not bad:
            yield passed("no Secret in the environment", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")


# --- network --------------------------------------------------------------------------------------

def _policy_types(pol) -> set[str]:
    spec = m(pol.raw.get("spec"))
    types = {str(t) for t in lst(spec.get("policyTypes"))}
    if not types:  # Kubernetes default: Ingress always, Egress when egress rules are given
        types = {"Ingress"} | ({"Egress"} if "egress" in spec else set())
    return types


def _policy_selector(pol):
    sel = m(pol.raw.get("spec")).get("podSelector")
    return {} if sel is None else sel


def _policies_by_ns(p) -> dict:
    out: dict = {}
    for pol in p.objects("NetworkPolicy"):
        out.setdefault(ns(pol.namespace), []).append(pol)
    return out


@control(
    id="security.network-policy-coverage", title="Every pod is selected by a NetworkPolicy, and every policy "
                                              "selects pods",
    category="security", severity="medium", evidence=["k8s"],
    rationale="Pods no NetworkPolicy selects accept traffic from every pod in the cluster, so one compromised "
              "pod can reach all of them; a policy whose selector matches no pod protects nothing (usually a "
              "renamed label) while looking like it does.",
    remediation="A default-deny policy per namespace plus explicit allows:\napiVersion: networking.k8s.io/v1\n"
                "kind: NetworkPolicy\nmetadata: {name: default-deny}\nspec:\n  podSelector: {}\n  policyTypes: "
                "[Ingress]\nand fix selectors that match no pod's labels.",
    references=["Kubernetes docs: Network Policies", NSA + ", 'Network separation'", "CIS Kubernetes Benchmark 5.3.2"],
    concepts=["k8s.network_policy.missing", "k8s.network_policy.no_matching_pods"],
    checklist=["security.firewall_rules", "security.internal_services_private"],
    phrases=["network policies", "default deny network policy", "network segmentation"],
)
def network_policy_coverage(p):
    pods = pod_index(p)
    policies = p.objects("NetworkPolicy")
    if not pods.workloads and not policies:
        yield not_applicable("no Kubernetes workloads or NetworkPolicies")
        return
    covered: set[int] = set()
    for pol in policies:
        sel = _policy_selector(pol)
        selected = pods.select(pol.namespace, sel, near=pol)
        covered.update(id(w) for w in selected)
        if isinstance(sel, dict) and not m(sel.get("matchLabels")) and not lst(sel.get("matchExpressions")):
            yield passed("selects every pod of its namespace", pol.loc, obj_ref(pol))
        elif selected:
            yield passed(f"selects {', '.join(obj_ref(w) for w in selected[:3])}", pol.loc, obj_ref(pol))
        else:
            yield failed("podSelector matches no pod in the manifests", at(pol.loc, m(pol.raw.get("spec")),
                                                                          "podSelector"),
                         obj_ref(pol), concept="k8s.network_policy.no_matching_pods")
    for w in pods.workloads:
        if id(w) in covered:
            yield passed("selected by a NetworkPolicy", w.loc, obj_ref(w))
        else:
            yield failed("no NetworkPolicy selects its pods: they accept traffic from anywhere in the cluster",
                         w.loc, obj_ref(w), concept="k8s.network_policy.missing")


@control(
    id="security.network-policy-egress", title="Every pod is isolated for both ingress and egress",
    category="security", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: ingress isolation alone still lets a compromised pod call anything — the cloud metadata "
              "endpoint, the API server, other tenants, the internet — to move laterally or exfiltrate data. "
              "A pod should be selected by policies whose types cover Ingress and Egress.",
    remediation="spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  egress:\n    - to: "
                "[{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n      ports: "
                "[{port: 53, protocol: UDP}]",
    references=["Kubernetes docs: Network Policies (default deny all egress)", NSA],
    concepts=["k8s.network_policy.ingress_and_egress"], checklist=["security.firewall_rules", "security.internal_services_private"],
    phrases=["egress network policies", "default deny egress"],
)
def network_policy_egress(p):
    pods = pod_index(p)
    if not pods.workloads:
        yield not_applicable("no Kubernetes workloads")
        return
    types: dict[int, set[str]] = {}
    for pol in p.objects("NetworkPolicy"):
        t = _policy_types(pol)
        for w in pods.select(pol.namespace, _policy_selector(pol), near=pol):
            types.setdefault(id(w), set()).update(t)
    for w in pods.workloads:
        missing = {"Ingress", "Egress"} - types.get(id(w), set())
        if missing:
            yield failed(f"not isolated for {' and '.join(sorted(missing))} by any NetworkPolicy", w.loc, obj_ref(w))
        else:
            yield passed("ingress and egress covered by NetworkPolicies", w.loc, obj_ref(w))


@control(
    id="security.no-nodeport-services", title="Services are not exposed on every node's port (NodePort)",
    category="security", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: a NodePort opens the same port on every node's address, bypassing the ingress "
              "controller's TLS, authentication and rate limits, and is easily exposed by a permissive firewall.",
    remediation="Use `type: ClusterIP` behind an Ingress/Gateway, or `type: LoadBalancer` where a cloud load "
                "balancer is intended.",
    references=["kube-linter exposed-services", "kube-score service-type"],
    concepts=["k8s.service.nodeport"], checklist=["security.internal_services_private"],
    phrases=["no NodePort services"],
)
def no_nodeport_services(p):
    svcs = p.objects("Service")
    if not svcs:
        yield not_applicable("no Services")
        return
    for s in svcs:
        t = m(s.raw.get("spec")).get("type", "ClusterIP")
        if t == "NodePort":
            yield failed("type NodePort", at(s.loc, m(s.raw.get("spec")), "type"), obj_ref(s))
        else:
            yield passed(f"type {t}", s.loc, obj_ref(s))


@control(
    id="security.no-ssh-in-containers", title="Containers do not expose SSH (port 22)",
    category="security", severity="medium", evidence=["k8s"],
    rationale="An SSH server in a container is a second, unaudited way in with its own keys and passwords, "
              "outside RBAC and the API server's audit log; it also means the image carries sshd.",
    remediation="Remove the SSH server and port 22; use `kubectl exec` (RBAC-controlled, audited) or an "
                "ephemeral debug container (`kubectl debug`) when a shell is needed.",
    references=["kube-linter ssh-port", "CIS Docker Benchmark 5.6"],
    concepts=["k8s.ssh_port"], checklist=["security.internal_services_private"],
    phrases=["no SSH in containers", "no sshd in pods"],
)
def no_ssh_in_containers(p):
    any_ = False
    for w, c in k8s_containers(p):
        any_ = True
        ssh = [pt for pt in c.ports if pt.container_port == 22 and pt.protocol.upper() == "TCP"]
        if ssh:
            yield failed("declares containerPort 22/TCP (SSH)", c.loc, cref(w, c))
        else:
            yield passed("no SSH port", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")
