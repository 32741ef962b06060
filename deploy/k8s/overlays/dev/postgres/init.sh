#!/usr/bin/env bash
# Runs once, on the first start of an empty PostgreSQL volume (docker-entrypoint-initdb.d):
# one database and one owning role per service, so no service can read another's data.
set -euo pipefail

create() {
  local name=$1 password=$2
  # psql variables (:'pw') quote the password, so any generated value is safe here.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v pw="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
}

create registry "$SAMEN_REGISTRY_DB_PASSWORD"
create identity "$SAMEN_IDENTITY_DB_PASSWORD"
create procurement "$SAMEN_PROCUREMENT_DB_PASSWORD"
create portal "$SAMEN_PORTAL_DB_PASSWORD"
