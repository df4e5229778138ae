package imageio

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The few TurboJPEG 2.x entry points Ocellus calls, declared here so the
// build needs no header: the library is opened at run time and is optional.
typedef void *tjhandle;
typedef tjhandle (*tj_init_fn)(void);
typedef int (*tj_header_fn)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
typedef int (*tj_decompress_fn)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
typedef int (*tj_destroy_fn)(tjhandle);

static tj_init_fn ocl_tj_init;
static tj_header_fn ocl_tj_header;
static tj_decompress_fn ocl_tj_decompress;
static tj_destroy_fn ocl_tj_destroy;

static int ocl_tj_load(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return 0;
	ocl_tj_init = (tj_init_fn)dlsym(h, "tjInitDecompress");
	ocl_tj_header = (tj_header_fn)dlsym(h, "tjDecompressHeader3");
	ocl_tj_decompress = (tj_decompress_fn)dlsym(h, "tjDecompress2");
	ocl_tj_destroy = (tj_destroy_fn)dlsym(h, "tjDestroy");
	return ocl_tj_init && ocl_tj_header && ocl_tj_decompress && ocl_tj_destroy;
}

// ocl_tj_size reads the frame size; 0 on success.
static int ocl_tj_size(const unsigned char *buf, unsigned long n, int *w, int *h) {
	tjhandle t = ocl_tj_init();
	if (t == NULL) return -1;
	int sub, cs;
	int r = ocl_tj_header(t, buf, n, w, h, &sub, &cs);
	ocl_tj_destroy(t);
	return r;
}

// ocl_tj_rgba decodes into dst (w*h*4 bytes, RGBA); 0 on success.
static int ocl_tj_rgba(const unsigned char *buf, unsigned long n, unsigned char *dst, int w, int h, int flags) {
	tjhandle t = ocl_tj_init();
	if (t == NULL) return -1;
	int r = ocl_tj_decompress(t, buf, n, dst, w, 0, h, 7, flags); // 7 = TJPF_RGBA
	ocl_tj_destroy(t);
	return r;
}
*/
import "C"

import (
	"image"
	"os"
	"sync"
	"unsafe"
)

// TurboJPEG flags: chroma upsampled by replication, as image/jpeg does;
// warnings are errors (the input then goes to image/jpeg, whose verdict
// stands); progressive images with more than 500 scans are refused (a
// decompression bomb guard).
const (
	tjFastUpsample  = 256
	tjStopOnWarning = 8192
	tjLimitScans    = 32768
)

// turboMaxPixels bounds what the fast path decodes; larger frames go to
// image/jpeg.
const turboMaxPixels = 64 << 20

var turbo = sync.OnceValue(func() bool {
	if os.Getenv("OCELLUS_JPEG_DECODER") == "go" {
		return false
	}
	name := C.CString("libturbojpeg.so.0")
	defer C.free(unsafe.Pointer(name))
	return C.ocl_tj_load(name) != 0
})

// JPEGDecoder names the JPEG decoder in use: "libjpeg-turbo" when Debian's
// libturbojpeg0 is installed (several times faster), else "image/jpeg".
// OCELLUS_JPEG_DECODER=go forces image/jpeg.
func JPEGDecoder() string {
	if turbo() {
		return "libjpeg-turbo"
	}
	return "image/jpeg"
}

// decodeTurbo decodes a JPEG with libjpeg-turbo into RGBA; ok is false when
// the library is missing or refuses the data (the caller then uses
// image/jpeg, so both accept and reject the same files).
func decodeTurbo(b []byte) (img *image.RGBA, ok bool) {
	if !turbo() || len(b) == 0 {
		return nil, false
	}
	src := (*C.uchar)(unsafe.Pointer(&b[0]))
	var w, h C.int
	if C.ocl_tj_size(src, C.ulong(len(b)), &w, &h) != 0 || w <= 0 || h <= 0 || int64(w)*int64(h) > turboMaxPixels {
		return nil, false
	}
	img = image.NewRGBA(image.Rect(0, 0, int(w), int(h)))
	if C.ocl_tj_rgba(src, C.ulong(len(b)), (*C.uchar)(unsafe.Pointer(&img.Pix[0])), w, h, tjFastUpsample|tjStopOnWarning|tjLimitScans) != 0 {
		return nil, false
	}
	return img, true
}
