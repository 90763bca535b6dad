#!/bin/sh
# Starts one vdet role: `vdet-entrypoint.sh api|producer|worker|aggregator`.
# Where a platform hands Redis over in parts (ECS secrets, Kubernetes Secrets), VDET_REDIS_HOST, VDET_REDIS_PORT,
# VDET_REDIS_PASSWORD and VDET_REDIS_TLS=true make VDET_REDIS_URL (VDET_REDIS_CLUSTER=true: a Redis Cluster, whose
# seed node or configuration endpoint VDET_REDIS_HOST names); a VDET_REDIS_URL that is set wins.
set -eu

role="${1:-${VDET_ROLE:-}}"
case "$role" in
  api | producer | worker | aggregator) ;;
  *)
    echo "vdet: the first argument must be api, producer, worker or aggregator (got '$role')" >&2
    exit 64
    ;;
esac

if [ -z "${VDET_REDIS_URL:-}" ] && [ -n "${VDET_REDIS_HOST:-}" ]; then
  scheme=redis
  if [ "${VDET_REDIS_TLS:-false}" = "true" ]; then scheme=rediss; fi
  if [ "${VDET_REDIS_CLUSTER:-false}" = "true" ]; then scheme="${scheme}+cluster"; fi
  auth=""
  if [ -n "${VDET_REDIS_PASSWORD:-}" ]; then
    case "$VDET_REDIS_PASSWORD" in
      *[!A-Za-z0-9._~-]*)
        echo "vdet: VDET_REDIS_PASSWORD may use only letters, digits and . _ ~ - (it goes into a URL); generate one with: openssl rand -hex 24" >&2
        exit 64
        ;;
    esac
    auth=":${VDET_REDIS_PASSWORD}@"
  fi
  VDET_REDIS_URL="${scheme}://${auth}${VDET_REDIS_HOST}:${VDET_REDIS_PORT:-6379}"
  export VDET_REDIS_URL
fi

VDET_ROLE="$role"
export VDET_ROLE
# The app directory is the image's WORKDIR; VDET_APP_DIR lets the same script run from a checkout.
cd "${VDET_APP_DIR:-/app}"
exec node --import tsx "services/$role/src/main.ts"
