/*
 * The C ABI with a fleet's Redis (`redis_url` of sts_client_options): one
 * decision for a domain whose _mta-sts record does not exist, and one
 * outcome recorded with sts_client_report_record. tests/c/redis.sh starts
 * the redis-server and then looks for the keys this program made.
 *
 *   redis REDIS-URL REPORT-DIR
 *
 * Ends with "N passed, N failed".
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sts.h"

/* Every name is NXDOMAIN: the client then remembers "no policy" for the
 * negative TTL, in Redis too, without any HTTPS. */
static uint32_t nxdomain(void *userdata, const char *name, sts_txt_answer *answer) {
  (void)userdata;
  (void)name;
  (void)answer;
  return STS_TXT_LOOKUP_NXDOMAIN;
}

int main(int argc, char **argv) {
  sts_client_options opts = STS_INIT(sts_client_options);
  sts_decision d = STS_INIT(sts_decision);
  sts_report_outcome o = STS_INIT(sts_report_outcome);
  sts_client *client = NULL;

  if (argc != 3) {
    fprintf(stderr, "usage: redis REDIS-URL REPORT-DIR\n");
    return 2;
  }
  opts.txt_lookup = nxdomain;

  /* A URL that is not redis:// is a configuration error, not a crash. */
  opts.redis_url = "http://127.0.0.1:6379";
  CHECK(sts_client_new(&opts, &client) == STS_ERR_CLIENT_CONFIG && client == NULL);

  opts.redis_url = argv[1];
  CHECK(sts_client_new(&opts, &client) == STS_OK && client != NULL);
  if (client == NULL) {
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }

  /* RFC 8461 §3.1: no record, no policy. */
  CHECK(sts_client_decide(client, "nxdomain.test", "mx1.nxdomain.test", STS_DANE_NOT_USABLE, STS_TLS_REQUIRED_DEFAULT,
                          &d) == STS_OK);
  CHECK(d.mode == STS_DECISION_NO_POLICY && !d.refuse);

  /* RFC 8460 §4.3: counted for the fleet as no-policy-found. */
  o.policy_type = STS_POLICY_TYPE_STS;
  o.policy_domain = "nxdomain.test";
  o.receiving_mx_hostname = "mx1.nxdomain.test";
  CHECK(sts_client_report_record(client, argv[2], &o) == STS_OK);

  sts_client_free(client);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
