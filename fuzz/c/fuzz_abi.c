/*
 * libFuzzer harness for the C ABI of libsts: the first byte picks the entry
 * point, the rest is the input, copied into a buffer of exactly its size so
 * that AddressSanitizer catches any read past the end. Built with clang
 * -fsanitize=fuzzer,address,undefined by scripts/fuzz-c.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A caught Rust panic (STS_ERR_PANIC) is a bug in libsts: make it a crash
 * that libFuzzer reports. */
static sts_result no_panic(sts_result r) {
  if (r == STS_ERR_PANIC) {
    abort();
  }
  return r;
}

/* A NUL-terminated copy of bytes [from, to). */
static char *cstring(const uint8_t *from, const uint8_t *to) {
  size_t n = (size_t)(to - from);
  char *s = malloc(n + 1);
  if (s == NULL) {
    abort();
  }
  memcpy(s, from, n);
  s[n] = '\0';
  return s;
}

static void fuzz_policy(const uint8_t *in, size_t n) {
  sts_policy p;
  const uint8_t *name;
  size_t len, i;
  if (no_panic(sts_policy_parse(in, n, &p)) != STS_OK) {
    return;
  }
  if (p.mode > STS_MODE_ENFORCE || p.max_age > 31557600) {
    abort();
  }
  for (i = 0; i < p.mx_count; i++) {
    char *host;
    sts_result r;
    if (no_panic(sts_policy_mx(&p, i, &name, &len)) != STS_OK || name < in || name + len > in + n) {
      abort();
    }
    /* Every pattern permits a host built from it. */
    host = cstring(name, name + len);
    if (host[0] == '*') {
      host[0] = 'x';
    }
    r = no_panic(sts_policy_match_mx(&p, host));
    if (r != STS_OK && r != STS_ERR_MX_IP_LITERAL) {
      abort();
    }
    free(host);
  }
  if (no_panic(sts_policy_mx(&p, p.mx_count, &name, &len)) != STS_ERR_INDEX_OUT_OF_RANGE) {
    abort();
  }
}

static void fuzz_txt(const uint8_t *in, size_t n) {
  sts_txt_record t;
  const uint8_t *recs[8];
  size_t lens[8], k = 0, start = 0, i;
  if (no_panic(sts_txt_parse(in, n, &t)) == STS_OK && (t.id_len == 0 || t.id_len > 32 || t.id < in || t.id + t.id_len > in + n)) {
    abort();
  }
  for (i = 0; i <= n && k < 8; i++) {
    if (i == n || in[i] == 0) {
      recs[k] = in + start;
      lens[k] = i - start;
      k++;
      start = i + 1;
    }
  }
  (void)no_panic(sts_txt_select(recs, lens, k, &t));
}

static void fuzz_mx(const uint8_t *in, size_t n) {
  const uint8_t *nul = memchr(in, 0, n);
  char *pattern, *host;
  if (nul == NULL) {
    return;
  }
  pattern = cstring(in, nul);
  host = cstring(nul + 1, in + n);
  (void)no_panic(sts_mx_pattern_match(pattern, host));
  free(pattern);
  free(host);
}

static void fuzz_tlsrpt(const uint8_t *in, size_t n) {
  sts_tlsrpt_record r;
  const uint8_t *uri;
  size_t len, i;
  if (no_panic(sts_tlsrpt_parse(in, n, &r)) != STS_OK) {
    return;
  }
  for (i = 0; i < r.rua_count; i++) {
    if (no_panic(sts_tlsrpt_rua(&r, i, &uri, &len)) != STS_OK || uri < in || uri + len > in + n) {
      abort();
    }
  }
}

static void fuzz_dane(const uint8_t *in, size_t n) {
  /* [tlsa length byte][tlsa rdata][certificate DER] */
  const uint8_t *chain[1], *tlsa[1];
  size_t chain_len[1], tlsa_len[1];
  if (n < 1 || (size_t)in[0] + 1 > n) {
    return;
  }
  tlsa[0] = in + 1;
  tlsa_len[0] = in[0];
  chain[0] = in + 1 + in[0];
  chain_len[0] = n - 1 - in[0];
  (void)no_panic(sts_dane_verify(chain, chain_len, 1, tlsa, tlsa_len, 1, "mx.example.test", 1790000000u));
  (void)no_panic(sts_cert_verify(chain, chain_len, 1, chain, chain_len, 1, "mx.example.test", 1790000000u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *in;
  size_t n;
  if (size == 0) {
    return 0;
  }
  n = size - 1;
  in = malloc(n ? n : 1);
  if (in == NULL) {
    abort();
  }
  memcpy(in, data + 1, n);
  switch (data[0] % 5) {
  case 0: fuzz_policy(in, n); break;
  case 1: fuzz_txt(in, n); break;
  case 2: fuzz_mx(in, n); break;
  case 3: fuzz_tlsrpt(in, n); break;
  default: fuzz_dane(in, n); break;
  }
  free(in);
  return 0;
}
