// kernels_body.h for the build's baseline (SSE2 on x86-64: 4 floats per vector, 16 registers).
#define ATX_W 4
#define ATX_S(name) name##_portable
#define ATX_DIRECT_OB 4
#define ATX_DIRECT_NV 3
#define ATX_WGRAD_OB 4
#define ATX_EVEN 0, 2, 4, 6
#define ATX_ODD 1, 3, 5, 7
#define ATX_LO 0, 4, 1, 5
#define ATX_HI 2, 6, 3, 7
#define ATX_NEXT 1, 2, 3, 4
#include "kernels_body.h"
