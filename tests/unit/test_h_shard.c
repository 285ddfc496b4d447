/*
 * test_h_shard.c — splitting a run into shards (harness/shard.c): every
 * build point in exactly one shard, the same assignment every time and for
 * any done set, longest-processing-time balance against the cost model,
 * points sharing a full-precision graph kept together, costlier points
 * (more M, more ef_construction, bigger search grids) estimated costlier;
 * `--shard K/N` and `--shard auto` (Slurm array ids from 0 or from 1, with a
 * step) parsed, bad values refused with the reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"
#include "config.h"
#include "plan.h"
#include "shard.h"

static const cn_plan_shape_t pshape = {"d", 128, CN_METRIC_L2};
static const cn_shard_shape_t sshape = {1000000, 10000, 128.0, 128, CN_METRIC_L2};

static void load_plan(const char *yaml, cn_experiment_t *exp, cn_plan_t *plan) {
    const char *path = cn_test_write_file("s.yaml", yaml);
    assert_non_null(path);
    char err[1024];
    if (cn_config_load(exp, path, err, sizeof err)) fail_msg("config: %s", err);
    if (cn_plan_make(plan, exp, &pshape, NULL, NULL, err, sizeof err)) fail_msg("plan: %s", err);
}

/* 12 build points of various costs, 4 of them sharing one graph. */
static const char *sweep_yaml =
    "dataset: d\nk: 10\nruns: 2\nalgorithms:\n"
    "  - name: plain\n    index: hnsw\n"
    "    build: {M: [8, 16, 32], ef_construction: [100, 200, 400]}\n"
    "    search: {ef: [10, 40, 160]}\n"
    "  - name: sq8\n    index: hnsw\n    quantizer: sq8\n"
    "    build: {M: 8, ef_construction: 100}\n    search: {ef: [10, 40]}\n"
    "  - name: pq\n    index: hnsw\n"
    "    quantizer: {name: pq, subspaces: [16, 32]}\n"
    "    build: {M: 8, ef_construction: 100}\n    search: {ef: [10, 40]}\n"
    "  - name: pqq\n    index: hnsw\n    quantizer: {name: pq, subspaces: 16}\n"
    "    build: {M: 8, ef_construction: 100, build_on: quantized}\n    search: {ef: [10]}\n";

static size_t find(const cn_plan_t *p, const char *algo, const char *bp_part,
                   const char *qp_part) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->points[i].algo->name, algo) && strstr(p->points[i].bp.text, bp_part) &&
            strstr(p->points[i].qp.text, qp_part))
            return i;
    fail_msg("no build point %s {%s} {%s}", algo, qp_part, bp_part);
    return 0;
}

static void test_every_point_once_and_deterministic(void **state) {
    (void)state;
    cn_experiment_t exp;
    cn_plan_t plan;
    load_plan(sweep_yaml, &exp, &plan);
    assert_int_equal(plan.n, 9 + 1 + 2 + 1);
    char err[1024];
    for (size_t n = 1; n <= 16; n++) {
        cn_shard_assign_t a, b;
        assert_int_equal(cn_shard_assign(&a, &plan, &exp, &sshape, n, err, sizeof err), 0);
        assert_int_equal(cn_shard_assign(&b, &plan, &exp, &sshape, n, err, sizeof err), 0);
        assert_int_equal(a.npoints, plan.n);
        double sum = 0;
        for (size_t s = 0; s < n; s++) sum += a.load[s];
        assert_true(sum > 0.999999 * a.total && sum < 1.000001 * a.total);
        size_t kept_total = 0;
        for (size_t i = 0; i < plan.n; i++) {
            assert_true(a.shard[i] >= 1 && a.shard[i] <= (int)n);
            assert_int_equal(a.shard[i], b.shard[i]);
        }
        /* cn_shard_keep partitions the plan: each point in exactly one shard. */
        for (int k = 1; k <= (int)n; k++) {
            cn_plan_t p2;
            cn_experiment_t e2;
            load_plan(sweep_yaml, &e2, &p2);
            cn_shard_keep(&p2, &a, k);
            size_t expect = 0;
            for (size_t i = 0; i < plan.n; i++) expect += a.shard[i] == k;
            assert_int_equal(p2.n, expect);
            for (size_t j = 0; j < p2.n; j++) {
                /* the kept point is the same point, in plan order */
                size_t i = find(&plan, p2.points[j].algo->name, p2.points[j].bp.text,
                                p2.points[j].qp.text);
                assert_int_equal(a.shard[i], k);
            }
            kept_total += p2.n;
            cn_plan_free(&p2);
            cn_config_free(&e2);
        }
        assert_int_equal(kept_total, plan.n);
        cn_shard_assign_free(&a);
        cn_shard_assign_free(&b);
    }
    cn_plan_free(&plan);
    cn_config_free(&exp);
}

