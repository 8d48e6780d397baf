/*
 * sts_exim.c: MTA-STS (RFC 8461) and TLSRPT (RFC 8460) for Exim through
 * ${dlfunc}, on libsts.
 *
 * Every function has Exim's dlfunc shape
 *
 *     int fn(unsigned char **yield, int argc, unsigned char *argv[])
 *
 * and returns 0 (OK, *yield is the result), 1 (DEFER: a real problem such
 * as an unreadable settings file; Exim also writes it to the panic log) or
 * 2 (FAIL: an expected refusal; *yield is the message). Exim copies *yield,
 * so it points into a buffer of this module that the next call reuses.
 * Exim takes at most 8 arguments for a dlfunc, but Exim 4.96 counts argc
 * up to the first NULL in its argument array, which is not terminated
 * when all 8 are used: argc is then garbage. So no function here needs 8
 * arguments, and none reads past index 7 whatever argc says.
 *
 * The first argument of every function is the path of a settings file
 * (key = value lines, see README.md), or an empty string for the
 * defaults. Exim clears its environment, so settings cannot come from
 * STS_* variables.
 *
 *   exim_sts_policy      {conf}{domain}[{dane}]
 *       enforce | testing | none | no-policy | dane
 *   exim_sts_ignore_list {conf}{domain}
 *       an Exim host list for ignore_target_hosts that ignores every MX
 *       host the policy does not permit; "! *" (none ignored) without an
 *       enforce or testing policy
 *   exim_sts_mx_patterns {conf}{domain}
 *       the policy's mx patterns separated by spaces; empty without one
 *   exim_sts_check_host  {conf}{domain}{host}[{dane}]
 *       "ok", or FAIL with a message naming MTA-STS when the host is
 *       refused under enforce
 *   exim_sts_record      {conf}{event}{domain}{host}{session}
 *                        {subject_alt_names}
 *       records a TLSRPT outcome for msg:delivery and msg:host:defer
 *       events; yields what it did ("recorded success", "skipped: ...").
 *       {session} is "address=A verified=V dane=D cipher=C errno=E" from
 *       $host_address, $tls_out_certificate_verified, $tls_out_dane,
 *       $tls_out_cipher and $event_defer_errno. A deferral counts as a
 *       TLS failure only by Exim's error number, never by the words of
 *       the remote reply (which the remote chooses).
 *
 * The names start with exim_sts_ so that they never collide with libsts's
 * own sts_ functions and types.
 *
 * One client is kept per process and settings file, and inherited by the
 * processes Exim forks (libsts starts no threads and keeps no descriptors
 * open between calls; its cache is on disk, shared by all processes).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "sts.h"

#define DL_OK 0
#define DL_DEFER 1
#define DL_FAIL 2

/* Exported functions: declared here so that -Wmissing-prototypes stays quiet. */
int exim_sts_policy(unsigned char **yield, int argc, unsigned char *argv[]);
int exim_sts_ignore_list(unsigned char **yield, int argc, unsigned char *argv[]);
int exim_sts_mx_patterns(unsigned char **yield, int argc, unsigned char *argv[]);
int exim_sts_check_host(unsigned char **yield, int argc, unsigned char *argv[]);
int exim_sts_record(unsigned char **yield, int argc, unsigned char *argv[]);

/* Exim's error numbers for a failed host (its macros.h; unchanged since
 * 4.80), as $event_defer_errno gives them in msg:host:defer. */
#define EXIM_ERRNO_TLSFAILURE (-37)  /* the TLS session could not be started */
#define EXIM_ERRNO_TLSREQUIRED (-38) /* TLS required, STARTTLS not offered */

/* ---- the yield buffer ---------------------------------------------------- */

static char *out_buf;
static size_t out_cap;
static char oom_msg[] = "MTA-STS: out of memory in sts_exim";
static char empty_str[] = "";
static char no_host[] = "! *";

