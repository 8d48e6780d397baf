/*
 * policy-check: parse an MTA-STS policy file and say whether an MX host is
 * permitted by it (RFC 8461 §3.2, §4.1).
 *
 *   policy-check POLICY-FILE MX-HOST
 *
 * Prints the mode, max_age and mx patterns, then the verdict. Exit status:
 * 0 permitted, 1 not permitted, 2 invalid policy, 3 usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sts.h"

/* Policies are small (RFC 8461 §3.3 suggests senders cap them at 64 KiB). */
#define MAX_POLICY (64 * 1024)

static const char *mode_name(sts_mode mode) {
  switch (mode) {
  case STS_MODE_ENFORCE:
    return "enforce";
  case STS_MODE_TESTING:
    return "testing";
  case STS_MODE_NONE:
    return "none";
  }
  return "?";
}

int main(int argc, char **argv) {
  static uint8_t buf[MAX_POLICY + 1];
  FILE *f;
  size_t len;
  sts_policy policy;
  sts_result r;
  size_t i;

  if (argc != 3) {
    fprintf(stderr, "usage: %s POLICY-FILE MX-HOST\n", argv[0]);
    return 3;
  }
  f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 3;
  }
  len = fread(buf, 1, sizeof buf, f);
  if (ferror(f)) {
    perror(argv[1]);
    fclose(f);
    return 3;
  }
  fclose(f);
  if (len > MAX_POLICY) {
    fprintf(stderr, "%s: larger than %d bytes\n", argv[1], MAX_POLICY);
    return 3;
  }

  r = sts_policy_parse(buf, len, &policy);
  if (r != STS_OK) {
    printf("policy: invalid (%s: %s)\n", sts_result_name(r), sts_result_str(r));
    return 2;
  }
  printf("libsts: %s\n", sts_version());
  printf("mode: %s\n", mode_name(policy.mode));
  printf("max_age: %lu\n", (unsigned long)policy.max_age);
  for (i = 0; i < policy.mx_count; i++) {
    const uint8_t *name;
    size_t name_len;
    r = sts_policy_mx(&policy, i, &name, &name_len);
    if (r != STS_OK) {
      fprintf(stderr, "mx %lu: %s\n", (unsigned long)i, sts_result_str(r));
      return 3;
    }
    printf("mx: %.*s\n", (int)name_len, (const char *)name);
  }

  r = sts_policy_match_mx(&policy, argv[2]);
  if (r == STS_OK) {
    printf("%s: permitted\n", argv[2]);
    return 0;
  }
  printf("%s: not permitted (%s: %s)\n", argv[2], sts_result_name(r), sts_result_str(r));
  return 1;
}
