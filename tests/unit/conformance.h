/*
 * tests/unit/conformance.h — the quantizer/store conformance suite.
 *
 * One entry point runs every check the library relies on against any
 * registered quantizer and the store it produces, knowing nothing about it
 * beyond its registry entry and its ops: a quantizer added later (a new file
 * plus one registry line, or a cn_registry_add() at run time) is checked by
 * tests/unit/test_conformance.c with no test code of its own. What is
 * checked, and how shapes and parameters are chosen, is described at the top
 * of conformance.c and in algorithms/quant/README.md.
 *
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <stdint.h>, <cmocka.h>
 * (cn_conformance_assert reports through cmocka).
 */
#ifndef CN_CONFORMANCE_H
#define CN_CONFORMANCE_H

#include <stddef.h>

#include "cannoli/registry.h"

typedef struct cn_conformance_report {
    unsigned long checks;   /* individual checks evaluated */
    unsigned long failures; /* of which failed */
    unsigned configs;       /* (parameter set, metric, input, dim) runs */
    double worst;           /* largest |dist - exact| / declared bound seen (<= 1 passes) */
    char first[1024];       /* the first failure, one line naming the check and the shape */
} cn_conformance_report_t;

/* Runs the suite on quantizer entry c (it must be registered: saved stores
 * reload through the registry). Fills *rep; returns rep->failures. */
unsigned long cn_conformance_quantizer(const cn_component_t *c, cn_conformance_report_t *rep);

/* Runs the suite on the registered quantizer `name` and fails the current
 * cmocka test with the first failure if any check fails. */
void cn_conformance_assert(const char *name);

#endif
