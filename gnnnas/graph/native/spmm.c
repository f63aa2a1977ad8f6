/* CSR sparse x dense row-major products for the propagation's hot path (CPU).
 *
 * Two gather kernels, both deterministic (each output row is summed by one
 * thread in CSR order, whatever the thread count), parallel over output rows
 * with OpenMP (the process's libgomp: the one torch loaded, so torch's thread
 * count applies):
 *
 *   gnn_spmm        out[r] = beta * y[row(r)] + alpha * sum_p val[p] * x[col[p]]
 *                   over the CSR row row(r) = rows ? rows[r] : r; y may be NULL.
 *                   The scaled input is fused into the same pass (torch's addmm
 *                   copies it first), and ``rows`` computes only selected rows.
 *   gnn_spmm_masked out[r] = alpha * sum_{p : pos[col[p]] >= 0} val[p] * g[pos[col[p]]]
 *                   for every row r: the product with a dense operand that is zero
 *                   except at the rows listed in ``pos`` (g holds only those rows).
 *
 * Widths 8..128 in steps of 8 get a compile-time-constant inner loop (kept in
 * vector registers); any other width takes the generic loop.
 */
#include <stdint.h>
#include <string.h>

#define PREFETCH_AHEAD 4

static inline __attribute__((always_inline)) void
gather_row(const int32_t *restrict crow, const int32_t *restrict col, const float *restrict val,
           const float *restrict x, const int64_t d, const int64_t row, const float beta,
           const float *restrict yrow, const float alpha, float *restrict outrow)
{
    float acc[d];
    for (int64_t k = 0; k < d; k++) acc[k] = 0.0f;
    const int32_t end = crow[row + 1];
    for (int32_t p = crow[row]; p < end; p++) {
        if (p + PREFETCH_AHEAD < end)
            __builtin_prefetch(x + (int64_t)col[p + PREFETCH_AHEAD] * d, 0, 1);
        const float v = val[p];
        const float *restrict xr = x + (int64_t)col[p] * d;
        for (int64_t k = 0; k < d; k++) acc[k] += v * xr[k];
    }
    if (yrow) {
        for (int64_t k = 0; k < d; k++) outrow[k] = beta * yrow[k] + alpha * acc[k];
    } else {
        for (int64_t k = 0; k < d; k++) outrow[k] = alpha * acc[k];
    }
}

static inline __attribute__((always_inline)) void
spmm_body(int64_t n_out, const int64_t *restrict rows, const int32_t *restrict crow,
          const int32_t *restrict col, const float *restrict val, const float *restrict x,
          const int64_t d, const float *restrict y, float beta, float alpha, float *restrict out)
{
    #pragma omp parallel for schedule(dynamic, 64)
    for (int64_t r = 0; r < n_out; r++) {
        const int64_t row = rows ? rows[r] : r;
        gather_row(crow, col, val, x, d, row, beta, y ? y + row * d : 0, alpha, out + r * d);
    }
}

static inline __attribute__((always_inline)) void
masked_body(int64_t n_rows, const int32_t *restrict crow, const int32_t *restrict col,
            const float *restrict val, const int32_t *restrict pos, const float *restrict g,
            const int64_t d, float alpha, float *restrict out)
{
    #pragma omp parallel for schedule(dynamic, 64)
    for (int64_t r = 0; r < n_rows; r++) {
        float acc[d];
        for (int64_t k = 0; k < d; k++) acc[k] = 0.0f;
        const int32_t end = crow[r + 1];
        for (int32_t p = crow[r]; p < end; p++) {
            const int32_t m = pos[col[p]];
            if (m < 0) continue;
            const float v = val[p];
            const float *restrict gr = g + (int64_t)m * d;
            for (int64_t k = 0; k < d; k++) acc[k] += v * gr[k];
        }
        float *restrict o = out + r * d;
        for (int64_t k = 0; k < d; k++) o[k] = alpha * acc[k];
    }
}

#define WIDTH_CASES(CALL) \
    CALL(8) CALL(16) CALL(24) CALL(32) CALL(40) CALL(48) CALL(56) CALL(64) \
    CALL(72) CALL(80) CALL(88) CALL(96) CALL(104) CALL(112) CALL(120) CALL(128)

void gnn_spmm(int64_t n_out, const int64_t *rows, const int32_t *crow, const int32_t *col,
              const float *val, const float *x, int64_t d, const float *y, float beta, float alpha,
              float *out)
{
    switch (d) {
#define CASE(D) case D: spmm_body(n_out, rows, crow, col, val, x, D, y, beta, alpha, out); return;
    WIDTH_CASES(CASE)
#undef CASE
    default: spmm_body(n_out, rows, crow, col, val, x, d, y, beta, alpha, out);
    }
}

void gnn_spmm_masked(int64_t n_rows, const int32_t *crow, const int32_t *col, const float *val,
                     const int32_t *pos, const float *g, int64_t d, float alpha, float *out)
{
    switch (d) {
#define CASE(D) case D: masked_body(n_rows, crow, col, val, pos, g, D, alpha, out); return;
    WIDTH_CASES(CASE)
#undef CASE
    default: masked_body(n_rows, crow, col, val, pos, g, d, alpha, out);
    }
}

int gnn_native_abi(void) { return 1; }
