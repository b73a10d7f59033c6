#!/usr/bin/env bash
# Manual check of the Docker set-up (docs/operations.md, Docker), run for real with
# docker-compose: CI has no Docker, so this is a script, not an npm test. Run as root, after
# `npm install` (for the generator), from anywhere:
#
#   scripts/docker-check.sh                 # builds the image (about 5 minutes)
#   SKIP_BUILD=1 scripts/docker-check.sh    # uses logflow:latest as it is
#
# It works on a copy of the project in a temp directory under its own compose project name
# (logflowcheck), so the project's ./spool, ./conf and volumes are left alone, and checks:
#   1. the runtime image is slimmer: no dist/test, dist/scripts, better-sqlite3 deps/;
#   2. a token set in the environment (LOGFLOW_TOKEN) is enforced, no rebuild;
#   3. an edit of ./conf reaches the container at a restart, no rebuild (same image id);
#   4. `docker compose down -v` starts afresh: a log dropped again is counted, not .DUPLICATE;
#   5. a uid change on existing volumes, and a root-owned ./spool, stop start-up with a hint
#      that names the file and LOGFLOW_UID;
#   6. with CLUSTER=1 (a `nats:2.10-alpine` image needed): the cluster profile counts two
#      edges' logs exactly, its query node enforces the token, and `down -v` starts the edges
#      afresh too (the same logs dropped again are counted, not .DUPLICATE).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/logflow-docker-check-XXXX)
export COMPOSE_PROJECT_NAME=logflowcheck LOGFLOW_PUBLISH=127.0.0.1:${PORT:-18080}
URL=http://${LOGFLOW_PUBLISH}
TOKEN=a-token-of-twenty-chars
cleanup() { (cd "$W" && docker-compose down -v >/dev/null 2>&1) || true; rm -rf "$W"; }
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*"; exit 1; }
# Waits until the service is healthy (or, with `restarting`, until it loops on restart).
wait_for() {
  for _ in $(seq 120); do
    local id; id=$(docker-compose ps -q logflow)
    if [ -n "$id" ]; then
      case "$1:$(docker inspect -f '{{.State.Health.Status}} {{.State.Restarting}} {{.RestartCount}}' "$id")" in
        healthy:healthy*) return 0 ;;
        restarting:*" true "*|restarting:*" "[1-9]*) return 0 ;;
      esac
    fi
    sleep 1
  done
  fail "logflow did not become $1"
}
drop() { # drop NAME: the generated log, copied in under a hidden name and renamed, as the container's user
  cp "$W/access_log.txt" "$W/spool/.$1.tmp" && chown "${LOGFLOW_UID:-1000}:${LOGFLOW_GID:-1000}" "$W/spool/.$1.tmp" && mv "$W/spool/.$1.tmp" "$W/spool/$1"
  for _ in $(seq 60); do [ -e "$W/spool/$1.COMPLETED" ] || [ -e "$W/spool/$1.DUPLICATE" ] && return 0; sleep 1; done
  fail "$1 was not finished"
}
counted() { curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/stats" | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).eventsCounted))'; }

(cd "$SRC" && git ls-files -z --cached --others --exclude-standard | grep -zv '^spool/' | tar --null -T - -cf -) | tar -C "$W" -xf -
mkdir -p "$W/spool" && chown 1000:1000 "$W/spool"
node "$SRC/dist/scripts/gen-access-log.js" --out "$W/access_log.txt" --lines 20000 >/dev/null
LINES=$(grep -c 'HTTP/1' "$W/access_log.txt")
cd "$W"

step "1. the image"
if [ -z "${SKIP_BUILD:-}" ]; then docker-compose build logflow >/dev/null 2>&1; fi
docker images logflow:latest --format 'logflow:latest {{.Size}}'
docker run --rm --entrypoint sh logflow:latest -c 'cd /app; du -sh node_modules node_modules/better-sqlite3 dist'
LEFT=$(docker run --rm --entrypoint sh logflow:latest -c 'cd /app; ls -d dist/test dist/scripts node_modules/better-sqlite3/deps node_modules/better-sqlite3/src 2>/dev/null || true')
[ -z "$LEFT" ] || fail "build leftovers in the image: $LEFT"
IMAGE=$(docker images -q logflow:latest)

step "2. a token from the environment is enforced (no rebuild)"
LOGFLOW_TOKEN=$TOKEN LOGFLOW_ALLOWED_HOSTS=logs.example.test docker-compose up -d 2>&1 | tail -1
wait_for healthy
for h in "" "Authorization: Bearer $TOKEN" "Authorization: bearer $TOKEN" "Authorization: Bearer wrong-token-of-20-chars"; do
  printf '%-50s /api/stats -> %s\n' "${h:-(no Authorization)}" "$(curl -s -o /dev/null -w '%{http_code}' ${h:+-H "$h"} "$URL/api/stats")"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/stats")" = 401 ] || fail "no token: not 401"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: bearer $TOKEN" "$URL/api/stats")" = 200 ] || fail "the token: not 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: logs.example.test' "$URL/health")" = 200 ] || fail "LOGFLOW_ALLOWED_HOSTS: not answered"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example' "$URL/health")" = 421 ] || fail "a foreign Host: not 421"