static int ensure_cap(size_t need) {
  char *p;
  size_t cap;
  if (need <= out_cap) {
    return 1;
  }
  cap = out_cap ? out_cap : 256;
  while (cap < need) {
    if (cap > ((size_t)-1) / 2) {
      return 0;
    }
    cap *= 2;
  }
  p = realloc(out_buf, cap);
  if (p == NULL) {
    return 0;
  }
  out_buf = p;
  out_cap = cap;
  return 1;
}

/* Formats into the yield buffer and returns `rc`; on trouble the yield is
 * a fixed message and the result DEFER. */
static int reply(unsigned char **yield, int rc, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !ensure_cap((size_t)n + 1)) {
    *yield = (unsigned char *)oom_msg;
    return DL_DEFER;
  }
  va_start(ap, fmt);
  n = vsnprintf(out_buf, out_cap, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= out_cap) {
    *yield = (unsigned char *)oom_msg;
    return DL_DEFER;
  }
  *yield = (unsigned char *)out_buf;
  return rc;
}

/* ---- a growing string ---------------------------------------------------- */

struct sbuf {
  char *s;
  size_t len, cap;
  int failed;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n) {
  if (b->failed) {
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 128;
    char *p;
    while (cap < b->len + n + 1) {
      if (cap > ((size_t)-1) / 2) {
        b->failed = 1;
        return;
      }
      cap *= 2;
    }
    p = realloc(b->s, cap);
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_add(struct sbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }

/* ---- settings ------------------------------------------------------------ */

struct settings {
  char *cache_dir;
  char *ca_file;
  char *dns_server;
  char *https_connect;
  char *report_dir;
  char *redis_url;
  unsigned long https_port;
  unsigned long dns_timeout_ms;
  unsigned long https_timeout_ms;
  unsigned long txt_recheck_s;  /* seconds; see txt_recheck_set */
  int txt_recheck_set;          /* 0 = library default (300 s) */
  unsigned long report_no_sync; /* 1 = do not fsync each outcome */
};

static void settings_free(struct settings *s) {
  free(s->cache_dir);
  free(s->ca_file);
  free(s->dns_server);
  free(s->https_connect);
  free(s->report_dir);
  free(s->redis_url);
  memset(s, 0, sizeof *s);
}

static char *trim(char *s) {
  char *e;
  while (*s == ' ' || *s == '\t') {
    s++;
  }
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
    *--e = '\0';
  }
  return s;
}

static int parse_number(const char *v, unsigned long max, unsigned long *out) {
  char *end = NULL;
  unsigned long n;
  if (*v < '0' || *v > '9') {
    return 0;
  }
  errno = 0;
  n = strtoul(v, &end, 10);
  if (errno != 0 || end == NULL || *end != '\0' || n > max) {
    return 0;
  }
  *out = n;
  return 1;
}

static int set_string(char **field, const char *v) {
  char *copy = strdup(v);
  if (copy == NULL) {
    return 0;
  }
  free(*field);
  *field = copy;
  return 1;
}

/* Reads `path` into `s`. On failure appends a message to `err` and
 * returns 0. An empty path means all defaults. */
static int settings_load(const char *path, struct settings *s, struct sbuf *err) {
  FILE *f;
  char *line = NULL;
  size_t linecap = 0;
  ssize_t got;
  unsigned lineno = 0;
  int ok = 1;

  memset(s, 0, sizeof *s);
  if (path[0] == '\0') {
    return 1;
  }
  f = fopen(path, "r");
  if (f == NULL) {
    sb_add(err, "MTA-STS: cannot read settings file ");
    sb_add(err, path);
    sb_add(err, ": ");
    sb_add(err, strerror(errno));
    return 0;
  }
  while (ok && (got = getline(&line, &linecap, f)) >= 0) {
    char *k, *v, *eq;
    lineno++;
    if ((size_t)got != strlen(line)) {
      ok = 0; /* a NUL byte */
      break;
    }
    k = trim(line);
    if (*k == '\0' || *k == '#') {
      continue;
    }
    eq = strchr(k, '=');
    if (eq == NULL) {
      ok = 0;
      break;
    }
    *eq = '\0';
    k = trim(k);
    v = trim(eq + 1);
    if (strcmp(k, "cache_dir") == 0) {
      ok = set_string(&s->cache_dir, v);
    } else if (strcmp(k, "ca_file") == 0) {
      ok = set_string(&s->ca_file, v);
    } else if (strcmp(k, "dns_server") == 0) {
      ok = set_string(&s->dns_server, v);
    } else if (strcmp(k, "https_connect") == 0) {
      ok = set_string(&s->https_connect, v);
    } else if (strcmp(k, "report_dir") == 0) {
      ok = set_string(&s->report_dir, v);
    } else if (strcmp(k, "redis_url") == 0) {
      ok = set_string(&s->redis_url, v);
    } else if (strcmp(k, "https_port") == 0) {
      ok = parse_number(v, 65535, &s->https_port);
    } else if (strcmp(k, "dns_timeout_ms") == 0) {
      ok = parse_number(v, 600000, &s->dns_timeout_ms);
    } else if (strcmp(k, "https_timeout_ms") == 0) {
      ok = parse_number(v, 600000, &s->https_timeout_ms);
    } else if (strcmp(k, "txt_recheck_s") == 0) {
      ok = parse_number(v, 86400, &s->txt_recheck_s);
      s->txt_recheck_set = 1;
    } else if (strcmp(k, "report_sync") == 0) {
      ok = strcmp(v, "yes") == 0 || strcmp(v, "no") == 0;
      s->report_no_sync = strcmp(v, "no") == 0;
    } else {
      ok = 0;
    }
  }
  free(line);
  if (ferror(f)) {
    ok = 0;
  }
  fclose(f);
  if (!ok) {
    char num[32];
    snprintf(num, sizeof num, "%u", lineno);
    sb_add(err, "MTA-STS: bad setting in ");
    sb_add(err, path);
    sb_add(err, " line ");
    sb_add(err, num);
    sb_add(err, " (expected key = value with a known key and a valid value)");
    settings_free(s);
  }
  return ok;
}

/* Empty strings mean "unset". */
static const char *opt(const char *v) { return (v != NULL && v[0] != '\0') ? v : NULL; }

/* ---- the per-process client ---------------------------------------------- */

static struct {
  char *conf_path;
  struct settings settings;
  sts_client *client;
} cur;

static void drop_client(void) {
  sts_client_free(cur.client);
  cur.client = NULL;
  free(cur.conf_path);
  cur.conf_path = NULL;
  settings_free(&cur.settings);
}

/* The client for settings file `path`, made on first use in this process.
 * NULL on failure, with the reason in the yield and `*rc` set. */
static sts_client *get_client(const char *path, unsigned char **yield, int *rc) {
  struct settings s;
  struct sbuf err = {NULL, 0, 0, 0};
  sts_client_options o;
  sts_client *c = NULL;
  sts_result r;

  if (cur.client != NULL && strcmp(cur.conf_path, path) == 0) {
    /* Exim forks a transport process from the delivery process that
     * routed the message: the child keeps using the client (libsts starts
     * no threads and keeps no descriptors open between calls, so it
     * survives fork(), with its in-memory cache still warm). */
    return cur.client;
  }
  drop_client(); /* another settings file */

  if (!settings_load(path, &s, &err)) {
    *rc = reply(yield, DL_DEFER, "%s", (err.s != NULL && !err.failed) ? err.s : oom_msg);
    free(err.s);
    return NULL;
  }
  free(err.s);
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.dns_server = opt(s.dns_server);
  o.ca_file = opt(s.ca_file);
  o.https_port = (uint16_t)s.https_port;
  o.cache_path = opt(s.cache_dir);
  o.https_connect = opt(s.https_connect);
  /* Checked by libsts; a bad URL is reported without its text, which may
   * hold the password. */
  o.redis_url = opt(s.redis_url);
  o.dns_timeout_ms = (uint32_t)s.dns_timeout_ms;
  o.https_timeout_ms = (uint32_t)s.https_timeout_ms;
  /* "txt_recheck_s = 0" in the file means "ask DNS every time". */
  o.txt_recheck_s = s.txt_recheck_set ? (s.txt_recheck_s == 0 ? STS_SECONDS_NONE : (uint32_t)s.txt_recheck_s) : 0;
  r = sts_client_new(&o, &c);
  if (r == STS_ERR_CLIENT_CACHE) {
    /* Name the directory: the usual cause is one other users can write
     * (libsts refuses it) or one the Exim user cannot. */
    *rc = reply(yield, DL_DEFER, "MTA-STS: cannot use cache_dir %s (settings %s): %s (%s)",
                s.cache_dir != NULL ? s.cache_dir : "", path, sts_result_str(r), sts_result_name(r));
    settings_free(&s);
    return NULL;
  }
  if (r != STS_OK || c == NULL) {
    *rc = reply(yield, DL_DEFER, "MTA-STS: cannot set up libsts with settings %s: %s (%s)",
                path[0] ? path : "(defaults)", sts_result_str(r), sts_result_name(r));
    settings_free(&s);
    return NULL;
  }
  cur.conf_path = strdup(path);
  if (cur.conf_path == NULL) {
    sts_client_free(c);
    settings_free(&s);
    *rc = reply(yield, DL_DEFER, "%s", oom_msg);
    return NULL;
  }
  cur.client = c;
  cur.settings = s;
  return c;
}

/* ---- helpers ------------------------------------------------------------- */

#define MAX_ARGS 8

static const char *arg(int argc, unsigned char *argv[], int i) {
  if (i >= argc || i >= MAX_ARGS || argv == NULL || argv[i] == NULL) {
    return "";
  }
  return (const char *)argv[i];
}

static int truthy(const char *v) {
  return strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "dane") == 0;
}

