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

# shellcheck source=tests/lib/loopback.sh
. "$REPO/tests/lib/loopback.sh"

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
POSTFIX_UP=""
cleanup() {
  if [ -n "$POSTFIX_UP" ]; then "$PF/usr/sbin/postfix" -c "$D/etc" stop >/dev/null 2>&1; fi
  stop_started
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
make_ca "libsts Postfix test CA" || die "CA"
cert $NET.11 mx1.enf-ok.test mx1.tst-notls.test || die "cert"
cert $NET.12 mx1.enf-pref.test a.b.ok.enf-pref.test || die "cert"
cert $NET.13 mx2.ok.enf-pref.test || die "cert"
cert $NET.14 wrong.test || die "cert"
DOMAINS=$SHARED_DOMAINS
# shellcheck disable=SC2086
policy_cert $DOMAINS || die "cert"
chmod 644 "$T/ca/ca.pem" "$T"/certs/*

# ---- DNS ----------------------------------------------------------------------
change_id=1
write_unbound() {
  {
    unbound_server_conf "$NET.1" "$T/unbound"
    shared_zone_data "$change_id"
    for d in $DOMAINS; do echo "  local-data: \"mta-sts.$d. 60 IN A $NET.2\""; done
    unbound_control_off
  } >"$T/unbound/unbound.conf"
}
start_unbound
printf 'nameserver %s.1\noptions attempts:1 timeout:1\n' $NET >"$T/resolv.conf"
chmod 644 "$T/resolv.conf"

# ---- the HTTPS policy host -----------------------------------------------------
shared_policies
start_policy_host

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
