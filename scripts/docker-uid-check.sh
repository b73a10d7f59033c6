#!/usr/bin/env bash
# Manual check: the compose file with LOGFLOW_UID=1001 (not the image's 1000), fresh named
# volumes, a log counted, a restart that resumes from the checkpoint.
# Run as root in the project folder, after `npm install` (it writes ./spool and ./access_log.txt,
# and removes this project's compose volumes first: `docker-compose down -v`).
set -euo pipefail
cd "$(dirname "$0")/.."
export LOGFLOW_UID=1001 LOGFLOW_GID=1001
docker-compose down -v >/dev/null 2>&1 || true
mkdir -p spool && rm -f spool/access_log.txt* && chown 1001:1001 spool
node dist/scripts/gen-access-log.js --out access_log.txt --lines 20000 >/dev/null
docker-compose up -d 2>&1 | grep -v "^Creating network\|^Building" || true
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$(docker-compose ps -q logflow)")" = healthy ]; do sleep 1; done
echo "$ docker-compose exec logflow id; ls -ld /app/checkpoint /app/data"
docker-compose exec -T logflow sh -c 'id; ls -ld /app/checkpoint /app/data'
echo "$ docker-compose port logflow 8080"; docker-compose port logflow 8080
cp access_log.txt spool/.access_log.txt.tmp && chown 1001:1001 spool/.access_log.txt.tmp && mv spool/.access_log.txt.tmp spool/access_log.txt
until [ -e spool/access_log.txt.COMPLETED ]; do sleep 1; done
echo "$ curl -s 'localhost:8080/api/top?n=2'"; curl -s 'localhost:8080/api/top?n=2'; echo
echo "$ ls -ln spool"; ls -ln spool
docker-compose stop >/dev/null 2>&1
echo "$ docker-compose stop; docker-compose start   (exit code of the stop: $(docker inspect -f '{{.State.ExitCode}}' "$(docker-compose ps -q logflow)"))"
docker-compose start >/dev/null 2>&1
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$(docker-compose ps -q logflow)")" = healthy ]; do sleep 1; done
echo "$ docker-compose logs logflow | grep -e 'resumed from checkpoint' -e SQLITE -e EACCES"
docker-compose logs --no-color logflow | grep -o -e '"msg":"resumed from checkpoint"' -e '"checkpointSeq":[0-9]*' -e 'SQLITE_[A-Z]*' -e 'EACCES' | sort | uniq -c
echo "$ curl -s 'localhost:8080/api/top?n=2'   (after the restart)"; curl -s 'localhost:8080/api/top?n=2'; echo
echo "$ docker inspect restart count: $(docker inspect -f '{{.RestartCount}}' "$(docker-compose ps -q logflow)")"
echo "$ curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example' localhost:8080/api/stats"; curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: attacker.example' localhost:8080/api/stats
