/*
 * Loads sts_exim.so the way Exim's ${dlfunc} does (dlopen + dlsym) and
 * checks the error paths and answers of its functions, then measures
 * what the module costs per delivery.
 *
 *   module_check MODULE SETTINGS DOMAIN MX_HOST ITERATIONS
 *
 * DOMAIN must have an enforce policy permitting MX_HOST (cached or
 * reachable). Prints "N passed, N failed" last; exit status 1 on failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*dlfunc_t)(unsigned char **yield, int argc, unsigned char *argv[]);

static int passed, failed;

#define CHECK(cond, ...)                                                                                               \
  do {                                                                                                                 \
    if (cond) {                                                                                                        \
      passed++;                                                                                                        \
    } else {                                                                                                           \
      failed++;                                                                                                        \
      printf("FAIL line %d: %s: ", __LINE__, #cond);                                                                   \
      printf(__VA_ARGS__);                                                                                             \
      printf("\n");                                                                                                    \
    }                                                                                                                  \
  } while (0)

struct module {
  void *handle;
  dlfunc_t policy, ignore_list, mx_patterns, check_host, record;
};

static int load(const char *path, struct module *m) {
  m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (m->handle == NULL) {
    printf("dlopen %s: %s\n", path, dlerror());
    return 0;
  }
  /* POSIX guarantees this conversion for dlsym results. */
  *(void **)&m->policy = dlsym(m->handle, "exim_sts_policy");
  *(void **)&m->ignore_list = dlsym(m->handle, "exim_sts_ignore_list");
  *(void **)&m->mx_patterns = dlsym(m->handle, "exim_sts_mx_patterns");
  *(void **)&m->check_host = dlsym(m->handle, "exim_sts_check_host");
  *(void **)&m->record = dlsym(m->handle, "exim_sts_record");
  return m->policy && m->ignore_list && m->mx_patterns && m->check_host && m->record;
}

/* Calls f with up to 8 string arguments; returns the status, the yield in *out. */
static int call(dlfunc_t f, const char **out, int argc, const char *a0, const char *a1, const char *a2, const char *a3,
                const char *a4, const char *a5, const char *a6, const char *a7) {
  unsigned char *argv[8];
  unsigned char *yield = NULL;
  int rc;
  argv[0] = (unsigned char *)a0;
  argv[1] = (unsigned char *)a1;
  argv[2] = (unsigned char *)a2;
  argv[3] = (unsigned char *)a3;
  argv[4] = (unsigned char *)a4;
  argv[5] = (unsigned char *)a5;
  argv[6] = (unsigned char *)a6;
  argv[7] = (unsigned char *)a7;
  rc = f(&yield, argc, argv);
  *out = yield ? (const char *)yield : "(null)";
  return rc;
}

