#!/usr/bin/env bash
# Validates deploy/k8s: renders both overlays with kustomize (kubectl's built-in one, or a
# `kustomize` binary), validates the rendered objects with kubernetes-validate (PyPI) against
# Kubernetes $K8S_VERSION in strict mode, and checks that
#   - every env var a wellbeing container gets (env + envFrom ConfigMaps) is a setting (`env =
#     "NAME"`) of that binary's config.rs or of the shared ones in services/common, or RUST_LOG;
#   - every probe port of a wellbeing container is the port of the listen address in its env (the
#     gRPC readiness probe: of PROBE_ADDR, the plaintext health port), and a container port named
#     `metrics` (`probes`) is the port of its METRICS_ADDR (PROBE_ADDR);
#   - every container of the four has a preStop pause shorter than its grace period minus the
#     20 s drain, and the prod overlay has an Ingress with TLS to the gateway's Service port;
#   - every service runs mutual TLS: it mounts at /etc/wellbeing/tls the Secret of a cert-manager
#     Certificate naming its role as a DNS name, for server and client auth, all from one Issuer,
#     and none sets INTERNAL_TLS=off;
#   - the migration Job runs `wellbeing-analytics migrate` with the analytics environment, as
#     another database role (Secret key) than the services, granting DATABASE_RUNTIME_ROLE, and
#     analytics does not migrate at start (the services' role has no DDL rights);
#   - the NetworkPolicies deny everything by default and allow exactly the calls the services'
#     *_URL settings name (both the caller's egress and the callee's ingress), plus each
#     PostgreSQL / Redis client's egress to its store.
# Without a usable renderer it falls back to checking the kustomization references and
# validating the full resources file by file. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

K8S_VERSION=${K8S_VERSION:-1.30.0}
VENV=${CARGO_TARGET_DIR:-$HOME/.cache/wellbeing/target}/k8s-venv
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# --- Python tools: kubernetes-validate and PyYAML in a venv ---------------------------------
if ! "$VENV/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "creating $VENV with kubernetes-validate and PyYAML"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate PyYAML
fi

# --- a kustomize renderer ----------------------------------------------------------------------
render() { # overlay-dir output-file
  if command -v kustomize >/dev/null && kustomize build "$1" >"$2" 2>"$OUT/render.err"; then return 0; fi
  command -v kubectl >/dev/null && kubectl kustomize "$1" >"$2" 2>"$OUT/render.err"
}
if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null; then
  # Debian has no `kustomize`; bookworm's kubernetes-client is kubectl 1.20 (kustomize v2), which
  # may be too old for these kustomizations: then the fallback below runs.
  if apt-cache policy kubernetes-client 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    ( apt_install kubernetes-client ) || true
  fi
fi

MODE=rendered
for overlay in dev prod; do
  if ! render "deploy/k8s/overlays/$overlay" "$OUT/$overlay.yaml"; then
    log "cannot render overlays/$overlay with the renderer here: $(head -c 300 "$OUT/render.err" 2>/dev/null)"
    MODE=files
    break
  fi
done

# --- schema validation ---------------------------------------------------------------------------
FILES=()
if [ "$MODE" = rendered ]; then
  FILES=("$OUT/dev.yaml" "$OUT/prod.yaml")
else
  log "fallback: validating the resources listed by each kustomization, file by file"
  mapfile -t FILES < <("$VENV/bin/python" - <<'PY'
import os, sys, yaml
for k in ["deploy/k8s/base", "deploy/k8s/overlays/dev", "deploy/k8s/overlays/prod"]:
    spec = yaml.safe_load(open(os.path.join(k, "kustomization.yaml")))
    for r in spec.get("resources", []):
        p = os.path.normpath(os.path.join(k, r))
        if os.path.isfile(p):
            print(p)
PY
)
fi
# cert-manager's kinds have no schema in Kubernetes itself: they are checked below instead.
mapfile -t CORE_FILES < <("$VENV/bin/python" - "$OUT" "${FILES[@]}" <<'PY'
import os, sys, yaml
out = sys.argv[1]
for index, path in enumerate(sys.argv[2:]):
    docs = [d for d in yaml.safe_load_all(open(path))
            if d and not str(d.get("apiVersion", "")).startswith("cert-manager.io/")]
    if not docs:
        continue
    target = os.path.join(out, f"core-{index}.yaml")
    with open(target, "w") as file:
        yaml.safe_dump_all(docs, file)
    print(target)
PY
)
log "kubernetes-validate --strict against Kubernetes $K8S_VERSION"
if ! "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" \
    "${CORE_FILES[@]}" deploy/k8s/base/secret.template.yaml >"$OUT/validate.log" 2>&1; then
  cat "$OUT/validate.log" >&2
  die "kubernetes-validate failed"