echo "Host: logs.example.test -> 200, Host: attacker.example -> 421"

step "3. an edit of ./conf reaches the container at a restart (no rebuild)"
sed -i 's/^a1.jobs.j1.slideDuration = 1$/a1.jobs.j1.slideDuration = 1\na1.jobs.j1.topN = 3/' conf/docker.conf
export LOGFLOW_TOKEN=$TOKEN
docker-compose restart logflow >/dev/null 2>&1
wait_for healthy
drop a.log
for _ in $(seq 30); do [ "$(counted)" = "$LINES" ] && break; sleep 1; done
[ "$(counted)" = "$LINES" ] || fail "a.log not counted: $(counted) of $LINES"
URLS=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/top?n=10" | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).urls.length))')
echo "topN = 3 in ./conf: /api/top?n=10 answers $URLS URLs; image $( [ "$(docker images -q logflow:latest)" = "$IMAGE" ] && echo unchanged || echo CHANGED)"
[ "$URLS" = 3 ] || fail "the conf edit did not reach the container"

step "4. docker compose down -v starts afresh"
docker-compose down -v 2>&1 | grep -c Removing | sed 's/^/removed: /'
rm -f spool/a.log.COMPLETED
docker-compose up -d 2>&1 | tail -1
wait_for healthy
drop a.log
ls spool
[ -e spool/a.log.COMPLETED ] || fail "the log dropped again was not counted afresh"
for _ in $(seq 30); do [ "$(counted)" = "$LINES" ] && break; sleep 1; done
echo "eventsCounted after down -v and the same log again: $(counted) (of $LINES)"

step "5a. a uid change on existing volumes: the hint names the file and LOGFLOW_UID"
docker-compose stop >/dev/null 2>&1
LOGFLOW_UID=1001 LOGFLOW_GID=1001 docker-compose up -d 2>&1 | tail -1
wait_for restarting
docker-compose logs --no-color logflow | grep '^logflow_1 *| logflow: ' | tail -1 | sed 's/^logflow_1 *| //'
docker-compose logs --no-color logflow | grep '^logflow_1 *| logflow: ' | tail -1 | grep -q 'LOGFLOW_UID=1000 LOGFLOW_GID=1000 docker compose up -d' || fail "no LOGFLOW_UID hint"

step "5b. a root-owned ./spool with the default uid: the hint names the spool and LOGFLOW_UID"
docker-compose down -v >/dev/null 2>&1
rm -rf spool && mkdir spool
docker-compose up -d 2>&1 | tail -1
wait_for restarting
docker-compose logs --no-color logflow | grep '^logflow_1 *| logflow: ' | tail -1 | sed 's/^logflow_1 *| //'
docker-compose logs --no-color logflow | grep '^logflow_1 *| logflow: ' | tail -1 | grep -q 'sudo chown -R 1000:1000 spool' || fail "no spool hint"

if [ -n "${CLUSTER:-}" ]; then
  step "6. the cluster profile: token on the query node; down -v starts the edges afresh too"
  docker-compose down -v >/dev/null 2>&1
  rm -rf spool && mkdir -p spool/edge1 spool/edge2 && chown -R 1000:1000 spool
  cluster_drop() { # drop EDGE NAME: as above, into an edge's spool; waits until it is finished
    cp "$W/access_log.txt" "$W/spool/$1/.$2.tmp" && chown 1000:1000 "$W/spool/$1/.$2.tmp" && mv "$W/spool/$1/.$2.tmp" "$W/spool/$1/$2"
    for _ in $(seq 90); do [ -e "$W/spool/$1/$2.COMPLETED" ] || [ -e "$W/spool/$1/$2.DUPLICATE" ] && return 0; sleep 1; done
    fail "$1/$2 was not finished"
  }
  cluster_counted() { # waits until the query node has counted $1 events
    for _ in $(seq 90); do [ "$(counted 2>/dev/null)" = "$1" ] && return 0; sleep 1; done
    fail "the query node counted $(counted) events, not $1"
  }
  for round in first "after down -v"; do
    docker-compose --profile cluster up -d 2>&1 | grep -c 'done' | sed 's/^/services started: /'
    for _ in $(seq 60); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && break; sleep 1; done
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/stats")" = 401 ] || fail "the query node without a token: not 401"
    cluster_drop edge1 a.log
    cluster_drop edge2 b.log
    ls spool/edge1 spool/edge2 | tr '\n' ' '; echo
    cluster_counted $((2 * LINES))
    echo "$round: the query node counted $(counted) events of $((2 * LINES)); /api/stats without the token: 401"
    docker-compose --profile cluster down -v 2>&1 | grep -c 'Removing volume' | sed 's/^/volumes removed: /'
    rm -f spool/edge1/a.log.COMPLETED spool/edge2/b.log.COMPLETED
  done
fi

printf '\nall Docker checks passed\n'
