/* Reading and writing NumPy's .npy files (format versions 1.0, 2.0 and 3.0) for the command-line
 * runner that dualgraph writes beside a compiled model. Only what a model takes and gives:
 * little-endian numeric arrays in C order, at most DG_NPY_MAX_RANK dims. The header is parsed
 * as data with bounds on every read; nothing in a file is executed. */
#ifndef DG_NPY_H
#define DG_NPY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DG_NPY_MAX_RANK 8
#define DG_NPY_MAX_HEADER 65536

typedef struct {
  char descr[8];            /* "<f4", "<i8", "|b1", ... */
  int rank;
  int64_t shape[DG_NPY_MAX_RANK];
  int64_t numel;
  size_t itemsize;
  void *data;               /* malloc'ed, numel * itemsize bytes */
} dg_npy;

static const char *dg_npy_find(const char *text, const char *key) {
  const char *p = strstr(text, key);
  return p ? p + strlen(key) : NULL;
}

static size_t dg_npy_itemsize(const char *descr) {
  static const char *names[] = {"<f4", "<f8", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1"};
  static const size_t sizes[] = {4, 8, 8, 4, 2, 1, 1, 1};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
    if (strcmp(descr, names[k]) == 0) return sizes[k];
  return 0;
}

/* 0 on success; otherwise a message in err (at most errlen bytes). */
static int dg_npy_read(const char *path, dg_npy *out, char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  FILE *f = fopen(path, "rb");
  if (!f) { snprintf(err, errlen, "%s: cannot open", path); return 1; }
  unsigned char magic[8];
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] < 1 || magic[6] > 3) {
    snprintf(err, errlen, "%s: not a .npy file (version 1-3)", path); fclose(f); return 1;
  }
  size_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    if (fread(b, 1, 2, f) != 2) { snprintf(err, errlen, "%s: truncated header", path); fclose(f); return 1; }
    hlen = (size_t)b[0] | ((size_t)b[1] << 8);
  } else {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) { snprintf(err, errlen, "%s: truncated header", path); fclose(f); return 1; }
    hlen = (size_t)b[0] | ((size_t)b[1] << 8) | ((size_t)b[2] << 16) | ((size_t)b[3] << 24);
  }
  if (hlen == 0 || hlen > DG_NPY_MAX_HEADER) { snprintf(err, errlen, "%s: header of %zu bytes", path, hlen); fclose(f); return 1; }
  char *h = (char *)malloc(hlen + 1);
  if (!h) { fclose(f); snprintf(err, errlen, "out of memory"); return 1; }
  if (fread(h, 1, hlen, f) != hlen) { snprintf(err, errlen, "%s: truncated header", path); free(h); fclose(f); return 1; }
  h[hlen] = 0;
  const char *d = dg_npy_find(h, "'descr':");
  const char *fo = dg_npy_find(h, "'fortran_order':");
  const char *sh = dg_npy_find(h, "'shape':");
  if (!d || !fo || !sh) { snprintf(err, errlen, "%s: header lacks descr, fortran_order or shape", path); free(h); fclose(f); return 1; }
  while (*d == ' ') d++;
  if (*d != '\'') { snprintf(err, errlen, "%s: descr is not a string", path); free(h); fclose(f); return 1; }
  d++;
  size_t n = 0;
  while (d[n] && d[n] != '\'' && n < sizeof(out->descr) - 1) { out->descr[n] = d[n]; n++; }
  out->descr[n] = 0;
  if (out->descr[0] == '=') out->descr[0] = '<';
  out->itemsize = dg_npy_itemsize(out->descr);
  while (*fo == ' ') fo++;
  if (!out->itemsize || strncmp(fo, "False", 5) != 0) {
    snprintf(err, errlen, "%s: expected a little-endian C-order array of float32, float64, int64, int32, int16, int8, uint8 or bool, found descr '%s'%s",
             path, out->descr, strncmp(fo, "False", 5) ? " in Fortran order" : "");
    free(h); fclose(f); return 1;
  }
  while (*sh == ' ') sh++;
  if (*sh != '(') { snprintf(err, errlen, "%s: shape is not a tuple", path); free(h); fclose(f); return 1; }
  sh++;
  out->numel = 1;
  for (;;) {
    while (*sh == ' ' || *sh == ',') sh++;
    if (*sh == ')') break;
    if (*sh < '0' || *sh > '9' || out->rank >= DG_NPY_MAX_RANK) {
      snprintf(err, errlen, "%s: shape is not a tuple of at most %d sizes", path, DG_NPY_MAX_RANK); free(h); fclose(f); return 1;
    }
    int64_t v = 0;
    while (*sh >= '0' && *sh <= '9') {
      if (v > (INT64_MAX - 9) / 10) { snprintf(err, errlen, "%s: size too large", path); free(h); fclose(f); return 1; }
      v = v * 10 + (*sh - '0');
      sh++;
    }
    out->shape[out->rank++] = v;
    if (v && out->numel > INT64_MAX / v / 8) { snprintf(err, errlen, "%s: array too large", path); free(h); fclose(f); return 1; }
    out->numel *= v;
  }
  free(h);
  size_t bytes = (size_t)out->numel * out->itemsize;
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data) { snprintf(err, errlen, "out of memory"); fclose(f); return 1; }
  if (fread(out->data, 1, bytes, f) != bytes) {
    snprintf(err, errlen, "%s: holds fewer than the %lld elements its header declares", path, (long long)out->numel);
    free(out->data); out->data = NULL; fclose(f); return 1;
  }
  fclose(f);
  return 0;
}

static int dg_npy_write(const char *path, const char *descr, int rank, const int64_t *shape, const void *data, size_t itemsize) {
  char dict[512];
  int n = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  int64_t numel = 1;
  for (int k = 0; k < rank; k++) {
    n += snprintf(dict + n, sizeof(dict) - (size_t)n, "%lld%s", (long long)shape[k], rank == 1 ? "," : (k + 1 < rank ? ", " : ""));
    numel *= shape[k];
  }
  n += snprintf(dict + n, sizeof(dict) - (size_t)n, "), }");
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f) return 1;
  unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t hlen = (size_t)n + pad + 1;
  head[8] = (unsigned char)(hlen & 0xff);
  head[9] = (unsigned char)(hlen >> 8);
  int bad = fwrite(head, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n;
  for (size_t k = 0; k < pad && !bad; k++) bad = fputc(' ', f) == EOF;
  bad = bad || fputc('\n', f) == EOF;
  size_t bytes = (size_t)numel * itemsize;
  bad = bad || fwrite(data, 1, bytes, f) != bytes;
  return fclose(f) != 0 || bad;
}

#endif /* DG_NPY_H */
