#!/usr/bin/env bash
# End-to-end test of MTA-STS in Exim through the libsts dlfunc module.
#
#   tests/exim/run.sh [LIBDIR]
#
# LIBDIR holds libsts.a and libsts.so (default: target/release of this repository, as
# built by `make lib`; or $STS_LIBDIR). Run as root; needs exim (the
# exim4-daemon-heavy package), unbound, openssl, python3, unshare and a C
# compiler. Everything listens on 127.0.25.0/24 and is stopped at the end:
#
#   127.0.25.1:53    unbound with the test zones
#   127.0.25.2:443   HTTPS policy host (policy_server.py, test CA)
#   127.0.25.11-15   one receiving Exim ("sink") on port 25 of each address,
#                    with a certificate per address; .15 offers no STARTTLS
#
# The sending Exim is built from integrations/exim/exim.conf.snippet and
# runs in a mount namespace whose /etc/resolv.conf points at unbound. When
# Debian's exim4-config is installed, the snippet is also inserted into
# Debian's generated single-file and split configurations (with Debian's
# own ignore list), which must load and route as expected.
# Prints "N passed, N failed" last; exits non-zero on any failure.
# Set STS_EXIM_BENCH=N to change the number of messages of the throughput
# measurement (default 100 per run, 4 runs; 0 to skip it).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LIBDIR=${1:-${STS_LIBDIR:-$REPO/target/release}}
BENCH_N=${STS_EXIM_BENCH:-100}
NET=127.0.25

# shellcheck source=tests/lib/loopback.sh
. "$REPO/tests/lib/loopback.sh"

# ---- prerequisites --------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (Exim daemons on port 25, mount namespace)"
EXIM=$(command -v exim4 || command -v exim || true)
[ -n "$EXIM" ] || die "exim not found (apt-get install -y exim4-daemon-heavy)"
"$EXIM" -bV 2>/dev/null | grep -q Expand_dlfunc || die "$EXIM lacks Expand_dlfunc (install exim4-daemon-heavy)"
"$EXIM" -bV 2>/dev/null | grep -q Event || die "$EXIM lacks Event support"
UNBOUND=$(command -v unbound || true)
[ -n "$UNBOUND" ] || die "unbound not found (apt-get install -y unbound)"
command -v openssl >/dev/null || die "openssl not found (apt-get install -y openssl)"
command -v python3 >/dev/null || die "python3 not found"
command -v unshare >/dev/null || die "unshare not found (util-linux)"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
  die "redis-server or redis-cli not found (apt-get install -y redis-server)"
CC=${CC:-cc}
command -v "$CC" >/dev/null || die "no C compiler ($CC)"
[ -f "$LIBDIR/libsts.a" ] && [ -f "$LIBDIR/libsts.so" ] ||
  die "no $LIBDIR/libsts.a or libsts.so: run 'make lib' or pass the directory of libsts.a"
if id Debian-exim >/dev/null 2>&1; then EXIM_USER=Debian-exim; else EXIM_USER=exim; fi
id "$EXIM_USER" >/dev/null 2>&1 || die "no Exim user (Debian-exim or exim)"
for a in 1 2 11 12 13 14 15; do
  if ss -Hltn "src $NET.$a" 2>/dev/null | grep -q .; then die "something already listens on $NET.$a"; fi
done

T=$(mktemp -d /tmp/sts-exim-e2e.XXXXXX) || die "mktemp failed"
chmod 755 "$T"
trap stop_started EXIT
trap 'exit 130' INT TERM

# ---- the module -------------------------------------------------------------
mkdir -p "$T/lib"
# Built as it is shipped: integrations/exim/Makefile links libsts.a in.
make -s -C "$REPO/integrations/exim" LIBDIR="$LIBDIR" OUT="$T/lib/sts_exim.so" CC="$CC" CFLAGS=-O2 >"$T/build.log" 2>&1 ||
  { cat "$T/build.log"; die "building sts_exim.so failed"; }
"$CC" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -o "$T/lib/module_check" "$HERE/module_check.c" -ldl ||
  die "building module_check failed"
ok "sts_exim.so builds with -std=c99 -Wall -Wextra -Wpedantic -Werror"
check "sts_exim.so needs no libsts.so.0 and exports only exim_sts_* ($(nm -D --defined-only "$T/lib/sts_exim.so" | grep -vc ' exim_sts_') others)" \
  sh -c "! ldd '$T/lib/sts_exim.so' | grep -q libsts && [ \$(nm -D --defined-only '$T/lib/sts_exim.so' | grep -vc ' exim_sts_') -eq 0 ]"

# ---- certificates -----------------------------------------------------------
make_ca "libsts Exim test CA" || die "CA"
cert $NET.11 mx1.enf-ok.test mx1.tmp4xx.test || die "cert"
cert $NET.12 mx1.enf-pref.test a.b.ok.enf-pref.test || die "cert"
cert $NET.13 mx2.ok.enf-pref.test || die "cert"
cert $NET.14 wrong.test || die "cert"
cert $NET.15 mx1.enf-notls.test || die "cert"
DOMAINS="$SHARED_DOMAINS enf-private.test tmp4xx.test deb-pref.test deb-private.test deb-none.test"
# shellcheck disable=SC2086
policy_cert $DOMAINS || die "cert"
chown -R "$EXIM_USER" "$T/certs"
chmod 644 "$T/ca/ca.pem"

