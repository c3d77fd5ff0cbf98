// Vectorised convolution and batch-norm kernels in C, where Swift (compiled for baseline
// x86-64) cannot reach AVX2 or AVX-512. Each kernel is compiled three times from one body
// (kernels_body.h): for AVX-512 (F, VL, BW, DQ), for AVX2 + FMA, and portably (SSE2 on
// x86-64); the best level the CPU supports is picked at run time (cpuid), never at build
// time, so the binary runs on any x86-64 node. Every function is single-threaded: the Swift
// side splits the work over threads (fixed splits, so results depend only on the thread count).
#ifndef ATX_KERNELS_H
#define ATX_KERNELS_H

#include <stddef.h>

/// Instruction-set levels: 0 portable, 1 AVX2 + FMA, 2 AVX-512.
enum { ATX_SIMD_PORTABLE = 0, ATX_SIMD_AVX2 = 1, ATX_SIMD_AVX512 = 2 };

/// The best level this CPU (and OS) supports.
int atx_simd_supported(void);
/// The level the kernels use: the supported one unless lowered by atx_simd_set_level.
int atx_simd_level(void);
/// Uses `level` (clamped to what the CPU supports) from now on; for tests and the benchmark.
void atx_simd_set_level(int level);
/// Floats per vector at `level` (4, 8, 16).
int atx_simd_width(int level);

/// Runs `iterations` rounds of 12 independent vector FMA chains at `level` (clamped) and
/// returns the floating-point operations done (2 per lane per FMA). Timed by the caller.
double atx_fma_loop(int level, long iterations);

/// The tiling of an r×r stride-1 convolution for Winograd F(m×m, r×r), (m, r) = (2, 3), (4, 3)
/// or (2, 5; the channel-vectorised transforms only): each sample's output is split into
/// th × tw tiles of m×m outputs read from (m+r−1)×(m+r−1) input tiles at (m·ty − pad, m·tx − pad). V [α][C][rowLength] and M [α][O][rowLength] hold a block of
/// samples: sample s's tile (ty, tx) at s·tilesPerSample + ty·tw + tx; α planes
/// inputAlphaStride / outputAlphaStride apart (each stride leaves ≥ 64 floats of slack after
/// the last channel: the transforms read up to a vector past a row's last tile).
typedef struct {
    int m, r;
    int c, h, w, pad;
    int o, oh, ow;
    int th, tw;
    long tilesPerSample, rowLength, inputAlphaStride, outputAlphaStride;
} atx_wino_plan;

/// v = Bᵀ d B for the planes q ∈ [q0, q1) of a block starting at x, plane q being sample
/// q / C, channel q % C of x [count, C, H, W].
void atx_wino_input(const atx_wino_plan *p, const float *x, long q0, long q1, float *v);
/// y = Aᵀ m A for the planes q ∈ [q0, q1) (sample q / O, channel q % O) of y [count, O, OH, OW].
void atx_wino_output(const atx_wino_plan *p, const float *m, long q0, long q1, float *y);
/// dm = A dy Aᵀ (the adjoint of atx_wino_output) for the planes q ∈ [q0, q1) of dy [count, O, OH, OW].
void atx_wino_output_grad(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm);
/// u[α][o][c] = (G w[o, c] Gᵀ)[α] for w [O, C, 3, 3], o ∈ [o0, o1).
void atx_wino_weights(int m, const float *w, int o, int c, int o0, int o1, float *u);
/// dw[o, c] = Gᵀ du[·][o][c] G (the adjoint of atx_wino_weights), o ∈ [o0, o1).
void atx_wino_weight_grad(int m, const float *du, int o, int c, int o0, int o1, float *dw);

/// The same transforms vectorised over channels, for V [α][T][C], M [α][T][O], U [α][C][O] (a
/// tile's channels contiguous; α planes inputAlphaStride / outputAlphaStride apart, T being
/// the block's tiles). A work unit q is one sample (q / blocks) and one block of channels
/// (q % blocks), blocks = atx_winoc_blocks(channels) at the current level.
int atx_winoc_blocks(int channels);
void atx_winoc_input(const atx_wino_plan *p, const float *x, long q0, long q1, float *v);
void atx_winoc_output(const atx_wino_plan *p, const float *m, long q0, long q1, float *y);
void atx_winoc_output_grad(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm);
/// u[α][c][o] for w [O, C, r, r] and input channels [c0, c1); dw from du[α][c][o] likewise.
void atx_winoc_weights(int m, int r, const float *w, int o, int c, int c0, int c1, float *u);
void atx_winoc_weight_grad(int m, int r, const float *du, int o, int c, int c0, int c1, float *dw);
/// y = conv2d(x, w) for samples [s0, s1) by F(4×4, 3×3) with the channel-vectorised transforms
/// and the α products fused per run of tiles (p->m = 4; u = atx_winoc_weights' u[α][c][o]).
void atx_winof_forward(const atx_wino_plan *p, const float *x, const float *u, long s0, long s1, float *y);

/// Direct convolution of square kernels (K ≤ 8), stride 1 or 2, on a flat zero-padded grid.
/// Output channels per register block at the current level (weights are packed in blocks).
int atx_direct_block(void);
/// Floats atx_direct_pack needs for w [O, C, K, K].
long atx_direct_packed_size(int o, int c, int k);
/// Packs w [O, C, K, K] for atx_direct_forward at the current level.
void atx_direct_pack(const float *w, int o, int c, int k, float *packed);
/// y [n, O, OH, OW] = conv2d(x [n, C, H, W], w) for stride 1 or 2 and padding `pad`, w packed
/// by atx_direct_pack at the same level.
void atx_direct_forward(const float *x, const float *packed, int n, int c, int h, int w, int o, int k, int pad, int stride, float *y);
/// dw [O, C, K, K] = Σ over the n samples of the weight gradient of that convolution; overwrites dw.
void atx_direct_weight_grad(const float *x, const float *dy, int n, int c, int h, int w, int o, int k, int pad, int stride, float *dw);

/// Batch norm over planes p0 ..< p1 of an [N, C, L] tensor (plane p at p·L, channel p mod C;
/// per-channel parameters indexed by channel; the Swift side splits the planes over threads).
/// Products and sums round separately (no FMA), so ReLU's mask recomputed in the backward is
/// the forward's bit for bit. out[p] = Σ x over plane p, or with mu, Σ (x − mu)² (without mu,
/// also the row sums of Tensor's reductions over trailing dimensions, with c = 1):
void atx_plane_sums(const float *x, long l, int c, long p0, long p1, const float *mu, float *out);
/// out[2p], out[2p + 1] = Σ g, Σ g·(x − mu) over plane p; g = dy, or with `relu` dy·[x·a + b > 0].
void atx_bn_grad_sums(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, const float *b,
                      int relu, const float *mu, float *out);
/// y = x·a + b, then max(·, 0) with `relu` (NaN stays NaN).
void atx_bn_affine(const float *x, long l, int c, long p0, long p1, const float *a, const float *b, int relu, float *y);
/// dx = k·(g − mg − (x − mu)·istd·mgx), g as in atx_bn_grad_sums.
void atx_bn_grad_input(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, const float *b,
                       int relu, const float *k, const float *mg, const float *mu, const float *istd, const float *mgx,
                       float *dx);

#endif
