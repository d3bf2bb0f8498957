/* dualgraph's C runtime: the scalar helpers, matrix product, convolution and pooling that the
 * generated model.c calls. Written once, by hand, for every model; dualgraph copies it beside
 * the generated code. Plain C11 and <math.h>; CBLAS (OpenBLAS) for the matrix product when
 * compiled with -DDG_USE_CBLAS, a blocked loop otherwise. Everything is static: each model's
 * translation unit has its own copy and exports only its entry points. */
#ifndef DG_RUNTIME_H
#define DG_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef DG_USE_CBLAS
#include <cblas.h>
#endif

#if defined(__GNUC__)
#define DG_UNUSED __attribute__((unused))
#else
#define DG_UNUSED
#endif

/* Error codes of the generated entry points (the model's header repeats them with its prefix). */
#define DG_OK 0
#define DG_ERR_NULL 1      /* a NULL pointer where data was expected */
#define DG_ERR_SIZE 2      /* a size argument or an input shape that does not match the graph */
#define DG_ERR_INDEX 3     /* an index out of range (embedding) */
#define DG_ERR_WEIGHTS 4   /* weights not loaded, or a weights file that is not this model's */
#define DG_ERR_WORKSPACE 5 /* a workspace smaller than model_workspace_bytes() */
#define DG_ERR_OUTPUT 6    /* an output buffer smaller than the output */
#define DG_ERR_NOMEM 7     /* the workspace or the weights could not be allocated */
#define DG_ALIGN(n) (((size_t)(n) + 63u) & ~(size_t)63u)

/* ------------------------------------------------------------------ scalar helpers
 * Python's and NumPy's meanings, which the ops' scalar templates assume: maximum/minimum keep
 * NaN, max/min keep the first operand unless the second is strictly greater/smaller, // and %
 * round towards minus infinity, integer division by zero gives 0 (NumPy's result). */
#define DG_FLOAT_HELPERS(T, S, ABS, FLOOR, TRUNC, SQRT)                                        \
  static DG_UNUSED inline T dg_maximum##S(T a, T b) { return (a != a || a > b) ? a : b; } \
  static DG_UNUSED inline T dg_minimum##S(T a, T b) { return (a != a || a < b) ? a : b; } \
  static DG_UNUSED inline T dg_pymax##S(T a, T b) { return b > a ? b : a; }                       \
  static DG_UNUSED inline T dg_pymin##S(T a, T b) { return b < a ? b : a; }                       \
  static DG_UNUSED inline T dg_sign##S(T a) { return a != a ? a : (T)((a > 0) - (a < 0)); }      \
  static DG_UNUSED inline T dg_rsqrt##S(T a) { return (T)1 / SQRT(a); }                          \
  static DG_UNUSED inline T dg_square##S(T a) { return a * a; }                                  \
  static DG_UNUSED inline T dg_frac##S(T a) { return a - TRUNC(a); }                            \
  static DG_UNUSED inline T dg_floordiv##S(T a, T b) { return FLOOR(a / b); }                    \
  static DG_UNUSED inline T dg_mod##S(T a, T b) {                                                \
    T r = a - FLOOR(a / b) * b;                                                                 \
    return (b != 0 && r != 0 && ((r < 0) != (b < 0))) ? r + b : r;                               \
  }                                                                                             \
  static DG_UNUSED inline int dg_isnan##S(T a) { return a != a; }                                \
  static DG_UNUSED inline int dg_isinf##S(T a) { return ABS(a) == (T)INFINITY; }                 \
  static DG_UNUSED inline int dg_isfinite##S(T a) { return a == a && ABS(a) != (T)INFINITY; }

DG_FLOAT_HELPERS(float, _f32, fabsf, floorf, truncf, sqrtf)
DG_FLOAT_HELPERS(double, _f64, fabs, floor, trunc, sqrt)

