// The one place C enters the project: OpenBLAS's CBLAS interface.
// cblas.h of the openblas-pthread build also declares openblas_set_num_threads /
// openblas_get_num_threads, used by Tensor.Threads to set the thread count in one place.
#include <cblas.h>
