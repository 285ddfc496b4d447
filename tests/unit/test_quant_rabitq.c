/*
 * test_quant_rabitq.c — RaBitQ 1-bit codes in FastScan blocks
 * (algorithms/quant/rabitq.c). The store's API (tolerance against decode +
 * score_offset, batch/range/pairs agreement, packed blocks and score_lb,
 * save/load) is the shared conformance suite's; here:
 *   - the conformance suite on rabitq alone (quick to rerun);
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "conformance.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"

static void test_conformance_rabitq(void **state) {
    (void)state;
    cn_conformance_assert("rabitq");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_rabitq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
