// The vectorised kernels, written once with clang's vector extensions and included by
// kernels_avx512.c, kernels_avx2.c and kernels_portable.c, which set:
//   ATX_W            floats per vector (16, 8, 4)
//   ATX_S(name)      the exported name's suffix
//   ATX_DIRECT_OB/NV the direct forward's register block: output channels × vectors of positions
//   ATX_WGRAD_OB     the direct weight gradient's block of output channels (× 3 taps)
//   ATX_EVEN/ODD/LO/HI/NEXT  shuffle index lists for this width
// Multiply-adds may be fused (FMA) where the level has it; the portable level rounds each step.
#include <stdlib.h>
#include <string.h>
#include "atx_kernels.h"

#pragma clang fp contract(fast)

typedef float vec __attribute__((ext_vector_type(ATX_W)));
typedef float vecu __attribute__((ext_vector_type(ATX_W), aligned(4)));
typedef int veci __attribute__((ext_vector_type(ATX_W)));
#define W ATX_W

static inline vec ld(const float *p) { return *(const vecu *)p; }
static inline void st(float *p, vec v) { *(vecu *)p = v; }
/// Stores the first n lanes (all of them when n ≥ W).
static inline void st_n(float *p, vec v, int n) {
    if (n >= W) { st(p, v); return; }
#ifdef ATX_STORE_N
    ATX_STORE_N(p, v, n);
#else
    for (int i = 0; i < n; i++) p[i] = v[i];
#endif
}
static inline vec splat(float x) { return (vec)x; }
/// The first n floats at p (all W when n ≥ W), zeros after.
static inline vec ld_n(const float *p, int n) {
    if (n >= W) return ld(p);
#ifdef ATX_LOAD_N
    return ATX_LOAD_N(p, n);
#else
    vec v = splat(0);
    for (int i = 0; i < n; i++) v[i] = p[i];
    return v;
#endif
}
/// Even / odd elements of the 2W elements a ‖ b.
static inline vec even(vec a, vec b) { return __builtin_shufflevector(a, b, ATX_EVEN); }
static inline vec odd(vec a, vec b) { return __builtin_shufflevector(a, b, ATX_ODD); }
/// a0 b0 a1 b1 … of the lower / upper halves.
static inline vec lo(vec a, vec b) { return __builtin_shufflevector(a, b, ATX_LO); }
static inline vec hi(vec a, vec b) { return __builtin_shufflevector(a, b, ATX_HI); }
/// a1 … a(W−1) b0: a moved on by one lane.
static inline vec next(vec a, vec b) { return __builtin_shufflevector(a, b, ATX_NEXT); }
static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline long roundup(long a, long b) { return (a + b - 1) / b * b; }
/// n floats on whole cache lines (64-byte aligned), zeroed if `zero`: vector stores into the
/// kernels' scratch never split a line (a split store costs about two). Freed with free().
static inline float *lines(long n, int zero) {
    const size_t bytes = (size_t)roundup(n > 0 ? n * (long)sizeof(float) : 64, 64);
    float *p = aligned_alloc(64, bytes);
    if (zero) memset(p, 0, bytes);
    return p;
}
/// The lanes of v added in order.
static inline float lanes_sum(vec v) {
    float s = 0;
    for (int l = 0; l < W; l++) s += v[l];
    return s;
}

// MARK: - Peak