# ---- DNS ----------------------------------------------------------------------
txt_id_change=1
write_unbound() {
  {
    unbound_server_conf "$NET.1" "$T/unbound"
    shared_zone_data "$txt_id_change"
    cat <<EOF
  local-data: "enf-private.test. 60 IN MX 10 mx1.enf-private.test."
  local-data: "mx1.enf-private.test. 60 IN A $NET.16"
  local-data: '_mta-sts.enf-private.test. 60 IN TXT "v=STSv1; id=priv1;"'
  local-data: "tmp4xx.test. 60 IN MX 10 mx1.tmp4xx.test."
  local-data: "mx1.tmp4xx.test. 60 IN A $NET.11"
  local-data: '_mta-sts.tmp4xx.test. 60 IN TXT "v=STSv1; id=tmp1;"'
  local-data: "deb-pref.test. 60 IN MX 10 mx1.deb-pref.test."
  local-data: "deb-pref.test. 60 IN MX 20 mx2.ok.deb-pref.test."
  local-data: "deb-pref.test. 60 IN MX 30 mx3.ok.deb-pref.test."
  local-data: "mx1.deb-pref.test. 60 IN A 192.0.2.1"
  local-data: "mx2.ok.deb-pref.test. 60 IN A 192.0.2.2"
  local-data: "mx3.ok.deb-pref.test. 60 IN A 10.9.9.9"
  local-data: '_mta-sts.deb-pref.test. 60 IN TXT "v=STSv1; id=dpref1;"'
  local-data: "deb-private.test. 60 IN MX 10 mx1.deb-private.test."
  local-data: "mx1.deb-private.test. 60 IN A 10.1.2.3"
  local-data: "mx1.deb-private.test. 60 IN AAAA fd00::25"
  local-data: '_mta-sts.deb-private.test. 60 IN TXT "v=STSv1; id=dpriv1;"'
  local-data: "deb-none.test. 60 IN MX 10 mx1.deb-none.test."
  local-data: "mx1.deb-none.test. 60 IN A 192.0.2.3"
  local-data: '_mta-sts.deb-none.test. 60 IN TXT "v=STSv1; id=dnone1;"'
EOF
    unbound_control_off
  } >"$T/unbound/unbound.conf"
}
start_unbound
echo "nameserver $NET.1" >"$T/resolv.conf"
chmod 644 "$T/resolv.conf"

# ---- the HTTPS policy host -----------------------------------------------------
shared_policies
policy enf-private.test enforce mx1.enf-private.test
policy tmp4xx.test enforce mx1.tmp4xx.test
policy deb-pref.test enforce "*.ok.deb-pref.test"
policy deb-private.test enforce mx1.deb-private.test
policy deb-none.test enforce mx.elsewhere.test
start_policy_host

# ---- the receiving Exim ----------------------------------------------------------
mkdir -p "$T/sink/spool" "$T/sink/log"
cat >"$T/sink/exim.conf" <<EOF
primary_hostname = sink.test
exim_user = $EXIM_USER
exim_group = $EXIM_USER
spool_directory = $T/sink/spool
log_file_path = $T/sink/log/%slog
pid_file_path = $T/sink/exim.pid
keep_environment =
local_interfaces = <; $NET.11.25 ; $NET.12.25 ; $NET.13.25 ; $NET.14.25 ; $NET.15.25
daemon_smtp_ports = 25
host_lookup = :
rfc1413_hosts = :
smtp_accept_max = 50
smtp_accept_queue_per_connection = 0
tls_advertise_hosts = \${if eq{\$received_ip_address}{$NET.15}{:}{*}}
tls_certificate = $T/certs/\$received_ip_address.crt
tls_privatekey = $T/certs/\$received_ip_address.key
log_selector = +incoming_interface +received_recipients +tls_sni +tls_cipher
acl_smtp_mail = acl_mail
acl_smtp_rcpt = accept
queue_only = true
begin acl
acl_mail:
  defer senders = tempfail@sender.test
        message = sender address unverified
  accept
begin routers
drop:
  driver = redirect
  data = :blackhole:
EOF
chown -R "$EXIM_USER:" "$T/sink"
chown root:root "$T/sink/exim.conf"; chmod 644 "$T/sink/exim.conf"
"$EXIM" -C "$T/sink/exim.conf" -bdf >"$T/sink/daemon.out" 2>&1 &
PIDS+=("$!")
for i in $(seq 50); do
  [ "$(ss -Hltn "src $NET.0/24 and sport = :25" 2>/dev/null | wc -l)" -ge 5 ] && break
  sleep 0.1
done
[ "$(ss -Hltn "src $NET.0/24 and sport = :25" 2>/dev/null | wc -l)" -ge 5 ] ||
  { cat "$T/sink/daemon.out" "$T/sink/log/"* 2>/dev/null; die "sink Exim did not start"; }

