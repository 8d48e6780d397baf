/*
 * Runs the shared vectors (tests/vectors/abi.tsv) and the public corpus
 * (../shared/corpus) through the C ABI of libsts, so the C boundary is
 * checked on the same cases as the Rust tests.
 *
 *   vectors VECTORS.tsv [CORPUS-DIR]
 *
 * Prints one line per failure and ends with "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts.h"

#define MAX_LINE 65536
#define MAX_RECORDS 16

static int passed, failed;

static void fail(const char *where, const char *what, const char *got, const char *want) {
  failed++;
  printf("FAIL %s: %s: got %s, want %s\n", where, what, got, want);
}

/* Undoes \n \r \t \\ \0 \xHH in place; "\e" alone is the empty string. */
static size_t unescape(char *s) {
  size_t in = 0, out = 0;
  if (strcmp(s, "\\e") == 0) {
    s[0] = '\0';
    return 0;
  }
  while (s[in] != '\0') {
    char c = s[in++];
    if (c == '\\' && s[in] != '\0') {
      char e = s[in++];
      switch (e) {
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case '0': c = '\0'; break;
      case 'x': {
        char hex[3] = {0, 0, 0};
        hex[0] = s[in];
        hex[1] = hex[0] ? s[in + 1] : 0;
        c = (char)strtol(hex, NULL, 16);
        in += 2;
        break;
      }
      default: c = e; break;
      }
    }
    s[out++] = c;
  }
  s[out] = '\0';
  return out;
}

/* Copies a policy into a buffer of exactly its size, so that ASan and
 * valgrind see any read past the end. */
static uint8_t *exact_copy(const char *src, size_t len) {
  uint8_t *p = malloc(len ? len : 1);
  if (p == NULL) {
    perror("malloc");
    exit(2);
  }
  memcpy(p, src, len);
  return p;
}

static void append(char *dst, size_t cap, const char *fmt_s, const uint8_t *s, size_t n) {
  size_t used = strlen(dst);
  if (used < cap) {
    snprintf(dst + used, cap - used, fmt_s, (int)n, (const char *)s);
  }
}

static const char *mode_name(sts_mode m) {
  return m == STS_MODE_ENFORCE ? "enforce" : m == STS_MODE_TESTING ? "testing" : m == STS_MODE_NONE ? "none" : "?";
}

static sts_result run_policy(const uint8_t *in, size_t len, char *detail, size_t cap) {
  sts_policy p;
  const uint8_t *name;
  size_t n, i;
  sts_result r = sts_policy_parse(in, len, &p);
  if (r != STS_OK) {
    return r;
  }
  snprintf(detail, cap, "mode=%s max_age=%lu mx=", mode_name(p.mode), (unsigned long)p.max_age);
  for (i = 0; i < p.mx_count; i++) {
    if (sts_policy_mx(&p, i, &name, &n) != STS_OK) {
      return STS_ERR_PANIC;
    }
    append(detail, cap, i ? ",%.*s" : "%.*s", name, n);
  }
  if (sts_policy_mx(&p, p.mx_count, &name, &n) != STS_ERR_INDEX_OUT_OF_RANGE) {
    return STS_ERR_PANIC;
  }
  return r;
}