fi

# --- cross-checks with the code ------------------------------------------------------------------
log "checking env names against the binaries' settings and probe ports against listen addresses"
"$VENV/bin/python" - "$MODE" "$OUT" <<'PY'
import os, re, sys, yaml

mode, out = sys.argv[1], sys.argv[2]
failures, notes = [], []

CONFIGS = {
    "wellbeing-gateway": ("gateway/src/config.rs", "GATEWAY_ADDR"),
    "wellbeing-analytics": ("services/analytics/src/config.rs", "ANALYTICS_ADDR"),
    "wellbeing-cache": ("services/cache/src/config.rs", "CACHE_ADDR"),
    "wellbeing-aggregator": ("services/aggregator/src/config.rs", "AGGREGATOR_ADDR"),
}
# Settings every binary shares, and those only the gRPC services have (`AdminPorts`).
SHARED = ["services/common/src/telemetry/mod.rs", "services/common/src/internal_tls.rs"]
ADMIN = "services/common/src/grpc.rs"

def setting_names(path):
    # The settings a clap struct declares: #[arg(long, env = "NAME", ...)]
    return set(re.findall(r'env = "([A-Z][A-Z0-9_]*)"', open(path).read()))

# RUST_LOG is read by the log filter itself, not declared as a setting.
common = {"RUST_LOG"}.union(*(setting_names(path) for path in SHARED))
allowed = {}
for binary, (path, _) in CONFIGS.items():
    names = setting_names(path) | common
    if "AdminPorts" in open(path).read():
        names |= setting_names(ADMIN)
    allowed[binary] = names
for binary, names in allowed.items():
    if len(names) <= len(common):
        failures.append(f"{CONFIGS[binary][0]}: no settings found")

# Documents to check: rendered overlays, or (fallback) base resources + base generator literals.
sets = {}
if mode == "rendered":
    for overlay in ("dev", "prod"):
        sets[overlay] = [d for d in yaml.safe_load_all(open(os.path.join(out, f"{overlay}.yaml"))) if d]
else:
    base = "deploy/k8s/base"
    spec = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))
    docs = []
    for r in spec.get("resources", []):
        docs += [d for d in yaml.safe_load_all(open(os.path.join(base, r))) if d]
    for g in spec.get("configMapGenerator", []):
        data = dict(l.split("=", 1) for l in g.get("literals", []))
        docs.append({"kind": "ConfigMap", "metadata": {"name": g["name"]}, "data": data})
    sets["base"] = docs
    # The kustomization references must exist.
    for k in ["deploy/k8s/base", "deploy/k8s/overlays/dev", "deploy/k8s/overlays/prod"]:
        ks = yaml.safe_load(open(os.path.join(k, "kustomization.yaml")))
        refs = list(ks.get("resources", [])) + [p["path"] for p in ks.get("patches", []) if "path" in p]
        for r in refs:
            if not os.path.exists(os.path.join(k, r)):
                failures.append(f"{k}/kustomization.yaml: {r} does not exist")

LABEL = "app.kubernetes.io/name"

def port_of(addr):
    m = re.search(r":(\d+)$", addr or "")
    return int(m.group(1)) if m else None

