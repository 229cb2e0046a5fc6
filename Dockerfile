# syntax=docker/dockerfile:1
#
# decoy container image: a release build of the workspace on the Rust image, copied into a slim
# Debian runtime with pg_dump (the only external tool decoy runs) and CA certificates.
#
#   docker build -t decoy .
#   docker build --build-arg PG_MAJOR=17 -t decoy .     # pg_dump must be >= the source server's major
#
# Build and runtime are both Debian 12 (bookworm), so the binary runs on the glibc it was linked
# against. The tags are pinned to a Rust release and a Debian release; for byte-for-byte
# reproducible builds, pin them further by digest (FROM image:tag@sha256:...).

ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------- build
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crates.io downloads and the compiled dependencies between builds
# (BuildKit, the default builder since Docker 23), so a source change recompiles only the
# workspace's own crates. The binary is copied out because the target folder is a cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin decoy \
    && install -D -m 0755 target/release/decoy /out/decoy \
    && /out/decoy --version

# ------------------------------------------------------------------------------ PGDG signing key
# Debian's own postgresql-common package ships the key of the PostgreSQL project's apt repository
# (apt.postgresql.org), so the key arrives signed by the Debian archive rather than fetched bare.
# Only that file is extracted; the package is not installed.
FROM ${DEBIAN_IMAGE} AS pgdg-key
WORKDIR /tmp/pgdg
RUN apt-get update \
    && apt-get download postgresql-common \
    && dpkg-deb -x postgresql-common_*.deb root \
    && install -D -m 0644 root/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc /out/pgdg.asc \
    && rm -rf /var/lib/apt/lists/*

# ------------------------------------------------------------------------------------- runtime
FROM ${DEBIAN_IMAGE}

# pg_dump writes the schema section of PostgreSQL dumps and must be at least as new as the source
# server. Debian 12 ships PostgreSQL 15, which refuses to dump 16 and later, so the client comes
# from the PostgreSQL project's repository; pg_dump 18 dumps servers from 9.2 to 18.
ARG PG_MAJOR=18

COPY --from=pgdg-key /out/pgdg.asc /etc/apt/keyrings/pgdg.asc

# Versions are not pinned: the Debian and PGDG suites only ever carry one (security-patched) build
# of each package, and an old pin would stop the image from building once it is superseded.
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    echo "deb [signed-by=/etc/apt/keyrings/pgdg.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 decoy; \
    useradd --system --uid 10001 --gid 10001 --home-dir /home/decoy --create-home \
        --shell /usr/sbin/nologin decoy; \
    install -d -o 10001 -g 10001 -m 0755 /work

# The versioned bin folder first: pg_dump is then PG_MAJOR's binary itself, not Debian's
# pg_wrapper script picking a version.
ENV PATH="/usr/lib/postgresql/${PG_MAJOR}/bin:${PATH}" \
    DECOY_LOG_FORMAT=json

COPY --from=build /out/decoy /usr/local/bin/decoy
RUN decoy --version && pg_dump --version

LABEL org.opencontainers.image.title="decoy" \
      org.opencontainers.image.description="Anonymized, versioned copies of production databases" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric UID/GID, so Kubernetes can check runAsNonRoot and volumes can be chowned to it.
USER 10001:10001
# `decoy dump create` with no -c reads ./decoy.yaml, and a local datastore's relative path is
# resolved from here: mount a project folder on /work to use both.
WORKDIR /work
# decoy handles SIGTERM itself (it removes the partial dump and exits 1), so it runs as PID 1
# without an init; `docker stop` sends SIGTERM.
ENTRYPOINT ["decoy"]
CMD ["--help"]