static const char *mode_name(sts_decision_mode m) {
  switch (m) {
  case STS_DECISION_ENFORCE:
    return "enforce";
  case STS_DECISION_TESTING:
    return "testing";
  case STS_DECISION_NONE:
    return "none";
  case STS_DECISION_DANE:
    return "dane";
  default:
    return "no-policy";
  }
}

/* Why a lookup of this module failed: libsts said no (the sts_result
 * says why), or this module ran out of memory. */
enum lookup_status { LOOKUP_OK, LOOKUP_LIBSTS, LOOKUP_NO_MEMORY };

/* The permitted mx patterns of `domain`, '\n'-separated, in a malloc'd
 * string; `*res` is STS_OK or the libsts error (STS_ERR_CLIENT_NO_POLICY
 * when no enforce/testing policy is in force). NULL on error, with `*st`
 * saying whose. */
static char *patterns_of(sts_client *c, const char *domain, size_t *count, sts_result *res, enum lookup_status *st) {
  size_t cap = 512;
  int tries;
  *st = LOOKUP_LIBSTS;
  for (tries = 0; tries < 4; tries++) {
    size_t n = 0;
    char *buf = malloc(cap);
    sts_result r;
    if (buf == NULL) {
      *res = STS_OK;
      *st = LOOKUP_NO_MEMORY;
      return NULL;
    }
    r = sts_client_permitted_mx(c, domain, buf, cap, &n);
    if (r == STS_OK) {
      *count = n;
      *res = STS_OK;
      *st = LOOKUP_OK;
      return buf;
    }
    free(buf);
    if (r != STS_ERR_BUFFER_TOO_SMALL || n <= cap) {
      *res = r;
      return NULL;
    }
    cap = n; /* the size needed, NUL included; retry (the policy may change) */
  }
  *res = STS_ERR_BUFFER_TOO_SMALL;
  return NULL;
}

