#!/usr/bin/env bash
# Make the database servers the tests need reachable on 127.0.0.1.
#
# Target: Debian 12 as root, no systemd, no docker (see shared/ENVIRONMENT.md).
# Idempotent and silent when everything is already up; installs and starts
# what is missing otherwise.
#
#   DECOY_SERVICES   space/comma separated list of services to ensure;
#                    default "postgres". Add "mysql" (or "mariadb") for MariaDB,
#                    "s3" for an S3-compatible server (s3s-fs) on 127.0.0.1:8014,
#                    "mongo" for a MongoDB-wire server (jongodb) on 127.0.0.1:27017.
set -euo pipefail

DECOY_SERVICES="${DECOY_SERVICES:-postgres}"
# Fail fast instead of hanging on a dead host or a password prompt (CI has no stdin).
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt needs root; use sudo when we are a normal user that has it.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

APT_UPDATED=0
apt_install() {
    log "installing $* (apt)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL

pg_tcp_ok() {
    psql -X -w -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1
}

# Newest installed major version, e.g. "15" (there is normally only one).
pg_version() {
    find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1
}

pg_wait_ready() {
    local i
    for i in $(seq 1 60); do
        if pg_isready -q -h 127.0.0.1 -p 5432; then
            return 0
        fi
        [ "$i" -eq 1 ] && log "waiting for PostgreSQL on 127.0.0.1:5432"
        sleep 0.5
    done
    die "PostgreSQL did not become ready within 30s (see /var/log/postgresql/)"
}

# Put trust lines for loopback TCP at the top of pg_hba.conf (first match wins),
# so the passwordless postgres user works over 127.0.0.1 like on the dev machines.
pg_trust_loopback() {
    local ver="$1" hba tmp
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    [ -f "$hba" ] || die "no $hba"
    log "enabling trust auth for 127.0.0.1/32 and ::1 in $hba"
    tmp="$(mktemp)"
    {
        echo '# added by decoy scripts/services.sh: passwordless loopback TCP for tests'
        echo 'host    all    all    127.0.0.1/32    trust'
        echo 'host    all    all    ::1/128         trust'
        cat "$hba"
    } >"$tmp"
    as_root cp "$tmp" "$hba"
    rm -f "$tmp"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
}

ensure_postgres() {
    # Fast path: nothing to do, say nothing.
    if pg_tcp_ok; then
        return 0
    fi

    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        # Install before starting anything: upgrading under a running server breaks plpgsql.so.
        apt_install postgresql postgresql-client
    fi

    local ver
    ver="$(pg_version)"
    [ -n "$ver" ] || die "PostgreSQL is installed but /etc/postgresql has no version directory"
    if [ ! -d "/etc/postgresql/$ver/main" ]; then
        log "creating cluster $ver/main"
        as_root pg_createcluster "$ver" main >/dev/null
    fi

    # pg_lsclusters -h: "15 main 5432 down postgres ..." (status is column 4).
    local status
    status="$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { print $4 }')"
    case "$status" in
        online*) ;;
        *)
            log "starting PostgreSQL $ver/main (was: ${status:-unknown})"
            as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
            ;;
    esac
    pg_wait_ready

    # Only touch pg_hba.conf when the server is up but refuses passwordless TCP.
    if ! pg_tcp_ok; then
        pg_trust_loopback "$ver"
        local i
        for i in $(seq 1 20); do
            pg_tcp_ok && break
            sleep 0.25
        done
        pg_tcp_ok || die "psql -h 127.0.0.1 -U postgres still fails after editing pg_hba.conf"
    fi
    log "PostgreSQL $ver ready on 127.0.0.1:5432"
}

# ---------------------------------------------------------------- MariaDB

mysql_tcp_ok() {
    mariadb --connect-timeout=5 -h 127.0.0.1 -P 3306 -u root -e 'select 1' >/dev/null 2>&1
}

mysql_wait_ready() {
    local i
    for i in $(seq 1 60); do
        if mariadb-admin --connect-timeout=2 -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 \
            || mariadb-admin --connect-timeout=2 -u root ping >/dev/null 2>&1; then
            return 0
        fi
        [ "$i" -eq 1 ] && log "waiting for MariaDB on 127.0.0.1:3306"
        sleep 0.5
    done
    die "MariaDB did not become ready within 30s"
}

ensure_mysql() {
    if mysql_tcp_ok; then
        return 0
    fi

    if [ ! -x /usr/sbin/mariadbd ]; then
        # The package initialises /var/lib/mysql but does not start the server here.
        apt_install mariadb-server mariadb-client
    fi

    if ! pgrep -x mariadbd >/dev/null 2>&1; then
        log "starting MariaDB"
        as_root mkdir -p /run/mysqld
        as_root chown mysql:mysql /run/mysqld
        as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    fi
    mysql_wait_ready

    # A fresh Debian install lets root in only over the unix socket: allow an empty
    # password over loopback TCP too, as the tests expect (root@127.0.0.1, no password).
    if ! mysql_tcp_ok; then
        log "allowing passwordless root over 127.0.0.1 in MariaDB"
        as_root mariadb -u root <<'SQL'
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
FLUSH PRIVILEGES;
SQL
        mysql_tcp_ok || die "mariadb -h 127.0.0.1 -u root still fails"
    fi
    log "MariaDB ready on 127.0.0.1:3306"
}