/* The calls of one delivery under enforce: router, transport, event. */
static int one_delivery(const struct module *m, const char *conf, const char *domain, const char *mx) {
  const char *y;
  if (call(m->policy, &y, 2, conf, domain, 0, 0, 0, 0, 0, 0) != 0 || strcmp(y, "enforce") != 0) {
    return 0;
  }
  if (call(m->ignore_list, &y, 2, conf, domain, 0, 0, 0, 0, 0, 0) != 0) {
    return 0;
  }
  if (call(m->check_host, &y, 3, conf, domain, mx, 0, 0, 0, 0, 0) != 0 || strcmp(y, "ok") != 0) {
    return 0;
  }
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  struct module m;
  const char *conf, *domain, *mx, *y;
  long iterations;
  double cold = 0, cold_load = 0, cold_first = 0;
  int rc, i;

  if (argc != 6) {
    fprintf(stderr, "usage: module_check MODULE SETTINGS DOMAIN MX_HOST ITERATIONS\n");
    return 2;
  }
  conf = argv[2];
  domain = argv[3];
  mx = argv[4];
  iterations = strtol(argv[5], NULL, 10);
  /* Cost in a fresh process: fork, dlopen, settings, client, on-disk
   * cache. Measured before this process loads the module itself. */
  if (iterations > 0) {
    double t0 = now_s();
    int ok = 1;
    long runs = iterations / 10 + 1;
    for (i = 0; i < runs; i++) {
      int fds[2];
      pid_t p;
      if (pipe(fds) != 0) {
        ok = 0;
        break;
      }
      p = fork();
      if (p == 0) {
        /* The child reports how long dlopen and the first delivery's
         * calls took, so the set-up cost can be told from fork's. */
        struct module c;
        double t[3];
        int good;
        close(fds[0]);
        t[0] = now_s();
        good = load(argv[1], &c);
        t[1] = now_s();
        good = good && one_delivery(&c, conf, domain, mx);
        t[2] = now_s();
        good = good && write(fds[1], t, sizeof t) == (ssize_t)sizeof t;
        _exit(good ? 0 : 1);
      } else if (p > 0) {
        int st = 0;
        double t[3];
        close(fds[1]);
        if (read(fds[0], t, sizeof t) == (ssize_t)sizeof t) {
          cold_load += t[1] - t[0];
          cold_first += t[2] - t[1];
        }
        close(fds[0]);
        waitpid(p, &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
      } else {
        ok = 0;
      }
    }
    cold = (now_s() - t0) / (double)runs;
    cold_load /= (double)runs;
    cold_first /= (double)runs;
    CHECK(ok, "cold deliveries");
  }
  if (!load(argv[1], &m)) {
    printf("0 passed, 1 failed\n");
    return 1;
  }

  /* Argument errors: DEFER with a message, never a crash. */
  rc = call(m.policy, &y, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  CHECK(rc == 1 && strstr(y, "exim_sts_policy needs") != NULL, "%d %s", rc, y);
  rc = call(m.ignore_list, &y, 1, conf, 0, 0, 0, 0, 0, 0, 0);
  CHECK(rc == 1 && strstr(y, "needs") != NULL, "%d %s", rc, y);
  rc = call(m.check_host, &y, 2, conf, domain, 0, 0, 0, 0, 0, 0);
  CHECK(rc == 1 && strstr(y, "needs") != NULL, "%d %s", rc, y);
  rc = call(m.record, &y, 5, conf, "msg:delivery", domain, mx, "", 0, 0, 0);
  CHECK(rc == 1 && strstr(y, "needs") != NULL, "%d %s", rc, y);
  /* NULL entries in argv are treated as empty strings. */
  rc = call(m.policy, &y, 2, conf, NULL, 0, 0, 0, 0, 0, 0);
  CHECK(rc == 0 && strcmp(y, "no-policy") == 0, "%d %s", rc, y);
  rc = call(m.policy, &y, 2, "/nonexistent/settings", domain, 0, 0, 0, 0, 0, 0);
  CHECK(rc == 1 && strstr(y, "cannot read settings file") != NULL, "%d %s", rc, y);
  /* A domain that is not a domain: no policy, nothing ignored. */
  rc = call(m.policy, &y, 2, conf, "not a domain", 0, 0, 0, 0, 0, 0);
  CHECK(rc == 0 && strcmp(y, "no-policy") == 0, "%d %s", rc, y);
  rc = call(m.ignore_list, &y, 2, conf, "not a domain", 0, 0, 0, 0, 0, 0);
  CHECK(rc == 0 && strcmp(y, "! *") == 0, "%d %s", rc, y);
  /* DANE wins. */
  rc = call(m.policy, &y, 3, conf, domain, "yes", 0, 0, 0, 0, 0);
  CHECK(rc == 0 && strcmp(y, "dane") == 0, "%d %s", rc, y);
  /* The policy itself. */
  rc = call(m.mx_patterns, &y, 2, conf, domain, 0, 0, 0, 0, 0, 0);
  CHECK(rc == 0 && strstr(y, mx) != NULL, "%d %s", rc, y);
  rc = call(m.check_host, &y, 3, conf, domain, "elsewhere.invalid", 0, 0, 0, 0, 0);
  CHECK(rc == 2 && strstr(y, "MTA-STS") != NULL, "%d %s", rc, y);
  /* Events that are not recorded, and an over-long tls token. */
  rc = call(m.record, &y, 7, conf, "tcp:close", domain, mx, "address=127.0.0.1 verified=1 dane=no cipher=x", "", "", 0);
  CHECK(rc == 0 && strncmp(y, "skipped", 7) == 0, "%d %s", rc, y);
  {
    static char longtls[5000];
    memset(longtls, 'c', sizeof longtls - 1);
    memcpy(longtls, "cipher=", 7);
    rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, longtls, "DNS=x", 0, 0);
    CHECK(rc == 0 && strncmp(y, "skipped: not a TLS failure", 26) == 0, "%d %s", rc, y);
  }
  /* A deferral is a TLS failure only by Exim's error number: an SMTP 4xx
   * whose text talks about verification (Exim's ERRNO_MAIL4XX, -45) is
   * not, whatever the words. */
  rc = call(m.record, &y, 7, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 cipher=TLS1.3 errno=-45", "DNS=x",
            "451 sender address unverified: certificate verification", 0);
  CHECK(rc == 0 && strcmp(y, "skipped: not a TLS failure (Exim error -45)") == 0, "%d %s", rc, y);
  rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 errno=", "", 0, 0);
  CHECK(rc == 0 && strcmp(y, "skipped: not a TLS failure (Exim error unknown)") == 0, "%d %s", rc, y);
  rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 errno=-38x", "", 0, 0);
  CHECK(rc == 0 && strncmp(y, "skipped: not a TLS failure", 26) == 0, "%d %s", rc, y);
  /* Exim's TLS error numbers: -38 STARTTLS missing, -37 TLS failed. */
  rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 errno=-38", "", 0, 0);
  CHECK(rc == 0 && strcmp(y, "recorded starttls-not-supported") == 0, "%d %s", rc, y);
  {
    char san[300];
    snprintf(san, sizeof san, "DNS=%s", mx);
    rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 errno=-37", san, 0, 0);
    CHECK(rc == 0 && strcmp(y, "recorded certificate-not-trusted") == 0, "%d %s", rc, y);
  }
  rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 errno=-37", "DNS=other.invalid", 0,
            0);
  CHECK(rc == 0 && strcmp(y, "recorded certificate-host-mismatch") == 0, "%d %s", rc, y);
  rc = call(m.record, &y, 6, conf, "msg:host:defer", domain, mx, "address=127.0.0.1 errno=-37", "", 0, 0);
  CHECK(rc == 0 && strcmp(y, "recorded validation-failure") == 0, "%d %s", rc, y);
  rc = call(m.record, &y, 7, conf, "msg:delivery", domain, mx, "verified=1 dane=yes cipher=x", "", "", 0);
  CHECK(rc == 0 && strcmp(y, "skipped: DANE was used") == 0, "%d %s", rc, y);
  /* Exim 4.96 passes a garbage argc when all 8 arguments are used: only
   * the first 8 entries may be read. */
  rc = call(m.record, &y, 1000, conf, "tcp:close", domain, mx, "", "", "", "");
  CHECK(rc == 0 && strncmp(y, "skipped", 7) == 0, "%d %s", rc, y);
  CHECK(one_delivery(&m, conf, domain, mx), "one delivery");

  /* Cost in one process with a warm client (Exim's delivery process and
   * the transport process it forks share the client). */
  if (iterations > 0) {
    double t0 = now_s(), warm;
    int ok = 1;
    for (i = 0; i < iterations; i++) {
      ok &= one_delivery(&m, conf, domain, mx);
    }
    warm = (now_s() - t0) / (double)iterations;
    CHECK(ok, "warm deliveries");
    /* exim_sts_record of a successful session: one durable append to the store. */
    {
      double rec;
      long n = iterations / 10 + 1;
      t0 = now_s();
      for (i = 0; i < n; i++) {
        ok &= call(m.record, &y, 7, conf, "msg:delivery", domain, mx, "verified=1 dane=no cipher=TLS1.3", "", "", 0) ==
              0;
      }
      rec = (now_s() - t0) / (double)n;
      CHECK(ok && strcmp(y, "recorded success") == 0, "record: %s", y);
      printf("module cost per delivery (exim_sts_policy + exim_sts_ignore_list + exim_sts_check_host): "
             "warm client %.1f us, fresh process (fork + dlopen + client) %.2f ms "
             "(dlopen %.2f ms, first delivery's calls %.2f ms); "
             "exim_sts_record of a success %.2f ms\n",
             warm * 1e6, cold * 1e3, cold_load * 1e3, cold_first * 1e3, rec * 1e3);
    }
  }
  /* No dlclose: Exim never unloads a dlfunc library, and the module keeps
   * its client and yield buffer for the life of the process (reachable,
   * not leaked). */
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