double ATX_S(fma_loop)(long iterations) {
    vec a0 = splat(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    vec b = splat(0.9999999f), c = splat(1e-7f);
    for (long i = 0; i < iterations; i++) {
        __asm__ volatile("" : "+x"(b));   // b is opaque: the chains must run
        a0 = a0 * b + c; a1 = a1 * b + c; a2 = a2 * b + c; a3 = a3 * b + c; a4 = a4 * b + c; a5 = a5 * b + c;
        a6 = a6 * b + c; a7 = a7 * b + c; a8 = a8 * b + c; a9 = a9 * b + c; a10 = a10 * b + c; a11 = a11 * b + c;
    }
    vec s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
    volatile float sink = 0;
    for (int l = 0; l < W; l++) sink += s[l];
    return 2.0 * 12 * W * (double)iterations;
}

// MARK: - Winograd F(2×2, 3×3)

void ATX_S(wino2_input)(const atx_wino_plan *p, const float *x, long q0, long q1, float *v) {
    const int tw = p->tw, th = p->th, twv = (int)roundup(tw, W), pad = p->pad;
    const long A = p->inputAlphaStride;
    // Each plane is copied into a zero-bordered buffer (row r = input row r − pad, from column
    // pad on), so every tile reads inside it; the row pass then combines along x, the column
    // pass along y: t = [d0 − d2, d1 + d2, d2 − d1, d1 − d3].
    const int rows = 2 * th + 2, stride = 2 * twv + 2 * W;
    float *padded = lines((long)rows * stride, 1);
    float *rp = lines((long)rows * 4 * twv, 0);
    const int copyRows = imax(0, imin(p->h, rows - pad)), copyCols = imin(p->w, stride - pad);
    for (long q = q0; q < q1; q++) {
        const long s = q / p->c;
        const int ch = (int)(q % p->c);
        const float *plane = x + q * (long)p->h * p->w;
        for (int iy = 0; iy < copyRows; iy++) memcpy(padded + (long)(iy + pad) * stride + pad, plane + (long)iy * p->w, sizeof(float) * copyCols);
        for (int r = 0; r < rows; r++) {
            const float *row = padded + (long)r * stride;
            float *out = rp + (long)r * 4 * twv;
            for (int tx = 0; tx < twv; tx += W) {
                vec a = ld(row + 2 * tx), b = ld(row + 2 * tx + W), a2 = ld(row + 2 * tx + 2), b2 = ld(row + 2 * tx + 2 + W);
                vec d0 = even(a, b), d1 = odd(a, b), d2 = even(a2, b2), d3 = odd(a2, b2);
                st(out + tx, d0 - d2); st(out + twv + tx, d1 + d2); st(out + 2 * twv + tx, d2 - d1); st(out + 3 * twv + tx, d1 - d3);
            }
        }
        float *dst = v + ch * p->rowLength + s * p->tilesPerSample;
        for (int ty = 0; ty < th; ty++) {
            const float *r0 = rp + (long)2 * ty * 4 * twv, *r1 = r0 + 4 * twv, *r2 = r1 + 4 * twv, *r3 = r2 + 4 * twv;
            float *t = dst + (long)ty * tw;
            for (int j = 0; j < 4; j++) {
                for (int tx = 0; tx < tw; tx += W) {
                    const int n = imin(W, tw - tx), o = j * twv + tx;
                    vec a = ld(r0 + o), b = ld(r1 + o), c = ld(r2 + o), d = ld(r3 + o);
                    st_n(t + j * A + tx, a - c, n);
                    st_n(t + (4 + j) * A + tx, b + c, n);
                    st_n(t + (8 + j) * A + tx, c - b, n);
                    st_n(t + (12 + j) * A + tx, b - d, n);
                }
            }
        }
    }
    free(padded);
    free(rp);
}

void ATX_S(wino2_output)(const atx_wino_plan *p, const float *m, long q0, long q1, float *y) {
    const int tw = p->tw, th = p->th, oh = p->oh, ow = p->ow;
    const long A = p->outputAlphaStride;
    for (long q = q0; q < q1; q++) {
        const long s = q / p->o;
        const int oc = (int)(q % p->o);
        const float *src = m + oc * p->rowLength + s * p->tilesPerSample;
        float *plane = y + q * (long)oh * ow;
        for (int ty = 0; ty < th; ty++) {
            float *row0 = plane + (long)2 * ty * ow, *row1 = row0 + ow;
            const int second = 2 * ty + 1 < oh;
            for (int tx = 0; tx < tw; tx += W) {
                const float *t = src + (long)ty * tw + tx;
                vec a[4], b[4];   // Aᵀ along y for each column j of the tile
                for (int j = 0; j < 4; j++) {
                    vec m0 = ld(t + j * A), m1 = ld(t + (4 + j) * A), m2 = ld(t + (8 + j) * A), m3 = ld(t + (12 + j) * A);
                    a[j] = m0 + m1 + m2; b[j] = m1 - m2 - m3;
                }
                vec y00 = a[0] + a[1] + a[2], y01 = a[1] - a[2] - a[3];
                vec y10 = b[0] + b[1] + b[2], y11 = b[1] - b[2] - b[3];
                if (tx + W <= tw && 2 * (tx + W) <= ow) {
                    st(row0 + 2 * tx, lo(y00, y01)); st(row0 + 2 * tx + W, hi(y00, y01));
                    if (second) { st(row1 + 2 * tx, lo(y10, y11)); st(row1 + 2 * tx + W, hi(y10, y11)); }
                } else {   // the row's last, partial run: through a local buffer
                    float buffer[2 * W];
                    const int count = imin(2 * W, ow - 2 * tx);
                    st(buffer, lo(y00, y01)); st(buffer + W, hi(y00, y01));
                    memcpy(row0 + 2 * tx, buffer, sizeof(float) * count);
                    if (second) {
                        st(buffer, lo(y10, y11)); st(buffer + W, hi(y10, y11));
                        memcpy(row1 + 2 * tx, buffer, sizeof(float) * count);
                    }
                }
            }
        }
    }
}

void ATX_S(wino2_output_grad)(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm) {
    const int tw = p->tw, th = p->th, oh = p->oh, ow = p->ow, twv = (int)roundup(tw, W), lane = twv + W;
    const long A = p->outputAlphaStride;
    float *lanes = lines(4 * lane, 1);   // g00, g01, g10, g11 by tile column
    float *rowbuf = lines(2 * twv + 2 * W, 1);   // a dy row, zero past ow
    for (long q = q0; q < q1; q++) {
        const long s = q / p->o;
        const int oc = (int)(q % p->o);
        const float *plane = dy + q * (long)oh * ow;
        float *dst = dm + oc * p->rowLength + s * p->tilesPerSample;
        for (int ty = 0; ty < th; ty++) {
            for (int a = 0; a < 2; a++) {
                const int oy = 2 * ty + a;
                float *e = lanes + (long)2 * a * lane, *o = e + lane;
                if (oy < oh) {
                    memcpy(rowbuf, plane + (long)oy * ow, sizeof(float) * ow);
                    for (int tx = 0; tx < twv; tx += W) {
                        vec u = ld(rowbuf + 2 * tx), v2 = ld(rowbuf + 2 * tx + W);
                        st(e + tx, even(u, v2)); st(o + tx, odd(u, v2));
                    }
                } else {
                    memset(e, 0, sizeof(float) * 2 * lane);
                }
            }
            float *t = dst + (long)ty * tw;
            for (int tx = 0; tx < tw; tx += W) {
                const int n = imin(W, tw - tx);
                vec g00 = ld(lanes + tx), g01 = ld(lanes + lane + tx), g10 = ld(lanes + 2 * lane + tx), g11 = ld(lanes + 3 * lane + tx);
                // u_a = [g_a0, g_a0 + g_a1, g_a0 − g_a1, −g_a1] along x; then the same along y.
                vec u0[4] = {g00, g00 + g01, g00 - g01, -g01}, u1[4] = {g10, g10 + g11, g10 - g11, -g11};
                for (int j = 0; j < 4; j++) {
                    st_n(t + j * A + tx, u0[j], n);
                    st_n(t + (4 + j) * A + tx, u0[j] + u1[j], n);
                    st_n(t + (8 + j) * A + tx, u0[j] - u1[j], n);
                    st_n(t + (12 + j) * A + tx, -u1[j], n);
                }
            }
        }
    }
    free(lanes);
    free(rowbuf);
}

// MARK: - Winograd F(4×4, 3×3)
// Lavin & Gray's matrices (interpolation points 0, ±1, ±2, ∞):
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]

/// t = Bᵀ d for six vectors.
static inline void bt6(vec d0, vec d1, vec d2, vec d3, vec d4, vec d5, vec t[6]) {
    const vec four = splat(4), five = splat(5), two = splat(2);
    t[0] = four * d0 - five * d2 + d4;
    t[1] = (d3 + d4) - four * (d1 + d2);
    t[2] = four * (d1 - d2) + (d4 - d3);
    t[3] = two * (d3 - d1) + (d4 - d2);
    t[4] = two * (d1 - d3) + (d4 - d2);
    t[5] = four * d1 - five * d3 + d5;
}

/// y = Aᵀ m: six vectors to four.
static inline void at6(vec m0, vec m1, vec m2, vec m3, vec m4, vec m5, vec y[4]) {
    const vec s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    y[0] = m0 + s12 + s34;
    y[1] = d12 + splat(2) * d34;
    y[2] = s12 + splat(4) * s34;
    y[3] = d12 + splat(8) * d34 + m5;
}

/// u = A g: four vectors to six (the adjoint of at6).
static inline void a6(vec g0, vec g1, vec g2, vec g3, vec u[6]) {
    const vec s02 = g0 + g2, s13 = g1 + g3, p = g0 + splat(4) * g2, q = splat(2) * g1 + splat(8) * g3;
    u[0] = g0; u[1] = s02 + s13; u[2] = s02 - s13; u[3] = p + q; u[4] = p - q; u[5] = g3;
}

// Winograd F(2×2, 5×5) on the same six points: Bᵀ as above (bt6, input_tile4), and
//   G  = [¼ 0 0 0 0; −⅙ −⅙ −⅙ −⅙ −⅙; −⅙ ⅙ −⅙ ⅙ −⅙; 1/24 1/12 ⅙ ⅓ ⅔; 1/24 −1/12 ⅙ −⅓ ⅔; 0 0 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 1]

/// y = Aᵀ m: six vectors to two.
static inline void at62(vec m0, vec m1, vec m2, vec m3, vec m4, vec m5, vec y[2]) {
    y[0] = m0 + (m1 + m2) + (m3 + m4);
    y[1] = (m1 - m2) + splat(2) * (m3 - m4) + m5;
}

/// u = A g: two vectors to six (the adjoint of at62).
static inline void a62(vec g0, vec g1, vec u[6]) {
    const vec t = splat(2) * g1;
    u[0] = g0; u[1] = g0 + g1; u[2] = g0 - g1; u[3] = g0 + t; u[4] = g0 - t; u[5] = g1;
}

/// Elements 4k + j (j = 0…3) of the 4W floats at p: four strided vectors.
static inline void stride4(const float *p, vec d[4]) {
    vec a = ld(p), b = ld(p + W), c = ld(p + 2 * W), e = ld(p + 3 * W);
    vec e0 = even(a, b), e1 = even(c, e), o0 = odd(a, b), o1 = odd(c, e);
    d[0] = even(e0, e1); d[1] = even(o0, o1); d[2] = odd(e0, e1); d[3] = odd(o0, o1);
}

