#!/usr/bin/env bash
# Smoke test of the Docker packaging: Dockerfile + docker-compose.yml, end to end.
#
#   scripts/docker-smoke.sh            needs docker (Compose v2 plugin or docker-compose v1) and curl 7.66+
#
# It starts its own compose project (own containers, network and database volume) on SMOKE_PORT
# (default 38080, so a service already on 3000 is left alone), checks, and removes all of it on exit;
# the built image order-service:local stays as build cache. KEEP=1 leaves the project running.
#
# What it checks:
#   1. `docker compose up --build` builds the image and the container turns healthy (HEALTHCHECK on /ready)
#   2. the image: runs as a non-root user, holds no tests, lockfile, typescript compiler or dev tools
#   3. the API in the container: POST /orders 201 pending, same again 200, changed payload 409,
#      the order reaches "completed", /metrics counts it, /swagger and /dashboard answer
#   4. the database survives `docker compose down` + `up` (named volume)
#   5. `docker stop` with orders in flight is quick and exits 0, and none of those orders is lost
set -euo pipefail

cd "$(dirname "$0")/.."

PORT="${SMOKE_PORT:-38080}"
BASE="http://127.0.0.1:${PORT}"
PROJECT="orderssmoke$$"
STOP_LIMIT_S="${STOP_LIMIT_S:-5}"   # docker stop must finish well under docker's 10 s default
BURST="${SMOKE_ORDERS:-500}"        # orders in flight when the container is stopped

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  echo "docker-smoke: needs 'docker compose' or 'docker-compose'" >&2
  exit 2
fi
command -v curl >/dev/null || { echo "docker-smoke: needs curl" >&2; exit 2; }

compose() { HOST_PORT="$PORT" "${COMPOSE[@]}" -p "$PROJECT" "$@"; }

TMP="$(mktemp -d)"
PASSED=0
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo
    echo "---- last service logs ----"
    compose logs --tail 40 orders 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = "1" ]; then
    echo "KEEP=1: project $PROJECT left running on $BASE (remove: HOST_PORT=$PORT ${COMPOSE[*]} -p $PROJECT down -v)"
  else
    compose down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  if [ "$status" -eq 0 ]; then
    echo "docker-smoke: all $PASSED checks passed"
  else
    echo "docker-smoke: FAILED after $PASSED passed checks" >&2
  fi
}
trap cleanup EXIT

