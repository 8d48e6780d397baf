/*
 * What libsts writes through the C ABI under umask 000 (as an MTA such as
 * Exim runs): the policy cache and the TLSRPT store must be owner-only,
 * and a cache entry or directory other users can write must not be
 * trusted. No network: TXT answers come from a callback and the policy
 * host is an address where nothing listens.
 *
 * Ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sts.h"

static uint32_t lookup(void *userdata, const char *name, sts_txt_answer *answer) {
  static const char sts[] = "v=STSv1; id=20261207;";
  (void)userdata;
  if (strcmp(name, "_mta-sts.policy.test") == 0) {
    return sts_txt_answer_add(answer, (const uint8_t *)sts, strlen(sts)) == STS_OK ? STS_TXT_LOOKUP_FOUND
                                                                                     : STS_TXT_LOOKUP_TEMPFAIL;
  }
  return STS_TXT_LOOKUP_NXDOMAIN;
}

static unsigned mode_of(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    return 07777u + 1; /* no such path: never a valid mode */
  }
  return (unsigned)st.st_mode & 07777u;
}

/* Number of entries in `dir` (files and directories) that the group or
 * others can write; -1 if it cannot be read. Recurses one level. */
static int loose_entries(const char *dir, int depth) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int loose = 0;
  if (d == NULL) {
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    char p[512];
    struct stat st;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (stat(p, &st) != 0) {
      continue;
    }
    if (st.st_mode & 022) {
      printf("  %s is %o\n", p, (unsigned)st.st_mode & 07777u);
      loose++;
    }
    if (S_ISDIR(st.st_mode) && depth > 0) {
      loose += loose_entries(p, depth - 1);
    }
  }
  closedir(d);
  return loose;
}

int main(void) {
  char top[] = "/tmp/sts-c-modes-XXXXXX";
  char cache[128], store[128], entry[192], cmd[256], day[256];
  sts_client_options opts;
  sts_client *client = NULL;
  sts_decision d;
  sts_report_outcome o;
  FILE *f;

  umask(0);
  CHECK(mkdtemp(top) != NULL);
  snprintf(cache, sizeof cache, "%s/spool/cache", top);
  snprintf(store, sizeof store, "%s/spool/tlsrpt", top);

  memset(&opts, 0, sizeof opts);
  opts.struct_size = sizeof opts;
  opts.txt_lookup = lookup;
  opts.https_connect = "127.0.0.1";
  opts.https_port = 9; /* discard: nothing listens, connect is refused */
  opts.https_timeout_ms = 2000;
  opts.txt_recheck_s = STS_SECONDS_NONE;
  opts.cache_path = cache;

  /* The cache directory and its missing parent: owner-only. */
  CHECK(sts_client_new(&opts, &client) == STS_OK && client != NULL);
  CHECK(mode_of(cache) == 0700);
  snprintf(cmd, sizeof cmd, "%s/spool", top);
  CHECK(mode_of(cmd) == 0700);

  /* The TLSRPT store: owner-only directories and day file. */
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.policy_type = STS_POLICY_TYPE_STS;
  o.policy_domain = "policy.test";
  o.receiving_mx_hostname = "mx1.policy.test";
  o.count = 1;
  CHECK(sts_client_report_record(client, store, &o) == STS_OK);
  CHECK(mode_of(store) == 0700);
  snprintf(cmd, sizeof cmd, "%s/outcomes", store);
  CHECK(mode_of(cmd) == 0700);
  CHECK(loose_entries(top, 3) == 0);

  /* A cache entry others can write that says "mode: none" under the id
   * DNS publishes is not used: the policy is fetched instead (and that
   * fails here, so there is no policy, but never mode none). */
  snprintf(entry, sizeof entry, "%s/policy.test", cache);
  (void)unlink(entry); /* recording above may have cached the failed fetch */
  f = fopen(entry, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    static const char pol[] = "version: STSv1\nmode: none\nmx: mx1.policy.test\nmax_age: 86400\n";
    long now = (long)time(NULL);
    fprintf(f, "libsts-cache 1\nchecked %ld\npolicy 20261207 %ld %ld %zu\n\n%s", now, now, now + 86400, strlen(pol),
            pol);
    fclose(f);
  }
  CHECK(mode_of(entry) == 0666);
  sts_client_free(client);
  client = NULL;
  CHECK(sts_client_new(&opts, &client) == STS_OK && client != NULL);
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  CHECK(sts_client_decide(client, "policy.test", "mx1.policy.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT,
                          &d) == STS_OK);
  CHECK(d.mode != STS_DECISION_NONE);
  CHECK(d.mode == STS_DECISION_NO_POLICY &&
        (d.lookup_error == STS_ERR_CLIENT_FETCH || d.lookup_error == STS_ERR_CLIENT_BACKED_OFF));
  /* The same entry owner-only is trusted: mode none. */
  CHECK(chmod(entry, 0600) == 0);
  sts_client_free(client);
  client = NULL;
  CHECK(sts_client_new(&opts, &client) == STS_OK && client != NULL);
  f = fopen(entry, "w");
  if (f != NULL) {
    static const char pol[] = "version: STSv1\nmode: none\nmx: mx1.policy.test\nmax_age: 86400\n";
    long now = (long)time(NULL);
    fprintf(f, "libsts-cache 1\nchecked %ld\npolicy 20261207 %ld %ld %zu\n\n%s", now, now, now + 86400, strlen(pol),
            pol);
    fclose(f);
  }
  CHECK(sts_client_decide(client, "policy.test", "mx1.policy.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT,
                          &d) == STS_OK);
  CHECK(d.mode == STS_DECISION_NONE);
  sts_client_free(client);
  client = NULL;

  /* A cache directory others can write: no client. */
  CHECK(chmod(cache, 0777) == 0);
  CHECK(sts_client_new(&opts, &client) == STS_ERR_CLIENT_CACHE && client == NULL);
  CHECK(chmod(cache, 0700) == 0);

  /* A day file others can write is refused (forged outcomes). */
  snprintf(cmd, sizeof cmd, "ls %s/outcomes/*.log > %s/day", store, top);
  CHECK(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "%s/day", top);
  f = fopen(cmd, "r");
  day[0] = '\0';
  if (f != NULL) {
    if (fgets(day, sizeof day, f) != NULL) {
      day[strcspn(day, "\n")] = '\0';
    }
    fclose(f);
  }
  CHECK(day[0] != '\0' && mode_of(day) == 0600);
  CHECK(chmod(day, 0666) == 0);
  CHECK(sts_report_record(store, &o) == STS_ERR_REPORT_STORAGE);

  snprintf(cmd, sizeof cmd, "rm -rf %s", top);
  CHECK(system(cmd) == 0);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