static void test_done_points_do_not_move_points(void **state) {
    (void)state;
    cn_experiment_t exp;
    cn_plan_t plan;
    load_plan(sweep_yaml, &exp, &plan);
    char err[1024];
    cn_shard_assign_t a, b;
    assert_int_equal(cn_shard_assign(&a, &plan, &exp, &sshape, 3, err, sizeof err), 0);
    /* Half the points measured (a resumed shard): the assignment is the same. */
    for (size_t i = 0; i < plan.n; i += 2)
        for (size_t s = 0; s < plan.points[i].nsearch; s++) plan.points[i].search[s].done = 1;
    assert_int_equal(cn_shard_assign(&b, &plan, &exp, &sshape, 3, err, sizeof err), 0);
    for (size_t i = 0; i < plan.n; i++) assert_int_equal(a.shard[i], b.shard[i]);
    cn_shard_assign_free(&a);
    cn_shard_assign_free(&b);
    cn_plan_free(&plan);
    cn_config_free(&exp);
}

static void test_shared_graph_stays_together(void **state) {
    (void)state;
    cn_experiment_t exp;
    cn_plan_t plan;
    load_plan(sweep_yaml, &exp, &plan);
    char err[1024];
    size_t g = find(&plan, "plain", "M=8;ef_construction=100;", "");
    size_t members[] = {find(&plan, "sq8", "M=8", ""), find(&plan, "pq", "M=8", "subspaces=16"),
                        find(&plan, "pq", "M=8", "subspaces=32")};
    size_t alone = find(&plan, "pqq", "build_on=quantized", "");
    for (size_t n = 2; n <= 13; n++) {
        cn_shard_assign_t a;
        assert_int_equal(cn_shard_assign(&a, &plan, &exp, &sshape, n, err, sizeof err), 0);
        assert_int_equal(a.nunits, plan.n - 3);
        for (size_t m = 0; m < 3; m++) {
            assert_int_equal(a.unit[members[m]], a.unit[g]);
            assert_int_equal(a.shard[members[m]], a.shard[g]);
        }
        assert_int_not_equal(a.unit[alone], a.unit[g]); /* built on its own codes */
        cn_shard_assign_free(&a);
    }
    cn_plan_free(&plan);
    cn_config_free(&exp);
}

static void test_costs_follow_the_model(void **state) {
    (void)state;
    cn_experiment_t exp;
    cn_plan_t plan;
    load_plan(sweep_yaml, &exp, &plan);
    char err[1024];
    cn_shard_assign_t a;
    assert_int_equal(cn_shard_assign(&a, &plan, &exp, &sshape, 1, err, sizeof err), 0);
    double c8 = a.ucost[a.unit[find(&plan, "plain", "M=8;ef_construction=200;", "")]];
    double c16 = a.ucost[a.unit[find(&plan, "plain", "M=16;ef_construction=200;", "")]];
    double c32 = a.ucost[a.unit[find(&plan, "plain", "M=32;ef_construction=400;", "")]];
    assert_true(c16 > 1.9 * c8 && c16 < 2.1 * c8); /* the graph dominates: ~ M */
    assert_true(c32 > 3.9 * c16 && c32 < 4.1 * c16);  /* ~ M x ef_construction */
    /* The shared graph is counted once in its unit: the unit's cost minus
     * its points' own costs is one graph of M=8, ef_construction=100 — the
     * same as the graph the build_on: quantized point builds alone. */
    size_t g = find(&plan, "plain", "M=8;ef_construction=100;", "");
    size_t alone = find(&plan, "pqq", "build_on=quantized", "");
    double own = 0;
    size_t members = 0;
    for (size_t i = 0; i < plan.n; i++)
        if (a.unit[i] == a.unit[g]) {
            assert_true(a.cost[i] > 0);
            own += a.cost[i];
            members++;
        }
    assert_int_equal(members, 4);
    double graph = a.ucost[a.unit[g]] - own, graph_alone = a.ucost[a.unit[alone]] - a.cost[alone];
    assert_true(graph > 0.999 * graph_alone && graph < 1.001 * graph_alone);
    assert_true(graph > 0.999 * 1e6 * 128 * 100 * 8 && graph < 1.001 * 1e6 * 128 * 100 * 8);
    /* One shard: everything on it. */
    assert_true(a.load[0] > 0.999999 * a.total);
    cn_shard_assign_free(&a);
    cn_plan_free(&plan);
    cn_config_free(&exp);
}

