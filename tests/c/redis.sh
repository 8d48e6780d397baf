#!/usr/bin/env bash
# The C ABI with a fleet's Redis: starts redis-server (Debian package) on a
# free loopback port, runs tests/c/redis.c against libsts.so under
# valgrind, and checks with redis-cli that the client shared its "no
# policy" entry and the outcome's counters, each with a TTL; stops the
# server.
#
#   tests/c/redis.sh BUILD-DIR LIB-DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: redis.sh BUILD-DIR LIB-DIR}
lib=$(cd "${2:?usage: redis.sh BUILD-DIR LIB-DIR}" && pwd)
mkdir -p "$build"
work=$(mktemp -d "${TMPDIR:-/tmp}/sts-c-redis-XXXXXX")
pid=
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude -o "$build/test-redis-shared" tests/c/redis.c \
  -L"$lib" -lsts -Wl,-rpath,"$lib"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pid=$!
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
for _ in $(seq 100); do
  [ "$(cli ping 2>/dev/null)" = PONG ] && break
  sleep 0.05
done
[ "$(cli ping)" = PONG ] || { cat "$work/redis.log" >&2; echo "redis-server did not start" >&2; exit 1; }

# The URL must not come from the environment: the option is under test.
env -u STS_REDIS_URL valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  "$build/test-redis-shared" "redis://127.0.0.1:$port" "$work/reports"

fails=0
ttl_ok() {
  local key=$1 ttl
  ttl=$(cli ttl "$key")
  # -2: no such key; -1: a key that would never expire.
  if [ "$ttl" -gt 0 ]; then
    echo "ok: $key has a TTL of $ttl s"
  else
    echo "FAIL: $key has TTL $ttl"; fails=$((fails + 1))
  fi
}
ttl_ok "sts:v1:policy:nxdomain.test"
counters=$(cli --scan --pattern 'sts:v1:rpt:*:d:nxdomain.test')
if [ -n "$counters" ]; then
  ttl_ok "$counters"
else
  echo "FAIL: no fleet counters for nxdomain.test"; fails=$((fails + 1))
fi
# The fleet took the outcome, not this host's day files.
if [ -n "$(cat "$work"/reports/outcomes/*.log 2>/dev/null)" ]; then
  echo "FAIL: the outcome went to the local store"; fails=$((fails + 1))
fi
echo "redis: $fails failed"
[ $fails -eq 0 ]
