#!/bin/sh
# Makes the secret files docker-compose.yml mounts, in ./secrets or the
# directory given: 32 random bytes as 64 hex characters each (openssl rand
# -hex 32), and pgpass, the libpq password file that carries PostgreSQL's
# password to nurture's programs. A file that exists is kept, so running it
# again changes nothing; pgpass is always made anew from postgres_password.
#
#   sh deploy/secrets.sh [DIR]
#
# The directory is private to you (700). The files are readable by all
# (644), because the containers read them as users of their own (nurture's
# nonroot, temporal, grafana); the directory keeps other users of the host
# away from them.
set -eu

dir=${1:-secrets}
mkdir -p "$dir"
chmod 700 "$dir"
for name in link_secret webhook_secrets payload_keys postgres_password grafana_admin_password; do
	if [ ! -s "$dir/$name" ]; then
		openssl rand -hex 32 >"$dir/$name"
		echo "made $dir/$name"
	fi
done
# hostname:port:database:username:password; * matches any.
printf '*:*:*:*:%s\n' "$(cat "$dir/postgres_password")" >"$dir/pgpass"
chmod 644 "$dir/link_secret" "$dir/webhook_secrets" "$dir/payload_keys" "$dir/postgres_password" "$dir/grafana_admin_password" "$dir/pgpass"