static void test_lpt_balance(void **state) {
    (void)state;
    /* 8 identical points and 4 shards: exactly two each. */
    cn_experiment_t exp;
    cn_plan_t plan;
    load_plan("dataset: d\nalgorithms:\n  - name: h\n    index: hnsw\n"
              "    build: {M: 16, ef_construction: 100, seed: [1, 2, 3, 4, 5, 6, 7, 8]}\n"
              "    search: {ef: [10, 20]}\n",
              &exp, &plan);
    char err[1024];
    cn_shard_assign_t a;
    assert_int_equal(plan.n, 8);
    assert_int_equal(cn_shard_assign(&a, &plan, &exp, &sshape, 4, err, sizeof err), 0);
    for (size_t s = 0; s < 4; s++) assert_true(a.load[s] > 0.2499 * a.total && a.load[s] < 0.2501 * a.total);
    cn_shard_assign_free(&a);
    cn_plan_free(&plan);
    cn_config_free(&exp);
    /* The mixed sweep: LPT's bound, makespan <= total / N + the largest unit,
     * and the largest unit alone when it exceeds the ideal share. */
    load_plan(sweep_yaml, &exp, &plan);
    for (size_t n = 2; n <= 6; n++) {
        assert_int_equal(cn_shard_assign(&a, &plan, &exp, &sshape, n, err, sizeof err), 0);
        double big = 0;
        for (size_t u = 0; u < a.nunits; u++)
            if (a.ucost[u] > big) big = a.ucost[u];
        double ms = a.load[cn_shard_makespan(&a)];
        assert_true(ms <= a.total / (double)n + big + 1e-6 * a.total);
        assert_true(ms >= a.total / (double)n - 1e-6 * a.total);
        /* Not round-robin: the biggest unit (M=32, efc=400) is alone on its shard. */
        size_t top = find(&plan, "plain", "M=32;ef_construction=400;", "");
        double other = 0;
        for (size_t u = 0; u < a.nunits; u++) {
            size_t first = 0;
            while (a.unit[first] != u) first++;
            if (u != a.unit[top] && a.shard[first] == a.shard[top]) other += a.ucost[u];
        }
        if (big > a.total / (double)n) assert_true(other == 0);
        cn_shard_assign_free(&a);
    }
    cn_plan_free(&plan);
    cn_config_free(&exp);
}

static void test_parse(void **state) {
    (void)state;
    char err[512];
    cn_shard_sel_t s;
    assert_int_equal(cn_shard_parse("2/5", &s, err, sizeof err), 0);
    assert_int_equal(s.k, 2);
    assert_int_equal(s.n, 5);
    assert_int_equal(cn_shard_parse("1/1", &s, err, sizeof err), 0);
    const char *bad[] = {"0/3", "4/3", "3", "/3", "1/", "a/b", "1/3x", "-1/3", "1/0", "", "2/200000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(cn_shard_parse(bad[i], &s, err, sizeof err), -1);
        assert_non_null(strstr(err, "expected K/N"));
    }
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    unsetenv("SLURM_ARRAY_TASK_STEP");
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "SLURM_ARRAY_TASK_ID is not set"));
    /* --array=1-4 (what `cannoli slurm` writes): task 1 is shard 1. */
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), 0);
    assert_int_equal(s.k, 1);
    assert_int_equal(s.n, 4);
    setenv("SLURM_ARRAY_TASK_ID", "4", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), 0);
    assert_int_equal(s.k, 4);
    setenv("SLURM_ARRAY_TASK_ID", "5", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), -1);
    /* --array=0-3: task 0 is shard 1, also with MIN absent. */
    setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
    setenv("SLURM_ARRAY_TASK_ID", "0", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), 0);
    assert_int_equal(s.k, 1);
    unsetenv("SLURM_ARRAY_TASK_MIN");
    setenv("SLURM_ARRAY_TASK_ID", "3", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), 0);
    assert_int_equal(s.k, 4);
    /* --array=10-16:2 (4 tasks): 14 is shard 3; 13 is no task. */
    setenv("SLURM_ARRAY_TASK_MIN", "10", 1);
    setenv("SLURM_ARRAY_TASK_STEP", "2", 1);
    setenv("SLURM_ARRAY_TASK_ID", "14", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), 0);
    assert_int_equal(s.k, 3);
    setenv("SLURM_ARRAY_TASK_ID", "13", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), -1);
    setenv("SLURM_ARRAY_TASK_ID", "x", 1);
    assert_int_equal(cn_shard_parse("auto", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "SLURM_ARRAY_TASK_ID = 'x'"));
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    unsetenv("SLURM_ARRAY_TASK_STEP");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_point_once_and_deterministic),
        cmocka_unit_test(test_done_points_do_not_move_points),
        cmocka_unit_test(test_shared_graph_stays_together),
        cmocka_unit_test(test_costs_follow_the_model),
        cmocka_unit_test(test_lpt_balance),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