void ATX_S(wino4_input)(const atx_wino_plan *p, const float *x, long q0, long q1, float *v) {
    const int tw = p->tw, th = p->th, twv = (int)roundup(tw, W), pad = p->pad;
    const long A = p->inputAlphaStride;
    const int rows = 4 * th + 2, stride = 4 * twv + 4 * W;
    float *padded = lines((long)rows * stride, 1);
    float *rp = lines((long)rows * 6 * twv, 0);
    const int copyRows = imax(0, imin(p->h, rows - pad)), copyCols = imin(p->w, stride - pad);
    for (long q = q0; q < q1; q++) {
        const long s = q / p->c;
        const int ch = (int)(q % p->c);
        const float *plane = x + q * (long)p->h * p->w;
        for (int iy = 0; iy < copyRows; iy++) memcpy(padded + (long)(iy + pad) * stride + pad, plane + (long)iy * p->w, sizeof(float) * copyCols);
        for (int r = 0; r < rows; r++) {
            const float *row = padded + (long)r * stride;
            float *out = rp + (long)r * 6 * twv;
            for (int tx = 0; tx < twv; tx += W) {
                vec d[4], t[6];
                stride4(row + 4 * tx, d);
                vec d4 = next(d[0], splat(row[4 * tx + 4 * W])), d5 = next(d[1], splat(row[4 * tx + 4 * W + 1]));
                bt6(d[0], d[1], d[2], d[3], d4, d5, t);
                for (int j = 0; j < 6; j++) st(out + j * twv + tx, t[j]);
            }
        }
        float *dst = v + ch * p->rowLength + s * p->tilesPerSample;
        for (int ty = 0; ty < th; ty++) {
            const float *r0 = rp + (long)4 * ty * 6 * twv;
            float *t = dst + (long)ty * tw;
            for (int j = 0; j < 6; j++) {
                for (int tx = 0; tx < tw; tx += W) {
                    const int n = imin(W, tw - tx);
                    const float *c0 = r0 + j * twv + tx;
                    vec out[6];
                    bt6(ld(c0), ld(c0 + 6 * twv), ld(c0 + 12 * twv), ld(c0 + 18 * twv), ld(c0 + 24 * twv), ld(c0 + 30 * twv), out);
                    for (int i = 0; i < 6; i++) st_n(t + (6 * i + j) * A + tx, out[i], n);
                }
            }
        }
    }
    free(padded);
    free(rp);
}

void ATX_S(wino4_output)(const atx_wino_plan *p, const float *m, long q0, long q1, float *y) {
    const int tw = p->tw, th = p->th, oh = p->oh, ow = p->ow;
    const long A = p->outputAlphaStride;
    for (long q = q0; q < q1; q++) {
        const long s = q / p->o;
        const int oc = (int)(q % p->o);
        const float *src = m + oc * p->rowLength + s * p->tilesPerSample;
        float *plane = y + q * (long)oh * ow;
        for (int ty = 0; ty < th; ty++) {
            for (int tx = 0; tx < tw; tx += W) {
                const float *t = src + (long)ty * tw + tx;
                vec col[6][4];   // Aᵀ along y for each column j of the tile
                for (int j = 0; j < 6; j++)
                    at6(ld(t + j * A), ld(t + (6 + j) * A), ld(t + (12 + j) * A), ld(t + (18 + j) * A), ld(t + (24 + j) * A),
                        ld(t + (30 + j) * A), col[j]);
                const int full = tx + W <= tw && 4 * (tx + W) <= ow;
                for (int r = 0; r < 4; r++) {
                    const int oy = 4 * ty + r;
                    if (oy >= oh) break;
                    vec yr[4];
                    at6(col[0][r], col[1][r], col[2][r], col[3][r], col[4][r], col[5][r], yr);
                    float buffer[4 * W];
                    float *row = plane + (long)oy * ow, *out = full ? row + 4 * tx : buffer;   // a partial run goes through a buffer
                    vec l02 = lo(yr[0], yr[2]), l13 = lo(yr[1], yr[3]), h02 = hi(yr[0], yr[2]), h13 = hi(yr[1], yr[3]);
                    st(out, lo(l02, l13)); st(out + W, hi(l02, l13)); st(out + 2 * W, lo(h02, h13)); st(out + 3 * W, hi(h02, h13));
                    if (!full) memcpy(row + 4 * tx, buffer, sizeof(float) * imin(4 * W, ow - 4 * tx));
                }
            }
        }
    }
}

void ATX_S(wino4_output_grad)(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm) {
    const int tw = p->tw, th = p->th, oh = p->oh, ow = p->ow, twv = (int)roundup(tw, W), lane = twv + W;
    const long A = p->outputAlphaStride;
    float *g = lines(16 * lane, 1);   // g[r][c] by tile column
    float *rowbuf = lines(4 * twv + 4 * W, 1);   // a dy row, zero past ow
    for (long q = q0; q < q1; q++) {
        const long s = q / p->o;
        const int oc = (int)(q % p->o);
        const float *plane = dy + q * (long)oh * ow;
        float *dst = dm + oc * p->rowLength + s * p->tilesPerSample;
        for (int ty = 0; ty < th; ty++) {
            for (int r = 0; r < 4; r++) {
                const int oy = 4 * ty + r;
                float *gr = g + (long)4 * r * lane;
                if (oy < oh) {
                    memcpy(rowbuf, plane + (long)oy * ow, sizeof(float) * ow);
                    for (int tx = 0; tx < twv; tx += W) {
                        vec d[4];
                        stride4(rowbuf + 4 * tx, d);
                        for (int c = 0; c < 4; c++) st(gr + c * lane + tx, d[c]);
                    }
                } else {
                    memset(gr, 0, sizeof(float) * 4 * lane);
                }
            }
            float *t = dst + (long)ty * tw;
            for (int tx = 0; tx < tw; tx += W) {
                const int n = imin(W, tw - tx);
                vec u[4][6];   // along x for each row r
                for (int r = 0; r < 4; r++) {
                    const float *gr = g + (long)4 * r * lane + tx;
                    a6(ld(gr), ld(gr + lane), ld(gr + 2 * lane), ld(gr + 3 * lane), u[r]);
                }
                for (int k = 0; k < 6; k++) {
                    vec out[6];
                    a6(u[0][k], u[1][k], u[2][k], u[3][k], out);
                    for (int i = 0; i < 6; i++) st_n(t + (6 * i + k) * A + tx, out[i], n);
                }
            }
        }
    }
    free(g);
    free(rowbuf);
}

// MARK: - Winograd transforms vectorised over channels
// V [α][T][C] and M [α][T][O]: a tile's channels are contiguous, so a vector holds W channels
// of one tile and every load and store is a whole vector, whatever the plane size (the
// row-of-tiles transforms above waste most of each vector on 8×8 or 16×16 planes). The input
// (output) planes of W channels are first transposed into a zero-padded [row][column][lane]
// buffer; a work unit q is one sample and one block of W channels (q / blocks, q % blocks).

static inline int channel_blocks(int c) { return (c + W - 1) / W; }

/// Transposes the W×W matrix whose rows are r[0…W−1] in place (log2 W rounds of interleaving
/// rows i and i + W/2).
static inline void transpose(vec r[W]) {
    for (int round = 1; round < W; round *= 2) {
        vec t[W];
        for (int i = 0; i < W / 2; i++) { t[2 * i] = lo(r[i], r[i + W / 2]); t[2 * i + 1] = hi(r[i], r[i + W / 2]); }
        for (int i = 0; i < W; i++) r[i] = t[i];
    }
}

