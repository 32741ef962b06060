#!/usr/bin/env bash
# Logical backups of the services' databases, and their restore (the docker-compose runbook,
# deploy/README.md "Backups and restore"; tests/deploy/test_restore.py follows it on a local
# PostgreSQL):
#   deploy/compose/backup.sh dump DIR [DATABASE...]      one DIR/<database>.dump per database
#   deploy/compose/backup.sh restore DIR [DATABASE...]   drop, recreate (same owner), restore
# Databases default to every service's: identity registry procurement portal. PostgreSQL's tools run in the compose
# stack's postgres container (PG_RUN="docker compose exec -T postgres"), or where PG_RUN says
# (PG_RUN="" : the local pg_dump/pg_restore/psql, with PGHOST etc. from the environment).
# Stop the services before a restore: dropping a database ends its sessions.
set -euo pipefail
usage() {
  echo "usage: $0 dump|restore DIR [DATABASE...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
action=$1 dir=$2
shift 2
[ $# -gt 0 ] || set -- identity registry procurement portal
read -r -a run <<<"${PG_RUN-docker compose exec -T postgres}"
user=${PGUSER:-postgres}
psql_admin() { "${run[@]}" psql -U "$user" -d postgres -v ON_ERROR_STOP=1 -tA "$@"; }

case "$action" in
  dump)
    mkdir -p "$dir"
    for db in "$@"; do
      # Custom format: compressed, restorable table by table; --no-owner: the restore
      # assigns the database's owner role instead of whatever role dumped it.
      "${run[@]}" pg_dump -U "$user" --format=custom --no-owner --no-privileges "$db" >"$dir/$db.dump.partial"
      mv "$dir/$db.dump.partial" "$dir/$db.dump"
      echo "dumped $db -> $dir/$db.dump ($(wc -c <"$dir/$db.dump") bytes)"
    done
    ;;
  restore)
    for db in "$@"; do
      [ -s "$dir/$db.dump" ] || { echo "no dump $dir/$db.dump" >&2; exit 1; }
    done
    for db in "$@"; do
      owner=$(psql_admin -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")
      owner=${owner:-$db}
      psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
      psql_admin -c "CREATE DATABASE \"$db\" OWNER \"$owner\"" >/dev/null
      # As the owner role, so every restored object belongs to the service's role; one
      # transaction: a restore that fails leaves an empty database, not half of one.
      "${run[@]}" pg_restore -U "$user" --no-owner --no-privileges --role="$owner" \
        --single-transaction --exit-on-error -d "$db" <"$dir/$db.dump"
      echo "restored $db (owner $owner) from $dir/$db.dump"
    done
    ;;
  *) usage ;;
esac