/* The mode in force for `domain`, without triggering the §5.1 re-check
 * that sts_client_decide does for an MX host that is refused: the probe
 * host is one the policy permits. */
static sts_result mode_of(sts_client *c, const char *domain, int dane, sts_decision *d, enum lookup_status *st) {
  size_t count = 0;
  sts_result r;
  char *pats = patterns_of(c, domain, &count, &r, st);
  char *probe = NULL;
  const char *host = domain;
  if (*st == LOOKUP_NO_MEMORY) {
    return r;
  }
  *st = LOOKUP_OK;
  if (pats != NULL && count > 0) {
    char *nl = strchr(pats, '\n');
    if (nl != NULL) {
      *nl = '\0';
    }
    if (pats[0] == '*' && pats[1] == '.') {
      size_t need = strlen(pats) + 8;
      probe = malloc(need);
      if (probe == NULL) {
        free(pats);
        *st = LOOKUP_NO_MEMORY;
        return STS_OK;
      }
      if (snprintf(probe, need, "probe%s", pats + 1) < (int)need) {
        host = probe;
      }
    } else {
      host = pats;
    }
  }
  r = sts_client_decide(c, domain, host, dane ? STS_DANE_USABLE : STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT, d);
  free(probe);
  free(pats);
  if (r != STS_OK) {
    *st = LOOKUP_LIBSTS;
  }
  return r;
}

