/*
 * The std client through the C ABI, without a network: DNS answers come
 * from a TXT lookup callback, and the policy host is an address where
 * nothing listens, so every fetch fails fast. Checks the decisions and
 * TLSRPT failure types for: no record, a temporary DNS failure, a policy
 * that cannot be fetched, bad arguments, and handle lifetime.
 *
 * Ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sts.h"

static int calls;

/* _mta-sts.nxdomain.test: NXDOMAIN; _mta-sts.tempfail.test: SERVFAIL;
 * _mta-sts.policy.test: one STSv1 record and an SPF record. */
static uint32_t lookup(void *userdata, const char *name, sts_txt_answer *answer) {
  static const char spf[] = "v=spf1 -all";
  static const char sts[] = "v=STSv1; id=20261123;";
  (void)userdata;
  calls++;
  if (strcmp(name, "_mta-sts.policy.test") == 0) {
    if (sts_txt_answer_add(answer, (const uint8_t *)spf, strlen(spf)) != STS_OK ||
        sts_txt_answer_add(answer, (const uint8_t *)sts, strlen(sts)) != STS_OK) {
      return STS_TXT_LOOKUP_TEMPFAIL;
    }
    return STS_TXT_LOOKUP_FOUND;
  }
  if (strcmp(name, "_mta-sts.tempfail.test") == 0) {
    return STS_TXT_LOOKUP_TEMPFAIL;
  }
  return STS_TXT_LOOKUP_NXDOMAIN;
}

