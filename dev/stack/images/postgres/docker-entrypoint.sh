#!/usr/bin/env bash
# The stand-in postgres:16's entrypoint: first start initialises the data directory (see the Dockerfile).
set -Eeuo pipefail
if [[ "${1:-}" != postgres ]]; then exec "$@"; fi
if [[ "$(id -u)" == 0 ]]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    : "${POSTGRES_PASSWORD:?the database is uninitialized and POSTGRES_PASSWORD is not set}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 > /dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl --pgdata="$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" --wait start > /dev/null
    if [[ "$db" != postgres ]]; then
        psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -c "create database \"$db\"" > /dev/null
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh) echo "running $script"; . "$script" ;;
            *.sql) echo "running $script"; psql -v ON_ERROR_STOP=1 --username="$user" --dbname="$db" -f "$script" ;;
            *) ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" -m fast --wait stop > /dev/null
    echo "PostgreSQL init process complete; ready for start up."
fi
exec postgres -c listen_addresses='*' -k /var/run/postgresql "${@:2}"