now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t="${EPOCHREALTIME/[.,]/}"
    echo $((t / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}
seconds_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

ok() {
  PASSED=$((PASSED + 1))
  echo "  ok   $*"
}
die() {
  echo "  FAIL $*" >&2
  exit 1
}

# http METHOD PATH [JSON]: sets CODE and BODY.
http() {
  local args=(-s -o "$TMP/body" -w '%{http_code}' --max-time 10 -X "$1" "$BASE$2")
  if [ $# -ge 3 ]; then
    args+=(-H 'Content-Type: application/json' --data "$3")
  fi
  CODE="$(curl "${args[@]}" || true)"
  BODY="$(cat "$TMP/body" 2>/dev/null || true)"
}
json_field() { # json_field NAME: the string or number value of "NAME" in BODY
  printf '%s' "$BODY" | grep -o "\"$1\":\"\{0,1\}[^,\"}]*" | head -n 1 | sed 's/^.*:"\{0,1\}//'
}

container() { compose ps -q orders; }
health() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(container)" 2>/dev/null || echo gone; }

wait_healthy() { # wait_healthy LIMIT_S
  local deadline=$(($(date +%s) + $1)) state
  while :; do
    state="$(health)"
    [ "$state" = "healthy" ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && die "container not healthy after $1 s (health: $state)"
    sleep 1
  done
}

wait_status() { # wait_status ORDER_ID STATUS LIMIT_S
  local deadline=$(($(date +%s) + $3))
  while :; do
    http GET "/orders/$1/status"
    [ "$CODE" = "200" ] && [ "$(json_field status)" = "$2" ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && die "order $1 not $2 after $3 s (last: $CODE $BODY)"
    sleep 0.2
  done
}

get_metrics() { # GET /metrics into BODY; read figures with json_field
  http GET /metrics
  [ "$CODE" = "200" ] || die "GET /metrics answered $CODE"
}

echo "docker-smoke: project $PROJECT, service on $BASE, compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -n 1))"

# ---------------------------------------------------------------- 1. build and start
echo "1. docker compose up --build"
t0="$(now_ms)"
compose up --build -d >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; die "docker compose up --build failed"; }
up_s="$(seconds_since "$t0")"
wait_healthy 90
ok "built and started in ${up_s}s, healthy after $(seconds_since "$t0")s"
http GET /health
[ "$CODE" = "200" ] || die "GET /health answered $CODE"
http GET /ready
[ "$CODE" = "200" ] || die "GET /ready answered $CODE: $BODY"
ok "GET /health 200, GET /ready 200 ($BODY)"

# ---------------------------------------------------------------- 2. the image
echo "2. image"
image="$(docker inspect --format '{{.Image}}' "$(container)")"
user="$(docker image inspect --format '{{.Config.User}}' "$image")"
case "$user" in "" | 0 | 0:* | root | root:*) die "image runs as root (USER '$user')" ;; esac
[ "$(docker exec "$(container)" /usr/local/bin/bun -e 'console.log(process.getuid())')" != "0" ] ||
  die "the service process runs as root"
size="$(docker image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1000 / 1000 }')"
ok "runs as user $user; image size $size"
leftovers="$(docker run --rm --entrypoint /usr/local/bin/bun "$image" -e '
  const fs = require("fs");
  const unwanted = ["test", "bun.lock", "k6", "docs", ".git", "node_modules/typescript", "node_modules/@biomejs",
    "node_modules/drizzle-kit", "node_modules/.bin"];
  const found = unwanted.filter((p) => fs.existsSync("/app/" + p));
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
    const p = d + "/" + e.name;
    if (e.isDirectory()) walk(p); else if (/\.test\.ts$/.test(e.name)) found.push(p);
  });
  walk("/app/src");
  console.log(found.join(" "));')"
[ -z "$leftovers" ] || die "the image holds files that never run: $leftovers"
ok "no tests, lockfile, typescript, dev dependencies or .bin in /app"

# ---------------------------------------------------------------- 3. the API
echo "3. API"
order="smoke-$(date +%s)-$$"
payload="{\"user_id\":\"smoke-user\",\"order_id\":\"$order\",\"item_ids\":[\"item-1\",\"item-2\"],\"total_amount\":12.34}"
http POST /orders "$payload"
if [ "$CODE" != "201" ] || [ "$(json_field status)" != "pending" ]; then
  die "POST /orders: expected 201 pending, got $CODE $BODY"
fi
ok "POST /orders -> 201 $BODY"
http POST /orders "$payload"
[ "$CODE" = "200" ] || die "same POST again: expected 200, got $CODE $BODY"
ok "same order again -> 200"
http POST /orders "${payload/12.34/99.99}"
[ "$CODE" = "409" ] || die "same order_id, other payload: expected 409, got $CODE $BODY"
ok "same order_id with another payload -> 409"
t0="$(now_ms)"
wait_status "$order" completed 30
ok "order reached completed after $(seconds_since "$t0")s"
get_metrics
[ "$(json_field completed)" -ge 1 ] || die "GET /metrics does not count the completed order: $BODY"
ok "GET /metrics -> $BODY"
http GET /swagger
[ "$CODE" = "200" ] || die "GET /swagger answered $CODE"
ok "GET /swagger 200"
http GET /dashboard
uplot="$(printf '%s' "$BODY" | grep -o '/dashboard/assets/uplot-[0-9.]*\.js' | head -n 1)"
[ "$CODE" = "200" ] && [ -n "$uplot" ] || die "GET /dashboard answered $CODE without its uPlot script"
http GET "$uplot"
[ "$CODE" = "200" ] || die "GET $uplot answered $CODE"
http GET /dashboard/data
[ "$CODE" = "200" ] && [ "$(json_field total)" -ge 1 ] || die "GET /dashboard/data answered $CODE $BODY"
ok "GET /dashboard 200, its uPlot asset from node_modules 200, /dashboard/data counts the order"