# ---------------------------------------------------------------- S3 (s3s-fs)

# s3s-fs is a real S3 server over HTTP that checks SigV4 signatures (so wrong credentials are
# refused, unlike moto), storing objects as files. 0.14.1: newer releases need a newer rustc.
S3_PORT=8014
S3_VERSION=0.14.1
S3_DATA="${DECOY_S3_DATA:-/var/tmp/decoy-s3-data}"
S3_LOG="${DECOY_S3_LOG:-/var/tmp/decoy-s3.log}"

s3_tcp_ok() {
    (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null
}

s3_binary() {
    if command -v s3s-fs >/dev/null 2>&1; then
        command -v s3s-fs
    elif [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
        echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
    fi
}

ensure_s3() {
    if s3_tcp_ok; then
        return 0
    fi
    local bin
    bin="$(s3_binary)"
    if [ -z "$bin" ]; then
        command -v cargo >/dev/null 2>&1 || die "cargo is needed to install s3s-fs"
        log "installing s3s-fs $S3_VERSION (cargo install, several minutes on 2 cores)"
        cargo install "s3s-fs@$S3_VERSION" --features binary --locked --quiet
        bin="$(s3_binary)"
        [ -n "$bin" ] || die "cargo install s3s-fs did not produce a binary"
    fi
    # The folder only ever holds the tests' throwaway buckets; s3s-fs leaves a metadata file behind
    # for every object ever written, so start each server from an empty one.
    rm -rf "$S3_DATA"
    mkdir -p "$S3_DATA"
    log "starting s3s-fs on 127.0.0.1:$S3_PORT (data in $S3_DATA, log $S3_LOG)"
    # setsid + nohup: the server outlives this script and the test run, like the databases.
    setsid nohup "$bin" --host 127.0.0.1 --port "$S3_PORT" \
        --access-key minioadmin --secret-key minioadmin "$S3_DATA" >"$S3_LOG" 2>&1 </dev/null &
    local i
    for i in $(seq 1 40); do
        s3_tcp_ok && break
        sleep 0.25
    done
    s3_tcp_ok || die "s3s-fs did not listen on 127.0.0.1:$S3_PORT within 10s (see $S3_LOG)"
    log "S3 (s3s-fs) ready on http://127.0.0.1:$S3_PORT (access key minioadmin)"
}

# ---------------------------------------------------------------- MongoDB (jongodb)

# No mongod can be installed here (see shared/ENVIRONMENT.md): jongodb is a MongoDB-wire server in
# one native binary from npm, in memory, without listCollections, drop or dropDatabase. The tests
# name their collections and use fresh database names.
MONGO_PORT=27017
MONGO_VERSION=0.1.6
MONGO_PREFIX="${DECOY_MONGO_PREFIX:-/opt/jongodb-npm}"
MONGO_LOG="${DECOY_MONGO_LOG:-/var/tmp/decoy-jongodb.log}"
MONGO_BIN="$MONGO_PREFIX/node_modules/@jongodb/memory-server-bin-linux-x64-gnu/bin/jongodb"

mongo_tcp_ok() {
    (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null
}

ensure_mongo() {
    if mongo_tcp_ok; then
        return 0
    fi
    if [ ! -x "$MONGO_BIN" ]; then
        command -v npm >/dev/null 2>&1 || apt_install npm
        log "installing jongodb $MONGO_VERSION (npm)"
        as_root mkdir -p "$MONGO_PREFIX"
        as_root npm install --silent --no-audit --no-fund --prefix "$MONGO_PREFIX" \
            "@jongodb/memory-server-bin-linux-x64-gnu@$MONGO_VERSION" >/dev/null
        [ -x "$MONGO_BIN" ] || die "npm did not install $MONGO_BIN"
    fi
    log "starting jongodb on 127.0.0.1:$MONGO_PORT (log $MONGO_LOG)"
    setsid nohup "$MONGO_BIN" --host=127.0.0.1 --port="$MONGO_PORT" >"$MONGO_LOG" 2>&1 </dev/null &
    local i
    for i in $(seq 1 40); do
        mongo_tcp_ok && break
        sleep 0.25
    done
    mongo_tcp_ok || die "jongodb did not listen on 127.0.0.1:$MONGO_PORT within 10s (see $MONGO_LOG)"
    log "MongoDB-wire server (jongodb) ready on mongodb://127.0.0.1:$MONGO_PORT"
}

# ---------------------------------------------------------------- main

main() {
    local svc
    for svc in ${DECOY_SERVICES//,/ }; do
        case "$svc" in
            postgres | postgresql | pg) ensure_postgres ;;
            mysql | mariadb) ensure_mysql ;;
            s3) ensure_s3 ;;
            mongo | mongodb) ensure_mongo ;;
            *) die "unknown service '$svc' in DECOY_SERVICES (known: postgres, mysql, s3, mongo)" ;;
        esac
    done
}

main "$@"
