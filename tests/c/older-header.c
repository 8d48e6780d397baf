/*
 * A program built against an older header keeps working with a newer
 * libsts. tests/c/older-header.sh builds this file twice: against
 * include/sts.h, and against a copy with the last field of every struct
 * that begins with struct_size removed (the header of an older release).
 * Each struct is allocated with exactly its size, so valgrind sees any
 * read or write past what this program's header declared.
 *
 * Prints the struct sizes, then "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sts.h"

static int calls;

/* _mta-sts.policy.test has a record; every other name is NXDOMAIN. */
static uint32_t lookup(void *userdata, const char *name, sts_txt_answer *answer) {
  static const char sts[] = "v=STSv1; id=20261207;";
  (void)userdata;
  calls++;
  if (strcmp(name, "_mta-sts.policy.test") == 0) {
    return sts_txt_answer_add(answer, (const uint8_t *)sts, strlen(sts)) == STS_OK ? STS_TXT_LOOKUP_FOUND
                                                                                   : STS_TXT_LOOKUP_TEMPFAIL;
  }
  return STS_TXT_LOOKUP_NXDOMAIN;
}

/* A zeroed heap block of exactly `size` bytes whose first word is its size. */
static void *sized(size_t size) {
  void *p = calloc(1, size);
  uint32_t s = (uint32_t)size;
  if (p == NULL) {
    exit(3);
  }
  memcpy(p, &s, sizeof s);
  return p;
}

int main(void) {
  sts_client_options *opts = sized(sizeof *opts);
  sts_decision *d = sized(sizeof *d);
  sts_lookup *l = sized(sizeof *l);
  sts_report_outcome *o = sized(sizeof *o);
  sts_client *client = NULL;
  char dir[] = "/tmp/sts-older-header-XXXXXX";
  char cmd[160];

  printf("sizes: options %zu outcome %zu decision %zu lookup %zu\n", sizeof *opts, sizeof *o, sizeof *d, sizeof *l);

  opts->txt_lookup = lookup;
  opts->https_connect = "127.0.0.1";
  opts->https_port = 9; /* nothing listens: the fetch fails at once */
  opts->txt_recheck_s = STS_SECONDS_NONE;
  CHECK(sts_client_new(opts, &client) == STS_OK && client != NULL);

  /* The options were read: the callback is asked for every decision. */
  CHECK(sts_client_decide(client, "nxdomain.test", "mx1.nxdomain.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT,
                          d) == STS_OK);
  CHECK(calls == 1);
  CHECK(d->struct_size == sizeof *d);
  CHECK(d->mode == STS_DECISION_NO_POLICY && d->mx_permitted && !d->refuse && !d->tls_required);
  CHECK(d->tlsrpt_failure == NULL);
  CHECK(sts_client_decide(client, "policy.test", "mx1.policy.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT, d) ==
        STS_OK);
  CHECK(calls == 2);
  CHECK(d->mode == STS_DECISION_NO_POLICY && d->lookup_error == STS_ERR_CLIENT_FETCH);
  CHECK(d->tlsrpt_failure != NULL && strcmp(d->tlsrpt_failure, "sts-policy-fetch-error") == 0);

  CHECK(sts_client_lookup(client, "nxdomain.test", l) == STS_OK);
  CHECK(l->struct_size == sizeof *l && l->mode == STS_DECISION_NO_POLICY && l->mx_count == 0 && l->id == NULL);
  CHECK(sts_lookup_free(l) == STS_OK);

  /* RFC 8460 §4.4: an outcome recorded through the older struct. */
  CHECK(mkdtemp(dir) != NULL);
  o->policy_type = STS_POLICY_TYPE_STS;
  o->policy_domain = "policy.test";
  o->receiving_mx_hostname = "mx1.policy.test";
  o->result_type = "certificate-expired";
  o->sync = STS_REPORT_NO_SYNC;
  o->count = 2;
  CHECK(sts_report_record(dir, o) == STS_OK);
  snprintf(cmd, sizeof cmd, "test $(cat %s/outcomes/*.log | wc -l) -eq 1", dir);
  CHECK(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);

  sts_client_free(client);
  free(opts);
  free(d);
  free(l);
  free(o);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