# ---- the sending Exim --------------------------------------------------------------
S="$T/sender"
mkdir -p "$S/spool" "$S/log" "$T/cache" "$T/reports" "$T/cache2"
settings() { # settings FILE CACHE_DIR
  cat >"$1" <<EOF
# libsts settings for the Exim test
cache_dir = $2
ca_file = $T/ca/ca.pem
dns_server = $NET.1:53
https_connect = $NET.2
https_port = 443
report_dir = $T/reports
dns_timeout_ms = 1000
https_timeout_ms = 5000
EOF
}
settings "$T/sts-exim.conf" "$T/cache"
settings "$T/sts-exim2.conf" "$T/cache2"
chown -R "$EXIM_USER:" "$S" "$T/cache" "$T/cache2" "$T/reports"
SNIPPET="$REPO/integrations/exim/exim.conf.snippet"
part() { # part NAME: the lines of the snippet between "#### part: NAME" and the next mark
  awk -v want="#### part: $1" '/^#### part: /{on = ($0 == want); next} on' "$SNIPPET"
}
sender_conf() { # sender_conf FILE SETTINGS WITH_STS
  {
    cat <<EOF
primary_hostname = sender.test
exim_user = $EXIM_USER
exim_group = $EXIM_USER
spool_directory = $S/spool
log_file_path = $S/log/%slog
pid_file_path = $S/exim.pid
keep_environment =
domainlist local_domains = sender.test
host_lookup = :
rfc1413_hosts = :
log_selector = +tls_certificate_verified +tls_sni +tls_cipher +outgoing_interface +deliver_time
EXIM_STS_LIB = $T/lib/sts_exim.so
EXIM_STS_SETTINGS = $2
EXIM_STS_CA = $T/ca/ca.pem
EXIM_STS_IGNORE_DEFAULT = <; 0.0.0.0 ; $NET.16/32 ; ::1/128
EOF
    if [ "$3" = yes ]; then
      part main
      echo "begin routers"
      # Test only: sends c9@enf-pref.test to an MX host the policy does not
      # permit, straight to the enforce transport, which must refuse it.
      printf 'force_mx1:\n  driver = manualroute\n  domains = enf-pref.test\n  local_parts = c9\n'
      printf '  route_list = * mx1.enf-pref.test byname\n  transport = mta_sts_enforce\n'
      part routers
    elif [ "$3" = baseline ]; then
      # The benchmark's baseline: the same router options and the same TLS
      # verification and DANE settings as mta_sts_enforce, without libsts.
      echo "begin routers"
      printf 'baseline_dnslookup:\n  driver = dnslookup\n  domains = ! +local_domains\n'
      printf '  dnssec_request_domains = *\n  ignore_target_hosts = <; 0.0.0.0 ; %s.16/32 ; ::1/128\n' "$NET"
      printf '  transport = baseline_tls\n  no_more\n'
    else
      echo "begin routers"
      printf 'plain_dnslookup:\n  driver = dnslookup\n  domains = ! +local_domains\n'
      printf '  ignore_target_hosts = 0.0.0.0\n  transport = remote_smtp\n  no_more\n'
    fi
    printf 'local:\n  driver = redirect\n  domains = +local_domains\n  data = :blackhole:\n'
    echo "begin transports"
    printf 'remote_smtp:\n  driver = smtp\n  hosts_try_dane = *\n  tls_sni = $host\n'
    [ "$3" = yes ] && part transports
    if [ "$3" = baseline ]; then
      printf 'baseline_tls:\n  driver = smtp\n  multi_domain = false\n  hosts_try_dane = *\n'
      printf '  hosts_require_tls = *\n  tls_verify_hosts = *\n  tls_try_verify_hosts = :\n'
      printf '  tls_verify_cert_hostnames = *\n  tls_verify_certificates = %s\n  tls_sni = $host\n' "$T/ca/ca.pem"
    fi
    echo "begin retry"
    if [ "$3" = yes ]; then part retry; else echo '*   *   F,2h,15m; F,4d,6h'; fi
  } >"$1"
}
sender_conf "$S/exim.conf" "$T/sts-exim.conf" yes
sender_conf "$S/exim2.conf" "$T/sts-exim2.conf" yes
sender_conf "$S/plain.conf" "$T/sts-exim.conf" no
sender_conf "$S/baseline.conf" "$T/sts-exim.conf" baseline
settings "$T/sts-exim-nosync.conf" "$T/cache"
echo "report_sync = no" >>"$T/sts-exim-nosync.conf"
sender_conf "$S/exim-nosync.conf" "$T/sts-exim-nosync.conf" yes
# A fleet's Redis (started below, on a free port of 127.0.0.1), with a
# cache of its own so that the policy is fetched and shared.
REDIS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/cache-redis" "$T/redis"
settings "$T/sts-exim-redis.conf" "$T/cache-redis"
echo "redis_url = redis://127.0.0.1:$REDIS_PORT" >>"$T/sts-exim-redis.conf"
sender_conf "$S/exim-redis.conf" "$T/sts-exim-redis.conf" yes
chmod 644 "$S"/*.conf "$T"/sts-exim*.conf

# Runs the sending Exim with the test resolver.
sx() {
  unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" "$EXIM" "$@"
}
check "sender configuration is valid" sx -C "$S/exim.conf" -bV >/dev/null
check "plain configuration is valid" sx -C "$S/plain.conf" -bV >/dev/null
check "baseline configuration is valid" sx -C "$S/baseline.conf" -bV >/dev/null

# send CONF RCPT [SENDER]: one message, delivered synchronously (-odi).
send() {
  local from=${3:-sender@sender.test}
  printf 'From: %s\nTo: %s\nSubject: test %s\n\nbody\n' "$from" "$2" "$2" |
    sx -C "$1" -odi -f "$from" "$2" 2>>"$T/send.err"
}
clear_retry() { rm -f "$S/spool/db/"*; }
# Lines of the sender's main log about recipient $1 (delivery =>, defer ==).
slog() { grep -F -- "$1" "$S/log/mainlog" 2>/dev/null; }
sink_got() { # sink_got RCPT IP: the sink logged <= for RCPT on interface IP
  grep -F -- "for $1" "$T/sink/log/mainlog" 2>/dev/null | grep -F " <= " | grep -qF "I=[$2]:25"
}
sink_none() { ! grep -qF -- "for $1" "$T/sink/log/mainlog" 2>/dev/null; }
reported() { # reported DOMAIN RESULT: a line of the report store names both
  grep -rhF -- "$1" "$T/reports" 2>/dev/null | grep -qF -- "$2"
}
settle() { sleep 0.3; } # the sink logs <= right after its 250 reply

# ---- quick checks of the module through Exim's expansion test ------------------------
be() { sx -C "$S/exim.conf" -be "$1" 2>&1 | tr '\n' ' ' | sed 's/ *$//'; }
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{$T/sts-exim.conf}{enf-ok.test}}")
check "exim_sts_policy enf-ok.test = enforce ($out)" [ "$out" = enforce ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{$T/sts-exim.conf}{tst-badcert.test}}")
check "exim_sts_policy tst-badcert.test = testing ($out)" [ "$out" = testing ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{$T/sts-exim.conf}{nopolicy.test}}")
check "exim_sts_policy nopolicy.test = no-policy ($out)" [ "$out" = no-policy ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_ignore_list}{$T/sts-exim.conf}{enf-pref.test}}")
check "exim_sts_ignore_list enf-pref.test ($out)" [ "$out" = '! ^[^.]+\.ok\.enf-pref\.test$ : *' ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_ignore_list}{$T/sts-exim.conf}{nopolicy.test}}")
check "exim_sts_ignore_list nopolicy.test ignores nothing ($out)" [ "$out" = '! *' ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_check_host}{$T/sts-exim.conf}{enf-pref.test}{mx1.enf-pref.test}}")
check "exim_sts_check_host refuses mx1.enf-pref.test, naming MTA-STS ($out)" grep -q "MTA-STS.*not permitted" <<<"$out"
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_check_host}{$T/sts-exim.conf}{enf-pref.test}{mx2.ok.enf-pref.test}}")
check "exim_sts_check_host permits mx2.ok.enf-pref.test ($out)" [ "$out" = ok ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{/nonexistent/sts.conf}{enf-ok.test}}")
check "a missing settings file is a clear error ($out)" grep -q "cannot read settings file /nonexistent/sts.conf" <<<"$out"
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}}")
check "too few arguments is a clear error ($out)" grep -q "exim_sts_policy needs" <<<"$out"
chown -R "$EXIM_USER:" "$T/cache" "$T/reports"

# ---- delivery cases ---------------------------------------------------------------------
echo "# enforce, MX in policy, good certificate"
clear_retry
send "$S/exim.conf" c1@enf-ok.test; settle
check "c1 delivered by mta_sts_enforce with a verified certificate" \
  sh -c "grep -F '=> c1@enf-ok.test' '$S/log/mainlog' | grep -F 'T=mta_sts_enforce' | grep -F 'CV=yes' | grep -qF 'H=mx1.enf-ok.test'"
check "c1 received by mx1.enf-ok.test ($NET.11) with SNI" \
  sh -c "grep -F 'for c1@enf-ok.test' '$T/sink/log/mainlog' | grep -F 'I=[$NET.11]:25' | grep -qF 'SNI=mx1.enf-ok.test'"
check "c1 success recorded for TLSRPT" reported enf-ok.test $'\tsuccess\t'

echo "# enforce, lowest-preference MX (and a two-label wildcard match) not permitted"
clear_retry
send "$S/exim.conf" c2@enf-pref.test; settle
check "c2 delivered to mx2.ok.enf-pref.test" \
  sh -c "grep -F '=> c2@enf-pref.test' '$S/log/mainlog' | grep -F 'CV=yes' | grep -qF 'H=mx2.ok.enf-pref.test'"
check "c2 received on $NET.13 only" sink_got c2@enf-pref.test $NET.13
check "c2 never offered to $NET.12 (mx1 and a.b.ok not permitted)" \
  sh -c "! grep -F 'for c2@enf-pref.test' '$T/sink/log/mainlog' | grep -qF 'I=[$NET.12]'"

echo "# enforce, a refused MX host reaches the transport anyway (manualroute)"
clear_retry
conns_before=$(grep -c 'I=\[127.0.25.12\]' "$T/sink/log/mainlog")
send "$S/exim.conf" c9@enf-pref.test; settle
check "c9 deferred by mta_sts_enforce with a message naming MTA-STS" \
  sh -c "grep -F '== c9@enf-pref.test' '$S/log/mainlog' | grep -F 'T=mta_sts_enforce' | grep -qF 'MTA-STS: MX host mx1.enf-pref.test is not permitted by the enforce policy of enf-pref.test'"
check "c9 never reached $NET.12" [ "$(grep -c 'I=\[127.0.25.12\]' "$T/sink/log/mainlog")" -eq "$conns_before" ]

echo "# enforce, no MX permitted"
clear_retry
send "$S/exim.conf" c3@enf-none.test; settle
check "c3 deferred with a message naming MTA-STS" \
  sh -c "grep -F '== c3@enf-none.test' '$S/log/mainlog' | grep -F 'R=mta_sts_no_mx' | grep -qF 'MTA-STS: no MX host of enf-none.test is permitted'"
check "c3 not received" sink_none c3@enf-none.test
check "c3 still queued (not bounced)" sh -c "! grep -F 'c3@enf-none.test' '$S/log/mainlog' | grep -q '\*\*'"

echo "# enforce, the only MX host is dropped by the admin's ignore list (a <; list)"
clear_retry
send "$S/exim.conf" c10@enf-private.test; settle
check "c10 not blamed on MTA-STS" sh -c "! grep -F 'c10@enf-private.test' '$S/log/mainlog' | grep -q 'MTA-STS'"
check "c10 bounced by Exim as without MTA-STS (no usable MX host)" \
  sh -c "grep -F '** c10@enf-private.test' '$S/log/mainlog' | grep -qF 'all relevant MX records point to non-existent hosts'"

echo "# enforce, TLS fine, the receiver answers MAIL with 451 sender address unverified"
clear_retry
send "$S/exim.conf" c11@tmp4xx.test tempfail@sender.test; settle
check "c11 deferred with the receiver's 451" \
  sh -c "grep -F '== c11@tmp4xx.test' '$S/log/mainlog' | grep -qF '451 sender address unverified'"
check "c11 the receiver saw a TLS session" sh -c "grep -F 'H=' '$T/sink/log/mainlog' | grep -F 'I=[$NET.11]:25' | grep -qF 'SNI=mx1.tmp4xx.test'"
check "c11 no TLSRPT outcome recorded (an SMTP 4xx is not a TLS failure)" sh -c "! grep -rqF tmp4xx.test '$T/reports'"

echo "# enforce, through the fleet's Redis (redis_url in the settings file)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$T/redis" >"$T/redis/log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
for _ in $(seq 100); do
  [ "$(rcli ping 2>/dev/null)" = PONG ] && break
  sleep 0.05
done
chown -R "$EXIM_USER:" "$T/cache-redis"
clear_retry
send "$S/exim-redis.conf" c12@enf-ok.test; settle
check "c12 delivered by mta_sts_enforce" \
  sh -c "grep -F '=> c12@enf-ok.test' '$S/log/mainlog' | grep -F 'T=mta_sts_enforce' | grep -qF 'CV=yes'"
ttl=$(rcli ttl sts:v1:policy:enf-ok.test)
check "c12 the policy of enf-ok.test is shared in Redis with a TTL ($ttl s)" [ "$ttl" -gt 0 ]
key=$(rcli --scan --pattern 'sts:v1:rpt:*:d:enf-ok.test')
ttl=$([ -n "$key" ] && rcli ttl "$key" || echo -2)
check "c12 the TLSRPT outcome is counted in Redis with a TTL ($key: $ttl s)" [ "$ttl" -gt 0 ]
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true

echo "# enforce, certificate for another name"
clear_retry
send "$S/exim.conf" c4@enf-badcert.test; settle
check "c4 deferred" sh -c "grep -F '== c4@enf-badcert.test' '$S/log/mainlog' | grep -qF 'T=mta_sts_enforce'"
check "c4 not received" sink_none c4@enf-badcert.test
check "c4 failure recorded for TLSRPT (certificate-host-mismatch)" reported enf-badcert.test certificate-host-mismatch

echo "# testing, certificate for another name"
clear_retry
send "$S/exim.conf" c5@tst-badcert.test; settle
check "c5 delivered by mta_sts_testing, certificate not verified" \
  sh -c "grep -F '=> c5@tst-badcert.test' '$S/log/mainlog' | grep -F 'T=mta_sts_testing' | grep -qF 'CV=no'"
check "c5 received on $NET.14" sink_got c5@tst-badcert.test $NET.14
check "c5 certificate-host-mismatch recorded for TLSRPT" reported tst-badcert.test certificate-host-mismatch

echo "# enforce, receiver without STARTTLS"
clear_retry
send "$S/exim.conf" c6@enf-notls.test; settle
check "c6 deferred (TLS required)" sh -c "grep -F '== c6@enf-notls.test' '$S/log/mainlog' | grep -qiF 'TLS'"
check "c6 not received" sink_none c6@enf-notls.test
check "c6 starttls-not-supported recorded for TLSRPT" reported enf-notls.test starttls-not-supported

echo "# no policy"
clear_retry
send "$S/exim.conf" c7@nopolicy.test; settle
check "c7 delivered by remote_smtp in clear" \
  sh -c "grep -F '=> c7@nopolicy.test' '$S/log/mainlog' | grep -qF 'T=remote_smtp'"
check "c7 received on $NET.15" sink_got c7@nopolicy.test $NET.15
check "c7 nothing recorded" sh -c "! grep -rqF nopolicy.test '$T/reports'"

echo "# policy id changes to mode none"
clear_retry
send "$S/exim.conf" c8a@change.test; settle
check "c8a deferred under enforce (no STARTTLS)" sh -c "grep -qF '== c8a@change.test' '$S/log/mainlog'"
policy change.test none
txt_id_change=2
stop_unbound
start_unbound
clear_retry
# The TXT record is re-checked only every 300 s (libsts default; the C
# options have no knob for it), so the "after refresh" delivery uses a
# settings file with its own, empty cache directory.
send "$S/exim2.conf" c8b@change.test; settle
check "c8b delivered without enforcement after the id change" \
  sh -c "grep -F '=> c8b@change.test' '$S/log/mainlog' | grep -qF 'T=remote_smtp'"
check "c8b received on $NET.15" sink_got c8b@change.test $NET.15
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{$T/sts-exim2.conf}{change.test}}")
check "exim_sts_policy change.test = none after the change ($out)" [ "$out" = none ]

# ---- Debian's own configuration, single file and split ----------------------------------------
# The snippet goes unchanged where integrations/exim/exim.conf.snippet says
# (for dc_eximconfig_configtype 'internet'), update-exim4.conf generates
# the configuration from a copy of /etc/exim4, and Exim must accept it and
# route with Debian's own ignore list (a "<;" list with IPv6 ranges) next
# to the MTA-STS one.
debian_conf() { # debian_conf LAYOUT(single|split) OUT
  local layout=$1 out=$2 d="$T/debian-$1" split=false
  [ "$layout" = split ] && split=true
  rm -rf "$d" && mkdir -p "$d" && cp -a /etc/exim4 "$d/etc" || return 1
  sed -i -e "s/^dc_eximconfig_configtype=.*/dc_eximconfig_configtype='internet'/" \
    -e "s/^dc_use_split_config=.*/dc_use_split_config='$split'/" "$d/etc/update-exim4.conf.conf"
  grep -q "^dc_use_split_config='$split'" "$d/etc/update-exim4.conf.conf" ||
    echo "dc_use_split_config='$split'" >>"$d/etc/update-exim4.conf.conf"
  local macros="EXIM_STS_LIB = $T/lib/sts_exim.so