/* ---- exim_sts_policy ----------------------------------------------------- */

int exim_sts_policy(unsigned char **yield, int argc, unsigned char *argv[]) {
  sts_client *c;
  sts_decision d;
  sts_result r;
  enum lookup_status st;
  int rc = DL_DEFER;
  const char *domain;

  if (yield == NULL) {
    return DL_DEFER;
  }
  if (argc < 2) {
    return reply(yield, DL_DEFER, "MTA-STS: exim_sts_policy needs {settings file}{domain}[{dane}]");
  }
  domain = arg(argc, argv, 1);
  if ((c = get_client(arg(argc, argv, 0), yield, &rc)) == NULL) {
    return rc;
  }
  if (domain[0] == '\0') {
    return reply(yield, DL_OK, "no-policy");
  }
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  r = mode_of(c, domain, truthy(arg(argc, argv, 2)), &d, &st);
  if (st == LOOKUP_NO_MEMORY) {
    *yield = (unsigned char *)oom_msg;
    return DL_DEFER;
  }
  if (r != STS_OK) {
    return reply(yield, DL_DEFER, "MTA-STS: policy lookup for %s failed: %s", domain, sts_result_str(r));
  }
  return reply(yield, DL_OK, "%s", mode_name(d.mode));
}

/* ---- exim_sts_ignore_list / exim_sts_mx_patterns ------------------------- */

/* Appends one pattern as an anchored regex item "! ^...$ : " matching what
 * RFC 8461 §4.1 permits: "*." is exactly one leftmost label. Returns 0
 * for a pattern that cannot be turned into a safe regex (left out, so the
 * host stays ignored). */
static int add_regex_item(struct sbuf *b, const char *pat, size_t len) {
  size_t i, start = 0;
  if (len > 0 && pat[len - 1] == '.') {
    len--; /* one trailing dot is allowed in names */
  }
  if (len >= 2 && pat[0] == '*' && pat[1] == '.') {
    start = 2;
  }
  if (start >= len) {
    return 0;
  }
  for (i = start; i < len; i++) {
    char ch = pat[i];
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
    if (!ok) {
      return 0;
    }
  }
  sb_add(b, start ? "! ^[^.]+\\." : "! ^");
  for (i = start; i < len; i++) {
    char ch = pat[i];
    if (ch == '.') {
      sb_addn(b, "\\.", 2);
    } else {
      char lc = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
      sb_addn(b, &lc, 1);
    }
  }
  sb_add(b, "$ : ");
  return 1;
}

