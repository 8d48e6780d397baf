/*
 * The pass/fail counters of the C tests: CHECK(cond) counts a passed or a
 * failed check and names the line of a failed one; a test ends by
 * printing "N passed, N failed" from `passed` and `failed`. Included by
 * one source file of each test program.
 */
#ifndef STS_TEST_CHECK_H
#define STS_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (cond) {                                                                                                        \
      passed++;                                                                                                        \
    } else {                                                                                                           \
      failed++;                                                                                                        \
      printf("FAIL line %d: %s\n", __LINE__, #cond);                                                                   \
    }                                                                                                                  \
  } while (0)

#endif
