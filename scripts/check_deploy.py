"""Checks of the deployment files, run by scripts/check_deploy.sh inside its tool venv.

  check_deploy.py render OUT_DIR       helm lint (strict) + render the chart with each ci/*-values.yaml
  check_deploy.py manifests OUT_DIR    what the chart must guarantee, on the rendered manifests
  check_deploy.py ci                   YAML syntax and decoy command lines of deploy/ci/*.yml, and the
                                       decoy commands in the README's deployment section

Every decoy command line found (container args, CI scripts, README) is checked against src/cli.rs: each
subcommand and option must exist there, with a value where the option takes one.
"""

import glob
import os
import re
import shlex
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "deploy", "helm", "decoy")
CLI_RS = os.path.join(ROOT, "src", "cli.rs")
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion); lint checks against it.
KUBE_VERSION = "v1.29.0"

failures = []


def fail(message):
    failures.append(message)
    print(f"  FAIL {message}")


# ------------------------------------------------------------------------- the CLI, from cli.rs


def kebab(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).replace("_", "-").lower()


def split_fields(body):
    """(attributes, field name, type) for each field of a struct body or struct-like variant."""
    fields, attrs = [], []
    depth, start, i = 0, 0, 0
    # Walk top-level items: attributes `#[...]` and fields `pub? name: Type,`.
    while i < len(body):
        if body.startswith("///", i) or body.startswith("//", i):
            i = body.index("\n", i) + 1 if "\n" in body[i:] else len(body)
            continue
        if body.startswith("#[", i):
            depth, j = 0, i + 1
            while True:
                if body[j] == "[":
                    depth += 1
                elif body[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            attrs.append(body[i : j + 1])
            i = j + 1
            continue
        m = re.match(r"\s*(?:pub\s+)?([a-z_][a-z0-9_]*)\s*:\s*", body[i:])
        if m:
            j = i + m.end()
            depth = 0
            k = j
            while k < len(body) and not (body[k] == "," and depth == 0):
                depth += body[k] in "<([{"
                depth -= body[k] in ">)]}"
                k += 1
            fields.append((attrs, m.group(1), body[j:k].strip()))
            attrs = []
            i = k + 1
            continue
        i += 1
    return fields


def block_after(text, header):
    """The text between the braces that follow `header`."""
    start = text.index("{", text.index(header))
    depth = 0
    for k in range(start, len(text)):
        depth += text[k] == "{"
        depth -= text[k] == "}"
        if depth == 0:
            return text[start + 1 : k]
    raise ValueError(header)


def parse_cli():
    text = open(CLI_RS, encoding="utf-8").read()
    structs = {m.group(1): block_after(text, m.group(0)) for m in re.finditer(r"pub struct (\w+)\s*\{", text)}
    enums = {m.group(1): block_after(text, m.group(0)) for m in re.finditer(r"pub enum (\w+)\s*\{", text)}

    def options_of(body):
        """{'--name': takes_value, '-c': takes_value}, positional (count or None for many)."""
        opts, positional = {}, 0
        for attrs, name, ty in split_fields(body):
            joined = " ".join(attrs)
            if "flatten" in joined:
                sub_opts, sub_pos = options_of(structs[ty])
                opts.update(sub_opts)
                positional = None if sub_pos is None or positional is None else positional + sub_pos
                continue
            if "subcommand" in joined:
                continue
            arg = re.search(r"#\[arg\((.*)\)\]", joined, re.S)
            spec = arg.group(1) if arg else ""
            takes = ty != "bool" and "Count" not in spec
            long_m = re.search(r'\blong\s*=\s*"([^"]+)"', spec)
            short_m = re.search(r"\bshort\s*=\s*'(.)'", spec)
            if long_m or re.search(r"\blong\b", spec):
                opts["--" + (long_m.group(1) if long_m else kebab(name))] = takes
            if short_m or re.search(r"\bshort\b", spec):
                opts["-" + (short_m.group(1) if short_m else name[0])] = takes
            if not re.search(r"\b(long|short)\b", spec):
                positional = None if (positional is None or ty.startswith("Vec<")) else positional + 1
        return opts, positional

    global_opts, _ = options_of(structs["Cli"])
    global_opts["--help"] = False
    global_opts["-h"] = False

    def commands_of(enum_body, prefix):
        tree = {}
        for m in re.finditer(r"\n\s*(\w+)\s*(\(\s*(\w+)\s*\)|\{)", enum_body):
            variant, inline, ty = m.group(1), m.group(2), m.group(3)
            name = prefix + (kebab(variant),)
            if inline == "{":
                tree[name] = options_of(block_after(enum_body, m.group(0).strip()))
            elif ty in enums:
                tree.update(commands_of(enums[ty], name))
            else:
                tree[name] = options_of(structs[ty])
        return tree

    return global_opts, commands_of(enums["Command"], ())


GLOBAL_OPTS, COMMANDS = parse_cli()


def check_decoy_args(args, where):
    """args: what follows the `decoy` program name."""
    args = list(args)
    before = len(failures)
    path, i = (), 0
    opts = dict(GLOBAL_OPTS)
    positional = []
    leaf = None
    while i < len(args):
        token = args[i]
        if token.startswith("-") and token != "-":
            name, _, inline = token.partition("=")
            if leaf is None and name not in GLOBAL_OPTS:
                fail(f"{where}: `{token}` before the subcommand is not a global option of decoy")
                return
            if name not in opts:
                fail(f"{where}: `decoy {' '.join(path)}` has no option `{name}` (src/cli.rs)")
                i += 1
                continue
            if opts[name] and not inline:
                if i + 1 >= len(args):
                    fail(f"{where}: `{name}` needs a value")
                i += 1
            i += 1
            continue
        if leaf is None:
            candidate = path + (token,)
            if candidate in COMMANDS:
                leaf = COMMANDS[candidate]
                opts.update(leaf[0])
            elif not any(c[: len(candidate)] == candidate for c in COMMANDS):
                fail(f"{where}: `decoy {' '.join(candidate)}` is not a decoy command (src/cli.rs)")
                return
            path = candidate
        else:
            positional.append(token)
        i += 1
    if leaf is None:
        fail(f"{where}: `decoy {' '.join(path)}` names no complete command")
        return
    if leaf[1] is not None and len(positional) > leaf[1]:
        fail(f"{where}: `decoy {' '.join(path)}` takes {leaf[1]} positional argument(s), got {positional}")
    if len(failures) == before:
        print(f"  ok   {where}: decoy {' '.join(args)}")


# ------------------------------------------------------------------------------ helm chart


def render(out_dir):
    import helm_python as helm

    os.makedirs(out_dir, exist_ok=True)
    values_files = sorted(glob.glob(os.path.join(CHART, "ci", "*-values.yaml")))
    if not values_files:
        fail("no deploy/helm/decoy/ci/*-values.yaml to render")
    print(f"helm {helm.helm_sdk_version()} (Go SDK through helm-python-sdk {helm.__version__})")
    for values_file in values_files:
        label = os.path.basename(values_file)
        values = yaml.safe_load(open(values_file)) or {}
        report = helm.lint(CHART, values, strict=True, kube_version=KUBE_VERSION)
        problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        problems += [{"path": "", "error": e} for e in report.get("errors", [])]
        for p in problems:
            fail(f"helm lint --strict ({label}): {p.get('path')}: {p.get('error', '').strip()}")
        if problems:
            continue
        try:
            chart = helm.Chart.load(CHART)
            chart.validate_schema(values)
            rendered = chart.render(values, name="decoy", namespace="decoy", is_install=True)
        except helm.HelmError as e:
            fail(f"helm template ({label}): {e}")
            continue
        documents = [text for path, text in sorted(rendered.items()) if path.endswith(".yaml") and text.strip()]
        target = os.path.join(out_dir, label.replace("-values.yaml", ".yaml"))
        with open(target, "w") as f:
            f.write("\n---\n".join(documents))
        print(f"  ok   helm lint --strict + template with ci/{label} -> {len(documents)} manifest(s)")
    # The chart must refuse to render without a config or without the secrets the jobs need.
    for label, values, expected in [
        ("no config", {"cronjob": {"existingSecret": "s"}}, "set `config`"),
        ("no cronjob secret", {"config": {"a": 1}}, "cronjob.existingSecret"),
        ("keepLast 0", {"config": {"a": 1}, "cronjob": {"existingSecret": "s", "retention": {"keepLast": 0}}}, "keepLast"),
    ]:
        try:
            chart = helm.Chart.load(CHART)
            chart.validate_schema(values)
            chart.render(values, name="decoy", namespace="decoy", is_install=True)
            fail(f"helm template with {label} should fail")
        except helm.HelmError as e:
            if expected not in str(e):
                fail(f"helm template with {label} failed for another reason: {e}")
            else:
                print(f"  ok   helm template refuses {label}")


def containers_of(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        job = spec["jobTemplate"]["spec"]
    elif doc["kind"] == "Job":
        job = spec
    else:
        return None, None, []
    pod = job["template"]["spec"]
    return job, pod, pod.get("initContainers", []) + pod.get("containers", [])


def manifests(out_dir):
    files = sorted(glob.glob(os.path.join(out_dir, "*.yaml")))
    if not files:
        fail(f"no rendered manifests in {out_dir}")
    seen = set()
    for path in files:
        label = os.path.basename(path)
        for doc in yaml.safe_load_all(open(path)):
            if not doc:
                continue
            kind, name = doc["kind"], doc["metadata"]["name"]
            where = f"{label} {kind}/{name}"
            seen.add(kind)
            if kind == "Secret":
                fail(f"{where}: the chart must not create Secrets (existingSecret only)")
            job, pod, containers = containers_of(doc)
            if job is None:
                continue
            if kind == "CronJob" and doc["spec"].get("concurrencyPolicy") != "Forbid":
                fail(f"{where}: concurrencyPolicy must be Forbid")
            for key in ("backoffLimit", "activeDeadlineSeconds"):
                if key not in job:
                    fail(f"{where}: no {key}")
            if pod.get("restartPolicy") != "Never":
                fail(f"{where}: restartPolicy must be Never (podFailurePolicy needs it)")
            psc = pod.get("securityContext", {})
            if not psc.get("runAsNonRoot") or psc.get("runAsUser") != 10001:
                fail(f"{where}: pod must run as non-root UID 10001 (the image's user)")
            if pod.get("terminationGracePeriodSeconds", 30) <= 30:
                fail(f"{where}: terminationGracePeriodSeconds must exceed decoy's 30 s shutdown wait")
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for c in containers:
                cw = f"{where} container {c['name']}"
                sc = c.get("securityContext", {})
                if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
                    fail(f"{cw}: needs readOnlyRootFilesystem and no privilege escalation")
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                if "emptyDir" not in volumes.get(mounts.get("/tmp"), {}):
                    fail(f"{cw}: /tmp must be an emptyDir (the root filesystem is read-only)")
                if "memory" not in c.get("resources", {}).get("limits", {}):
                    fail(f"{cw}: no memory limit")
                for env in c.get("env", []):
                    if "value" in env and re.search(r"(?i)password|secret|passphrase|salt|://[^/@]*:[^/@]*@", str(env["value"])):
                        fail(f"{cw}: env {env['name']} holds what looks like a secret; use a Secret")
                if c.get("command"):
                    fail(f"{cw}: command overrides the image's ENTRYPOINT (decoy); give args only")
                check_decoy_args(c.get("args", []), cw)
            if kind == "Job":
                args = containers[0].get("args", [])
                if args[:2] != ["dump", "restore"] or "--to" in args:
                    fail(f"{where}: the restore Job runs `dump restore` with the URL from DECOY_RESTORE_URL")
            if kind == "CronJob":
                steps = [c.get("args", [])[:2] for c in containers]
                if steps[0] != ["dump", "create"]:
                    fail(f"{where}: the first container must run `dump create`")
                if len(steps) > 1 and steps[1] != ["dump", "delete"]:
                    fail(f"{where}: the container after `dump create` must run `dump delete` (retention)")
    for kind in ("CronJob", "Job", "ConfigMap", "ServiceAccount"):
        if kind not in seen:
            fail(f"no {kind} in any rendered manifest: the ci values no longer cover it")


# ------------------------------------------------------------------------------ CD examples


def shell_commands(script):
    """Logical command lines of a shell script (continuations joined)."""
    return [line.strip() for line in script.replace("\\\n", " ").splitlines() if line.strip()]


def decoy_invocations(line):
    """decoy argument lists in one shell line: `decoy ...`, or `docker run ... IMAGE ...` where the
    image is `decoy` or `$DECOY_IMAGE`."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return []
    found = []
    for i, token in enumerate(tokens):
        docker = any(tokens[j : j + 2] == ["docker", "run"] for j in range(i))
        if (token == "decoy" and (i == 0 or docker)) or (token.endswith("DECOY_IMAGE") and docker):
            args = []
            for t in tokens[i + 1 :]:
                if t in ("|", "||", "&&", ";") or t.startswith((">", "<", "2>")) or t in (">", "2>&1"):
                    break
                args.append(t)
            found.append(args)
    return found


def ci():
    examples = {
        "github-actions.yml": lambda d: [
            step.get("run", "") for job in d.get("jobs", {}).values() for step in job.get("steps", [])
        ],
        "gitlab-ci.yml": lambda d: [
            "\n".join(job.get(key, []) if isinstance(job.get(key), list) else [job.get(key, "")])
            for job in d.values()
            if isinstance(job, dict)
            for key in ("before_script", "script", "after_script")
        ],
    }
    for name, scripts_of in examples.items():
        path = os.path.join(ROOT, "deploy", "ci", name)
        try:
            doc = yaml.safe_load(open(path))
        except (OSError, yaml.YAMLError) as e:
            fail(f"deploy/ci/{name}: {e}")
            continue
        print(f"  ok   deploy/ci/{name}: YAML parses")
        count = 0
        for script in scripts_of(doc):
            for line in shell_commands(script or ""):
                for args in decoy_invocations(line):
                    count += 1
                    check_decoy_args(args, f"deploy/ci/{name}")
                    if args[:2] == ["dump", "restore"] and "--clean" not in args:
                        fail(f"deploy/ci/{name}: a preview restore should pass --clean, so a rerun works")
        if count == 0:
            fail(f"deploy/ci/{name}: no decoy command found")
        text = open(path).read()
        if "DECOY_LOG_FORMAT" not in text:
            fail(f"deploy/ci/{name}: should set DECOY_LOG_FORMAT=json for log pipelines")


def readme():
    """The sh blocks of the README's deployment section: every decoy command in them must exist."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = text.find("## Running in containers, Kubernetes and CD")
    if start < 0:
        fail("README.md has no section `## Running in containers, Kubernetes and CD`")
        return
    end = text.find("\n## ", start + 1)
    section = text[start : end if end > 0 else len(text)]
    count = 0
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in shell_commands(block):
            for args in decoy_invocations(line):
                count += 1
                check_decoy_args(args, "README.md")
    if count == 0:
        fail("README.md: no decoy command found in the deployment section")


def main():
    command = sys.argv[1]
    if command == "render":
        render(sys.argv[2])
    elif command == "manifests":
        manifests(sys.argv[2])
    elif command == "ci":
        ci()
        readme()
    elif command == "args":  # check_deploy.py args dump restore latest --clean
        check_decoy_args(sys.argv[2:], "command line")
    else:
        sys.exit(f"unknown command {command}")
    if failures:
        print(f"{len(failures)} problem(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
