#!/usr/bin/env bash
# Certificate and DANE cases through the C ABI: builds a throw-away test PKI
# with openssl, runs c-examples/cert-check (built against libsts.so, under
# valgrind, and against libsts.a) on each case, and compares the result
# name it prints with the expected one.
#
#   tests/c/cert-cases.sh BUILD-DIR
#
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
build=$(cd "${1:?usage: cert-cases.sh BUILD-DIR}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

ec() { openssl ecparam -name "${2:-prime256v1}" -genkey -noout -out "$1.key" 2>/dev/null; }

# ca NAME: a self-signed root.
ca() {
  ec "$1"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$1" -days 3650 -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# leaf NAME ISSUER EXT [DAYS] [KEYTYPE]: a certificate for NAME signed by ISSUER.
leaf() {
  local name=$1 issuer=$2 ext=$3 days=${4:-365}
  if [ "${5:-ec}" = rsa ]; then
    openssl genrsa -out "$name.key" 2048 2>/dev/null
  else
    ec "$name"
  fi
  openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr" 2>/dev/null
  printf '%b\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
    -days "$days" -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}

server="basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth"
ca root
ca other
leaf inter root "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign"
leaf good root "$server\nsubjectAltName=DNS:mx1.example.test"
leaf rsa root "$server\nsubjectAltName=DNS:mx1.example.test" 365 rsa
leaf viainter inter "$server\nsubjectAltName=DNS:mx1.example.test"
leaf wild root "$server\nsubjectAltName=DNS:*.example.test"
leaf cnonly root "$server"
leaf iponly root "$server\nsubjectAltName=IP:192.0.2.1"
cat viainter.pem inter.pem > chain.pem
: > empty.pem
head -c 300 /dev/urandom > garbage.der

now=$(date +%s)
day=86400

spki_hash() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst "-$2" -binary | od -An -v -tx1 | tr -d ' \n'; }
cert_hash() { openssl x509 -in "$1" -outform DER | openssl dgst "-$2" -binary | od -An -v -tx1 | tr -d ' \n'; }

echo "3 1 1 $(spki_hash good.pem sha256)" > ee311.tlsa
echo "3 0 1 $(cert_hash good.pem sha256)" > ee301.tlsa
echo "3 1 2 $(spki_hash good.pem sha512)" > ee312.tlsa
echo "3 1 1 $(spki_hash rsa.pem sha256)" > wrong311.tlsa
echo "2 0 1 $(cert_hash inter.pem sha256)" > ta201.tlsa
printf '0 1 1 %s\n1 1 1 %s\n' "$(spki_hash good.pem sha256)" "$(spki_hash good.pem sha256)" > pkix.tlsa
echo "3 1 1 0a0b0c" > truncated.tlsa
echo "3 1 9 $(spki_hash good.pem sha256)" > unknownmatch.tlsa

passed=0 failed=0
check() { # expected-name args...
  local want=$1 out got
  shift
  for bin in "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $build/cert-check-shared" "$build/cert-check-static"; do
    set +e
    out=$($bin "$@" 2>&1)
    status=$?
    set -e
    if [ $status -eq 0 ]; then got=STS_OK; else got=$(printf '%s\n' "$out" | sed -n 's/.*invalid (\(STS_[A-Z0-9_]*\):.*/\1/p' | head -1); fi
    if [ "$got" = "$want" ] && [ $status -ne 99 ] && [ $status -ne 3 ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "FAIL ($bin) $*: got ${got:-nothing} (exit $status), want $want"
      printf '%s\n' "$out" | sed 's/^/    /'
    fi
  done
}

# RFC 8461 §4.2 (WebPKI)
check STS_OK good.pem root.pem mx1.example.test "$now"
check STS_OK good.pem root.pem MX1.Example.Test. "$now"
check STS_OK rsa.pem root.pem mx1.example.test "$now"
check STS_OK chain.pem root.pem mx1.example.test "$now"
check STS_ERR_CERT_HOST_MISMATCH good.pem root.pem mx2.example.test "$now"
check STS_ERR_CERT_EXPIRED good.pem root.pem mx1.example.test $((now + 400 * day))
check STS_ERR_CERT_EXPIRED good.pem root.pem mx1.example.test $((now - 10 * day))
check STS_ERR_CERT_NOT_TRUSTED good.pem other.pem mx1.example.test "$now"
check STS_ERR_CERT_NOT_TRUSTED viainter.pem root.pem mx1.example.test "$now"
check STS_OK wild.pem root.pem mx1.example.test "$now"
check STS_ERR_CERT_HOST_MISMATCH wild.pem root.pem a.b.example.test "$now"
check STS_ERR_CERT_HOST_MISMATCH wild.pem root.pem example.test "$now"
check STS_ERR_CERT_HOST_MISMATCH cnonly.pem root.pem cnonly "$now"
check STS_ERR_CERT_HOST_MISMATCH iponly.pem root.pem mx1.example.test "$now"
check STS_ERR_CERT_BAD_HOST iponly.pem root.pem 192.0.2.1 "$now"
check STS_ERR_CERT_VALIDATION_FAILURE garbage.der root.pem mx1.example.test "$now"
check STS_ERR_CERT_EMPTY_CHAIN empty.pem root.pem mx1.example.test "$now"

# RFC 7672 (DANE)
check STS_OK --dane good.pem ee311.tlsa mx1.example.test "$now"
check STS_OK --dane good.pem ee311.tlsa any.other.name $((now + 4000 * day))
check STS_OK --dane good.pem ee301.tlsa mx1.example.test "$now"
check STS_OK --dane good.pem ee312.tlsa mx1.example.test "$now"
check STS_ERR_DANE_NO_MATCH --dane good.pem wrong311.tlsa mx1.example.test "$now"
check STS_OK --dane chain.pem ta201.tlsa mx1.example.test "$now"
check STS_ERR_DANE_HOST_MISMATCH --dane chain.pem ta201.tlsa mx2.example.test "$now"
check STS_ERR_DANE_TLSA_INVALID --dane good.pem pkix.tlsa mx1.example.test "$now"
check STS_ERR_DANE_TLSA_INVALID --dane good.pem truncated.tlsa mx1.example.test "$now"
check STS_ERR_DANE_TLSA_INVALID --dane good.pem unknownmatch.tlsa mx1.example.test "$now"
check STS_ERR_DANE_EMPTY_CHAIN --dane empty.pem ee311.tlsa mx1.example.test "$now"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