/// buf[(r·cols + col)·W + l] = plane (c0 + l)[r − pad][col − pad] of sample s (zero outside):
/// W pixels of W planes at a time, transposed in registers.
/// With `zero` false the caller knows that buf's border is zero already (the same geometry as
/// the last call).
static void to_lanes(const float *x, int c, int h, int w, int pad, int s, int c0, int nb, int rows, int cols, float *buf, int zero) {
    // The whole buffer, not just its border: memset's string stores claim the lines without
    // reading them, so the transposed stores below hit L1 (zeroing only the border measured 15%
    // slower at 32 channels of 16×16).
    if (zero) memset(buf, 0, sizeof(float) * (size_t)rows * cols * W);
    const float *planes = x + ((long)s * c + c0) * h * w;
    const int width = imin(w, cols - pad);
    for (int iy = 0; iy < h && iy + pad < rows; iy++) {
        for (int ix = 0; ix < width; ix += W) {
            const int n = imin(W, width - ix);
            vec r[W];
            for (int l = 0; l < W; l++) r[l] = l < nb ? ld_n(planes + (long)l * h * w + (long)iy * w + ix, n) : splat(0);
            transpose(r);
            float *dst = buf + ((long)(iy + pad) * cols + ix + pad) * W;
            for (int j = 0; j < n; j++) st(dst + (long)j * W, r[j]);
        }
    }
}

/// The inverse of to_lanes without padding: plane (o0 + l)[oy][ox] of sample s from
/// buf[(oy·cols + ox)·W + l], for l < nb.
static void from_lanes(const float *buf, int rows, int cols, int o, int oh, int ow, int s, int o0, int nb, float *y) {
    float *planes = y + ((long)s * o + o0) * oh * ow;
    for (int oy = 0; oy < oh && oy < rows; oy++) {
        for (int ox = 0; ox < ow; ox += W) {
            const int n = imin(W, ow - ox);
            vec r[W];
            const float *src = buf + ((long)oy * cols + ox) * W;
            for (int j = 0; j < W; j++) r[j] = j < n ? ld(src + (long)j * W) : splat(0);
            transpose(r);
            for (int l = 0; l < nb; l++) st_n(planes + (long)l * oh * ow + (long)oy * ow + ox, r[l], n);
        }
    }
}

/// Bᵀ d B of one 6×6 tile of W channels: d from the lanes buffer at base (rows `cols` pixels
/// apart), V_α to out + α·A (the first nb lanes).
static inline void input_tile4(const float *base, int cols, float *out, long A, int nb) {
    vec t[6][6];
    for (int j = 0; j < 6; j++) {
        vec col[6];
        bt6(ld(base + j * W), ld(base + ((long)cols + j) * W), ld(base + ((long)2 * cols + j) * W),
            ld(base + ((long)3 * cols + j) * W), ld(base + ((long)4 * cols + j) * W), ld(base + ((long)5 * cols + j) * W), col);
        for (int i = 0; i < 6; i++) t[i][j] = col[i];
    }
    for (int i = 0; i < 6; i++) {
        vec row[6];
        bt6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], row);
        for (int j = 0; j < 6; j++) st_n(out + (6 * i + j) * A, row[j], nb);
    }
}

/// Aᵀ M A of one tile of W channels: M_α at src + α·A, the 4×4 outputs to the lanes buffer at
/// base (rows `cols` pixels apart).
static inline void output_tile4(const float *src, long A, float *base, int cols) {
    vec col[6][4];
    for (int j = 0; j < 6; j++)
        at6(ld(src + j * A), ld(src + (6 + j) * A), ld(src + (12 + j) * A), ld(src + (18 + j) * A),
            ld(src + (24 + j) * A), ld(src + (30 + j) * A), col[j]);
    for (int r = 0; r < 4; r++) {
        vec yr[4];
        at6(col[0][r], col[1][r], col[2][r], col[3][r], col[4][r], col[5][r], yr);
        for (int cc = 0; cc < 4; cc++) st(base + ((long)r * cols + cc) * W, yr[cc]);
    }
}

void ATX_S(winoc_input)(const atx_wino_plan *p, const float *x, long q0, long q1, float *v) {
    const int m = p->m, tw = p->tw, th = p->th, c = p->c, blocks = channel_blocks(c);
    const int rows = m * th + p->r - 1, cols = m * tw + p->r - 1;
    const long A = p->inputAlphaStride;
    float *buf = lines((long)rows * cols * W, 0);
    for (long q = q0; q < q1; q++) {
        const int s = (int)(q / blocks), c0 = (int)(q % blocks) * W, nb = imin(W, c - c0);
        to_lanes(x, c, p->h, p->w, p->pad, s, c0, nb, rows, cols, buf, 1);
        for (int ty = 0; ty < th; ty++) {
            for (int tx = 0; tx < tw; tx++) {
                float *out = v + ((long)s * p->tilesPerSample + (long)ty * tw + tx) * c + c0;
                const float *base = buf + ((long)m * ty * cols + m * tx) * W;
                if (p->r == 3 && m == 2) {
                    vec t[4][4];   // Bᵀ d along y, for each column j
                    for (int j = 0; j < 4; j++) {
                        vec d0 = ld(base + j * W), d1 = ld(base + ((long)cols + j) * W);
                        vec d2 = ld(base + ((long)2 * cols + j) * W), d3 = ld(base + ((long)3 * cols + j) * W);
                        t[0][j] = d0 - d2; t[1][j] = d1 + d2; t[2][j] = d2 - d1; t[3][j] = d1 - d3;
                    }
                    for (int i = 0; i < 4; i++) {
                        st_n(out + (4 * i) * A, t[i][0] - t[i][2], nb);
                        st_n(out + (4 * i + 1) * A, t[i][1] + t[i][2], nb);
                        st_n(out + (4 * i + 2) * A, t[i][2] - t[i][1], nb);
                        st_n(out + (4 * i + 3) * A, t[i][1] - t[i][3], nb);
                    }
                } else {   // a 6×6 tile: F(4×4, 3×3) or F(2×2, 5×5)
                    input_tile4(base, cols, out, A, nb);
                }
            }
        }
    }
    free(buf);
}

void ATX_S(winoc_output)(const atx_wino_plan *p, const float *mm, long q0, long q1, float *y) {
    const int m = p->m, tw = p->tw, th = p->th, o = p->o, oh = p->oh, ow = p->ow, blocks = channel_blocks(o);
    const int cols = m * tw;
    const long A = p->outputAlphaStride;
    float *buf = lines((long)m * th * cols * W, 0);
    for (long q = q0; q < q1; q++) {
        const int s = (int)(q / blocks), o0 = (int)(q % blocks) * W, nb = imin(W, o - o0);
        for (int ty = 0; ty < th; ty++) {
            for (int tx = 0; tx < tw; tx++) {
                const float *src = mm + ((long)s * p->tilesPerSample + (long)ty * tw + tx) * o + o0;
                float *base = buf + ((long)m * ty * cols + m * tx) * W;
                if (p->r == 5) {
                    vec col[6][2];
                    for (int j = 0; j < 6; j++)
                        at62(ld(src + j * A), ld(src + (6 + j) * A), ld(src + (12 + j) * A), ld(src + (18 + j) * A),
                             ld(src + (24 + j) * A), ld(src + (30 + j) * A), col[j]);
                    for (int r = 0; r < 2; r++) {
                        vec yr[2];
                        at62(col[0][r], col[1][r], col[2][r], col[3][r], col[4][r], col[5][r], yr);
                        st(base + (long)r * cols * W, yr[0]); st(base + ((long)r * cols + 1) * W, yr[1]);
                    }
                } else if (m == 2) {
                    vec a0[4], b0[4];
                    for (int j = 0; j < 4; j++) {
                        vec m0 = ld(src + j * A), m1 = ld(src + (4 + j) * A), m2 = ld(src + (8 + j) * A), m3 = ld(src + (12 + j) * A);
                        a0[j] = m0 + m1 + m2; b0[j] = m1 - m2 - m3;
                    }
                    st(base, a0[0] + a0[1] + a0[2]); st(base + W, a0[1] - a0[2] - a0[3]);
                    st(base + (long)cols * W, b0[0] + b0[1] + b0[2]); st(base + ((long)cols + 1) * W, b0[1] - b0[2] - b0[3]);
                } else {
                    output_tile4(src, A, base, cols);
                }
            }
        }
        from_lanes(buf, m * th, cols, o, oh, ow, s, o0, nb, y);
    }
    free(buf);
}