# ---------------------------------------------------------------- 4. persistence
echo "4. the database survives docker compose down + up"
compose down >/dev/null 2>&1
t0="$(now_ms)"
compose up -d >"$TMP/up2.log" 2>&1 || { cat "$TMP/up2.log"; die "docker compose up (second time) failed"; }
wait_healthy 60
ok "down + up, healthy again after $(seconds_since "$t0")s"
http GET "/orders/$order/status"
if [ "$CODE" != "200" ] || [ "$(json_field status)" != "completed" ]; then
  die "order lost after down + up: $CODE $BODY"
fi
ok "order $order still there and completed"

# ---------------------------------------------------------------- 5. docker stop with work in flight
echo "5. docker stop with $BURST orders in flight"
get_metrics
total_before="$(json_field total_orders)"
# One curl sending all orders at once (--parallel, curl 7.66 or later), so most are still queued at the stop.
for i in $(seq 1 "$BURST"); do
  [ "$i" -gt 1 ] && echo "next"
  printf 'url = "%s/orders"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE"
  printf 'max-time = 30\nheader = "Content-Type: application/json"\n'
  printf 'data = "{\\"user_id\\":\\"smoke-user\\",\\"order_id\\":\\"%s-burst-%s\\",' "$order" "$i"
  printf '\\"item_ids\\":[\\"item-1\\"],\\"total_amount\\":1}"\n'
done >"$TMP/burst.curl"
curl -s --parallel --parallel-max 100 -K "$TMP/burst.curl" >"$TMP/burst.codes" 2>"$TMP/burst.err" || true
created="$(grep -c '^201$' "$TMP/burst.codes" || true)"
[ "$created" -eq "$BURST" ] || die "expected $BURST answers 201, got $created: $(sort "$TMP/burst.codes" | uniq -c | tr '\n' ' ')"
get_metrics
total_after="$(json_field total_orders)"
[ "$((total_after - total_before))" -eq "$BURST" ] || die "expected $BURST new orders, /metrics went $total_before -> $total_after"
open="$(($(json_field pending) + $(json_field processing)))"
cid="$(container)"
t0="$(now_ms)"
docker stop "$cid" >/dev/null
stop_s="$(seconds_since "$t0")"
exit_code="$(docker inspect --format '{{.State.ExitCode}}' "$cid")"
[ "$exit_code" = "0" ] || die "the service exited $exit_code on docker stop"
awk -v s="$stop_s" -v limit="$STOP_LIMIT_S" 'BEGIN { exit !(s < limit) }' ||
  die "docker stop took ${stop_s}s (limit ${STOP_LIMIT_S}s)"
ok "docker stop took ${stop_s}s with $open orders pending or processing just before, exit code 0"
if docker logs --tail 5 "$cid" 2>&1 | grep -q "stopped cleanly"; then
  ok "the service logged a clean shutdown"
else
  echo "  note no 'stopped cleanly' line in the last log lines"
fi
docker start "$cid" >/dev/null
wait_healthy 60
deadline=$(($(date +%s) + 60))
while :; do
  get_metrics
  [ "$(json_field completed)" -ge "$total_after" ] && break
  [ "$(date +%s)" -ge "$deadline" ] && die "after restart, not every order completed: $BODY"
  sleep 0.5
done
ok "after restart all $total_after orders completed: $BODY"