static void run_vector(const char *where, char **col) {
  char detail[4096] = "-";
  size_t len = unescape(col[1]);
  uint8_t *in = exact_copy(col[1], len);
  const char *kind = col[0];
  sts_result r;

  if (strcmp(kind, "policy") == 0) {
    r = run_policy(in, len, detail, sizeof detail);
  } else if (strcmp(kind, "policy_match") == 0) {
    sts_policy p;
    unescape(col[2]);
    r = sts_policy_parse(in, len, &p);
    if (r == STS_OK) {
      r = sts_policy_match_mx(&p, col[2]);
    }
  } else if (strcmp(kind, "mx") == 0) {
    unescape(col[2]);
    r = sts_mx_pattern_match(col[1], col[2]);
  } else if (strcmp(kind, "txt") == 0 || strcmp(kind, "txt_select") == 0) {
    sts_txt_record t;
    if (kind[3] == '\0') {
      r = sts_txt_parse(in, len, &t);
    } else {
      const uint8_t *recs[MAX_RECORDS];
      size_t lens[MAX_RECORDS];
      size_t n = (size_t)strtoul(col[2], NULL, 10), i, start = 0, k = 0;
      for (i = 0; n > 0 && i <= len && k < MAX_RECORDS; i++) {
        if (i == len || in[i] == 0) {
          recs[k] = in + start;
          lens[k] = i - start;
          k++;
          start = i + 1;
        }
      }
      r = k == n ? sts_txt_select(recs, lens, n, &t) : STS_ERR_INVALID_ARGUMENT;
    }
    if (r == STS_OK) {
      snprintf(detail, sizeof detail, "id=%.*s", (int)t.id_len, (const char *)t.id);
    }
  } else if (strcmp(kind, "tlsrpt") == 0) {
    sts_tlsrpt_record t;
    r = sts_tlsrpt_parse(in, len, &t);
    if (r == STS_OK) {
      size_t i;
      strcpy(detail, "rua=");
      for (i = 0; i < t.rua_count; i++) {
        const uint8_t *u;
        size_t n;
        if (sts_tlsrpt_rua(&t, i, &u, &n) != STS_OK) {
          r = STS_ERR_PANIC;
          break;
        }
        append(detail, sizeof detail, i ? ",%.*s" : "%.*s", u, n);
      }
    }
  } else {
    fail(where, "kind", kind, "a known kind");
    free(in);
    return;
  }
  free(in);
  if (strcmp(sts_result_name(r), col[3]) != 0) {
    fail(where, "result", sts_result_name(r), col[3]);
  } else if (strcmp(detail, col[4]) != 0) {
    fail(where, "detail", detail, col[4]);
  } else {
    passed++;
  }
}

static int split(char *line, char **col, int max) {
  int n = 0;
  char *p = line;
  col[n++] = p;
  while (n < max && (p = strchr(p, '\t')) != NULL) {
    *p++ = '\0';
    col[n++] = p;
  }
  return n;
}

static void chomp(char *line) {
  size_t n = strlen(line);
  if (n > 0 && line[n - 1] == '\n') {
    line[n - 1] = '\0';
  }
}

static void run_vectors(const char *path) {
  static char line[MAX_LINE];
  char where[64];
  int lineno = 0;
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  while (fgets(line, sizeof line, f) != NULL) {
    char *col[5];
    lineno++;
    chomp(line);
    if (line[0] == '#' || line[0] == '\0') {
      continue;
    }
    snprintf(where, sizeof where, "abi.tsv:%d", lineno);
    if (split(line, col, 5) != 5) {
      fail(where, "columns", "fewer", "5");
      continue;
    }
    run_vector(where, col);
  }
  fclose(f);
}

/* Corpus policies: valid must parse, invalid must not; disputed rows
 * follow the strict verdict written in their reason column. */
static void run_corpus(const char *dir) {
  static char line[MAX_LINE];
  char path[4096];
  FILE *index;
  snprintf(path, sizeof path, "%s/INDEX.tsv", dir);
  index = fopen(path, "r");
  if (index == NULL) {
    perror(path);
    exit(2);
  }
  if (fgets(line, sizeof line, index) == NULL) { /* header */
    exit(2);
  }
  while (fgets(line, sizeof line, index) != NULL) {
    char *col[7];
    static uint8_t buf[1 << 20];
    uint8_t *copy;
    size_t len;
    int want_ok;
    FILE *f;
    sts_policy p;
    sts_result r;
    int ncol;
    const char *reason;
    chomp(line);
    ncol = split(line, col, 7);
    if (ncol < 3) {
      continue;
    }
    reason = ncol == 7 ? col[6] : "";
    want_ok = strcmp(col[2], "valid") == 0 ||
              (strcmp(col[2], "disputed") == 0 && strncmp(reason, "strict=valid", 12) == 0);
    snprintf(path, sizeof path, "%s/%s", dir, col[0]);
    f = fopen(path, "rb");
    if (f == NULL) {
      perror(path);
      exit(2);
    }
    len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    copy = exact_copy((const char *)buf, len);
    r = sts_policy_parse(copy, len, &p);
    free(copy);
    if ((r == STS_OK) != want_ok) {
      fail(col[0], "verdict", sts_result_name(r), col[2]);
    } else {
      passed++;
    }
  }
  fclose(index);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s VECTORS.tsv [CORPUS-DIR]\n", argv[0]);
    return 2;
  }
  run_vectors(argv[1]);
  if (argc == 3) {
    run_corpus(argv[2]);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
