#!/usr/bin/env bash
# End-to-end test of `sts serve` with a real Postfix (Debian 12: 3.7.11).
#
#   tests/postfix/run.sh [STS_BINARY]
#
# STS_BINARY is the `sts` command (default: target/release/sts, then
# target/debug/sts of this repository; or $STS_BIN). Run as root; needs
# unbound, openssl, python3, unshare (util-linux) and apt-get (to fetch the
# postfix .deb). Postfix is not installed: its .deb is unpacked into a work
# directory (exim4 and postfix conflict as packages), and the sending
# Postfix runs in a mount namespace whose /etc/resolv.conf points at the
# test DNS. The users `postfix` and group `postdrop` are created if
# missing. Everything listens on 127.0.26.0/24 and is stopped at the end:
#
#   127.0.26.1:53     unbound with the test zones
#   127.0.26.2:443    HTTPS policy host (tests/exim/policy_server.py, test CA)
#   127.0.26.3:8461   sts serve (socketmap), :9461 its metrics
#   127.0.26.30:2525  the sending Postfix's smtpd (submission for the test)
#   127.0.26.11-15    SMTP sinks on port 25 (sink.py), a certificate per
#                     address; .15 offers no STARTTLS
#
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STS=${1:-${STS_BIN:-}}
if [ -z "$STS" ]; then
  for c in "$REPO/target/release/sts" "$REPO/target/debug/sts"; do
    [ -x "$c" ] && STS=$c && break
  done