EXIM_STS_SETTINGS = $T/sts-exim.conf
EXIM_STS_CA = $T/ca/ca.pem"
  if [ "$layout" = split ]; then
    echo "$macros" >>"$d/etc/conf.d/main/000_localmacros"
    part main >"$d/etc/conf.d/main/50_mta-sts"
    part routers >"$d/etc/conf.d/router/190_mta-sts"
    part transports >"$d/etc/conf.d/transport/30_mta-sts"
  else
    echo "$macros" >>"$d/etc/exim4.conf.localmacros"
    local tpl="$d/etc/exim4.conf.template"
    grep -qx 'begin acl' "$tpl" && grep -qx 'begin transports' "$tpl" &&
      grep -qx '### router/200_exim4-config_primary' "$tpl" || return 1
    part main >"$d/main" && part routers >"$d/routers" && part transports >"$d/transports"
    awk -v m="$d/main" -v r="$d/routers" -v t="$d/transports" '
      function put(f,  l) { while ((getline l < f) > 0) print l; close(f) }
      $0 == "begin acl" { put(m) }
      $0 == "### router/200_exim4-config_primary" && !done++ { put(r) }
      { print }
      $0 == "begin transports" { put(t) }' "$tpl" >"$tpl.new" && mv "$tpl.new" "$tpl"
  fi
  # update-exim4.conf looks for exim4.conf.localmacros in /etc/exim4
  # whatever -d says: run it with the copy mounted there.
  unshare -m sh -c 'mount --bind "$0" /etc/exim4 && exec update-exim4.conf -o "$1"' "$d/etc" "$out" \
    >"$d/update.log" 2>&1 || { cat "$d/update.log"; return 1; }
  chown root:root "$out" && chmod 644 "$out"
}
route() { sx -C "$1" -bt "$2" 2>&1; } # route CONF ADDRESS: Exim's routing test
if [ -f /etc/exim4/exim4.conf.template ] && [ -d /etc/exim4/conf.d ] && command -v update-exim4.conf >/dev/null; then
  for layout in single split; do
    echo "# Debian's generated $layout configuration with the snippet"
    conf="$T/debian-$layout.conf"
    if ! debian_conf "$layout" "$conf"; then
      bad "Debian $layout configuration generated"
      continue
    fi
    grep -q '^dns_dnssec_ok *= *1' "$conf" && grep -q '^mta_sts_lookup:' "$conf" &&
      grep -q '^mta_sts_enforce:' "$conf"
    check "Debian $layout: generated with Debian's dns_dnssec_ok and the snippet's router and transport" [ $? = 0 ]
    check "Debian $layout: exim -bV accepts it" sx -C "$conf" -bV
    check "Debian $layout: Debian's own ignore list is in force" \
      sh -c "grep -q '^ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS = <;.*fe80::/10' '$conf'"
    out=$(route "$conf" u@deb-pref.test)
    check "Debian $layout: deb-pref.test routed by mta_sts_lookup to the permitted public MX only ($(echo $out | tr -s ' ' | head -c 300))" \
      bash -c "grep -q 'router = mta_sts_lookup, transport = mta_sts_enforce' <<<\"\$0\" &&
        grep -q 'host mx2.ok.deb-pref.test *\[192.0.2.2\]' <<<\"\$0\" &&
        ! grep -q 'mx1.deb-pref.test' <<<\"\$0\" && ! grep -q 'mx3.ok.deb-pref.test' <<<\"\$0\"" "$out"
    out=$(route "$conf" u@deb-private.test)
    check "Debian $layout: an MX dropped by Debian's list is undeliverable as without MTA-STS ($(echo $out | tr -s ' ' | head -c 200))" \
      bash -c "grep -q 'is undeliverable: all relevant MX records point to non-existent hosts' <<<\"\$0\" &&
        ! grep -q 'MTA-STS' <<<\"\$0\"" "$out"
    out=$(route "$conf" u@deb-none.test)
    check "Debian $layout: no MX permitted is deferred naming MTA-STS ($(echo $out | tr -s ' ' | head -c 200))" \
      grep -q 'MTA-STS: no MX host of deb-none.test is permitted' <<<"$out"
  done
  chown -R "$EXIM_USER:" "$T/cache" "$T/reports"
