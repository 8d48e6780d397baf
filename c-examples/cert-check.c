/*
 * cert-check: is this certificate chain valid for this MX host?
 *
 *   cert-check CHAIN ROOTS MX-HOST [NOW]          WebPKI (RFC 8461 §4.2)
 *   cert-check --dane CHAIN TLSA-FILE MX-HOST [NOW]   DANE-TLSA (RFC 7672)
 *
 * CHAIN and ROOTS are PEM files (any number of CERTIFICATE blocks; the
 * first of CHAIN is the MX host's certificate) or a single DER
 * certificate. TLSA-FILE has one record per line: "usage selector
 * matching-type hex-data" ("3 1 1 0a1b..."). NOW is seconds since 1970
 * (default: the current time).
 *
 * Prints the verdict and, for a failure, the TLSRPT result type (RFC 8460
 * §4.3) to report. Exit status: 0 valid, 1 invalid, 3 usage or I/O error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts.h"

#define MAX_FILE (1024 * 1024)
#define MAX_ITEMS 256

struct items {
  uint8_t *ptr[MAX_ITEMS];
  size_t len[MAX_ITEMS];
  size_t n;
};

static void die(const char *what) {
  perror(what);
  exit(3);
}

static uint8_t *read_file(const char *path, size_t *len) {
  uint8_t *buf = malloc(MAX_FILE + 1);
  FILE *f = fopen(path, "rb");
  if (buf == NULL) {
    die("malloc");
  }
  if (f == NULL) {
    die(path);
  }
  *len = fread(buf, 1, MAX_FILE + 1, f);
  if (ferror(f) || *len > MAX_FILE) {
    fprintf(stderr, "%s: unreadable or larger than %d bytes\n", path, MAX_FILE);
    exit(3);
  }
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static int b64(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes base64 from `in` until `end`, skipping whitespace. */
static size_t base64_decode(const char *in, const char *end, uint8_t *out) {
  size_t n = 0;
  unsigned acc = 0;
  int bits = 0;
  for (; in < end; in++) {
    int v = b64((unsigned char)*in);
    if (v < 0) {
      continue; /* whitespace and '=' padding */
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (uint8_t)(acc >> bits);
    }
  }
  return n;
}

static void add(struct items *it, uint8_t *p, size_t len) {
  if (it->n == MAX_ITEMS) {
    fprintf(stderr, "more than %d items\n", MAX_ITEMS);
    exit(3);
  }
  it->ptr[it->n] = p;
  it->len[it->n] = len;
  it->n++;
}

/* PEM (CERTIFICATE blocks) or one DER certificate. An empty file is an
 * empty list. */
static void load_certs(const char *path, struct items *it) {
  static const char begin[] = "-----BEGIN CERTIFICATE-----";
  static const char end[] = "-----END CERTIFICATE-----";
  size_t len;
  uint8_t *buf = read_file(path, &len);
  const char *p = (const char *)buf;
  if (len == 0) {
    free(buf);
    return;
  }
  if (strstr(p, begin) == NULL) {
    add(it, buf, len);
    return;
  }
  while ((p = strstr(p, begin)) != NULL) {
    const char *e = strstr(p, end);
    uint8_t *der;
    if (e == NULL) {
      fprintf(stderr, "%s: unterminated PEM block\n", path);
      exit(3);
    }
    p += sizeof begin - 1;
    der = malloc((size_t)(e - p));
    if (der == NULL) {
      die("malloc");
    }
    add(it, der, base64_decode(p, e, der));
    p = e + sizeof end - 1;
  }
  free(buf);
}

/* "usage selector matching hex" per line into TLSA RDATA. */
static void load_tlsa(const char *path, struct items *it) {
  size_t len;
  uint8_t *buf = read_file(path, &len);
  char *line = strtok((char *)buf, "\n");
  for (; line != NULL; line = strtok(NULL, "\n")) {
    unsigned u, s, m;
    int used = 0;
    size_t hexlen, i, n = 3;
    uint8_t *rdata;
    if (sscanf(line, "%u %u %u %n", &u, &s, &m, &used) != 3 || u > 255 || s > 255 || m > 255) {
      continue;
    }
    hexlen = strlen(line + used);
    rdata = malloc(3 + hexlen / 2 + 1);
    if (rdata == NULL) {
      die("malloc");
    }
    rdata[0] = (uint8_t)u;
    rdata[1] = (uint8_t)s;
    rdata[2] = (uint8_t)m;
    for (i = 0; i + 1 < hexlen && isxdigit((unsigned char)line[used + i]); i += 2) {
      char hex[3] = {line[used + i], line[used + i + 1], 0};
      rdata[n++] = (uint8_t)strtoul(hex, NULL, 16);
    }
    add(it, rdata, n);
  }
  free(buf);
}

static void free_items(struct items *it) {
  size_t i;
  for (i = 0; i < it->n; i++) {
    free(it->ptr[i]);
  }
}

int main(int argc, char **argv) {
  static struct items chain, anchors;
  int dane = argc > 1 && strcmp(argv[1], "--dane") == 0;
  char **arg = argv + 1 + dane;
  int nargs = argc - 1 - dane;
  uint64_t now;
  sts_result r;
  const char *type;

  if (nargs != 3 && nargs != 4) {
    fprintf(stderr, "usage: %s CHAIN ROOTS MX-HOST [NOW]\n       %s --dane CHAIN TLSA-FILE MX-HOST [NOW]\n", argv[0],
            argv[0]);
    return 3;
  }
  now = nargs == 4 ? (uint64_t)strtoull(arg[3], NULL, 10) : (uint64_t)time(NULL);
  load_certs(arg[0], &chain);
  if (dane) {
    load_tlsa(arg[1], &anchors);
    r = sts_dane_verify((const uint8_t *const *)chain.ptr, chain.len, chain.n, (const uint8_t *const *)anchors.ptr,
                        anchors.len, anchors.n, arg[2], now);
  } else {
    load_certs(arg[1], &anchors);
    r = sts_cert_verify((const uint8_t *const *)chain.ptr, chain.len, chain.n, (const uint8_t *const *)anchors.ptr,
                        anchors.len, anchors.n, arg[2], now);
  }
  free_items(&chain);
  free_items(&anchors);

  if (r == STS_OK) {
    printf("%s: valid (%s)\n", arg[2], dane ? "DANE" : "WebPKI");
    return 0;
  }
  type = sts_result_tlsrpt_type(r);
  printf("%s: invalid (%s: %s)\n", arg[2], sts_result_name(r), sts_result_str(r));
  printf("tlsrpt-result-type: %s\n", type ? type : "none");
  return 1;
}
