/*
 * One libsts call repeated N times through the C ABI, for
 * scripts/callgrind.sh (the per-call cost of the boundary: compare with
 * the same operation on the Rust API, core/examples/bench_one.rs).
 *
 *   bench_abi OP N BENCH-DIR
 *
 * OP: parse:FILE (sts_policy_parse of BENCH-DIR/FILE.txt), match:FILE
 * (sts_policy_match_mx with the host of FILE in BENCH-DIR/hosts.tsv),
 * noop. Prints the number of successful calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts.h"

#define MAX_TEXT (1 << 20)

static unsigned char text[MAX_TEXT];
static char host[256];

static size_t read_file(const char *dir, const char *name) {
  char path[512];
  FILE *f;
  size_t n;
  snprintf(path, sizeof path, "%s/%s.txt", dir, name);
  if ((f = fopen(path, "rb")) == NULL) {
    perror(path);
    exit(2);
  }
  n = fread(text, 1, sizeof text, f);
  fclose(f);
  return n;
}

static void read_host(const char *dir, const char *name) {
  char path[512], line[512];
  FILE *f;
  size_t len = strlen(name);
  snprintf(path, sizeof path, "%s/hosts.tsv", dir);
  if ((f = fopen(path, "r")) == NULL) {
    perror(path);
    exit(2);
  }
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, name, len) == 0 && line[len] == '\t') {
      line[strcspn(line, "\r\n")] = '\0';
      snprintf(host, sizeof host, "%s", line + len + 1);
      fclose(f);
      return;
    }
  }
  fprintf(stderr, "%s: no host for %s\n", path, name);
  exit(2);
}

int main(int argc, char **argv) {
  /* volatile: the compiler may not hoist a call out of the loop. */
  volatile unsigned long ok = 0;
  unsigned long i, n;
  const char *op, *file;
  sts_policy p;
  size_t len;

  if (argc != 4) {
    fprintf(stderr, "usage: bench_abi OP N BENCH-DIR\n");
    return 2;
  }
  op = argv[1];
  n = strtoul(argv[2], NULL, 10);
  file = strchr(op, ':') != NULL ? strchr(op, ':') + 1 : "";
  if (strncmp(op, "parse:", 6) == 0) {
    len = read_file(argv[3], file);
    for (i = 0; i < n; i++) {
      ok += sts_policy_parse(text, len, &p) == STS_OK;
    }
  } else if (strncmp(op, "match:", 6) == 0) {
    len = read_file(argv[3], file);
    read_host(argv[3], file);
    if (sts_policy_parse(text, len, &p) != STS_OK || sts_policy_match_mx(&p, host) != STS_OK) {
      fprintf(stderr, "%s: policy or host does not match\n", file);
      return 1;
    }
    for (i = 0; i < n; i++) {
      ok += sts_policy_match_mx(&p, host) == STS_OK;
    }
  } else if (strcmp(op, "noop") == 0) {
    for (i = 0; i < n; i++) {
      ok += 1;
    }
  } else {
    fprintf(stderr, "unknown op %s\n", op);
    return 2;
  }
  printf("%lu\n", (unsigned long)ok);
  return ok == n ? 0 : 1;
}