else
  echo "# Debian's exim4-config is not installed: Debian configuration checks skipped"
fi

# ---- the module alone: error paths, leaks, cost per call ------------------------------------
as_exim() { setpriv --reuid="$EXIM_USER" --regid="$EXIM_USER" --clear-groups -- "$@"; }
echo "# module_check (as $EXIM_USER)"
if as_exim "$T/lib/module_check" "$T/lib/sts_exim.so" "$T/sts-exim.conf" enf-ok.test mx1.enf-ok.test 2000 \
  >"$T/module_check.out" 2>&1; then
  ok "module_check: $(tail -1 "$T/module_check.out")"
else
  bad "module_check"; cat "$T/module_check.out"
fi
grep '^module cost' "$T/module_check.out"
if command -v valgrind >/dev/null; then
  if as_exim valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    "$T/lib/module_check" "$T/lib/sts_exim.so" "$T/sts-exim.conf" enf-ok.test mx1.enf-ok.test 0 \
    >"$T/module_valgrind.out" 2>&1; then
    ok "module_check under valgrind: no memory errors, no definite leaks"
  else
    bad "module_check under valgrind"; cat "$T/module_valgrind.out"
  fi
else
  echo "# valgrind not installed: memory check skipped"
fi

# ---- what the module writes under umask 000 (Exim runs with umask 0) ----------------------------
echo "# files the module creates under umask 000 (as $EXIM_USER)"
U="$T/umask"
mkdir -p "$U" && chown "$EXIM_USER:" "$U" && chmod 755 "$U"
settings "$T/sts-umask.conf" "$U/spool/cache"
sed -i "s|^report_dir = .*|report_dir = $U/spool/tlsrpt|" "$T/sts-umask.conf"
chmod 644 "$T/sts-umask.conf"
if as_exim sh -c 'umask 000 && exec "$@"' sh "$T/lib/module_check" "$T/lib/sts_exim.so" "$T/sts-umask.conf" \
  enf-ok.test mx1.enf-ok.test 0 >"$T/module_umask.out" 2>&1; then
  ok "module_check under umask 000: $(tail -1 "$T/module_umask.out")"