static int list_common(unsigned char **yield, int argc, unsigned char *argv[], int regex) {
  sts_client *c;
  int rc = DL_DEFER;
  const char *domain;
  char *pats, *p;
  size_t count = 0;
  sts_result r;
  enum lookup_status st;
  struct sbuf b = {NULL, 0, 0, 0};

  if (yield == NULL) {
    return DL_DEFER;
  }
  if (argc < 2) {
    return reply(yield, DL_DEFER, "MTA-STS: %s needs {settings file}{domain}",
                 regex ? "exim_sts_ignore_list" : "exim_sts_mx_patterns");
  }
  domain = arg(argc, argv, 1);
  if ((c = get_client(arg(argc, argv, 0), yield, &rc)) == NULL) {
    return rc;
  }
  pats = patterns_of(c, domain, &count, &r, &st);
  if (pats == NULL) {
    if (st == LOOKUP_NO_MEMORY) {
      *yield = (unsigned char *)oom_msg;
      return DL_DEFER;
    }
    if (r == STS_ERR_CLIENT_NO_POLICY || r == STS_ERR_CLIENT_BAD_DOMAIN) {
      /* No policy: nothing to ignore. For the host list "! *" ends the
       * matching (no host ignored); the pattern list is empty. */
      *yield = (unsigned char *)(regex ? no_host : empty_str);
      return DL_OK;
    }
    return reply(yield, DL_DEFER, "MTA-STS: cannot get the mx patterns of %s: %s", domain, sts_result_str(r));
  }
  sb_add(&b, "");
  p = pats;
  while (*p != '\0') {
    size_t len = strcspn(p, "\n");
    if (regex) {
      (void)add_regex_item(&b, p, len);
    } else {
      if (b.len > 0) {
        sb_add(&b, " ");
      }
      sb_addn(&b, p, len);
    }
    p += len;
    if (*p == '\n') {
      p++;
    }
  }
  if (regex) {
    sb_add(&b, "*"); /* every host not permitted above is ignored */
  }
  free(pats);
  if (b.failed || b.s == NULL) {
    free(b.s);
    *yield = (unsigned char *)oom_msg;
    return DL_DEFER;
  }
  rc = reply(yield, DL_OK, "%s", b.s);
  free(b.s);
  return rc;
}

int exim_sts_ignore_list(unsigned char **yield, int argc, unsigned char *argv[]) {
  return list_common(yield, argc, argv, 1);
}

int exim_sts_mx_patterns(unsigned char **yield, int argc, unsigned char *argv[]) {
  return list_common(yield, argc, argv, 0);
}

/* ---- exim_sts_check_host ------------------------------------------------- */

int exim_sts_check_host(unsigned char **yield, int argc, unsigned char *argv[]) {
  sts_client *c;
  sts_decision d;
  sts_result r;
  int rc = DL_DEFER;
  const char *domain, *host;

  if (yield == NULL) {
    return DL_DEFER;
  }
  if (argc < 3) {
    return reply(yield, DL_DEFER, "MTA-STS: exim_sts_check_host needs {settings file}{domain}{host}[{dane}]");
  }
  domain = arg(argc, argv, 1);
  host = arg(argc, argv, 2);
  if ((c = get_client(arg(argc, argv, 0), yield, &rc)) == NULL) {
    return rc;
  }
  if (domain[0] == '\0') {
    return reply(yield, DL_OK, "ok"); /* several domains in one batch: set multi_domain = false */
  }
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  r = sts_client_decide(c, domain, host, truthy(arg(argc, argv, 3)) ? STS_DANE_USABLE : STS_DANE_NOT_USABLE,
                        STS_TLS_REQUIRED_DEFAULT, &d);
  if (r != STS_OK) {
    return reply(yield, DL_DEFER, "MTA-STS: check of %s for %s failed: %s", host, domain, sts_result_str(r));
  }
  if (d.refuse) {
    return reply(yield, DL_FAIL, "MTA-STS: MX host %s is not permitted by the enforce policy of %s", host, domain);
  }
  return reply(yield, DL_OK, "ok");
}

