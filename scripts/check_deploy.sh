#!/usr/bin/env bash
# Check the deployment files: Dockerfile, Helm chart, CD examples. No cluster or Docker engine needed.
#
#   bash scripts/check_deploy.sh
#   DECOY_TOOLS_DIR   where the checking tools live (default /var/tmp/decoy-tools, outside the clone
#                     so CI clones reuse them); installed from PyPI the first time (about a minute),
#                     again only when deploy/check-requirements.txt changes
#
# 1. hadolint on the Dockerfile, plus the Rust image matching Cargo.toml's rust-version
# 2. helm lint --strict (values.schema.json included) and helm template of deploy/helm/decoy with
#    each ci/*-values.yaml, through Helm's own Go SDK (helm-python-sdk)
# 3. the rendered manifests against the Kubernetes schemas (kubernetes-validate --strict, which
#    rejects unknown fields) of the oldest supported release and the newest bundled one
# 4. what the chart promises (Forbid, non-root, read-only root, /tmp emptyDir, memory limits, no
#    Secret objects, no secret in a plain env value) and every decoy command line in the rendered
#    manifests and in deploy/ci/*.yml, option by option against src/cli.rs
# 5. deploy/ci/github-actions.yml and deploy/ci/gitlab-ci.yml against the GitHub workflow and
#    GitLab CI schemas (check-jsonschema's vendored copies, no network)
set -euo pipefail

cd "$(dirname "$0")/.."

TOOLS="${DECOY_TOOLS_DIR:-/var/tmp/decoy-tools}"
REQUIREMENTS=deploy/check-requirements.txt
VENV="$TOOLS/venv"
KUBE_OLDEST=1.29.0   # Chart.yaml kubeVersion
KUBE_NEWEST=1.37.0   # the newest schemas kubernetes-validate 1.37 bundles

log() { printf 'check_deploy: %s\n' "$*" >&2; }
started=$SECONDS

# ------------------------------------------------------------------------------------ tools
stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
mkdir -p "$TOOLS"
# One installer at a time: clones of the repository share the tools folder.
exec 9>"$TOOLS/.lock"
flock 9
if [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$stamp" ]; then
    log "installing the checking tools into $VENV (PyPI)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$stamp" >"$VENV/.requirements"
fi
flock -u 9
PY="$VENV/bin/python"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
step() { echo "==> $*"; }

# --------------------------------------------------------------------------------- Dockerfile
step "hadolint Dockerfile"
if "$VENV/bin/hadolint" --failure-threshold info Dockerfile; then
    echo "  ok   Dockerfile: no hadolint findings"
else
    status=1
fi
rust_version="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
if grep -Eq "^ARG RUST_IMAGE=rust:${rust_version//./\\.}(\.[0-9]+)?-" Dockerfile; then
    echo "  ok   Dockerfile builds with Rust $rust_version (Cargo.toml rust-version)"
else
    echo "  FAIL Dockerfile's RUST_IMAGE does not match Cargo.toml rust-version $rust_version"
    status=1
fi

# ------------------------------------------------------------------------------------- Helm
step "helm lint + helm template (deploy/helm/decoy)"
"$PY" scripts/check_deploy.py render "$out" || status=1

step "Kubernetes schemas ($KUBE_OLDEST and $KUBE_NEWEST, strict)"
shopt -s nullglob
rendered=("$out"/*.yaml)
if [ "${#rendered[@]}" -eq 0 ]; then
    echo "  FAIL nothing rendered to validate"
    status=1
else
    for version in "$KUBE_OLDEST" "$KUBE_NEWEST"; do
        if "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${rendered[@]}"; then
            echo "  ok   ${#rendered[@]} rendered file(s) valid for Kubernetes $version"
        else
            status=1
        fi
    done
fi

step "chart guarantees and decoy command lines in the manifests"
"$PY" scripts/check_deploy.py manifests "$out" || status=1

# ----------------------------------------------------------------------------- CD examples
step "CD examples (deploy/ci)"
"$PY" scripts/check_deploy.py ci || status=1
for pair in github-actions.yml:vendor.github-workflows gitlab-ci.yml:vendor.gitlab-ci; do
    file="deploy/ci/${pair%%:*}"
    if "$VENV/bin/check-jsonschema" --builtin-schema "${pair#*:}" "$file" >"$out/schema.log" 2>&1; then
        echo "  ok   $file matches the ${pair#*:} schema"
    else
        sed 's/^/  /' "$out/schema.log"
        echo "  FAIL $file does not match the ${pair#*:} schema"
        status=1
    fi
done

if [ "$status" -eq 0 ]; then
    log "all deployment checks passed in $((SECONDS - started)) s"
else
    log "deployment checks FAILED (see the FAIL and ERROR lines above)"
fi
exit "$status"
