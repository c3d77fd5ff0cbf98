#include "atx_jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/// libjpeg's error manager plus the jump target and the first fatal warning seen.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    int truncated;
} error_manager;

static void on_error_exit(j_common_ptr cinfo) {
    error_manager *err = (error_manager *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(err->message, ATX_JPEG_MESSAGE_LENGTH, "%s", text);
    longjmp(err->jump, 1);
}

/// Warnings (level −1) are ignored, as Pillow ignores them, except a premature end of data:
/// a truncated file decodes to grey and must not pass silently.
static void on_emit_message(j_common_ptr cinfo, int level) {
    error_manager *err = (error_manager *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF && !err->truncated) {
        err->truncated = 1;
        snprintf(err->message, ATX_JPEG_MESSAGE_LENGTH, "premature end of JPEG data (the file is truncated)");
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void install(error_manager *err, char *message) {
    jpeg_std_error(&err->base);
    err->base.error_exit = on_error_exit;
    err->base.emit_message = on_emit_message;
    err->base.output_message = on_output_message;
    err->message = message;
    err->truncated = 0;
    message[0] = 0;
}

int atx_jpeg_read_info(const unsigned char *data, size_t size, atx_jpeg_info *info,
                       char message[ATX_JPEG_MESSAGE_LENGTH]) {
    struct jpeg_decompress_struct cinfo;
    error_manager err;
    install(&err, message);
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->components = cinfo.num_components;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

static unsigned char muldiv255(int a, int b) {
    int t = a * b + 128;  // Pillow's MULDIV255: round(a·b/255)
    return (unsigned char)(((t >> 8) + t) >> 8);
}

int atx_jpeg_decode_rgb(const unsigned char *data, size_t size, unsigned char **pixels,
                        atx_jpeg_info *info, char message[ATX_JPEG_MESSAGE_LENGTH]) {
    struct jpeg_decompress_struct cinfo;
    error_manager err;
    unsigned char *volatile out = NULL;
    unsigned char *volatile row = NULL;
    install(&err, message);
    *pixels = NULL;
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t width = cinfo.output_width, height = cinfo.output_height;
    if ((cmyk && cinfo.output_components != 4) || (!cmyk && cinfo.output_components != 3)) {
        snprintf(message, ATX_JPEG_MESSAGE_LENGTH, "unexpected %d output components", cinfo.output_components);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    out = malloc(width * height * 3);
    if (cmyk) row = malloc(width * 4);
    if (!out || (cmyk && !row)) {
        snprintf(message, ATX_JPEG_MESSAGE_LENGTH, "out of memory for %zux%zu pixels", width, height);
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return 3;
    }
    int inverted = cinfo.saw_Adobe_marker;  // Photoshop writes CMYK inverted (255 = no ink)
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        JSAMPROW target = cmyk ? row : out + y * width * 3;
        jpeg_read_scanlines(&cinfo, &target, 1);
        if (cmyk) {
            unsigned char *dst = out + y * width * 3;
            for (size_t x = 0; x < width; x++) {
                const unsigned char *p = row + 4 * x;
                int c = inverted ? 255 - p[0] : p[0], m = inverted ? 255 - p[1] : p[1];
                int yy = inverted ? 255 - p[2] : p[2], k = inverted ? 255 - p[3] : p[3];
                int nk = 255 - k;
                dst[3 * x] = (unsigned char)(nk - muldiv255(c, nk));
                dst[3 * x + 1] = (unsigned char)(nk - muldiv255(m, nk));
                dst[3 * x + 2] = (unsigned char)(nk - muldiv255(yy, nk));
            }
        }
        if (err.truncated) break;
    }
    if (err.truncated) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return 4;
    }
    jpeg_finish_decompress(&cinfo);
    info->width = (int)width;
    info->height = (int)height;
    info->components = cinfo.num_components;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *pixels = out;
    return 0;
}

int atx_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                    unsigned char **jpeg, size_t *size, char message[ATX_JPEG_MESSAGE_LENGTH]) {
    struct jpeg_compress_struct cinfo;
    error_manager err;
    unsigned char *buffer = NULL;
    unsigned long length = 0;
    install(&err, message);
    *jpeg = NULL;
    *size = 0;
    if (components != 1 && components != 3) {
        snprintf(message, ATX_JPEG_MESSAGE_LENGTH, "can encode 1 or 3 components, not %d", components);
        return 2;
    }
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &length);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)components);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *jpeg = buffer;
    *size = length;
    return 0;
}

void atx_jpeg_free(void *pointer) { free(pointer); }