/* ---- exim_sts_record ----------------------------------------------------- */

/* Whether one subjectAltName list item (as Exim's certextract gives it:
 * "DNS=name", possibly other tags) names `host` under RFC 6125 rules
 * ("*" only as the whole leftmost label, one label). */
static int san_matches(const char *item, size_t len, const char *host) {
  char name[256];
  while (len > 0 && (*item == ' ' || *item == '\t')) {
    item++;
    len--;
  }
  while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t' || item[len - 1] == '\r')) {
    len--;
  }
  if (len > 4 && strncmp(item, "DNS=", 4) == 0) {
    item += 4;
    len -= 4;
  } else if (memchr(item, '=', len) != NULL) {
    return 0; /* IP=, MAIL=, URI=: not a DNS-ID */
  }
  if (len == 0 || len >= sizeof name) {
    return 0;
  }
  memcpy(name, item, len);
  name[len] = '\0';
  return sts_mx_pattern_match(name, host) == STS_OK;
}

/* certificate-host-mismatch when no DNS-ID names the host; otherwise the
 * name was fine and the chain was the problem. */
static const char *classify_cert(const char *host, const char *sans) {
  const char *p = sans;
  if (sans[0] == '\0') {
    return "validation-failure";
  }
  while (*p != '\0') {
    size_t len = strcspn(p, "\n,;:");
    if (san_matches(p, len, host)) {
      return "certificate-not-trusted";
    }
    p += len;
    if (*p != '\0') {
      p++;
    }
  }
  return "certificate-host-mismatch";
}

/* The TLSRPT result type for a host deferral with Exim's error number
 * `errno_text`; NULL when the failure is not about TLS (connection
 * refused, an SMTP 4xx, a timeout) and is not reported. */
static const char *classify_defer(const char *errno_text, const char *host, const char *sans) {
  char *end = NULL;
  long e;
  if (errno_text[0] == '\0') {
    return NULL;
  }
  errno = 0;
  e = strtol(errno_text, &end, 10);
  if (errno != 0 || end == NULL || *end != '\0') {
    return NULL;
  }
  if (e == EXIM_ERRNO_TLSREQUIRED) {
    return "starttls-not-supported";
  }
  if (e == EXIM_ERRNO_TLSFAILURE) {
    return classify_cert(host, sans);
  }
  return NULL;
}

/* The value of `key=` in a list of space-separated key=value tokens,
 * copied into `out` (cap bytes); "" when absent or too long. */
static void token(const char *list, const char *key, char *out, size_t cap) {
  size_t klen = strlen(key);
  const char *p = list;
  out[0] = '\0';
  while (*p != '\0') {
    size_t len;
    while (*p == ' ' || *p == '\t') {
      p++;
    }
    len = strcspn(p, " \t");
    if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
      size_t vlen = len - klen - 1;
      if (vlen < cap) {
        memcpy(out, p + klen + 1, vlen);
        out[vlen] = '\0';
      }
      return;
    }
    p += len;
  }
}