static DG_UNUSED inline int64_t dg_maximum_i64(int64_t a, int64_t b) { return a > b ? a : b; }
static DG_UNUSED inline int64_t dg_minimum_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static DG_UNUSED inline int64_t dg_pymax_i64(int64_t a, int64_t b) { return b > a ? b : a; }
static DG_UNUSED inline int64_t dg_pymin_i64(int64_t a, int64_t b) { return b < a ? b : a; }
static DG_UNUSED inline int64_t dg_sign_i64(int64_t a) { return (a > 0) - (a < 0); }
static DG_UNUSED inline int64_t dg_abs_i64(int64_t a) { return a < 0 ? -a : a; }
static DG_UNUSED inline int64_t dg_square_i64(int64_t a) { return a * a; }
static DG_UNUSED inline int dg_isnan_i64(int64_t a) { (void)a; return 0; }
static DG_UNUSED inline int dg_isinf_i64(int64_t a) { (void)a; return 0; }
static DG_UNUSED inline int dg_isfinite_i64(int64_t a) { (void)a; return 1; }
static DG_UNUSED inline int64_t dg_floordiv_i64(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return a == INT64_MIN ? a : -a;
  int64_t q = a / b;
  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static DG_UNUSED inline int64_t dg_mod_i64(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
static DG_UNUSED inline int64_t dg_gcd_i64(int64_t a, int64_t b) {
  a = dg_abs_i64(a); b = dg_abs_i64(b);
  while (b) { int64_t t = a % b; a = b; b = t; }
  return a;
}
static DG_UNUSED inline int64_t dg_ipow(int64_t a, int64_t b) {
  int64_t r = 1;
  if (b < 0) return a == 1 ? 1 : (a == -1 ? (b % 2 ? -1 : 1) : 0);
  while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
  return r;
}

/* ------------------------------------------------------------------ matrix product
 * C = alpha * op(A) * op(B) + beta * C, row-major; op(X) is X or its transpose (ta, tb).
 * With beta == 0, C is only written. Products of at least DG_BLAS_MIN_MACS multiply-adds go to
 * CBLAS when it is compiled in; smaller ones (a batch-1 linear layer) run the loops below,
 * which cost less than a BLAS call's set-up (measured: 12 us against 37 us for the tutorials'
 * Net at batch 1). */
#ifndef DG_BLAS_MIN_MACS
#define DG_BLAS_MIN_MACS 262144.0
#endif

/* On x86-64 with GCC the product is compiled twice, for AVX2 and for the baseline, and the
 * loader picks the one the CPU runs (function multiversioning): a portable binary that uses
 * the wider vectors where they exist. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(DG_NO_CLONES) && !defined(__SANITIZE_ADDRESS__)
#define DG_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DG_CLONES
#endif

#define DG_GEMM(T, S, CBLAS)                                                                   \
  static DG_UNUSED DG_CLONES void dg_gemm##S(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha,  \
                                   const T *A, int64_t lda, const T *B, int64_t ldb, T beta,    \
                                   T *C, int64_t ldc) {                                         \
    if (M <= 0 || N <= 0) return;                                                               \
    DG_GEMM_BLAS(CBLAS)                                                                         \
    for (int64_t i = 0; i < M; i++) {                                                           \
      T *c = C + i * ldc;                                                                       \
      if (beta == 0) { for (int64_t j = 0; j < N; j++) c[j] = 0; }                              \
      else if (beta != 1) { for (int64_t j = 0; j < N; j++) c[j] *= beta; }                     \
    }                                                                                           \
    if (K <= 0) return;                                                                         \
    if (!tb) { /* rows of B four at a time: each pass over C's row does four updates */       \
      const int64_t K4 = K - K % 4;                                                             \
      for (int64_t i = 0; i < M; i++) {                                                         \
        T *restrict c = C + i * ldc;                                                            \
        for (int64_t k = 0; k < K4; k += 4) {                                                   \
          const T a0 = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);                          \
          const T a1 = alpha * (ta ? A[(k + 1) * lda + i] : A[i * lda + k + 1]);                \
          const T a2 = alpha * (ta ? A[(k + 2) * lda + i] : A[i * lda + k + 2]);                \
          const T a3 = alpha * (ta ? A[(k + 3) * lda + i] : A[i * lda + k + 3]);                \
          const T *restrict b0 = B + k * ldb, *restrict b1 = b0 + ldb;                          \
          const T *restrict b2 = b1 + ldb, *restrict b3 = b2 + ldb;                             \
          for (int64_t j = 0; j < N; j++) c[j] += (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j]); \
        }                                                                                       \
        for (int64_t k = K4; k < K; k++) {                                                      \
          const T a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);                           \
          const T *restrict b = B + k * ldb;                                                    \
          for (int64_t j = 0; j < N; j++) c[j] += a * b[j];                                     \
        }                                                                                       \
      }                                                                                         \
      return;                                                                                   \
    }                                                                                           \
    const int64_t K8 = K - K % 8;                                                               \
    for (int64_t i = 0; i < M; i++) {                                                           \
      for (int64_t j = 0; j < N; j++) {                                                         \
        const T *restrict b = B + j * ldb;                                                      \
        T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                    \
        if (!ta) {                                                                              \
          const T *restrict a = A + i * lda;                                                    \
          for (int64_t k = 0; k < K8; k += 8)                                                   \
            for (int l = 0; l < 8; l++) acc[l] += a[k + l] * b[k + l];                          \
          for (int64_t k = K8; k < K; k++) acc[0] += a[k] * b[k];                               \
        } else {                                                                                \
          for (int64_t k = 0; k < K; k++) acc[0] += A[k * lda + i] * b[k];                      \
        }                                                                                       \
        const T sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
        C[i * ldc + j] += alpha * sum;                                                          \
      }                                                                                         \
    }                                                                                           \
  }

