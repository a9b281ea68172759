#!/bin/sh
# Creates Temporal's two databases in PostgreSQL, or brings their schemas up
# to the release of the admin-tools image, as Temporal's own compose setup
# does (temporalio/samples-server, compose/scripts/setup-postgres.sh):
# create the database (a no-op when it exists), set up the version table,
# then apply every versioned schema change not yet applied. Safe to run on
# every start; docker-compose.yml runs it before the server. DBNAME and
# VISIBILITY_DBNAME name the databases as they do for the server.
set -eu

: "${POSTGRES_SEEDS:?the PostgreSQL host}"
: "${POSTGRES_USER:?the PostgreSQL role Temporal uses}"
: "${POSTGRES_PASSWORD_FILE:?the file that holds the password of that role}"

# temporal-sql-tool reads the password from SQL_PASSWORD; the file keeps it
# out of the container's configuration.
SQL_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
export SQL_PASSWORD

# Where the admin-tools image keeps the schema files.
schema=${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
	db=${pair%%:*}
	dir=${pair#*:}
	set -- --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --db "$db"
	echo "database $db: create, version table, schema changes from $schema/$dir/versioned"
	temporal-sql-tool "$@" create
	temporal-sql-tool "$@" setup-schema -v 0.0
	temporal-sql-tool "$@" update-schema -d "$schema/$dir/versioned"
done
echo "Temporal's databases are ready"