void ATX_S(winoc_output_grad)(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm) {
    const int m = p->m, tw = p->tw, th = p->th, o = p->o, blocks = channel_blocks(o);
    const int rows = m * th, cols = m * tw;
    const long A = p->outputAlphaStride;
    float *buf = lines((long)rows * cols * W, 0);
    for (long q = q0; q < q1; q++) {
        const int s = (int)(q / blocks), o0 = (int)(q % blocks) * W, nb = imin(W, o - o0);
        to_lanes(dy, o, p->oh, p->ow, 0, s, o0, nb, rows, cols, buf, 1);
        for (int ty = 0; ty < th; ty++) {
            for (int tx = 0; tx < tw; tx++) {
                float *out = dm + ((long)s * p->tilesPerSample + (long)ty * tw + tx) * o + o0;
                const float *base = buf + ((long)m * ty * cols + m * tx) * W;
                if (p->r == 5) {
                    vec u[2][6];
                    for (int r = 0; r < 2; r++) a62(ld(base + (long)r * cols * W), ld(base + ((long)r * cols + 1) * W), u[r]);
                    for (int k = 0; k < 6; k++) {
                        vec out6[6];
                        a62(u[0][k], u[1][k], out6);
                        for (int i = 0; i < 6; i++) st_n(out + (6 * i + k) * A, out6[i], nb);
                    }
                } else if (m == 2) {
                    vec g00 = ld(base), g01 = ld(base + W), g10 = ld(base + (long)cols * W), g11 = ld(base + ((long)cols + 1) * W);
                    vec u0[4] = {g00, g00 + g01, g00 - g01, -g01}, u1[4] = {g10, g10 + g11, g10 - g11, -g11};
                    for (int j = 0; j < 4; j++) {
                        st_n(out + j * A, u0[j], nb);
                        st_n(out + (4 + j) * A, u0[j] + u1[j], nb);
                        st_n(out + (8 + j) * A, u0[j] - u1[j], nb);
                        st_n(out + (12 + j) * A, -u1[j], nb);
                    }
                } else {
                    vec u[4][6];
                    for (int r = 0; r < 4; r++) {
                        const float *g = base + (long)r * cols * W;
                        a6(ld(g), ld(g + W), ld(g + 2 * W), ld(g + 3 * W), u[r]);
                    }
                    for (int k = 0; k < 6; k++) {
                        vec out6[6];
                        a6(u[0][k], u[1][k], u[2][k], u[3][k], out6);
                        for (int i = 0; i < 6; i++) st_n(out + (6 * i + k) * A, out6[i], nb);
                    }
                }
            }
        }
    }
    free(buf);
}

// MARK: - Winograd F(4×4, 3×3) fused, vectorised over channels
// The transforms of winoc_input / winoc_output with the α products in between done here, on a
// run of FT tiles at a time: V [α][FT][C'] and M [α][FT][O'] (C', O' rounded up to whole
// vectors) are a few dozen KB and stay in L1, where the unfused path stores a block's V and M
// to L2 and reads them back, and calls OpenBLAS for 16×16 products. M_α[t][o] adds
// V_α[t][c]·U_α[c][o] over c in order, one FMA per c, FT tiles × one vector of o in registers.

enum { FT = 8 };

void ATX_S(winof_forward)(const atx_wino_plan *p, const float *x, const float *u, long s0, long s1, float *y) {
    const int tw = p->tw, c = p->c, o = p->o, tiles = (int)p->tilesPerSample;
    const int cb = channel_blocks(c), ob = channel_blocks(o), cp = cb * W, op = ob * W;
    const int rows = 4 * p->th + 2, cols = 4 * tw + 2, orows = 4 * p->th, ocols = 4 * tw;
    const long inBlock = (long)rows * cols * W, outBlock = (long)orows * ocols * W;
    // The sample's input and output in lanes, by blocks of W channels; in's border stays zero.
    float *in = lines(cb * inBlock, 1), *out = lines(ob * outBlock, 0);
    float *v = lines(36L * FT * cp, 1), *mm = lines(36L * FT * op, 0);
    for (long s = s0; s < s1; s++) {
        for (int b = 0; b < cb; b++) to_lanes(x, c, p->h, p->w, p->pad, (int)s, b * W, imin(W, c - b * W), rows, cols, in + b * inBlock, 0);
        for (int t0 = 0; t0 < tiles; t0 += FT) {
            const int nt = imin(FT, tiles - t0);
            for (int t = 0; t < nt; t++) {
                const int ty = (t0 + t) / tw, tx = (t0 + t) % tw;
                for (int b = 0; b < cb; b++)
                    input_tile4(in + b * inBlock + ((long)4 * ty * cols + 4 * tx) * W, cols, v + (long)t * cp + b * W, (long)FT * cp, W);
            }
            for (int a = 0; a < 36; a++) {
                const float *va = v + (long)a * FT * cp, *ua = u + (long)a * c * o;
                float *ma = mm + (long)a * FT * op;
                for (int k = 0; k < ob; k++) {
                    const int n = imin(W, o - k * W);
                    vec acc[FT];
                    for (int t = 0; t < FT; t++) acc[t] = splat(0);
                    for (int ic = 0; ic < c; ic++) {
                        const vec w = ld_n(ua + (long)ic * o + k * W, n);
                        for (int t = 0; t < FT; t++) acc[t] += splat(va[(long)t * cp + ic]) * w;
                    }
                    for (int t = 0; t < FT; t++) st(ma + (long)t * op + k * W, acc[t]);
                }
            }
            for (int t = 0; t < nt; t++) {
                const int ty = (t0 + t) / tw, tx = (t0 + t) % tw;
                for (int k = 0; k < ob; k++)
                    output_tile4(mm + (long)t * op + k * W, (long)FT * op, out + k * outBlock + ((long)4 * ty * ocols + 4 * tx) * W, ocols);
            }
        }
        for (int k = 0; k < ob; k++) from_lanes(out + k * outBlock, orows, ocols, o, p->oh, p->ow, (int)s, k * W, imin(W, o - k * W), y);
    }
    free(in); free(out); free(v); free(mm);
}

// MARK: - Weight transforms, vectorised over input channels
// u[α][o][c] = (G k Gᵀ)[α] for each kernel k = w[o, c]; the α planes are O·C floats apart.

/// G applied to (a, b, d): m + 2 values.
static inline void g_vec(int m, vec a, vec b, vec d, vec out[6]) {
    if (m == 2) {
        const vec half = splat(0.5f);
        out[0] = a; out[1] = (a + b + d) * half; out[2] = (a - b + d) * half; out[3] = d;
    } else {
        const vec sixth = splat(1.0f / 6), twelfth = splat(1.0f / 12), q = splat(1.0f / 24);
        out[0] = a * splat(0.25f);
        out[1] = -(a + b + d) * sixth;
        out[2] = -(a - b + d) * sixth;
        out[3] = a * q + b * twelfth + d * sixth;
        out[4] = a * q - b * twelfth + d * sixth;
        out[5] = d;
    }
}

