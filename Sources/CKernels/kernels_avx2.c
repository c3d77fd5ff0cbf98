// kernels_body.h for AVX2 + FMA (8 floats per vector, 16 registers).
#if defined(__x86_64__)
#define ATX_W 8
#define ATX_S(name) name##_avx2
#define ATX_DIRECT_OB 4
#define ATX_DIRECT_NV 3
#define ATX_WGRAD_OB 4
#define ATX_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define ATX_ODD 1, 3, 5, 7, 9, 11, 13, 15
#define ATX_LO 0, 8, 1, 9, 2, 10, 3, 11
#define ATX_HI 4, 12, 5, 13, 6, 14, 7, 15
#define ATX_NEXT 1, 2, 3, 4, 5, 6, 7, 8
#include <immintrin.h>
#define ATX_STORE_N(p, v, n) _mm256_maskstore_ps((p), _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), (__m256)(v))
#define ATX_LOAD_N(p, n) ((vec)_mm256_maskload_ps((p), _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))))
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "kernels_body.h"
#pragma clang attribute pop
#endif
