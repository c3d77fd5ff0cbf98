// Run-time choice of the instruction-set level, and the entry points that dispatch to the
// three compilations of kernels_body.h.
#include "atx_kernels.h"
#include "kernels_decl.h"

#if defined(__x86_64__)
#include <cpuid.h>

/// XCR0: which register states the OS saves (bits 1–2: SSE and AVX; 5–7: AVX-512).
static unsigned long long xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

/// From cpuid and the OS's saved state: AVX-512 F+VL+BW+DQ with FMA, else AVX2 with FMA.
static int supported_level(void) {
#if defined(__x86_64__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return ATX_SIMD_PORTABLE;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return ATX_SIMD_PORTABLE;
    const unsigned long long x = xcr0();
    if ((x & 0x6) != 0x6) return ATX_SIMD_PORTABLE;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return ATX_SIMD_PORTABLE;
    const int avx2 = (b >> 5) & 1, f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (f && dq && bw && vl && (x & 0xE0) == 0xE0) return ATX_SIMD_AVX512;
    if (avx2) return ATX_SIMD_AVX2;
#endif
    return ATX_SIMD_PORTABLE;
}

static int cached_supported = -1;
static int chosen = -1;

int atx_simd_supported(void) {
    if (cached_supported < 0) cached_supported = supported_level();
    return cached_supported;
}

int atx_simd_level(void) {
    if (chosen < 0) chosen = atx_simd_supported();
    return chosen;
}

static int clamp_level(int level) {
    int s = atx_simd_supported();
    if (level > s) level = s;
    if (level < 0) level = 0;
    return level;
}

void atx_simd_set_level(int level) { chosen = clamp_level(level); }

int atx_simd_width(int level) {
    switch (clamp_level(level)) {
    case ATX_SIMD_AVX512: return 16;
    case ATX_SIMD_AVX2: return 8;
    default: return 4;
    }
}

// The compilation of `fn` for the level in use.
#if defined(__x86_64__)
#define PICK(fn) (atx_simd_level() == ATX_SIMD_AVX512 ? fn##_avx512 : atx_simd_level() == ATX_SIMD_AVX2 ? fn##_avx2 : fn##_portable)
#else
#define PICK(fn) fn##_portable
#endif

double atx_fma_loop(int level, long iterations) {
    switch (clamp_level(level)) {
#if defined(__x86_64__)
    case ATX_SIMD_AVX512: return fma_loop_avx512(iterations);
    case ATX_SIMD_AVX2: return fma_loop_avx2(iterations);
#endif
    default: return fma_loop_portable(iterations);
    }
}

