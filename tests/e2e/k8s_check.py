#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check deploy/kubernetes/ without a cluster (t_kubernetes.sh).

k8s_check.py MANIFEST_DIR OUT_DIR: parses every *.yaml with PyYAML (strictly: a
duplicate key is an error), checks each object against the fields its kind
requires, and the manifests against each other (volumes, ConfigMaps, the Job's
policy, the CRI-O drop-in's hooks_dir). Prints one line per check, "ok TEXT" or
"FAIL TEXT: DETAIL". Writes for the shell side: OUT/conf/policies/*.policy (the
policies ConfigMap), OUT/install-hook.sh, OUT/job.sh (the Job's script),
OUT/job.policy (the policy the Job names), OUT/hook-env (the init container's env).
"""
import os
import sys
import tomllib

import yaml

FAILS = 0


def check(ok, text, detail=""):
    global FAILS
    if ok:
        print(f"ok {text}")
    else:
        FAILS += 1
        print(f"FAIL {text}: {detail}")
    return ok


class StrictLoader(yaml.SafeLoader):
    pass


def _mapping(loader, node, deep=False):
    keys = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", k.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)

ANNOTATION = "io.depfence.policy"
HOOKS_D = "/etc/containers/oci/hooks.d"


def get(obj, path, default=None):
    for p in path.split("."):
        if not isinstance(obj, dict) or p not in obj:
            return default
        obj = obj[p]
    return obj


def check_pod_spec(where, spec):
    """Containers with name and image; every volumeMount names a volume."""
    vols = {v.get("name") for v in spec.get("volumes", []) or []}
    conts = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    check(spec.get("containers"), f"{where}: has containers", "spec.containers empty")
    names = [c.get("name") for c in conts]
    check(len(names) == len(set(names)), f"{where}: container names unique", names)
    for c in conts:
        n = c.get("name")
        check(n and c.get("image"), f"{where}: container {n} has name and image", c)
        for m in c.get("volumeMounts", []) or []:
            check(m.get("name") in vols and m.get("mountPath", "").startswith("/"),
                  f"{where}: {n} mounts {m.get('mountPath')} from volume {m.get('name')}",
                  f"no volume {m.get('name')} in {sorted(vols)}")
    for v in spec.get("volumes", []) or []:
        kinds = [k for k in ("hostPath", "configMap", "emptyDir", "secret") if k in v]
        check(len(kinds) == 1, f"{where}: volume {v.get('name')} has one source", kinds)
    return conts


def main():
    mdir, out = sys.argv[1], sys.argv[2]
    objs = []
    for f in sorted(os.listdir(mdir)):
        if not f.endswith(".yaml"):
            continue
        try:
            docs = [d for d in yaml.load_all(open(os.path.join(mdir, f)), Loader=StrictLoader)
                    if d is not None]
        except yaml.YAMLError as e:
            check(False, f"{f} parses as YAML", str(e).replace("\n", " "))
            continue
        check(docs, f"{f} parses as YAML ({len(docs)} object(s))", "no object")
        for d in docs:
            objs.append((f, d))

    by_kind = {}
    for f, o in objs:
        what = f"{f}: {o.get('kind')}/{get(o, 'metadata.name')}"
        check(isinstance(o.get("apiVersion"), str) and isinstance(o.get("kind"), str)
              and isinstance(get(o, "metadata.name"), str),
              f"{what} has apiVersion, kind, metadata.name", o.keys())
        by_kind.setdefault(o.get("kind"), []).append((what, o))

    namespaces = {get(o, "metadata.name") for _, o in by_kind.get("Namespace", [])}
    check("depfence-system" in namespaces, "Namespace depfence-system defined", namespaces)
    for kind in ("DaemonSet", "ConfigMap"):
        for what, o in by_kind.get(kind, []):
            check(get(o, "metadata.namespace") == "depfence-system",
                  f"{what} in namespace depfence-system", get(o, "metadata.namespace"))

    # ConfigMaps: policies and the hook installer.
    cms = {get(o, "metadata.name"): o for _, o in by_kind.get("ConfigMap", [])}
    pol = cms.get("depfence-policies")
    policies = {}
    if check(pol is not None, "ConfigMap depfence-policies defined", sorted(cms)):
        data = pol.get("data") or {}
        for key, text in data.items():
            check(key.endswith(".policy") and "/" not in key and isinstance(text, str),
                  f"depfence-policies: key {key} is NAME.policy", key)
            policies[key[:-len(".policy")]] = text
        for need in ("default", "deploy"):
            check(need in policies, f"depfence-policies has {need}.policy", sorted(policies))
        dep = policies.get("deploy", "")
        for name in ("github.com", "objects.githubusercontent.com", "ghcr.io"):
            check(f"block {name}" in dep.splitlines(), f"deploy.policy blocks {name}", dep)
        os.makedirs(f"{out}/conf/policies", exist_ok=True)
        for name, text in policies.items():
            with open(f"{out}/conf/policies/{name}.policy", "w") as fh:
                fh.write(text)
    inst = cms.get("depfence-hook-installer")
    if check(inst is not None and "install-hook.sh" in (inst.get("data") or {}),
             "ConfigMap depfence-hook-installer has install-hook.sh", sorted(cms)):
        with open(f"{out}/install-hook.sh", "w") as fh:
            fh.write(inst["data"]["install-hook.sh"])

    # DaemonSet.
    dss = by_kind.get("DaemonSet", [])
    check(len(dss) == 1, "one DaemonSet", len(dss))
    for what, ds in dss:
        check(ds.get("apiVersion") == "apps/v1", f"{what}: apiVersion apps/v1", ds.get("apiVersion"))
        sel = get(ds, "spec.selector.matchLabels") or {}
        labels = get(ds, "spec.template.metadata.labels") or {}
        check(sel and all(labels.get(k) == v for k, v in sel.items()),
              f"{what}: selector.matchLabels match the template's labels", (sel, labels))
        spec = get(ds, "spec.template.spec") or {}
        check(spec.get("hostPID") is True, f"{what}: hostPID true", spec.get("hostPID"))
        check(spec.get("priorityClassName") == "system-node-critical",
              f"{what}: priorityClassName system-node-critical", spec.get("priorityClassName"))
        check({"operator": "Exists"} in (spec.get("tolerations") or []),
              f"{what}: tolerates every taint", spec.get("tolerations"))
        us = get(ds, "spec.updateStrategy") or {}
        check(us.get("type") == "RollingUpdate"
              and get(us, "rollingUpdate.maxUnavailable") == 1,
              f"{what}: RollingUpdate, maxUnavailable 1", us)
        conts = check_pod_spec(what, spec)
        vols = {v["name"]: v for v in spec.get("volumes", []) or []}
        hostpaths = {v["name"]: get(v, "hostPath.path") for v in vols.values() if "hostPath" in v}
        for c in conts:
            check(c.get("resources", {}).get("requests") and c.get("resources", {}).get("limits"),
                  f"{what}: {c.get('name')} has resource requests and limits", c.get("resources"))
        main = [c for c in spec.get("containers", []) if c.get("name") == "depfenced"]
        if check(len(main) == 1, f"{what}: container depfenced", [c.get("name") for c in conts]):
            c = main[0]
            cmd = (c.get("command") or []) + (c.get("args") or [])
            daemon = [i for i, a in enumerate(cmd) if a.endswith("/depfenced") or a == "depfenced"]
            if check(daemon, f"{what}: runs depfenced", cmd):
                argv = cmd[daemon[0]:]
                opts = dict(zip(argv[1::2], argv[2::2]))
                check(opts.get("--state-dir") == "/run/depfence",
                      f"{what}: depfenced --state-dir /run/depfence", argv)
                check(opts.get("--config-dir") in (None, "/etc/depfence"),
                      f"{what}: depfenced --config-dir /etc/depfence", argv)
                check("--upstream" in opts, f"{what}: depfenced --upstream given", argv)
            sc = c.get("securityContext") or {}
            caps = set(get(sc, "capabilities.add", []) or [])
            need = {"SYS_ADMIN", "BPF", "PERFMON", "NET_ADMIN", "SYS_PTRACE", "KILL",
                    "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "IPC_LOCK", "SYS_RESOURCE"}
            check(sc.get("privileged") is True or need <= caps,
                  f"{what}: privileged or the daemon's capabilities", sc)
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            for path, hp in (("/sys/fs/bpf", "/sys/fs/bpf"), ("/sys/fs/cgroup", "/sys/fs/cgroup"),
                             ("/run/depfence", "/run/depfence")):
                m = mounts.get(path)
                check(m and hostpaths.get(m["name"]) == hp,
                      f"{what}: {path} is the host's {hp}", m)
            check((mounts.get("/sys/fs/bpf") or {}).get("mountPropagation") == "Bidirectional",
                  f"{what}: /sys/fs/bpf mountPropagation Bidirectional", mounts.get("/sys/fs/bpf"))
            check(mounts.get("/sys/fs/bpf", {}).get("mountPropagation") != "Bidirectional"
                  or sc.get("privileged") is True,
                  f"{what}: Bidirectional propagation in a privileged container", sc)
            m = mounts.get("/etc/depfence/policies")
            check(m and get(vols.get(m["name"], {}), "configMap.name") == "depfence-policies",
                  f"{what}: /etc/depfence/policies is ConfigMap depfence-policies", m)
            for probe in ("livenessProbe", "readinessProbe"):
                pc = get(c, f"{probe}.exec.command") or []
                check(len(pc) >= 2 and os.path.basename(pc[0]) == "depfence" and pc[1] == "status"
                      and pc[2:] == ["--state-dir", "/run/depfence"],
                      f"{what}: {probe} execs depfence status --state-dir /run/depfence", pc)
        init = [c for c in spec.get("initContainers", []) or [] if c.get("name") == "install-hook"]
        if check(len(init) == 1, f"{what}: init container install-hook", spec.get("initContainers")):
            c = init[0]
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            root = env.get("HOST_ROOT", "")
            for var in ("INSTALL_DIR", "HOOKS_DIR"):
                p = env.get(var, "")
                check(p and hostpaths.get(mounts.get(root + p)) == p,
                      f"{what}: install-hook writes {var} {p} to the host's {p}",
                      (mounts, hostpaths))
            check(env.get("HOOKS_DIR") == HOOKS_D, f"{what}: hooks.d is {HOOKS_D}", env)
            cm = mounts.get("/etc/depfence-installer")
            check(get(vols.get(cm, {}), "configMap.name") == "depfence-hook-installer"
                  and "/etc/depfence-installer/install-hook.sh" in c.get("command", []),
                  f"{what}: install-hook runs the installer ConfigMap's script", c.get("command"))
            with open(f"{out}/hook-env", "w") as fh:
                for k, v in env.items():
                    fh.write(f"{k}={v}\n")

    # Jobs.
    jobs = by_kind.get("Job", [])
    check(jobs, "a sample Job", sorted(by_kind))
    for what, job in jobs:
        check(job.get("apiVersion") == "batch/v1", f"{what}: apiVersion batch/v1", job.get("apiVersion"))
        ann = get(job, "spec.template.metadata.annotations") or {}
        name = ann.get(ANNOTATION)
        check(name == "deploy", f"{what}: pod template annotated {ANNOTATION}: deploy", ann)
        check(name in policies, f"{what}: its policy {name} is in depfence-policies", sorted(policies))
        spec = get(job, "spec.template.spec") or {}
        check(spec.get("restartPolicy") in ("Never", "OnFailure"),
              f"{what}: restartPolicy Never or OnFailure", spec.get("restartPolicy"))
        check_pod_spec(what, spec)
        cmd = spec["containers"][0].get("command", [])
        if check(cmd[:2] == ["/bin/sh", "-c"] and len(cmd) == 3, f"{what}: runs a sh -c script", cmd):
            with open(f"{out}/job.sh", "w") as fh:
                fh.write(cmd[2])
            with open(f"{out}/job.policy", "w") as fh:
                fh.write(f"{name}\n")

    # The CRI-O drop-in.
    try:
        with open(os.path.join(mdir, "crio-drop-in.conf"), "rb") as fh:
            crio = tomllib.load(fh)
        hd = get(crio, "crio.runtime.hooks_dir")
        check(isinstance(hd, list) and all(isinstance(d, str) for d in hd) and HOOKS_D in hd,
              f"crio-drop-in.conf: [crio.runtime] hooks_dir lists {HOOKS_D}", hd)
        check(list(crio) == ["crio"] and list(crio["crio"]) == ["runtime"]
              and list(crio["crio"]["runtime"]) == ["hooks_dir"],
              "crio-drop-in.conf sets nothing but crio.runtime.hooks_dir", crio)
    except (OSError, tomllib.TOMLDecodeError) as e:
        check(False, "crio-drop-in.conf parses as TOML", e)

    # The containerd snippet in the NRI notes parses and lets the annotation through.
    try:
        text = open(os.path.join(mdir, "containerd-nri.md")).read()
        blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
        check(blocks, "containerd-nri.md has TOML blocks", "none")
        for i, b in enumerate(blocks):
            t = tomllib.loads(b)
            rt = [r for r in _walk(t) if "pod_annotations" in r]
            check(any(ANNOTATION in r["pod_annotations"] for r in rt) or not rt,
                  f"containerd-nri.md TOML block {i + 1} parses"
                  + (f", pod_annotations lets {ANNOTATION} through" if rt else ""), rt)
        check(any("pod_annotations" in r for b in blocks for r in _walk(tomllib.loads(b))),
              "containerd-nri.md sets pod_annotations", blocks)
    except (OSError, tomllib.TOMLDecodeError) as e:
        check(False, "containerd-nri.md TOML parses", e)
    sys.exit(1 if FAILS else 0)


def _walk(t):
    if isinstance(t, dict):
        yield t
        for v in t.values():
            yield from _walk(v)


if __name__ == "__main__":
    main()
