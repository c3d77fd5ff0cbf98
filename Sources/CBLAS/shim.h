// OpenBLAS's CBLAS interface (with zlib and libjpeg-turbo, one of the C libraries atx uses).
// cblas.h of the openblas-pthread build also declares openblas_set_num_threads /
// openblas_get_num_threads / openblas_get_corename, used by Tensor.Threads and the bench.
#include <cblas.h>
// mallopt: Tensor.Heap keeps tensor-sized blocks in the heap instead of fresh mmaps per op.
#include <malloc.h>
