/*
 * metric/dispatch.c — picks the kernel level once per process.
 *
 * Detection uses CPUID for the instruction sets and XGETBV for the OS having
 * enabled the YMM/ZMM state (a CPU with AVX-512 under an OS that does not
 * save ZMM registers must not use it). CANNOLI_SIMD=scalar|avx2|avx512 caps
 * the level; an unknown value is ignored with a warning on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric/kernels_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CN_X86 1
#endif

const char *cn_simd_name(cn_simd_level_t level) {
    switch (level) {
    case CN_SIMD_SCALAR: return "scalar";
    case CN_SIMD_AVX2: return "avx2";
    case CN_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}

#ifdef CN_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static cn_simd_level_t detect_cpu(void) {
    cn_simd_level_t best = CN_SIMD_SCALAR;
#ifdef CN_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return best;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return best;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return best; /* XMM and YMM state */
    if (__get_cpuid_max(0, NULL) < 7) return best;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
        avx512vl = (b >> 31) & 1;
    if (avx2 && fma && f16c) best = CN_SIMD_AVX2;
    if (best == CN_SIMD_AVX2 && avx512f && avx512dq && avx512bw && avx512vl &&
        (xcr0 & 0xe6) == 0xe6) /* opmask, ZMM_Hi256, Hi16_ZMM */
        best = CN_SIMD_AVX512;
#endif
    return best;
}

cn_simd_level_t cn_simd_detect(void) {
    cn_simd_level_t l = detect_cpu();
#ifndef CN_HAVE_AVX512
    if (l == CN_SIMD_AVX512) l = CN_SIMD_AVX2;
#endif
#ifndef CN_HAVE_AVX2
    if (l == CN_SIMD_AVX2) l = CN_SIMD_SCALAR;
#endif
    return l;
}

const cn_kernels_f32_t *cn_kernels_f32_at(cn_simd_level_t level) {
    if (level > cn_simd_detect()) return NULL;
    switch (level) {
    case CN_SIMD_SCALAR: return &cn_kernels_f32_scalar;
#ifdef CN_HAVE_AVX2
    case CN_SIMD_AVX2: return &cn_kernels_f32_avx2;
#endif
#ifdef CN_HAVE_AVX512
    case CN_SIMD_AVX512: return &cn_kernels_f32_avx512;
#endif
    default: return NULL;
    }
}

/* Decided once. The computation is idempotent, so a benign race between two
 * first callers stores the same value; C11 atomics make it well defined. */
#include <stdatomic.h>
static atomic_int chosen = -1;

cn_simd_level_t cn_simd_level(void) {
    int v = atomic_load_explicit(&chosen, memory_order_acquire);
    if (v >= 0) return (cn_simd_level_t)v;
    cn_simd_level_t l = cn_simd_detect();
    const char *env = getenv("CANNOLI_SIMD");
    if (env && *env) {
        cn_simd_level_t want;
        int ok = 1;
        if (strcmp(env, "scalar") == 0) want = CN_SIMD_SCALAR;
        else if (strcmp(env, "avx2") == 0) want = CN_SIMD_AVX2;
        else if (strcmp(env, "avx512") == 0) want = CN_SIMD_AVX512;
        else {
            ok = 0;
            want = l;
            fprintf(stderr, "cannoli: ignoring CANNOLI_SIMD='%s' (expected scalar, avx2 or avx512)\n",
                    env);
        }
        if (ok && want < l) l = want;
    }
    atomic_store_explicit(&chosen, (int)l, memory_order_release);
    return l;
}

const cn_kernels_f32_t *cn_kernels_f32(void) {
    const cn_kernels_f32_t *k = cn_kernels_f32_at(cn_simd_level());
    return k ? k : &cn_kernels_f32_scalar;
}