int exim_sts_record(unsigned char **yield, int argc, unsigned char *argv[]) {
  sts_client *c;
  sts_decision d;
  sts_result r;
  enum lookup_status st;
  sts_report_outcome o;
  int rc = DL_DEFER;
  const char *event, *domain, *host, *tls, *sans;
  char cipher[256], verified[16], dane[16], host_address[64], defer_errno[24];
  const char *result_type = NULL;

  if (yield == NULL) {
    return DL_DEFER;
  }
  if (argc < 6) {
    return reply(yield, DL_DEFER,
                 "MTA-STS: exim_sts_record needs {settings file}{event}{domain}{host}"
                 "{address=A verified=V dane=D cipher=C errno=E}{subject alt names}");
  }
  event = arg(argc, argv, 1);
  domain = arg(argc, argv, 2);
  host = arg(argc, argv, 3);
  tls = arg(argc, argv, 4);
  sans = arg(argc, argv, 5);
  token(tls, "address", host_address, sizeof host_address);
  token(tls, "errno", defer_errno, sizeof defer_errno);
  token(tls, "verified", verified, sizeof verified);
  token(tls, "dane", dane, sizeof dane);
  token(tls, "cipher", cipher, sizeof cipher);

  if (strcmp(event, "msg:delivery") != 0 && strcmp(event, "msg:host:defer") != 0) {
    return reply(yield, DL_OK, "skipped: event %s", event);
  }
  if (domain[0] == '\0' || host[0] == '\0') {
    return reply(yield, DL_OK, "skipped: no domain or host");
  }
  if (truthy(dane)) {
    return reply(yield, DL_OK, "skipped: DANE was used");
  }
  if ((c = get_client(arg(argc, argv, 0), yield, &rc)) == NULL) {
    return rc;
  }
  if (cur.settings.report_dir == NULL || cur.settings.report_dir[0] == '\0') {
    return reply(yield, DL_OK, "skipped: no report_dir setting");
  }
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  r = mode_of(c, domain, 0, &d, &st);
  if (st == LOOKUP_NO_MEMORY) {
    *yield = (unsigned char *)oom_msg;
    return DL_DEFER;
  }
  if (r != STS_OK) {
    return reply(yield, DL_DEFER, "MTA-STS: policy lookup for %s failed: %s", domain, sts_result_str(r));
  }
  if (d.mode != STS_DECISION_ENFORCE && d.mode != STS_DECISION_TESTING) {
    return reply(yield, DL_OK, "skipped: mode %s", mode_name(d.mode));
  }
  if (strcmp(event, "msg:delivery") == 0) {
    /* Exim 4.96 raises msg:delivery in the delivery process, where
     * $tls_out_certificate_verified is not the transport's verdict (it
     * logs CV= from the address flags instead). A delivery under enforce
     * was verified (tls_verify_hosts = *); under testing, only the name
     * can be checked here: a matching name with an untrusted chain counts
     * as success. */
    if (cipher[0] == '\0') {
      result_type = "starttls-not-supported";
    } else if (strcmp(verified, "1") != 0 && d.mode == STS_DECISION_TESTING && sans[0] != '\0' &&
               strcmp(classify_cert(host, sans), "certificate-host-mismatch") == 0) {
      result_type = "certificate-host-mismatch";
    }
  } else {
    result_type = classify_defer(defer_errno, host, sans);
    if (result_type == NULL) {
      return reply(yield, DL_OK, "skipped: not a TLS failure (Exim error %s)",
                   defer_errno[0] ? defer_errno : "unknown");
    }
  }

  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.policy_type = STS_POLICY_TYPE_STS;
  o.policy_domain = domain;
  o.receiving_mx_hostname = host;
  o.receiving_ip = opt(host_address);
  o.result_type = result_type;
  o.count = 1;
  o.at_unix = 0;
  o.delivery_kind = STS_DELIVERY_NORMAL;
  o.sync = cur.settings.report_no_sync ? STS_REPORT_NO_SYNC : STS_REPORT_SYNC;
  r = sts_client_report_record(c, cur.settings.report_dir, &o);
  if (r != STS_OK) {
    return reply(yield, DL_DEFER, "MTA-STS: cannot record the TLSRPT outcome for %s in %s: %s", domain,
                 cur.settings.report_dir, sts_result_str(r));
  }
  return reply(yield, DL_OK, "recorded %s", result_type ? result_type : "success");
}

