// Package deploy holds the files that deploy nurture with docker compose,
// beside docker-compose.yml at the top of the repository: the scripts that
// set up Temporal (temporal/), Temporal's dynamic configuration, the
// Prometheus scrape configuration (prometheus/), Grafana's provisioning and
// nurture's dashboard (grafana/), and secrets.sh, which makes the secret
// files. It has no code of its own: its tests load docker-compose.yml with
// the Compose Specification's own loader (the one `docker compose config`
// uses) and check what can be checked without a Docker engine.
package deploy