#ifdef DG_USE_CBLAS
#define DG_GEMM_BLAS(CBLAS)                                                                    \
  if (K > 0 && (double)M * (double)N * (double)K >= DG_BLAS_MIN_MACS) {                         \
    CBLAS(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,        \
          (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);          \
    return;                                                                                     \
  }
#else
#define DG_GEMM_BLAS(CBLAS)
#endif

DG_GEMM(float, _f32, cblas_sgemm)
DG_GEMM(double, _f64, cblas_dgemm)

/* ------------------------------------------------------------------ convolution (NCHW)
 * im2col for one image: col[(c*kh + u)*kw + v][oy*ow + ox] = x[c][oy*sh - ph + u*dh][ox*sw - pw + v*dw]
 * (zero outside the image), so the convolution of a group is one matrix product. */
#define DG_IM2COL(T, S)                                                                        \
  static DG_UNUSED void dg_im2col##S(const T *x, int64_t C, int64_t H, int64_t W, int64_t kh,  \
                                     int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,\
                                     int64_t dh, int64_t dw, int64_t oh, int64_t ow, T *col) {  \
    for (int64_t c = 0; c < C; c++)                                                             \
      for (int64_t u = 0; u < kh; u++)                                                          \
        for (int64_t v = 0; v < kw; v++) {                                                      \
          T *row = col + ((c * kh + u) * kw + v) * oh * ow;                                     \
          for (int64_t oy = 0; oy < oh; oy++) {                                                 \
            int64_t y = oy * sh - ph + u * dh;                                                  \
            T *dst = row + oy * ow;                                                             \
            if (y < 0 || y >= H) { for (int64_t ox = 0; ox < ow; ox++) dst[ox] = 0; continue; } \
            const T *src = x + (c * H + y) * W;                                                 \
            for (int64_t ox = 0; ox < ow; ox++) {                                               \
              int64_t xx = ox * sw - pw + v * dw;                                               \
              dst[ox] = (xx >= 0 && xx < W) ? src[xx] : 0;                                      \
            }                                                                                   \
          }                                                                                     \
        }                                                                                       \
  }

/* out[n][o][:] = sum over the group's channels of w[o] * col, plus bias[o] when given */
#define DG_CONV2D(T, S)                                                                        \
  DG_IM2COL(T, S)                                                                               \
  static DG_UNUSED void dg_conv2d##S(const T *x, const T *w, const T *bias, T *out, int64_t N, \
                                     int64_t C, int64_t H, int64_t W, int64_t O, int64_t kh,    \
                                     int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,\
                                     int64_t dh, int64_t dw, int64_t groups, int64_t oh,        \
                                     int64_t ow, T *col) {                                      \
    int64_t cg = C / groups, og = O / groups, kk = cg * kh * kw, plane = oh * ow;               \
    for (int64_t n = 0; n < N; n++)                                                             \
      for (int64_t g = 0; g < groups; g++) {                                                    \
        dg_im2col##S(x + (n * C + g * cg) * H * W, cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col); \
        T *o = out + (n * O + g * og) * plane;                                                  \
        dg_gemm##S(0, 0, og, plane, kk, (T)1, w + g * og * kk, kk, col, plane, (T)0, o, plane); \
        if (bias)                                                                               \
          for (int64_t c = 0; c < og; c++)                                                      \
            for (int64_t p = 0; p < plane; p++) o[c * plane + p] += bias[g * og + c];           \
      }                                                                                         \
  }

DG_CONV2D(float, _f32)
DG_CONV2D(double, _f64)

/* ------------------------------------------------------------------ max pooling (NCHW)
 * Windows cover the padded image; padding never wins; NaN wins (PyTorch's rule); the index is
 * the flat position in the input plane, as max_pool2d's return_indices gives. */
#define DG_MAXPOOL(T, S)                                                                       \
  static DG_UNUSED void dg_max_pool2d##S(const T *x, T *out, int64_t *idx, int64_t NC,         \
                                         int64_t H, int64_t W, int64_t kh, int64_t kw,          \
                                         int64_t sh, int64_t sw, int64_t ph, int64_t pw,        \
                                         int64_t dh, int64_t dw, int64_t oh, int64_t ow) {      \
    for (int64_t p = 0; p < NC; p++) {                                                          \
      const T *plane = x + p * H * W;                                                           \
      for (int64_t oy = 0; oy < oh; oy++)                                                       \
        for (int64_t ox = 0; ox < ow; ox++) {                                                   \
          T best = -(T)INFINITY;                                                                \
          int64_t where = -1;                                                                   \
          for (int64_t u = 0; u < kh; u++) {                                                    \
            int64_t y = oy * sh - ph + u * dh;                                                  \
            if (y < 0 || y >= H) continue;                                                      \
            for (int64_t v = 0; v < kw; v++) {                                                  \
              int64_t xx = ox * sw - pw + v * dw;                                               \
              if (xx < 0 || xx >= W) continue;                                                  \
              T e = plane[y * W + xx];                                                          \
              if (where < 0 || e > best || e != e) { best = e; where = y * W + xx; }            \
              if (e != e) { u = kh; break; }                                                    \
            }                                                                                   \
          }                                                                                     \
          out[(p * oh + oy) * ow + ox] = best;                                                  \
          if (idx) idx[(p * oh + oy) * ow + ox] = where;                                        \
        }                                                                                       \
    }                                                                                           \
  }

DG_MAXPOOL(float, _f32)
DG_MAXPOOL(double, _f64)

#endif /* DG_RUNTIME_H */