/// Gᵀ applied to m + 2 values: three.
static inline void gt_vec(int m, const vec d[6], vec out[3]) {
    if (m == 2) {
        const vec half = splat(0.5f);
        out[0] = d[0] + (d[1] + d[2]) * half; out[1] = (d[1] - d[2]) * half; out[2] = (d[1] + d[2]) * half + d[3];
    } else {
        const vec sixth = splat(1.0f / 6), twelfth = splat(1.0f / 12), q = splat(1.0f / 24);
        out[0] = d[0] * splat(0.25f) - (d[1] + d[2]) * sixth + (d[3] + d[4]) * q;
        out[1] = (d[2] - d[1]) * sixth + (d[3] - d[4]) * twelfth;
        out[2] = (d[3] + d[4] - d[1] - d[2]) * sixth + d[5];
    }
}

/// G applied to r taps k[0…r−1]: m + r − 1 values (F(m×m, 3×3) by g_vec, or F(2×2, 5×5)).
static inline void g_taps(int m, int r, const vec *k, vec out[6]) {
    if (r == 3) { g_vec(m, k[0], k[1], k[2], out); return; }
    const vec sixth = splat(1.0f / 6);
    const vec e = k[0] + k[2] + k[4], od = k[1] + k[3];
    const vec e2 = k[0] * splat(1.0f / 24) + k[2] * sixth + k[4] * splat(2.0f / 3), o2 = k[1] * splat(1.0f / 12) + k[3] * splat(1.0f / 3);
    out[0] = k[0] * splat(0.25f);
    out[1] = -(e + od) * sixth;
    out[2] = -(e - od) * sixth;
    out[3] = e2 + o2;
    out[4] = e2 - o2;
    out[5] = k[4];
}

/// Gᵀ applied to m + r − 1 values: r taps (the adjoint of g_taps).
static inline void gt_taps(int m, int r, const vec d[6], vec out[5]) {
    if (r == 3) { gt_vec(m, d, out); return; }
    const vec sixth = splat(1.0f / 6);
    const vec s12 = d[1] + d[2], d12 = d[2] - d[1], s34 = d[3] + d[4], d34 = d[3] - d[4];
    out[0] = d[0] * splat(0.25f) - s12 * sixth + s34 * splat(1.0f / 24);
    out[1] = d12 * sixth + d34 * splat(1.0f / 12);
    out[2] = (s34 - s12) * sixth;
    out[3] = d12 * sixth + d34 * splat(1.0f / 3);
    out[4] = s34 * splat(2.0f / 3) - s12 * sixth + d[5];
}

void ATX_S(wino_weights)(int m, const float *w, int o, int c, int o0, int o1, float *u) {
    const int a = m + 2;
    const long step = (long)o * c;
    for (int oc = o0; oc < o1; oc++) {
        for (int c0 = 0; c0 < c; c0 += W) {
            const int nb = imin(W, c - c0);
            float taps[9][W];
            for (int j = 0; j < W; j++)
                for (int t = 0; t < 9; t++) taps[t][j] = j < nb ? w[((long)oc * c + c0 + j) * 9 + t] : 0;
            vec gk[6][3];   // G·k: along y, for each column
            for (int col = 0; col < 3; col++) {
                vec out[6];
                g_vec(m, ld(taps[col]), ld(taps[3 + col]), ld(taps[6 + col]), out);
                for (int i = 0; i < a; i++) gk[i][col] = out[i];
            }
            for (int i = 0; i < a; i++) {   // (G·k)·Gᵀ: along x
                vec out[6];
                g_vec(m, gk[i][0], gk[i][1], gk[i][2], out);
                for (int j = 0; j < a; j++) st_n(u + (i * a + j) * step + (long)oc * c + c0, out[j], nb);
            }
        }
    }
}

void ATX_S(wino_weight_grad)(int m, const float *du, int o, int c, int o0, int o1, float *dw) {
    const int a = m + 2;
    const long step = (long)o * c;
    for (int oc = o0; oc < o1; oc++) {
        for (int c0 = 0; c0 < c; c0 += W) {
            const int nb = imin(W, c - c0);
            vec d[36];
            for (int alpha = 0; alpha < a * a; alpha++) {
                const float *src = du + alpha * step + (long)oc * c + c0;
                if (nb == W) {
                    d[alpha] = ld(src);
                } else {
                    float part[W] = {0};
                    memcpy(part, src, sizeof(float) * nb);
                    d[alpha] = ld(part);
                }
            }
            vec t[3][6];   // Gᵀ·dU along y, for each column
            for (int col = 0; col < a; col++) {
                vec column[6], out[3];
                for (int i = 0; i < a; i++) column[i] = d[i * a + col];
                gt_vec(m, column, out);
                for (int r = 0; r < 3; r++) t[r][col] = out[r];
            }
            float taps[9][W];
            for (int r = 0; r < 3; r++) {
                vec out[3];
                gt_vec(m, t[r], out);
                for (int col = 0; col < 3; col++) st(taps[3 * r + col], out[col]);
            }
            for (int j = 0; j < nb; j++)
                for (int k = 0; k < 9; k++) dw[((long)oc * c + c0 + j) * 9 + k] = taps[k][j];
        }
    }
}

/// u[α][c][o] = (G w[o, c] Gᵀ)[α] (the channel-vectorised layout) for w [O, C, r, r], input
/// channels [c0, c1), vectorised over output channels.
void ATX_S(winoc_weights)(int m, int r, const float *w, int o, int c, int c0, int c1, float *u) {
    const int a = m + r - 1, taps = r * r;
    const long step = (long)o * c;
    for (int ic = c0; ic < c1; ic++) {
        for (int o0 = 0; o0 < o; o0 += W) {
            const int nb = imin(W, o - o0);
            float k[25][W];
            for (int j = 0; j < W; j++)
                for (int t = 0; t < taps; t++) k[t][j] = j < nb ? w[((long)(o0 + j) * c + ic) * taps + t] : 0;
            vec gk[6][5];   // G·k: along y, for each column
            for (int col = 0; col < r; col++) {
                vec column[5], out[6];
                for (int i = 0; i < r; i++) column[i] = ld(k[i * r + col]);
                g_taps(m, r, column, out);
                for (int i = 0; i < a; i++) gk[i][col] = out[i];
            }
            for (int i = 0; i < a; i++) {   // (G·k)·Gᵀ: along x
                vec out[6];
                g_taps(m, r, gk[i], out);
                for (int j = 0; j < a; j++) st_n(u + (i * a + j) * step + (long)ic * o + o0, out[j], nb);
            }
        }
    }
}

/// dw[o, c] = Gᵀ du[·][c][o] G for input channels [c0, c1) (the adjoint of winoc_weights).
void ATX_S(winoc_weight_grad)(int m, int r, const float *du, int o, int c, int c0, int c1, float *dw) {
    const int a = m + r - 1, taps = r * r;
    const long step = (long)o * c;
    for (int ic = c0; ic < c1; ic++) {
        for (int o0 = 0; o0 < o; o0 += W) {
            const int nb = imin(W, o - o0);
            vec d[36];
            for (int alpha = 0; alpha < a * a; alpha++) {
                const float *src = du + alpha * step + (long)ic * o + o0;
                if (nb == W) {
                    d[alpha] = ld(src);
                } else {
                    float part[W] = {0};
                    memcpy(part, src, sizeof(float) * nb);
                    d[alpha] = ld(part);
                }
            }
            vec t[5][6];   // Gᵀ·dU along y, for each column
            for (int col = 0; col < a; col++) {
                vec column[6], out[5];
                for (int i = 0; i < a; i++) column[i] = d[i * a + col];
                gt_taps(m, r, column, out);
                for (int row = 0; row < r; row++) t[row][col] = out[row];
            }
            float k[25][W];
            for (int row = 0; row < r; row++) {
                vec out[5];
                gt_taps(m, r, t[row], out);
                for (int col = 0; col < r; col++) st(k[r * row + col], out[col]);
            }
            for (int j = 0; j < nb; j++)
                for (int tap = 0; tap < taps; tap++) dw[((long)(o0 + j) * c + ic) * taps + tap] = k[tap][j];
        }
    }
}