checked = 0
tls_mounts = {}  # overlay -> [(where, role, secret name)]
database_keys = {}  # overlay -> {is a Job: {Secret keys of DATABASE_URL}}
calls = {}  # overlay -> {(caller pod name, callee service, port)}, from the *_URL settings
stores = {}  # overlay -> {(pod name, port)}: PostgreSQL and Redis clients
for name, docs in sets.items():
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d.get("kind") == "ConfigMap"}
    secrets = {d["metadata"]["name"] for d in docs if d.get("kind") == "Secret"}
    seen = set()
    migrations_job = False
    for d in docs:
        if d.get("kind") not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = d["spec"]["template"]["spec"]
        for c in pod.get("containers", []):
            binary = (c.get("command") or [None])[0]
            if binary not in CONFIGS:
                continue  # postgres, redis
            seen.add(binary)
            checked += 1
            where = f"{name}: {d['kind']}/{d['metadata']['name']} container {c['name']}"
            env = {}
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef", {}).get("name")
                if ref is None:
                    continue
                if ref not in configmaps:
                    failures.append(f"{where}: envFrom ConfigMap {ref} is not in the manifests")
                env.update(configmaps.get(ref, {}))
            for e in c.get("env", []):
                env[e["name"]] = e.get("value")
                key = e.get("valueFrom", {}).get("secretKeyRef", {}).get("key")
                if e["name"] == "DATABASE_URL" and key:
                    database_keys.setdefault(name, {}).setdefault(d["kind"] == "Job", set()).add(key)
                ref = e.get("valueFrom", {}).get("secretKeyRef", {}).get("name")
                if ref and name == "dev" and ref not in secrets:
                    failures.append(f"{where}: Secret {ref} is not in the dev manifests")
            pod_name = d["spec"]["template"].get("metadata", {}).get("labels", {}).get(LABEL)
            for var, value in env.items():
                if var == "DATABASE_URL":
                    stores.setdefault(name, set()).add((pod_name, 5432))
                elif var == "REDIS_URL" and value:
                    stores.setdefault(name, set()).add((pod_name, port_of(value.split("?")[0]) or 6379))
                elif var.endswith("_URL") and value and d["kind"] != "Job":  # `migrate` calls no service
                    for endpoint in value.split(","):
                        host = endpoint.strip().split("://")[-1].rsplit(":", 1)[0]
                        calls.setdefault(name, set()).add((pod_name, host, port_of(endpoint.strip())))
            for var in env:
                if var not in allowed[binary]:
                    failures.append(f"{where}: {var} is not a setting of {CONFIGS[binary][0]}")
            sc = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
            for key, want in (("runAsNonRoot", True), ("runAsUser", 10001),
                              ("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)):
                if sc.get(key) != want:
                    failures.append(f"{where}: securityContext {key} is {sc.get(key)!r}, want {want!r}")
            if d["kind"] == "Job":
                if c.get("command") != ["wellbeing-analytics", "migrate"]:
                    failures.append(f"{where}: a Job should only run `wellbeing-analytics migrate`")
                elif "DATABASE_URL" not in env:
                    failures.append(f"{where}: the migration needs DATABASE_URL")
                elif not env.get("DATABASE_RUNTIME_ROLE"):
                    failures.append(f"{where}: the migration grants no DATABASE_RUNTIME_ROLE")
                migrations_job = True
                continue
            if binary == "wellbeing-analytics" and str(env.get("MIGRATE_AT_START", "on")).lower() not in ("off", "false", "0"):
                failures.append(f"{where}: MIGRATE_AT_START is not off: its role would need DDL rights")
            path, addr_var = CONFIGS[binary]
            listen = port_of(env.get(addr_var))
            if listen is None:
                failures.append(f"{where}: {addr_var} is not set to host:port in its env")
            if pod.get("terminationGracePeriodSeconds", 30) <= 20:
                failures.append(f"{where}: terminationGracePeriodSeconds must exceed the 20 s drain")
            pause = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
            if len(pause) != 2 or pause[0] != "sleep" or not pause[1].isdigit():
                failures.append(f"{where}: no preStop pause (endpoints update before the listener closes)")
            elif int(pause[1]) + 20 >= pod.get("terminationGracePeriodSeconds", 30):
                failures.append(f"{where}: preStop {pause[1]} s + the 20 s drain exceed the grace period")
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            if "metrics" in ports and ports["metrics"] != port_of(env.get("METRICS_ADDR")):
                failures.append(f"{where}: port metrics {ports['metrics']} != METRICS_ADDR {env.get('METRICS_ADDR')}")
            if "probes" in ports and ports["probes"] != port_of(env.get("PROBE_ADDR")):
                failures.append(f"{where}: port probes {ports['probes']} != PROBE_ADDR {env.get('PROBE_ADDR')}")
            role = binary.removeprefix("wellbeing-")
            if str(env.get("INTERNAL_TLS", "on")).lower() in ("off", "false", "0"):
                failures.append(f"{where}: INTERNAL_TLS is off: the service would take any caller in plaintext")
            mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
            tls_secret = next((v.get("secret", {}).get("secretName") for v in pod.get("volumes", [])
                               if mounts.get(v["name"]) == "/etc/wellbeing/tls"), None)
            if tls_secret is None:
                failures.append(f"{where}: no Secret mounted at /etc/wellbeing/tls (its TLS files)")
            else:
                tls_mounts.setdefault(name, []).append((where, role, tls_secret))
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                spec = c.get(probe)
                if not spec:
                    if probe != "startupProbe":
                        failures.append(f"{where}: no {probe}")
                    continue
                handler = next((spec[h] for h in ("grpc", "httpGet", "tcpSocket") if h in spec), None)
                if handler is None:
                    failures.append(f"{where}: {probe} has no grpc/httpGet/tcpSocket handler")
                    continue
                port = handler.get("port")
                port = ports.get(port, port)
                # A gRPC probe cannot show a client certificate: it asks the plaintext health port.
                want_var = "PROBE_ADDR" if "grpc" in spec else addr_var
                want = port_of(env.get(want_var))
                if port != want:
                    failures.append(f"{where}: {probe} port {port} != {want_var} port {want}")
            ready = c.get("readinessProbe", {})
            if binary != "wellbeing-gateway" and not ready.get("grpc", {}).get("service"):
                failures.append(f"{where}: readiness should ask the gRPC health of the service name")
    if not migrations_job:
        failures.append(f"{name}: no migration Job")
    keys = database_keys.get(name, {})
    if keys.get(True, set()) & keys.get(False, set()) or not keys.get(True) or not keys.get(False):
        failures.append(f"{name}: the migration Job and the services must use different database roles "
                        f"(Secret keys: Job {sorted(keys.get(True, []))}, services {sorted(keys.get(False, []))})")
    missing = set(CONFIGS) - seen
    if missing:
        failures.append(f"{name}: no container runs {', '.join(sorted(missing))}")
    # gRPC Services must be headless (clients balance over the DNS answers).
    for d in docs:
        if d.get("kind") == "Service" and d["metadata"]["name"] in ("analytics", "cache", "aggregator"):
            if d["spec"].get("clusterIP") != "None":
                failures.append(f"{name}: Service/{d['metadata']['name']} is not headless")

# The public edge: an Ingress with TLS to the gateway's Service (prod).
if "prod" in sets:
    ingresses = [d for d in sets["prod"] if d.get("kind") == "Ingress"]
    routed = [i for i in ingresses if i["spec"].get("tls") and any(
        path["backend"]["service"]["name"] == "gateway" and path["backend"]["service"]["port"].get("number") == 8080
        for rule in i["spec"].get("rules", []) for path in rule.get("http", {}).get("paths", []))]
    if not routed:
        failures.append("prod: no Ingress with TLS routing to gateway:8080")

# Certificates: each mounted Secret comes from a cert-manager Certificate naming the role, for
# both server and client auth, all from the same Issuer (one authority the services trust).
for name, docs in sets.items():
    certificates = {d["spec"]["secretName"]: d for d in docs
                    if d.get("kind") == "Certificate" and str(d.get("apiVersion", "")).startswith("cert-manager.io/")}
    issuers = set()
    for where, role, secret in tls_mounts.get(name, []):
        cert = certificates.get(secret)
        if cert is None:
            failures.append(f"{where}: no cert-manager Certificate writes the Secret {secret}")
            continue
        spec = cert["spec"]
        if role not in spec.get("dnsNames", []):
            failures.append(f"{where}: Certificate {cert['metadata']['name']} does not name the role {role}")
        for usage in ("server auth", "client auth"):
            if usage not in spec.get("usages", []):
                failures.append(f"{where}: Certificate {cert['metadata']['name']} lacks the usage {usage}")
        issuers.add((spec["issuerRef"].get("kind", "Issuer"), spec["issuerRef"]["name"]))
    if len(issuers) > 1:
        failures.append(f"{name}: the services' certificates come from several issuers: {sorted(issuers)}")

# NetworkPolicies: everything denied, then exactly the calls above allowed both ways.
def selects(selector, pod):
    return all(pod.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items()) \
        and not (selector or {}).get("matchExpressions")

def allows(rules, side, peer, port):
    for rule in rules:
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            continue
        peers = rule.get(side)
        if not peers:
            return True  # any peer
        for p in peers:
            if "ipBlock" in p or ("namespaceSelector" in p and "podSelector" not in p):
                continue  # outside the namespace's wellbeing pods
            if selects(p.get("podSelector"), {LABEL: peer}):
                return True
    return False

def allowed_way(policies, way, pod, peer, port):
    side, rules = ("from", "ingress") if way == "Ingress" else ("to", "egress")
    return any(way in p["spec"].get("policyTypes", []) and selects(p["spec"].get("podSelector"), {LABEL: pod})
               and allows(p["spec"].get(rules, []), side, peer, port) for p in policies)

policy_count = 0
for name, docs in sets.items():
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    policy_count += len(policies)
    if not any(p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies):
        failures.append(f"{name}: no default-deny NetworkPolicy (all pods, Ingress and Egress, no rule)")
    graph = calls.get(name, set())
    if not graph:
        failures.append(f"{name}: no service calls found in the *_URL settings")
    for caller, callee, port in sorted(graph):
        if not allowed_way(policies, "Egress", caller, callee, port):
            failures.append(f"{name}: NetworkPolicies do not let {caller} call {callee}:{port} (egress)")
        if not allowed_way(policies, "Ingress", callee, caller, port):
            failures.append(f"{name}: NetworkPolicies do not let {callee}:{port} take calls from {caller} (ingress)")
    for pod, port in sorted(stores.get(name, set())):
        if not allowed_way(policies, "Egress", pod, "postgres" if port == 5432 else "redis", port):
            failures.append(f"{name}: NetworkPolicies do not let {pod} reach its data store on port {port}")
    # Nothing beyond the graph: no other wellbeing pod, and no stranger, reaches a gRPC port.
    services = {callee: port for _, callee, port in graph}
    pods = {caller for caller, _, _ in graph} | set(services) | {"analytics-migrate", "a-stranger"}
    for callee, port in services.items():
        for pod in sorted(pods):
            if (pod, callee, port) not in graph and allowed_way(policies, "Ingress", callee, pod, port):
                failures.append(f"{name}: NetworkPolicies let {pod} call {callee}:{port}, which is not in the call graph")

for f in failures:
    print("FAIL", f, file=sys.stderr)
print(f"checked {checked} containers and {policy_count} NetworkPolicies in {', '.join(sets)}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
PY

counts=$(grep -h '^kind:' "${FILES[@]}" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}')
log "k8s manifests OK ($MODE mode, Kubernetes $K8S_VERSION): ${counts%, }"

# --- observability files: valid YAML and JSON --------------------------------------------------
"$VENV/bin/python" - <<'PY'
import json, sys, yaml
for path in ("deploy/observability/otel-collector.yaml", "deploy/observability/prometheus.yml"):
    with open(path) as file:
        yaml.safe_load(file)
with open("deploy/observability/grafana-dashboard.json") as file:
    dashboard = json.load(file)
assert dashboard["panels"], "the dashboard has panels"
print("observability files parse")
PY
