// libjpeg-turbo behind a small C interface whose errors come back as return codes.
//
// libjpeg reports fatal errors through `error_exit`, which by default prints and calls exit().
// Swift cannot longjmp, so the setjmp/longjmp error handling lives here; every function
// returns 0 on success and otherwise a nonzero code with a message in `message`.
#ifndef ATX_JPEG_H
#define ATX_JPEG_H

#include <stddef.h>

#define ATX_JPEG_MESSAGE_LENGTH 256

/// What a JPEG file's header says.
typedef struct {
    int width;
    int height;
    /// Components in the file: 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK or YCCK).
    int components;
} atx_jpeg_info;

/// Reads only the header of the `size`-byte JPEG at `data`.
int atx_jpeg_read_info(const unsigned char *data, size_t size, atx_jpeg_info *info,
                       char message[ATX_JPEG_MESSAGE_LENGTH]);

/// Decodes the `size`-byte JPEG at `data` to 8-bit RGB, interleaved, row-major:
/// `*pixels` gets width·height·3 bytes from malloc (free with atx_jpeg_free). Grey images are
/// replicated to three channels; CMYK/YCCK images are converted as Pillow does
/// (R = (255 − C)(255 − K)/255, with Adobe-inverted data un-inverted first). A truncated file
/// is an error (libjpeg itself would only warn and fill the rest with grey).
int atx_jpeg_decode_rgb(const unsigned char *data, size_t size, unsigned char **pixels,
                        atx_jpeg_info *info, char message[ATX_JPEG_MESSAGE_LENGTH]);

/// Encodes `width`·`height` pixels of `components` (1: grey, 3: RGB) interleaved bytes at
/// `quality` (1…100, 4:2:0 chroma subsampling for RGB). `*jpeg` gets `*size` bytes from malloc.
int atx_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                    unsigned char **jpeg, size_t *size, char message[ATX_JPEG_MESSAGE_LENGTH]);

void atx_jpeg_free(void *pointer);

#endif