// MARK: - Direct convolution (stride 1 or 2) on a flat zero-padded grid
// A sample's input planes are zero-padded (Hp × Wp, Hp = H + 2·pad) and, for stride s, split
// into s² phase planes of Hq × Wq (Hq = ⌈Hp/s⌉): phase (a, b) holds padded rows s·i + a and
// columns s·j + b. Output (oy, ox) sits at flat position i = oy·Wq + ox, and its tap (ky, kx)
// reads phase (ky mod s, kx mod s) at i + ⌊ky/s⌋·Wq + ⌊kx/s⌋: one contiguous vector load per
// tap for W consecutive outputs, whatever the row length or stride. Positions with ox ≥ OW are
// computed on padding and dropped (a (Wq − OW)/Wq share of the work).

int ATX_S(direct_block)(void) { return ATX_DIRECT_OB; }

/// The phase planes of one channel layout: sizes, and each tap's offset from a channel's first plane.
typedef struct {
    int s, hp, wp, hq, wq, oh, ow;
    long plane, channel, L;
    long offset[64];   /// per tap ky·K + kx (K ≤ 8)
} phases;

static phases make_phases(int h, int w, int k, int pad, int stride) {
    phases f;
    f.s = stride; f.hp = h + 2 * pad; f.wp = w + 2 * pad;
    f.hq = (f.hp + stride - 1) / stride; f.wq = (f.wp + stride - 1) / stride;
    f.oh = (f.hp - k) / stride + 1; f.ow = (f.wp - k) / stride + 1;
    f.plane = (long)f.hq * f.wq; f.channel = f.plane * stride * stride; f.L = (long)f.oh * f.wq;
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
            f.offset[ky * k + kx] = ((ky % stride) * stride + kx % stride) * f.plane + (long)(ky / stride) * f.wq + kx / stride;
    return f;
}

/// Floats of a sample's phase planes plus the slack that reads past the last output run into.
static long phases_size(const phases *f, int c, long Lr, int k) { return c * f->channel + Lr + (long)k * f->wq + k + 64; }

/// dst[j] = src[2j] for the elements src[0 ..< n] (⌈n/2⌉ of them), W at a time from two vectors
/// (masked at the end: no read or write outside them).
static inline void every_other(const float *src, int n, float *dst) {
    for (int j = 0; 2 * j < n; j += W) {
        const int left = n - 2 * j;
        st_n(dst + j, even(ld_n(src + 2 * j, left), ld_n(src + 2 * j + W, imax(0, left - W))), (left + 1) / 2);
    }
}

/// Scatters channel planes of sample s into the (zeroed) phase planes.
static void fill_phases(const phases *f, const float *x, int s, int c, int h, int w, int pad, float *xp) {
    for (int ic = 0; ic < c; ic++) {
        const float *plane = x + ((long)s * c + ic) * h * w;
        float *dst = xp + ic * f->channel;
        for (int iy = 0; iy < h; iy++) {
            const int r = iy + pad;
            float *row = dst + (long)(r % f->s) * f->s * f->plane + (long)(r / f->s) * f->wq;
            const float *src = plane + (long)iy * w;
            if (f->s == 1) {
                memcpy(row + pad, src, sizeof(float) * w);
            } else {   // stride 2: padded column q = ix + pad goes to phase q mod 2, at q / 2
                const int e = pad & 1;   // the first column of the even phase
                every_other(src + e, w - e, row + ((e + pad) >> 1));
                every_other(src + 1 - e, w - 1 + e, row + f->plane + ((1 - e + pad) >> 1));
            }
        }
    }
}

void ATX_S(direct_forward)(const float *x, const float *packed, int n, int c, int h, int w, int o, int k, int pad, int stride, float *y) {
    enum { OB = ATX_DIRECT_OB, NV = ATX_DIRECT_NV };
    const phases f = make_phases(h, w, k, pad, stride);
    const long Lr = roundup(f.L, W * NV), opad = roundup(o, OB);
    const int taps = k * k;
    float *xp = lines(phases_size(&f, c, Lr, k), 1);
    float *out = lines(opad * Lr, 0);
    for (int s = 0; s < n; s++) {
        fill_phases(&f, x, s, c, h, w, pad, xp);
        for (long ob = 0; ob < opad; ob += OB) {
            const float *wb = packed + ob * c * taps;
            for (long i = 0; i < Lr; i += W * NV) {
                vec acc[OB][NV];
                for (int a = 0; a < OB; a++)
                    for (int v = 0; v < NV; v++) acc[a][v] = splat(0);
                const float *wt = wb;
                for (int ic = 0; ic < c; ic++) {
                    const float *xc = xp + ic * f.channel + i;
                    for (int t = 0; t < taps; t++) {
                        const float *src = xc + f.offset[t];
                        vec in[NV];
                        for (int v = 0; v < NV; v++) in[v] = ld(src + v * W);
                        for (int a = 0; a < OB; a++) {
                            const vec wv = splat(wt[a]);
                            for (int v = 0; v < NV; v++) acc[a][v] += wv * in[v];
                        }
                        wt += OB;
                    }
                }
                for (int a = 0; a < OB; a++)
                    for (int v = 0; v < NV; v++) st(out + (ob + a) * Lr + i + v * W, acc[a][v]);
            }
        }
        for (int oc = 0; oc < o; oc++)
            for (int oy = 0; oy < f.oh; oy++)
                memcpy(y + (((long)s * o + oc) * f.oh + oy) * f.ow, out + oc * Lr + (long)oy * f.wq, sizeof(float) * f.ow);
    }
    free(xp);
    free(out);
}