else
  bad "module_check under umask 000"; cat "$T/module_umask.out"
fi
loose=$(find "$U/spool" -perm /022 -printf '%p %m\n')
check "nothing the module created under umask 000 is group or other writable (${loose:-none})" [ -z "$loose" ]
modes=$(stat -c %a "$U/spool" "$U/spool/cache" "$U/spool/cache/enf-ok.test" "$U/spool/tlsrpt" "$U/spool/tlsrpt/outcomes" \
  "$U"/spool/tlsrpt/outcomes/*.log 2>&1 | tr '\n' ' ')
check "directories 0700 and files 0600 ($modes)" [ "$modes" = "700 700 600 700 700 600 " ]

# A cache entry others can write says "mode: none" for enf-ok.test under
# the id DNS publishes: the module must not use it.
entry="$U/spool/cache/enf-ok.test"
now=$(date +%s)
pol=$'version: STSv1\nmode: none\nmx: mx1.enf-ok.test\nmax_age: 86400\n'
rm -f "$entry"
as_exim sh -c 'umask 000 && printf "libsts-cache 1\nchecked %s\npolicy ok1 %s %s %s\n\n%s" "$@" >"$0"' \
  "$entry" "$now" "$now" "$((now + 86400))" "${#pol}" "$pol"
check "the planted entry is world-writable ($(stat -c %a "$entry"))" [ "$(stat -c %a "$entry")" = 666 ]
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{$T/sts-umask.conf}{enf-ok.test}}")
check "a world-writable cache entry is not used: enf-ok.test still enforce ($out)" [ "$out" = enforce ]
check "it was replaced by an owner-only entry of $EXIM_USER ($(stat -c '%a %U' "$entry"))" \
  [ "$(stat -c '%a %U' "$entry")" = "600 $EXIM_USER" ]
# Exim's delivery process runs as root: what root creates in the Exim
# user's directories must stay that user's.
install -d -m 700 -o "$EXIM_USER" -g "$EXIM_USER" "$U/rootstore"
settings "$T/sts-root.conf" "$U/spool/cache"
sed -i "s|^report_dir = .*|report_dir = $U/rootstore|" "$T/sts-root.conf"
chmod 644 "$T/sts-root.conf"
rm -f "$U/spool/cache/enf-ok.test"
if sh -c 'umask 000 && exec "$@"' sh "$T/lib/module_check" "$T/lib/sts_exim.so" "$T/sts-root.conf" \
  enf-ok.test mx1.enf-ok.test 0 >"$T/module_root.out" 2>&1; then
  ok "module_check as root under umask 000: $(tail -1 "$T/module_root.out")"
else
  bad "module_check as root under umask 000"; cat "$T/module_root.out"
fi
owners=$(find "$U/rootstore" "$U/spool/cache" -mindepth 1 -printf '%u %m\n' | sort -u | tr '\n' ' ')
check "files root created belong to $EXIM_USER, owner-only ($owners)" \
  [ "$owners" = "$EXIM_USER 600 $EXIM_USER 700 " ]
chmod 777 "$U/spool/cache"
out=$(be "\${dlfunc{$T/lib/sts_exim.so}{exim_sts_policy}{$T/sts-umask.conf}{enf-ok.test}}")
check "a world-writable cache directory is refused, naming it ($out)" \
  grep -qF "cannot use cache_dir $U/spool/cache" <<<"$out"
chmod 700 "$U/spool/cache"

# STS_EXIM_HOLD=1 keeps everything running here until $T/hold is removed.
if [ -n "${STS_EXIM_HOLD:-}" ]; then
  touch "$T/hold"
  echo "holding: T=$T; rm $T/hold to continue"
  while [ -e "$T/hold" ]; do sleep 1; done
fi

# ---- throughput ------------------------------------------------------------------------------
bench() { # bench CONF: deliver BENCH_N queued messages to enf-ok.test, print "WALL CPU" seconds
  local conf=$1 i
  rm -rf "$S/spool/input" "$S/spool/msglog" "$S/spool/db"
  for i in $(seq "$BENCH_N"); do
    printf 'Subject: bench %s\n\nbody\n' "$i" | sx -C "$conf" -odq -f sender@sender.test "bench$i@enf-ok.test" || return 1
  done
  # CPU time (user + system of the queue run and every delivery process
  # it waited for) is less disturbed by other load on the machine than
  # the wall time, but leaves out time spent waiting (fsync).
  python3 -c '
import resource, subprocess, sys, time
r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.monotonic()
rc = subprocess.call(sys.argv[1:])
t1 = time.monotonic(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f" % (t1 - t0, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)))
sys.exit(rc)' unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" "$EXIM" -C "$conf" -qff
}
if [ "$BENCH_N" -gt 0 ]; then
  echo "# throughput: $BENCH_N messages per run, one queue run each, to mx1.enf-ok.test with TLS"
  echo "# (three rounds, alternating; the fastest run of each configuration counts)"
  before=$(grep -c ' <= ' "$T/sink/log/mainlog")
  times=()
  for round in 1 2 3; do
    line="round $round (wall, CPU):"
    for c in plain baseline exim exim-nosync; do
      t=$(bench "$S/$c.conf") || t=""
      line="$line $c ${t:-failed} s;"
      times+=("${t:-0 0}")
    done
    echo "$line"
  done
  settle
  after=$(grep -c ' <= ' "$T/sink/log/mainlog")
  check "all $((12 * BENCH_N)) benchmark messages received" [ $((after - before)) -eq $((12 * BENCH_N)) ]
  check "benchmark deliveries through baseline_tls and mta_sts_enforce all had CV=yes" \
    [ "$(grep -F '=> bench' "$S/log/mainlog" | grep -E 'T=(mta_sts_enforce|baseline_tls)' | grep -cF 'CV=yes')" -eq $((9 * BENCH_N)) ]
  # shellcheck disable=SC2068
  python3 - "$BENCH_N" ${times[@]} <<'PY'
import sys
n = int(sys.argv[1])
v = [float(x) for x in sys.argv[2:]]
wall, cpu = v[0::2], v[1::2]
best = [min(wall[i::4]) for i in range(4)]
best_cpu = [min(cpu[i::4]) for i in range(4)]
names = ["plain dnslookup + remote_smtp (no verification)",
         "baseline: same TLS verification and DANE, no libsts",
         "MTA-STS enforce, warm cache, TLSRPT fsync",
         "MTA-STS enforce, warm cache, report_sync = no"]
for name, b, c in zip(names, best, best_cpu):
    print("throughput: %-52s %5.1f deliveries/s (%.2f ms each, CPU %.2f ms)" % (name, n / b, 1000 * b / n, 1000 * c / n))
for i in (2, 3):
    print("throughput: %s vs baseline: %+.2f ms (%+.1f %%) per delivery, CPU %+.2f ms (%+.1f %%)"
          % (names[i].split(", ", 1)[1], 1000 * (best[i] - best[1]) / n, 100 * (best[i] - best[1]) / best[1],
             1000 * (best_cpu[i] - best_cpu[1]) / n, 100 * (best_cpu[i] - best_cpu[1]) / best_cpu[1]))
PY
fi

# ---- teardown checks ------------------------------------------------------------------------
# Exim itself logs "exim user lost privilege for using -C option" there,
# and a failed "interface" expansion (case c9) goes to the panic log too.
grep -v -e 'lost privilege for using -C' -e 'c9@enf-pref.test.*MTA-STS: MX host' -e 'cannot use cache_dir' "$S/log/paniclog" >"$T/panic" 2>/dev/null
if [ -s "$T/panic" ]; then
  echo "--- sender paniclog"; cat "$T/panic"
fi
check "sender paniclog has nothing unexpected" [ ! -s "$T/panic" ]
if [ "$failed" -gt 0 ]; then
  echo "--- sender mainlog (tail)"; tail -40 "$S/log/mainlog"
  echo "--- sink mainlog (tail)"; tail -20 "$T/sink/log/mainlog"
  echo "--- reports"; grep -rh . "$T/reports" | cut -f5,8,9,11 | head -20
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