fi
NET=127.0.26
DEB_DIR=${STS_POSTFIX_DEB_DIR:-$REPO/target/postfix-deb}

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
die() { echo "error: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }

# ---- prerequisites --------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (SMTP sinks on port 25, mount namespace, postfix user)"
[ -n "$STS" ] && [ -x "$STS" ] || die "no sts binary: cargo build --release -p sts-cli, or pass its path"
UNBOUND=$(command -v unbound || true)
[ -n "$UNBOUND" ] || die "unbound not found (apt-get install -y unbound)"
for c in openssl python3 unshare ss; do
  command -v $c >/dev/null || die "$c not found"
done
for a in 1 2 3 11 12 13 14 15 30; do
  if ss -Hltn "src $NET.$a" 2>/dev/null | grep -q .; then die "something already listens on $NET.$a"; fi
done

T=$(mktemp -d /tmp/sts-postfix-e2e.XXXXXX) || die "mktemp failed"
chmod 755 "$T"
PF=$T/pf
D=$T/inst
PIDS=()
POSTFIX_UP=""
cleanup() {
  local p
  if [ -n "$POSTFIX_UP" ]; then "$PF/usr/sbin/postfix" -c "$D/etc" stop >/dev/null 2>&1; fi
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Postfix from its .deb ------------------------------------------------------
mkdir -p "$DEB_DIR"
if ! ls "$DEB_DIR"/postfix_*.deb >/dev/null 2>&1; then
  (cd "$DEB_DIR" && apt-get download postfix >/dev/null 2>&1) ||
    { apt-get update -qq >/dev/null 2>&1; (cd "$DEB_DIR" && apt-get download postfix >/dev/null 2>&1); } ||
    die "apt-get download postfix failed"
fi
dpkg -x "$(ls "$DEB_DIR"/postfix_*.deb | head -1)" "$PF" || die "dpkg -x postfix failed"
getent group postdrop >/dev/null || groupadd --system postdrop || die "groupadd postdrop"
getent passwd postfix >/dev/null || useradd --system --user-group --home-dir /nonexistent \
  --no-create-home --shell /usr/sbin/nologin postfix || die "useradd postfix"
export LD_LIBRARY_PATH=$PF/usr/lib/postfix
"$PF/usr/sbin/postconf" -c "$PF/etc/postfix" -d mail_version 2>/dev/null | grep -q '= 3\.' ||
  die "the unpacked postfix does not run"
ok "postfix $("$PF/usr/sbin/postconf" -c "$PF/etc/postfix" -dh mail_version 2>/dev/null) unpacked"

# ---- certificates -----------------------------------------------------------
mkdir -p "$T/ca" "$T/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=libsts Postfix test CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout "$T/ca/ca.key" -out "$T/ca/ca.pem" 2>/dev/null || die "CA"
cert() { # cert NAME SAN...
  local name=$1; shift
  local san="" h
  for h in "$@"; do san="$san${san:+,}DNS:$h"; done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$T/certs/$name.key" -out "$T/certs/$name.csr" 2>/dev/null &&
  openssl x509 -req -in "$T/certs/$name.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial \
    -days 1 -out "$T/certs/$name.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") 2>/dev/null
}
cert $NET.11 mx1.enf-ok.test mx1.tst-notls.test || die "cert"
cert $NET.12 mx1.enf-pref.test a.b.ok.enf-pref.test || die "cert"
cert $NET.13 mx2.ok.enf-pref.test || die "cert"
cert $NET.14 wrong.test || die "cert"
DOMAINS="enf-ok.test enf-pref.test enf-none.test enf-badcert.test tst-badcert.test enf-notls.test change.test"
POLICY_SANS=""
for d in $DOMAINS; do POLICY_SANS="$POLICY_SANS mta-sts.$d"; done
# shellcheck disable=SC2086
cert policy $POLICY_SANS || die "cert"
chmod 644 "$T/ca/ca.pem" "$T"/certs/*

# ---- DNS ----------------------------------------------------------------------
mkdir -p "$T/unbound"
change_id=1
write_unbound() {
  {
    cat <<EOF
server:
  interface: $NET.1
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$T/unbound"
  pidfile: ""
  use-syslog: no
  verbosity: 0
  do-ip6: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "." static
  local-zone: "test." static
  local-data: "enf-ok.test. 60 IN MX 10 mx1.enf-ok.test."
  local-data: "mx1.enf-ok.test. 60 IN A $NET.11"
  local-data: '_mta-sts.enf-ok.test. 60 IN TXT "v=STSv1; id=ok1;"'
  local-data: "enf-pref.test. 60 IN MX 10 mx1.enf-pref.test."
  local-data: "enf-pref.test. 60 IN MX 15 a.b.ok.enf-pref.test."
  local-data: "enf-pref.test. 60 IN MX 20 mx2.ok.enf-pref.test."
  local-data: "mx1.enf-pref.test. 60 IN A $NET.12"
  local-data: "a.b.ok.enf-pref.test. 60 IN A $NET.12"
  local-data: "mx2.ok.enf-pref.test. 60 IN A $NET.13"
  local-data: '_mta-sts.enf-pref.test. 60 IN TXT "v=STSv1; id=pref1;"'
  local-data: "enf-none.test. 60 IN MX 10 mx1.enf-none.test."
  local-data: "mx1.enf-none.test. 60 IN A $NET.11"
  local-data: '_mta-sts.enf-none.test. 60 IN TXT "v=STSv1; id=none1;"'
  local-data: "enf-badcert.test. 60 IN MX 10 mx1.enf-badcert.test."
  local-data: "mx1.enf-badcert.test. 60 IN A $NET.14"
  local-data: '_mta-sts.enf-badcert.test. 60 IN TXT "v=STSv1; id=bad1;"'
  local-data: "tst-badcert.test. 60 IN MX 10 mx1.tst-badcert.test."
  local-data: "mx1.tst-badcert.test. 60 IN A $NET.14"
  local-data: '_mta-sts.tst-badcert.test. 60 IN TXT "v=STSv1; id=tst1;"'
  local-data: "enf-notls.test. 60 IN MX 10 mx1.enf-notls.test."
  local-data: "mx1.enf-notls.test. 60 IN A $NET.15"
  local-data: '_mta-sts.enf-notls.test. 60 IN TXT "v=STSv1; id=notls1;"'
  local-data: "nopolicy.test. 60 IN MX 10 mx1.nopolicy.test."
  local-data: "mx1.nopolicy.test. 60 IN A $NET.15"
  local-data: "change.test. 60 IN MX 10 mx1.change.test."
  local-data: "mx1.change.test. 60 IN A $NET.15"
  local-data: '_mta-sts.change.test. 60 IN TXT "v=STSv1; id=change$change_id;"'
EOF
    for d in $DOMAINS; do echo "  local-data: \"mta-sts.$d. 60 IN A $NET.2\""; done
    printf 'remote-control:\n  control-enable: no\n'
  } >"$T/unbound/unbound.conf"
}
UNBOUND_PID=""
start_unbound() {
  write_unbound
  "$UNBOUND" -d -c "$T/unbound/unbound.conf" >"$T/unbound/log" 2>&1 &
  UNBOUND_PID=$!
  PIDS+=("$UNBOUND_PID")
  local i
  for i in $(seq 50); do
    ss -Hlun "src $NET.1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  cat "$T/unbound/log"
  die "unbound did not start"
}
stop_unbound() {
  kill "$UNBOUND_PID" 2>/dev/null
  wait "$UNBOUND_PID" 2>/dev/null
  local i
  for i in $(seq 50); do
    ss -Hlun "src $NET.1" 2>/dev/null | grep -q . || return 0
    sleep 0.1
  done
}
start_unbound
printf 'nameserver %s.1\noptions attempts:1 timeout:1\n' $NET >"$T/resolv.conf"
chmod 644 "$T/resolv.conf"

# ---- the HTTPS policy host -----------------------------------------------------
policy() { # policy DOMAIN MODE MX...
  local d=$1 mode=$2; shift 2
  mkdir -p "$T/www/mta-sts.$d/.well-known"
  {
    printf 'version: STSv1\nmode: %s\n' "$mode"
    local m
    for m in "$@"; do printf 'mx: %s\n' "$m"; done
    printf 'max_age: 86400\n'
  } >"$T/www/mta-sts.$d/.well-known/mta-sts.txt"
}
policy enf-ok.test enforce mx1.enf-ok.test
policy enf-pref.test enforce "*.ok.enf-pref.test"
policy enf-none.test enforce mx.elsewhere.test
policy enf-badcert.test enforce mx1.enf-badcert.test
policy tst-badcert.test testing mx1.tst-badcert.test
policy enf-notls.test enforce mx1.enf-notls.test
policy change.test enforce mx1.change.test
python3 "$REPO/tests/exim/policy_server.py" $NET.2 443 "$T/certs/policy.crt" "$T/certs/policy.key" "$T/www" \
  >"$T/policy.out" 2>"$T/policy.log" &
PIDS+=("$!")
for i in $(seq 50); do grep -q ready "$T/policy.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$T/policy.out" || { cat "$T/policy.log"; die "policy host did not start"; }

# ---- SMTP sinks ---------------------------------------------------------------
C=$T/certs
python3 "$HERE/sink.py" "$T/sink.log" \
  $NET.11:25=$C/$NET.11.crt,$C/$NET.11.key $NET.12:25=$C/$NET.12.crt,$C/$NET.12.key \
  $NET.13:25=$C/$NET.13.crt,$C/$NET.13.key $NET.14:25=$C/$NET.14.crt,$C/$NET.14.key \
  $NET.15:25=plain >"$T/sink.out" 2>"$T/sink.err" &
PIDS+=("$!")
for i in $(seq 50); do grep -q ready "$T/sink.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$T/sink.out" || { cat "$T/sink.err"; die "sinks did not start"; }

# ---- sts serve ------------------------------------------------------------------
SERVE_PID=""
start_serve() {
  "$STS" serve --socketmap inet:$NET.3:8461 --metrics inet:$NET.3:9461 \
    --dns-server $NET.1 --ca-file "$T/ca/ca.pem" --cache "$T/cache" --report-dir "$T/tlsrpt" \
    --timeout 3 --recheck 1 --answer-ttl 1 -v >>"$T/serve.log" 2>&1 &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  local i
  for i in $(seq 100); do
    ss -Hltn "src $NET.3" 2>/dev/null | grep -q ':8461' && return 0
    sleep 0.1
  done
  cat "$T/serve.log"
  die "sts serve did not start"
}
start_serve

# ---- the sending Postfix ----------------------------------------------------------
mkdir -p "$D/etc" "$D/spool" "$D/log" && chmod 755 "$D" "$D/etc" "$D/spool" "$D/log"
cat >"$D/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $D/spool
data_directory = $D/data
daemon_directory = $PF/usr/lib/postfix/sbin
command_directory = $PF/usr/sbin
shlib_directory = $PF/usr/lib/postfix
meta_directory = $PF/etc/postfix
sample_directory = $PF/etc/postfix
sendmail_path = $PF/usr/sbin/sendmail
newaliases_path = $PF/usr/bin/newaliases
mailq_path = $PF/usr/bin/mailq
manpage_directory = $PF/usr/share/man
html_directory = no
readme_directory = no
mail_owner = postfix
setgid_group = postdrop
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_LIBRARY_PATH
export_environment = TZ MAIL_CONFIG LANG LD_LIBRARY_PATH
maillog_file = $D/log/maillog
maillog_file_prefixes = $D/log
myhostname = postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
biff = no
default_process_limit = 10
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
smtp_tls_security_level = may
smtp_tls_CAfile = $T/ca/ca.pem
smtp_tls_loglevel = 1
# What integrations/postfix/main.cf.snippet says for Postfix before 3.10:
smtp_tls_policy_maps = socketmap:inet:$NET.3:8461:postfix
EOF
cat >"$D/etc/master.cf" <<EOF
$NET.30:2525 inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
scache    unix  -       -       n       -       1       scache
anvil     unix  -       -       n       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
PFX="$PF/usr/sbin"
"$PFX/postfix" -c "$D/etc" check >/dev/null 2>&1 || true
unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' ns "$T/resolv.conf" \
  "$PFX/postfix" -c "$D/etc" start >/dev/null 2>&1 || { cat "$D/log/maillog" 2>/dev/null; die "postfix start failed"; }
POSTFIX_UP=1
for i in $(seq 100); do
  ss -Hltn "src $NET.30" 2>/dev/null | grep -q ':2525' && break
  sleep 0.1
done
ss -Hltn "src $NET.30" 2>/dev/null | grep -q ':2525' || { cat "$D/log/maillog"; die "postfix smtpd not listening"; }
ok "postfix started in a mount namespace with the test resolv.conf"

L=$D/log/maillog
send() { python3 "$HERE/send_wait.py" $NET.30:2525 "$L" "$@"; }
# The log lines of one queue id.
qlog() { grep -F " $1: " "$L"; }
flush_queue() { "$PFX/postsuper" -c "$D/etc" -d ALL >/dev/null 2>&1; }
sink_lines() { grep -c "^$NET.$1:25 accepted" "$T/sink.log"; }
sink_has() { grep -q "^$NET.$1:25 accepted .*to=<$2>" "$T/sink.log"; }

# ---- cases --------------------------------------------------------------------------
# a. enforce, permitted MX, good certificate: delivered, verified.
out=$(send user@enf-ok.test); q=${out%% *}
check "a: enforce + permitted MX + good cert -> delivered ($out)" [ "${out#* }" = sent ]
check "a: certificate verified for mx1.enf-ok.test" grep -q "Verified TLS connection established to mx1.enf-ok.test\[$NET.11\]" "$L"
check "a: the sink got it over TLS with SNI mx1.enf-ok.test" sink_has 11 user@enf-ok.test
check "a: sts serve answered secure with the exact MX name" \
  grep -q "postfix enf-ok.test: OK secure match=mx1.enf-ok.test servername=hostname" "$T/serve.log"

# b. enforce, lowest-preference MX not permitted (valid certificate for its
#    own name), nor a two-label name under the one-label wildcard: the
#    permitted MX gets the mail.
n12=$(sink_lines 12)
out=$(send user@enf-pref.test); q=${out%% *}
check "b: delivered to the permitted MX ($out)" [ "${out#* }" = sent ]
check "b: relay was mx2.ok.enf-pref.test" bash -c "grep -F ' $q: to=<user@enf-pref.test>' '$L' | grep -q 'relay=mx2.ok.enf-pref.test\[$NET.13\]'"
check "b: the not-permitted MX got no mail" [ "$(sink_lines 12)" = "$n12" ]
check "b: sink .13 got it" sink_has 13 user@enf-pref.test
check "b: match= lists only mx2.ok.enf-pref.test (*. is one label, never .suffix)" \
  grep -q "postfix enf-pref.test: OK secure match=mx2.ok.enf-pref.test servername=hostname" "$T/serve.log"

# c. enforce, no MX permitted: deferred, the log names MTA-STS.
out=$(send user@enf-none.test); q=${out%% *}
check "c: no MX permitted -> deferred ($out)" [ "${out#* }" = deferred ]
check "c: Postfix logged the MTA-STS reason" grep -q "socketmap server temporary error: MTA-STS policy of enf-none.test" "$L"
flush_queue

# d. enforce, certificate for another name; receiver without STARTTLS.
out=$(send user@enf-badcert.test)
check "d: enforce + wrong certificate name -> deferred ($out)" [ "${out#* }" = deferred ]
check "d: Postfix: server certificate not verified" grep -q "status=deferred (Server certificate not verified)" "$L"
out=$(send user@enf-notls.test)
check "d: enforce + no STARTTLS -> deferred ($out)" [ "${out#* }" = deferred ]
check "d: Postfix: TLS required but not offered" grep -q "TLS is required, but was not offered by host mx1.enf-notls.test" "$L"
check "d: neither sink accepted the enforce mail" bash -c "! grep -q 'accepted .*enf-\(badcert\|notls\)' '$T/sink.log'"
flush_queue

# e. testing mode with the same faults, and no policy: delivered.
out=$(send user@tst-badcert.test)
check "e: testing + wrong certificate name -> delivered ($out)" [ "${out#* }" = sent ]
check "e: sts serve answered NOTFOUND for testing" grep -q "postfix tst-badcert.test: NOTFOUND" "$T/serve.log"
out=$(send user@nopolicy.test)
check "e: no policy + no STARTTLS -> delivered as before ($out)" [ "${out#* }" = sent ]
check "e: Postfix also probed the parent domain and got NOTFOUND" grep -q "postfix .test: not a domain\|postfix \"\.test\"" "$T/serve.log"

# f. the policy id changes to mode none: delivered after the change.
out=$(send user@change.test); q=${out%% *}
check "f: enforce + no STARTTLS -> deferred before the change ($out)" [ "${out#* }" = deferred ]
policy change.test none
stop_unbound
change_id=2
start_unbound
for i in $(seq 300); do
  qlog "$q" | grep -q 'status=sent' && break
  sleep 0.1
done
check "f: after the id changed to mode none the queued mail was delivered" bash -c "grep -F ' $q: ' '$L' | grep -q status=sent"
check "f: sts serve fetched the new policy in the background" grep -q "change.test: background refresh: refreshed (policy id change1 -> change2)" "$T/serve.log"

# g. sts serve killed mid-run: deferred, nothing bounces; restarted: the queue drains.
kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
out=$(send user@enf-ok.test); q=${out%% *}
check "g: sts serve down -> deferred ($out)" [ "${out#* }" = deferred ]
check "g: Postfix logged the policy table lookup error" grep -q "socketmap:inet:$NET.3:8461:postfix lookup error" "$L"
start_serve
"$PFX/postqueue" -c "$D/etc" -f >/dev/null 2>&1
for i in $(seq 300); do qlog "$q" | grep -q 'status=sent' && break; sleep 0.1; done
check "g: restarted -> the queue drained" bash -c "grep -F ' $q: ' '$L' | grep -q status=sent"
check "g: nothing bounced in the whole run" bash -c "! grep -q 'status=bounced' '$L'"

# The TLSRPT store and metrics of the server.
m=$(python3 -c "import urllib.request;print(urllib.request.urlopen('http://$NET.3:9461/metrics',timeout=5).read().decode())")
check "metrics: requests counted" grep -q 'sts_serve_requests_total{answer="secure"} [1-9]' <<<"$m"

# SIGTERM: exit 0.
kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; rc=$?
check "sts serve exits 0 on SIGTERM (rc $rc)" [ "$rc" = 0 ]

"$PFX/postfix" -c "$D/etc" stop >/dev/null 2>&1 && POSTFIX_UP=""
if [ "$failed" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
  echo "== maillog"; grep -v -E 'smtpd\[|cleanup\[|postfix-script' "$L" | tail -80
  echo "== sinks"; cat "$T/sink.log"
  echo "== sts serve"; tail -60 "$T/serve.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
