#!/bin/sh
# Runs once, when the postgres container initialises an empty data
# directory (docker-entrypoint-initdb.d). Creates Grafana's login role as a
# member of prpulse_reporting, which the application's migration V11
# grants SELECT on pr_metrics and nothing else. An existing volume keeps
# its roles: see deploy/README.md, "Grafana's database role".
set -eu
: "${PRPULSE_GRAFANA_DB_USER:?}" "${PRPULSE_GRAFANA_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader="$PRPULSE_GRAFANA_DB_USER" -v password="$PRPULSE_GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE prpulse_reporting NOLOGIN;
CREATE ROLE :"reader" LOGIN PASSWORD :'password' IN ROLE prpulse_reporting;
SQL
