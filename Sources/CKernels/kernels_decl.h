// The three compilations of kernels_body.h (suffixes _avx512, _avx2, _portable), for dispatch.c.
#ifndef ATX_KERNELS_DECL_H
#define ATX_KERNELS_DECL_H
#include "atx_kernels.h"

#define ATX_DECLARE(S)                                                                                      \
    double fma_loop_##S(long iterations);                                                                   \
    void wino2_input_##S(const atx_wino_plan *p, const float *x, long q0, long q1, float *v);               \
    void wino2_output_##S(const atx_wino_plan *p, const float *m, long q0, long q1, float *y);              \
    void wino2_output_grad_##S(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm);       \
    void wino4_input_##S(const atx_wino_plan *p, const float *x, long q0, long q1, float *v);               \
    void wino4_output_##S(const atx_wino_plan *p, const float *m, long q0, long q1, float *y);              \
    void wino4_output_grad_##S(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm);       \
    void wino_weights_##S(int m, const float *w, int o, int c, int o0, int o1, float *u);                   \
    void wino_weight_grad_##S(int m, const float *du, int o, int c, int o0, int o1, float *dw);             \
    void winoc_input_##S(const atx_wino_plan *p, const float *x, long q0, long q1, float *v);               \
    void winoc_output_##S(const atx_wino_plan *p, const float *m, long q0, long q1, float *y);              \
    void winoc_output_grad_##S(const atx_wino_plan *p, const float *dy, long q0, long q1, float *dm);       \
    void winof_forward_##S(const atx_wino_plan *p, const float *x, const float *u, long s0, long s1, float *y); \
    void winoc_weights_##S(int m, int r, const float *w, int o, int c, int c0, int c1, float *u);           \
    void winoc_weight_grad_##S(int m, int r, const float *du, int o, int c, int c0, int c1, float *dw);     \
    int direct_block_##S(void);                                                                             \
    void direct_forward_##S(const float *x, const float *packed, int n, int c, int h, int w, int o, int k,  \
                            int pad, int stride, float *y);                                                 \
    void direct_weight_grad_##S(const float *x, const float *dy, int n, int c, int h, int w, int o, int k,  \
                                int pad, int stride, float *dw);                                            \
    void plane_sums_##S(const float *x, long l, int c, long p0, long p1, const float *mu, float *out);   \
    void bn_grad_sums_##S(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a,  \
                          const float *b, int relu, const float *mu, float *out);                           \
    void bn_affine_##S(const float *x, long l, int c, long p0, long p1, const float *a, const float *b,     \
                       int relu, float *y);                                                                 \
    void bn_grad_input_##S(const float *x, const float *dy, long l, int c, long p0, long p1, const float *a, \
                           const float *b, int relu, const float *k, const float *mg, const float *mu,      \
                           const float *istd, const float *mgx, float *dx);

#if defined(__x86_64__)
ATX_DECLARE(avx512)
ATX_DECLARE(avx2)
#endif
ATX_DECLARE(portable)

#endif