void ATX_S(direct_weight_grad)(const float *x, const float *dy, int n, int c, int h, int w, int o, int k, int pad, int stride, float *dw) {
    enum { OB = ATX_WGRAD_OB };
    const phases f = make_phases(h, w, k, pad, stride);
    const long Lr = roundup(f.L, W), opad = roundup(o, OB);
    const int taps = k * k;
    const long size = opad * c * taps;
    float *xp = lines(phases_size(&f, c, Lr, k), 1);
    float *dyp = lines(opad * Lr, 1);   // dy on the flat grid: zero at ox ≥ OW and past o
    // Vector partial sums per tap over all n samples, reduced once at the end; when that table
    // would be large, each sample's sums are reduced into scalars instead.
    const int vectorPartials = size * W <= (1L << 21);
    vec *vacc = vectorPartials ? aligned_alloc(64, roundup(sizeof(vec) * size, 64)) : NULL;
    float *sacc = vectorPartials ? NULL : lines(size, 1);
    if (vacc) for (long t = 0; t < size; t++) vacc[t] = splat(0);
    for (int s = 0; s < n; s++) {
        fill_phases(&f, x, s, c, h, w, pad, xp);
        for (int oc = 0; oc < o; oc++)
            for (int oy = 0; oy < f.oh; oy++)
                memcpy(dyp + oc * Lr + (long)oy * f.wq, dy + (((long)s * o + oc) * f.oh + oy) * f.ow, sizeof(float) * f.ow);
        for (long ob = 0; ob < opad; ob += OB) {
            const float *ds = dyp + ob * Lr;
            for (int ic = 0; ic < c; ic++) {
                const float *xc = xp + ic * f.channel;
                for (int t0 = 0; t0 < taps; t0 += 3) {   // three taps at a time
                    const int nk = imin(3, taps - t0);
                    const float *x0 = xc + f.offset[t0], *x1 = xc + f.offset[nk > 1 ? t0 + 1 : t0], *x2 = xc + f.offset[nk > 2 ? t0 + 2 : t0];
                    vec acc[OB][3];
                    for (int a = 0; a < OB; a++) acc[a][0] = acc[a][1] = acc[a][2] = splat(0);
                    for (long i = 0; i < Lr; i += W) {
                        const vec v0 = ld(x0 + i), v1 = ld(x1 + i), v2 = ld(x2 + i);
                        for (int a = 0; a < OB; a++) {
                            const vec d = ld(ds + a * Lr + i);
                            acc[a][0] += d * v0; acc[a][1] += d * v1; acc[a][2] += d * v2;
                        }
                    }
                    for (int a = 0; a < OB; a++)
                        for (int j = 0; j < nk; j++) {
                            const long t = ((ob + a) * c + ic) * taps + t0 + j;
                            if (vacc) {
                                vacc[t] += acc[a][j];
                            } else {
                                sacc[t] += lanes_sum(acc[a][j]);
                            }
                        }
                }
            }
        }
    }
    const long total = (long)o * c * taps;
    for (long t = 0; t < total; t++) {
        dw[t] = vacc ? lanes_sum(vacc[t]) : sacc[t];
    }
    free(xp);
    free(dyp);
    free(vacc);
    free(sacc);
}

// MARK: - Batch norm
// Memory-bound loops over planes of n values. Contraction is off in them, so x·a + b rounds
// after the product at every level: the backward's ReLU mask [x·a + b > 0] is the forward's
// [max(x·a + b, 0) > 0], bit for bit. Sums use two vector accumulators per sum and one masked
// vector for the tail, and add the lanes in order.

/// v where m is set, +0 elsewhere.
static inline vec keep(vec v, veci m) { return (vec)((veci)v & m); }
/// Lanes l < n set.
static inline veci first_lanes(long n) {
    veci index;
    for (int l = 0; l < W; l++) index[l] = l;
    return index < (veci)(int)imin((int)n, W);
}

enum { BN_SUM, BN_SQUARES, BN_GRAD, BN_GRAD_RELU };

/// The two terms a plane's sums add at W values x (and dy): BN_SUM x; BN_SQUARES (x − mu)²;
/// BN_GRAD g and g·(x − mu) with g = dy, or (BN_GRAD_RELU) dy·[x·a + b > 0].
static inline void bn_terms(int mode, vec x, vec dy, vec a, vec b, vec mu, vec *f, vec *h) {
#pragma clang fp contract(off)
    const vec d = x - mu;
    if (mode == BN_SUM) { *f = x; *h = splat(0); return; }
    if (mode == BN_SQUARES) { *f = d * d; *h = splat(0); return; }
    const vec g = mode == BN_GRAD_RELU ? keep(dy, x * a + b > 0) : dy;
    *f = g; *h = g * d;
}

static inline void bn_sums(int mode, const float *x, const float *dy, long n, float a, float b, float mu, float out[2]) {
#pragma clang fp contract(off)
    const vec av = splat(a), bv = splat(b), mv = splat(mu), zero = splat(0);
    const int grad = mode >= BN_GRAD;
    vec f0 = zero, f1 = zero, h0 = zero, h1 = zero, f, h;
    long i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        bn_terms(mode, ld(x + i), grad ? ld(dy + i) : zero, av, bv, mv, &f, &h);
        f0 += f; h0 += h;
        bn_terms(mode, ld(x + i + W), grad ? ld(dy + i + W) : zero, av, bv, mv, &f, &h);
        f1 += f; h1 += h;
    }
    for (; i < n; i += W) {
        const veci m = first_lanes(n - i);
        bn_terms(mode, ld_n(x + i, (int)(n - i)), grad ? ld_n(dy + i, (int)(n - i)) : zero, av, bv, mv, &f, &h);
        f0 += keep(f, m); h0 += keep(h, m);
    }
    out[0] = lanes_sum(f0 + f1);
    out[1] = lanes_sum(h0 + h1);
}

// The exported kernels take planes p0 ..< p1 of an [N, C, L] tensor (plane p at p·L, channel
// p mod C) and per-channel parameters, so one call covers a thread's share.

/// out[p] = Σ x over plane p, or with mu, Σ (x − mu[channel])².
void ATX_S(plane_sums)(const float *x, long l, int c, long p0, long p1, const float *mu, float *out) {
    float s[2];
    for (long p = p0; p < p1; p++) {
        if (mu) bn_sums(BN_SQUARES, x + p * l, NULL, l, 0, 0, mu[p % c], s);
        else bn_sums(BN_SUM, x + p * l, NULL, l, 0, 0, 0, s);
        out[p] = s[0];
    }
}

/// out[2p], out[2p + 1] = Σ g, Σ g·(x − mu[channel]) over plane p, g = dy or dy·[x·a + b > 0].
void ATX_S(bn_grad_sums)(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, const float *b,
                         int relu, const float *mu, float *out) {
    for (long p = p0; p < p1; p++) {
        const int ch = p % c;
        if (relu) bn_sums(BN_GRAD_RELU, x + p * l, dy + p * l, l, a[ch], b[ch], mu[ch], out + 2 * p);
        else bn_sums(BN_GRAD, x + p * l, dy + p * l, l, a[ch], b[ch], mu[ch], out + 2 * p);
    }
}

void ATX_S(bn_affine)(const float *x, long l, int c, long p0, long p1, const float *a, const float *b, int relu, float *y) {
#pragma clang fp contract(off)
    for (long p = p0; p < p1; p++) {
        const vec av = splat(a[p % c]), bv = splat(b[p % c]);
        const float *xs = x + p * l;
        float *ys = y + p * l;
        for (long i = 0; i < l; i += W) {
            const int k = (int)imin((int)(l - i), W);
            const vec v = ld_n(xs + i, k) * av + bv;
            st_n(ys + i, relu ? keep(v, ~(splat(0) >= v)) : v, k);   // max(v, 0) as Swift's: NaN stays
        }
    }
}

void ATX_S(bn_grad_input)(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, const float *b,
                          int relu, const float *k, const float *mg, const float *mu, const float *istd, const float *mgx,
                          float *dx) {
#pragma clang fp contract(off)
    for (long p = p0; p < p1; p++) {
        const int ch = p % c;
        const vec av = splat(a[ch]), bv = splat(b[ch]), kv = splat(k[ch]), mgv = splat(mg[ch]), muv = splat(mu[ch]);
        const vec iv = splat(istd[ch]), mgxv = splat(mgx[ch]);
        const float *xs = x + p * l, *gs = dy + p * l;
        float *d = dx + p * l;
        for (long i = 0; i < l; i += W) {
            const int n = (int)imin((int)(l - i), W);
            const vec xv = ld_n(xs + i, n), g = relu ? keep(ld_n(gs + i, n), xv * av + bv > 0) : ld_n(gs + i, n);
            st_n(d + i, kv * (g - mgv - (xv - muv) * iv * mgxv), n);
        }
    }
}
