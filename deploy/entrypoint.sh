#!/usr/bin/env bash
# deploy/entrypoint.sh — the container's entry point (deploy/Dockerfile).
#
#   trellis-entrypoint run      initialises /data on the first start, then
#                               runs trellisd in the foreground
#   trellis-entrypoint ARGS...  trellisd ARGS... (id --dir /data, ctl …)
#
# First start (no /data/config.json): `trellisd init` with
#   TRELLIS_CLUSTER_SECRET   required: the cluster secret, 64 hex digits, the
#                            same on every peer (openssl rand -hex 32)
#   TRELLIS_BOOTSTRAP        a full bootstrap multiaddr (…/p2p/12D3KooW…), or
#   TRELLIS_BOOTSTRAP_HOST   the DNS name of peer 0 (compose: trellis0;
#                            Kubernetes: trellis-0.trellis-peers). Every other
#                            peer asks peer 0's REST API for its peer ID
#                            (GET /id, with the first user=password of
#                            TRELLIS_RESTAPI_BASIC_AUTH_CREDENTIALS) and
#                            bootstraps from /dns4/HOST/tcp/9096/p2p/ID. Peer 0
#                            (whose host name is HOST's first label) has none.
#   TRELLIS_IPFS_API         the IPFS RPC API (default /ip4/127.0.0.1/tcp/5001)
#   TRELLIS_BOOTSTRAP_WAIT   seconds to wait for peer 0 (default 600)
# Later starts keep /data as it is: identity, state and config survive.
# Everything else is set with TRELLIS_<SECTION>_<FIELD> variables, which
# trellisd reads on every start and which override config.json
# (docs/config.md), e.g. TRELLIS_RESTAPI_LISTEN=/ip4/0.0.0.0/tcp/9094.
set -euo pipefail

dir=${TRELLIS_DIR:-/data}
cluster_port=9096
api_port=9094

log() { echo "trellis-entrypoint: $*" >&2; }
die() { log "$*"; exit 1; }

# basic_auth: the first user and password of
# TRELLIS_RESTAPI_BASIC_AUTH_CREDENTIALS (user=password,… or a JSON object,
# as docs/config.md has maps) as curl's user:password.
basic_auth() {
  local creds=${TRELLIS_RESTAPI_BASIC_AUTH_CREDENTIALS:-} pair
  if [[ "$creds" == "{"* ]]; then
    jq -r 'to_entries[0] | "\(.key):\(.value)"' <<<"$creds"
  else
    pair=${creds%%,*}
    echo "${pair%%=*}:${pair#*=}"
  fi
}

# peer0_id HOST: asks HOST's REST API for its peer ID, waiting until it answers.
peer0_id() {
  local host=$1 deadline id
  local auth=()
  [ -z "${TRELLIS_RESTAPI_BASIC_AUTH_CREDENTIALS:-}" ] || auth=(-u "$(basic_auth)")
  deadline=$(($(date +%s) + ${TRELLIS_BOOTSTRAP_WAIT:-600}))
  log "asking http://$host:$api_port/id for peer 0's ID"
  until id=$(curl -sf --max-time 5 "${auth[@]}" "http://$host:$api_port/id" | jq -er .id); do
    [ "$(date +%s)" -lt "$deadline" ] || die "no answer from http://$host:$api_port/id; is peer 0 up, and are the credentials right?"
    sleep 5
  done
  echo "$id"
}

init_peer() {
  local secret=${TRELLIS_CLUSTER_SECRET:-} bootstrap=${TRELLIS_BOOTSTRAP:-}
  local host=${TRELLIS_BOOTSTRAP_HOST:-}
  [[ "$secret" =~ ^[0-9a-fA-F]{64}$ ]] ||
    die "TRELLIS_CLUSTER_SECRET must be 64 hex digits, the same on every peer (openssl rand -hex 32)"
  local args=(init --dir "$dir" --listen "/ip4/0.0.0.0/tcp/$cluster_port" --secret "$secret"
    --ipfs-api "${TRELLIS_IPFS_API:-/ip4/127.0.0.1/tcp/5001}")
  if [ -z "$bootstrap" ] && [ -n "$host" ] && [ "${host%%.*}" != "$(hostname)" ]; then
    bootstrap=/dns4/$host/tcp/$cluster_port/p2p/$(peer0_id "$host")
  fi
  [ -z "$bootstrap" ] || args+=(--bootstrap "$bootstrap")
  log "first start: trellisd init in $dir${bootstrap:+, bootstrap $bootstrap}"
  local said
  said=$(trellisd "${args[@]}") || die "trellisd init failed"
  # init prints the secret: keep it out of the container log.
  grep -v '^secret' <<<"$said" >&2 || true
}

if [ "${1:-}" = run ]; then
  [ -f "$dir/config.json" ] || init_peer
  exec trellisd run --dir "$dir"
fi
exec trellisd "$@"
