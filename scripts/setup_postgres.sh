#!/usr/bin/env bash
# Install (if needed) and start a local PostgreSQL for the catalogue tests, idempotently.
# Run as root. Afterwards tests connect with postgresql:///ioscan_test?host=/var/run/postgresql
# (override with IOSCAN_TEST_PG_URL). Safe to run again on a machine where everything already exists.
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# The installed major version (Debian 12 ships 15); take the highest one present.
PG_MAJOR="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "${PG_MAJOR} main"; then
    pg_createcluster "${PG_MAJOR}" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="${PG_MAJOR}" '$1==v && $2=="main" {print $4}' | grep -q online; then
    pg_ctlcluster "${PG_MAJOR}" main start
fi

# Wait until the server accepts connections (at most ~30 s).
for _ in $(seq 1 30); do
    if su postgres -c "pg_isready -q -h /var/run/postgresql"; then break; fi
    sleep 1
done
su postgres -c "pg_isready -h /var/run/postgresql" >/dev/null

ROLE="$(id -un)"
if [ "$(su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='${ROLE}'\"")" != "1" ]; then
    su postgres -c "psql -q -c 'CREATE ROLE \"${ROLE}\" SUPERUSER LOGIN'"
fi
if [ "$(su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='ioscan_test'\"")" != "1" ]; then
    su postgres -c "createdb -O \"${ROLE}\" ioscan_test"
fi
echo "PostgreSQL ${PG_MAJOR} ready: postgresql:///ioscan_test?host=/var/run/postgresql"