int main(void) {
  sts_client_options opts;
  sts_client *client = NULL;
  sts_decision d = STS_INIT(sts_decision);
  char buf[256];
  size_t n = 0;

  memset(&opts, 0, sizeof opts);
  opts.struct_size = sizeof opts;
  opts.txt_lookup = lookup;
  opts.https_connect = "127.0.0.1";
  opts.https_port = 9; /* discard: nothing listens, connect is refused */
  opts.https_timeout_ms = 2000;
  opts.txt_recheck_s = STS_SECONDS_NONE; /* ask DNS for every decision */

  sts_client_free(NULL);
  CHECK(sts_client_new(&opts, NULL) == STS_ERR_NULL);
  CHECK(sts_client_new(&opts, &client) == STS_OK && client != NULL);

  /* RFC 8461 §3.1: no record, no policy; nothing to report. */
  CHECK(sts_client_decide(client, "nxdomain.test", "mx1.nxdomain.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT,
                          &d) == STS_OK);
  CHECK(d.mode == STS_DECISION_NO_POLICY && d.mx_permitted && !d.refuse && !d.tls_required);
  CHECK(d.tlsrpt_failure == NULL);

  /* A temporary DNS failure: no policy now, flagged as temporary. */
  CHECK(sts_client_decide(client, "tempfail.test", "mx1.tempfail.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT,
                          &d) == STS_OK);
  CHECK(d.mode == STS_DECISION_NO_POLICY && !d.refuse);
  CHECK(d.lookup_error == STS_ERR_CLIENT_DNS_TEMPORARY && d.lookup_error_temporary);

  /* A TXT record but the policy host is down: sts-policy-fetch-error. */
  CHECK(sts_client_decide(client, "policy.test", "mx1.policy.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT, &d) ==
        STS_OK);
  CHECK(d.mode == STS_DECISION_NO_POLICY && !d.refuse);
  CHECK(d.lookup_error == STS_ERR_CLIENT_FETCH || d.lookup_error == STS_ERR_CLIENT_BACKED_OFF);
  CHECK(d.tlsrpt_failure != NULL && strcmp(d.tlsrpt_failure, "sts-policy-fetch-error") == 0);
  CHECK(sts_client_permitted_mx(client, "policy.test", buf, sizeof buf, &n) == STS_ERR_CLIENT_NO_POLICY);

  /* RFC 8461 §2: DANE wins. */
  CHECK(sts_client_decide(client, "nxdomain.test", "mx1.nxdomain.test", STS_DANE_USABLE, STS_TLS_REQUIRED_DEFAULT, &d) ==
        STS_OK);
  CHECK(d.mode == STS_DECISION_DANE || d.mode == STS_DECISION_NO_POLICY);

  /* Bad arguments. */
  CHECK(sts_client_decide(client, NULL, "mx", 0, 0, &d) == STS_ERR_NULL);
  CHECK(sts_client_decide(client, "a.test", "mx.a.test", 7, 0, &d) == STS_ERR_INVALID_ARGUMENT);
  CHECK(sts_client_decide(client, "a.test", "mx.a.test", 0, 9, &d) == STS_ERR_INVALID_ARGUMENT);
  CHECK(sts_client_decide(NULL, "a.test", "mx.a.test", 0, 0, &d) == STS_ERR_NULL);
  CHECK(sts_client_decide(client, "a.test", "mx.a.test", 0, 0, NULL) == STS_ERR_NULL);
  CHECK(sts_client_decide(client, "not a domain", "mx.a.test", 0, 0, &d) == STS_OK &&
        d.lookup_error == STS_ERR_CLIENT_BAD_DOMAIN);
  /* With txt_recheck_s = STS_SECONDS_NONE every decision asks DNS again. */
  {
    int before = calls;
    CHECK(sts_client_decide(client, "nxdomain.test", "mx1.nxdomain.test", 0, 0, &d) == STS_OK);
    CHECK(sts_client_decide(client, "nxdomain.test", "mx1.nxdomain.test", 0, 0, &d) == STS_OK);
    CHECK(calls == before + 2);
  }
  CHECK(calls >= 3);

  /* RFC 8460: outcomes are recorded into a report store; reports
   * themselves are not (§5.3). */
  {
    char dir[] = "/tmp/sts-c-report-XXXXXX";
    char cmd[128];
    sts_report_outcome o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    CHECK(mkdtemp(dir) != NULL);
    o.policy_type = STS_POLICY_TYPE_STS;
    o.policy_domain = "policy.test";
    o.receiving_mx_hostname = "mx1.policy.test";
    o.result_type = "certificate-expired";
    o.count = 3;
    CHECK(sts_client_report_record(client, dir, &o) == STS_OK);
    o.result_type = NULL;
    o.sync = STS_REPORT_NO_SYNC;
    CHECK(sts_report_record(dir, &o) == STS_OK);
    o.sync = 7;
    CHECK(sts_report_record(dir, &o) == STS_ERR_INVALID_ARGUMENT);
    o.sync = STS_REPORT_SYNC;
    o.result_type = "certificate-exploded";
    CHECK(sts_report_record(dir, &o) == STS_ERR_REPORT_BAD_RESULT_TYPE);
    o.result_type = NULL;
    o.policy_type = 9;
    CHECK(sts_report_record(dir, &o) == STS_ERR_INVALID_ARGUMENT);
    o.policy_type = STS_POLICY_TYPE_STS;
    o.delivery_kind = STS_DELIVERY_REPORT;
    CHECK(sts_report_record(dir, &o) == STS_OK);
    o.policy_domain = NULL;
    CHECK(sts_report_record(dir, &o) == STS_ERR_NULL);
    /* A domain without a policy: recorded as no-policy-found (RFC 8460
     * §4.3), as `sts report record` does. */
    o.policy_domain = "nxdomain.test";
    o.receiving_mx_hostname = "mx1.nxdomain.test";
    o.delivery_kind = 0;
    CHECK(sts_client_report_record(client, dir, &o) == STS_OK);
    snprintf(cmd, sizeof cmd, "grep -q 'no-policy-found.nxdomain[.]test'  %s/outcomes/*.log", dir);
    CHECK(system(cmd) == 0);
    /* Three outcomes stored (the report delivery was dropped). */
    snprintf(cmd, sizeof cmd, "test $(cat %s/outcomes/*.log | wc -l) -eq 3", dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
  }

  /* sts_client_lookup: the policy of a domain without an MX host. */
  {
    sts_lookup l = STS_INIT(sts_lookup);
    CHECK(sts_client_lookup(client, "nxdomain.test", &l) == STS_OK);
    CHECK(l.mode == STS_DECISION_NO_POLICY && l.id == NULL && l.mx == NULL && l.mx_count == 0);
    CHECK(l.lookup_error == STS_OK || l.lookup_error == STS_ERR_TXT_NO_RECORD);
    CHECK(sts_lookup_free(&l) == STS_OK);
    /* A record, but the fetch failed a moment ago (above): no policy,
     * and no new fetch until the back-off ends. */
    CHECK(sts_client_lookup(client, "policy.test", &l) == STS_OK);
    CHECK(l.mode == STS_DECISION_NO_POLICY && l.lookup_error == STS_ERR_CLIENT_BACKED_OFF);
    CHECK(sts_lookup_free(&l) == STS_OK && sts_lookup_free(NULL) == STS_OK);
    CHECK(sts_client_lookup(client, NULL, &l) == STS_ERR_NULL);
    l.struct_size = 0;
    CHECK(sts_client_lookup(client, "nxdomain.test", &l) == STS_ERR_STRUCT_SIZE);
    /* Private fields libsts did not fill are refused, not freed. */
    l.private_owner = &l;
    l.private_check = 12345;
    CHECK(sts_lookup_free(&l) == STS_ERR_CORRUPT_STRUCT);
  }

  /* struct_size: unset is refused; a size no header declared is refused;
   * a newer header's extra bytes are accepted when zero. */
  {
    sts_decision unset;
    struct {
      sts_client_options o;
      unsigned char newer[16];
    } big;
    sts_client *c2 = NULL;
    memset(&unset, 0, sizeof unset);
    CHECK(sts_client_decide(client, "nxdomain.test", "mx.nxdomain.test", 0, 0, &unset) == STS_ERR_STRUCT_SIZE);
    unset.struct_size = 5;
    CHECK(sts_client_decide(client, "nxdomain.test", "mx.nxdomain.test", 0, 0, &unset) == STS_ERR_STRUCT_SIZE);
    memset(&big, 0, sizeof big);
    big.o = opts;
    big.o.struct_size = sizeof big;
    CHECK(sts_client_new(&big.o, &c2) == STS_OK && c2 != NULL);
    sts_client_free(c2);
    c2 = NULL;
    big.newer[3] = 1; /* a field this library does not know is set */
    CHECK(sts_client_new(&big.o, &c2) == STS_ERR_STRUCT_SIZE && c2 == NULL);
    opts.struct_size = 0;
    CHECK(sts_client_new(&opts, &c2) == STS_ERR_STRUCT_SIZE && c2 == NULL);
    opts.struct_size = sizeof opts;
  }

  /* Versions: the library is at least as new as this header. */
  CHECK(sts_version_number() >= STS_VERSION_NUMBER);
  CHECK((sts_version_number() >> 16) == STS_VERSION_MAJOR);

  sts_client_free(client);

  opts.dns_server = "not-an-address";
  client = NULL;
  CHECK(sts_client_new(&opts, &client) == STS_ERR_CLIENT_CONFIG && client == NULL);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