// The transforms vectorise over a row of tiles: rows of at most 4 (8) tiles take the 4-wide
// (8-wide) compilation, whose vectors they fill, instead of mostly empty wider ones.
#if defined(__x86_64__)
#define PICK_TILES(fn, tw)                                                                            \
    ((tw) <= 4 ? fn##_portable                                                                        \
     : ((tw) <= 8 && atx_simd_level() >= ATX_SIMD_AVX2) ? fn##_avx2 : PICK(fn))
#else
#define PICK_TILES(fn, tw) fn##_portable
#endif

void atx_wino_input(const atx_wino_plan *p, const float *x, long q0, long q1, float *v) {
    if (p->m == 4) PICK_TILES(wino4_input, p->tw)(p, x, q0, q1, v);
    else PICK_TILES(wino2_input, p->tw)(p, x, q0, q1, v);
}

void atx_wino_output(const atx_wino_plan *p, const float *m, long q0, long q1, float *y) {
    if (p->m == 4) PICK_TILES(wino4_output, p->tw)(p, m, q0, q1, y);
    else PICK_TILES(wino2_output, p->tw)(p, m, q0, q1, y);
}

void atx_wino_output_grad(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm) {
    if (p->m == 4) PICK_TILES(wino4_output_grad, p->tw)(p, dy, q0, q1, dm);
    else PICK_TILES(wino2_output_grad, p->tw)(p, dy, q0, q1, dm);
}

int atx_direct_block(void) { return PICK(direct_block)(); }

long atx_direct_packed_size(int o, int c, int k) {
    int b = atx_direct_block();
    return (long)((o + b - 1) / b * b) * c * k * k;
}

void atx_direct_pack(const float *w, int o, int c, int k, float *packed) {
    int b = atx_direct_block();
    for (int ob = 0; ob < o; ob += b)
        for (int ic = 0; ic < c; ic++)
            for (int t = 0; t < k * k; t++)
                for (int j = 0; j < b; j++)
                    packed[(((long)ob * c + (long)ic * b) * k * k) + (long)t * b + j] =
                        ob + j < o ? w[((long)(ob + j) * c + ic) * k * k + t] : 0;
}

void atx_direct_forward(const float *x, const float *packed, int n, int c, int h, int w, int o, int k, int pad, int stride, float *y) {
    PICK(direct_forward)(x, packed, n, c, h, w, o, k, pad, stride, y);
}

void atx_direct_weight_grad(const float *x, const float *dy, int n, int c, int h, int w, int o, int k, int pad, int stride, float *dw) {
    PICK(direct_weight_grad)(x, dy, n, c, h, w, o, k, pad, stride, dw);
}

void atx_wino_weights(int m, const float *w, int o, int c, int o0, int o1, float *u) {
    PICK(wino_weights)(m, w, o, c, o0, o1, u);
}

void atx_wino_weight_grad(int m, const float *du, int o, int c, int o0, int o1, float *dw) {
    PICK(wino_weight_grad)(m, du, o, c, o0, o1, dw);
}

// MARK: - Channel-vectorised Winograd (V [α][T][C], M [α][T][O], U [α][C][O])

int atx_winoc_blocks(int channels) { int w = atx_simd_width(atx_simd_level()); return (channels + w - 1) / w; }

void atx_winoc_input(const atx_wino_plan *p, const float *x, long q0, long q1, float *v) { PICK(winoc_input)(p, x, q0, q1, v); }

void atx_winoc_output(const atx_wino_plan *p, const float *m, long q0, long q1, float *y) { PICK(winoc_output)(p, m, q0, q1, y); }

void atx_winoc_output_grad(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm) {
    PICK(winoc_output_grad)(p, dy, q0, q1, dm);
}

void atx_winof_forward(const atx_wino_plan *p, const float *x, const float *u, long s0, long s1, float *y) {
    PICK(winof_forward)(p, x, u, s0, s1, y);
}

void atx_winoc_weights(int m, int r, const float *w, int o, int c, int c0, int c1, float *u) {
    PICK(winoc_weights)(m, r, w, o, c, c0, c1, u);
}

void atx_winoc_weight_grad(int m, int r, const float *du, int o, int c, int c0, int c1, float *dw) {
    PICK(winoc_weight_grad)(m, r, du, o, c, c0, c1, dw);
}

void atx_plane_sums(const float *x, long l, int c, long p0, long p1, const float *mu, float *out) {
    PICK(plane_sums)(x, l, c, p0, p1, mu, out);
}

void atx_bn_grad_sums(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, const float *b,
                      int relu, const float *mu, float *out) {
    PICK(bn_grad_sums)(x, dy, l, c, p0, p1, a, b, relu, mu, out);
}

void atx_bn_affine(const float *x, long l, int c, long p0, long p1, const float *a, const float *b, int relu, float *y) {
    PICK(bn_affine)(x, l, c, p0, p1, a, b, relu, y);
}

void atx_bn_grad_input(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, const float *b,
                       int relu, const float *k, const float *mg, const float *mu, const float *istd, const float *mgx,
                       float *dx) {
    PICK(bn_grad_input)(x, dy, l, c, p0, p1, a, b, relu, k, mg, mu, istd, mgx, dx);
}
