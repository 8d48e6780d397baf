/*
 * Firmware example: MTA-STS checks in a mail appliance with no heap and no
 * operating system. Only the validation core of libsts is linked (policy
 * parse, TXT selection, MX matching; DANE-EE when the header defines
 * STS_FEATURE_DANE). All inputs live in static storage; nothing calls
 * malloc. With -DSTS_FIRMWARE_LOG it also keeps sts_result_str for a log.
 *
 * Built two ways by scripts/firmware.sh: for thumbv7em-none-eabihf
 * (Cortex-M4F) with arm-none-eabi-gcc and include/firmware*, to measure
 * size; and for the host with -DSTS_FIRMWARE_HOST, to run the same checks
 * as a test.
 */
#include <stddef.h>
#include <stdint.h>

#include "sts.h"

static const uint8_t policy[] = "version: STSv1\r\n"
                                "mode: enforce\r\n"
                                "mx: mx1.example.com\r\n"
                                "mx: *.mail.example.net\r\n"
                                "max_age: 604800\r\n";
static const uint8_t txt_spf[] = "v=spf1 -all";
static const uint8_t txt_sts[] = "v=STSv1; id=20261123T000000;";

#ifdef STS_FIRMWARE_LOG
/* The text of the last refusal, where a firmware would log it. */
const char *volatile sts_firmware_log;

static int same_text(const char *a, const char *b) {
  while (*a != '\0' && *a == *b) {
    a++;
    b++;
  }
  return *a == *b;
}

/* Keeps the text of `r` for the log; 0 when it is what this library's
 * header promises: a sentence with STS_FEATURE_MESSAGES, else the name. */
static int log_result(sts_result r) {
  const char *text = sts_result_str(r);
  sts_firmware_log = text;
  if (text == NULL || text[0] == '\0') {
    return 1;
  }
#if defined(STS_FEATURE_MESSAGES)
  return same_text(text, sts_result_name(r));
#else
  return !same_text(text, sts_result_name(r));
#endif
}
#endif

/* Returns 0 when every check gives the expected answer, else the number of
 * the first check that did not. */
int sts_firmware_check(void) {
  sts_policy p;
  sts_txt_record t;
  const uint8_t *records[2];
  size_t lens[2];

  records[0] = txt_spf;
  lens[0] = sizeof txt_spf - 1;
  records[1] = txt_sts;
  lens[1] = sizeof txt_sts - 1;
  if (sts_txt_select(records, lens, 2, &t) != STS_OK || t.id_len != 15) {
    return 1;
  }
  if (sts_policy_parse(policy, sizeof policy - 1, &p) != STS_OK || p.mode != STS_MODE_ENFORCE || p.mx_count != 2) {
    return 2;
  }
  if (sts_policy_match_mx(&p, "mx1.example.com") != STS_OK) {
    return 3;
  }
  if (sts_policy_match_mx(&p, "eu.mail.example.net.") != STS_OK) {
    return 4;
  }
  if (sts_policy_match_mx(&p, "mx.attacker.example") != STS_ERR_MX_NO_MATCH) {
    return 5;
  }
#ifdef STS_FIRMWARE_LOG
  if (log_result(STS_ERR_MX_NO_MATCH) != 0) {
    return 8;
  }
#endif
  if (sts_mx_pattern_match("*.example.com", "a.b.example.com") != STS_ERR_MX_NO_MATCH) {
    return 6;
  }
#if defined(STS_FEATURE_DANE)
  {
    /* A TLSA record that cannot be used for SMTP (PKIX-EE) and an empty
     * chain: both are reported, neither crashes. */
    static const uint8_t tlsa[] = {1, 1, 1, 0xaa};
    const uint8_t *rr[1];
    size_t rr_len[1];
    rr[0] = tlsa;
    rr_len[0] = sizeof tlsa;
    if (sts_dane_verify(NULL, NULL, 0, rr, rr_len, 1, "mx1.example.com", 0) != STS_ERR_DANE_EMPTY_CHAIN) {
      return 7;
    }
  }
#endif
  return 0;
}

#ifdef STS_FIRMWARE_HOST
int main(void) { return sts_firmware_check(); }
#else
volatile int sts_firmware_status;

void Reset_Handler(void);
void Reset_Handler(void) {
  sts_firmware_status = sts_firmware_check();
  for (;;) {
  }
}

/* Initial stack pointer (top of RAM, see firmware.ld) and reset vector. */
extern uint32_t _stack_top;
__attribute__((section(".isr_vector"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))(uintptr_t)&_stack_top,
    Reset_Handler,
};
#endif
