# Shared set-up of the end-to-end tests that run real mail software on a
# loopback /24 (tests/exim/run.sh, tests/postfix/run.sh): the test counters,
# the process list and its cleanup, a throw-away CA and certificates,
# unbound with static test zones, and the HTTPS policy host.
#
# Sourced, not run. The sourcing script sets NET (e.g. 127.0.25) before
# calling anything here, T (its work directory) once it has made it, and
# UNBOUND (the unbound binary) and a function write_unbound (which writes
# $T/unbound/unbound.conf, usually with unbound_server_conf) before
# start_unbound. Every process started here is appended to PIDS, which
# stop_started kills and waits for.
# shellcheck shell=bash

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
die() { echo "error: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }

PIDS=()
# Kills and reaps what the test started, then removes $T unless KEEP is set.
stop_started() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}

# ---- certificates -------------------------------------------------------------
# make_ca CN: $T/ca/ca.pem and its key, valid for two days.
make_ca() {
  mkdir -p "$T/ca" "$T/certs"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$T/ca/ca.key" -out "$T/ca/ca.pem" 2>/dev/null
}
cert() { # cert NAME SAN...: $T/certs/NAME.crt and .key, signed by the CA
  local name=$1; shift
  local san="" h
  for h in "$@"; do san="$san${san:+,}DNS:$h"; done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$T/certs/$name.key" -out "$T/certs/$name.csr" 2>/dev/null &&
  openssl x509 -req -in "$T/certs/$name.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial \
    -days 1 -out "$T/certs/$name.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") 2>/dev/null
}
policy_cert() { # policy_cert DOMAIN...: the policy host's certificate, one mta-sts.DOMAIN each
  local d sans=()
  for d in "$@"; do sans+=("mta-sts.$d"); done
  cert policy "${sans[@]}"
}

# ---- DNS ----------------------------------------------------------------------
# unbound_server_conf ADDRESS DIRECTORY: the server: clause of an unbound
# that answers only from local-data (the caller's lines follow it) and
# refuses to recurse for anything else.
unbound_server_conf() {
  cat <<EOF
server:
  interface: $1
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$2"
  pidfile: ""
  use-syslog: no
  verbosity: 0
  do-ip6: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "." static
  local-zone: "test." static
EOF
}
unbound_control_off() { printf 'remote-control:\n  control-enable: no\n'; }

# shared_zone_data CHANGE_ID: the domains both mail tests deliver to, MX
# hosts on $NET.11-15 (the sinks): enforce with a permitted MX (enf-ok),
# MX preference and the one-label wildcard (enf-pref), no permitted MX
# (enf-none), a wrong certificate name (enf-badcert, tst-badcert in
# testing mode), no STARTTLS (enf-notls), no policy (nopolicy), and
# change.test, whose TXT id the test changes.
shared_zone_data() {
  cat <<EOF
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
  local-data: '_mta-sts.change.test. 60 IN TXT "v=STSv1; id=change$1;"'
EOF
}

UNBOUND_PID=""
start_unbound() { # on $NET.1:53, from what write_unbound writes
  mkdir -p "$T/unbound"
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
stop_unbound() { # and wait until its port is free for the next start_unbound
  kill "$UNBOUND_PID" 2>/dev/null
  wait "$UNBOUND_PID" 2>/dev/null
  local i
  for i in $(seq 50); do
    ss -Hlun "src $NET.1" 2>/dev/null | grep -q . || return 0
    sleep 0.1
  done
}

# ---- the HTTPS policy host ------------------------------------------------------
policy() { # policy DOMAIN MODE MX...: what mta-sts.DOMAIN serves
  local d=$1 mode=$2; shift 2
  mkdir -p "$T/www/mta-sts.$d/.well-known"
  {
    printf 'version: STSv1\nmode: %s\n' "$mode"
    local m
    for m in "$@"; do printf 'mx: %s\n' "$m"; done
    printf 'max_age: 86400\n'
  } >"$T/www/mta-sts.$d/.well-known/mta-sts.txt"
}
# The domains with a policy in shared_zone_data.
SHARED_DOMAINS="enf-ok.test enf-pref.test enf-none.test enf-badcert.test tst-badcert.test enf-notls.test change.test"
shared_policies() { # the policies of SHARED_DOMAINS
  policy enf-ok.test enforce mx1.enf-ok.test
  policy enf-pref.test enforce "*.ok.enf-pref.test"
  policy enf-none.test enforce mx.elsewhere.test
  policy enf-badcert.test enforce mx1.enf-badcert.test
  policy tst-badcert.test testing mx1.tst-badcert.test
  policy enf-notls.test enforce mx1.enf-notls.test
  policy change.test enforce mx1.change.test
}
start_policy_host() { # on $NET.2:443 with $T/certs/policy.crt, serving $T/www
  local here i
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  python3 "$here/../exim/policy_server.py" "$NET.2" 443 "$T/certs/policy.crt" "$T/certs/policy.key" "$T/www" \
    >"$T/policy.out" 2>"$T/policy.log" &
  PIDS+=("$!")
  for i in $(seq 50); do grep -q ready "$T/policy.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$T/policy.out" || { cat "$T/policy.log"; die "policy host did not start"; }
}
