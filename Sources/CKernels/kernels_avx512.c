// kernels_body.h for AVX-512 (16 floats per vector, 32 registers).
#if defined(__x86_64__)
#define ATX_W 16
#define ATX_S(name) name##_avx512
#define ATX_DIRECT_OB 8
#define ATX_DIRECT_NV 2
#define ATX_WGRAD_OB 8
#define ATX_EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define ATX_ODD 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define ATX_LO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define ATX_HI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#define ATX_NEXT 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
#include <immintrin.h>
#define ATX_STORE_N(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1), (__m512)(v))
#define ATX_LOAD_N(p, n) ((vec)_mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1), (p)))
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), apply_to = function)
#include "kernels_body.h"
#pragma clang attribute pop
#endif
