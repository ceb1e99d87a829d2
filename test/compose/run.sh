#!/usr/bin/env bash
# npm run test:compose: docker-compose.yml and docker-compose.prod.yml brought up for real (test/compose/*.test.ts),
# each stack built, used from this machine on its published ports, and taken down again (`down -v`).
#
# The container engine: whatever `docker compose` (or `docker-compose`) reaches — a Docker engine needs nothing
# more. A machine without one sets SCANLOGIN_DOCKER_ENV to a script to source first that exports DOCKER_HOST for
# compose, takes the base images to provide as arguments, and defines docker_env_stop (e.g. the machines where this
# project was written: SCANLOGIN_DOCKER_ENV=/work/shared/containers/docker-env.sh, podman behind a Docker API with
# local stand-ins for the base images; there podman-node.sh also puts the Node the Dockerfile names in the node one).
# Vitest arguments pass through (`npm run test:compose -- test/compose/dev.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

# The base images the Dockerfile and the compose files name.
images=$( (sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile; sed -n 's/^ *image: *\([^ ]*\) *$/\1/p' docker-compose.yml docker-compose.prod.yml) | sort -u)

export COMPOSE_TEST_PREFIX=${COMPOSE_TEST_PREFIX:-scanlogin-composetest}
cleanup() {
  status=$?
  # Once, and to the end: npm passes an interrupt on as a second signal, which must not cut the clean-up short.
  trap - EXIT
  trap '' INT TERM
  # Whatever a test left up (an interrupted run): both projects down, volumes too. Harmless when already down.
  if [ -n "${composed:-}" ]; then
    for f in dev prod; do
      files=(-f docker-compose.yml)
      [ $f = prod ] && files=(-f docker-compose.prod.yml -f test/compose/prod-sim.yml --profile sentinel --profile cluster)
      PUBLIC_URL=x WS_PUBLIC_URL=x SESSION_SECRET=x WECHAT_APPID=x WECHAT_SECRET=x TEST_SIM_PORT=0 TEST_CONFIG_DIR=/tmp \
        "${composed[@]}" -p "$COMPOSE_TEST_PREFIX-$f" "${files[@]}" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
    done
  fi
  [ "$(type -t docker_env_stop)" = function ] && docker_env_stop
  echo "test:compose: $(( $(date +%s) - started )) s in all (exit $status)"
  exit $status
}
trap cleanup EXIT INT TERM

if [ -n "${SCANLOGIN_DOCKER_ENV:-}" ]; then
  # Job control on while it starts its services in the background: each gets a process group of its own, so that
  # a Ctrl-C (sent to this one) stops the test but leaves the engine up for the clean-up's `down`.
  set -m
  # shellcheck disable=SC1090,SC2086
  source "$SCANLOGIN_DOCKER_ENV" $images
  set +m
  if command -v podman >/dev/null 2>&1; then
    for image in $images; do
      case $image in node:*) bash test/compose/podman-node.sh "$image" ;; esac
    done
  fi
fi
# As test/compose/engine.ts picks it: COMPOSE, else `docker compose`, else `docker-compose`.
if [ -n "${COMPOSE:-}" ]; then read -ra composed <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then composed=(docker compose)
else composed=(docker-compose); fi
# The empty env file keeps a developer's .env out of the clean-up too.
empty=$(mktemp)
composed+=(--env-file "$empty")

npm run build --silent
npx vitest run --config test/compose/vitest.config.ts "$@"
