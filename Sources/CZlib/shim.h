// zlib, for reading the gzip-compressed Fashion-MNIST IDX files (gzopen/gzread).
#include <zlib.h>
