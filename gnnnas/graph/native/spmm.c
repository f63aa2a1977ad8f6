/* CSR sparse x dense row-major products for the propagation's hot path (CPU), and GATv2's
 * attention logits (at the end of this file).
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
#include <stdlib.h>
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

/* GATv2 attention logits over a symmetric CSR edge structure (edge e: col[e] -> row i),
 * without materialising the E x H x C pair tensor that autograd would keep:
 *
 *   logit[e,h] = sum_c att[h,c] * leaky_relu(S[col[e],h,c] + T[i,h,c])
 *
 * The backward is gathered per node (deterministic): dT and d att over each node's incoming
 * edges, dS over its outgoing ones, which on a symmetric structure are the reverses of its
 * incoming ones (rev[e] = the opposite edge). d att is summed per thread in a static schedule
 * (``att_part``: max_threads x H x C) and then in thread order. */
#include <omp.h>

/* Branch-free, libm-free leaky ReLU and its derivative, so the loops below vectorise. */
static inline float leaky_slope(float v, float slope)
{
    const float above = (float)(v > 0.0f);
    return above + slope * (1.0f - above);
}

static inline float leaky(float v, float slope) { return v * leaky_slope(v, slope); }

#define GAT_SHAPES(CALL) \
    CALL(1, 8) CALL(1, 16) CALL(1, 32) CALL(1, 64) CALL(1, 128) \
    CALL(2, 4) CALL(2, 8) CALL(2, 16) CALL(2, 32) CALL(2, 64) \
    CALL(4, 4) CALL(4, 8) CALL(4, 16) CALL(4, 32) CALL(4, 64) \
    CALL(8, 4) CALL(8, 8) CALL(8, 16) CALL(8, 32)

int gnn_max_threads(void) { return omp_get_max_threads(); }

/* Per-row bodies as functions with restrict parameters: OpenMP's outlining of a loop body drops the
 * restrict qualifiers of captured pointers, and without them gcc does not vectorise these loops. */
static inline __attribute__((always_inline)) void
gatv2_row(const int32_t *restrict crow, const int32_t *restrict col, const float *restrict S,
          const float *restrict t, const float *restrict att, const int64_t H, const int64_t C, const float slope,
          const int64_t i, float *restrict out, float *restrict tmp)
{
    const int64_t HC = H * C;
    for (int32_t e = crow[i]; e < crow[i + 1]; e++) {
        const float *restrict s = S + (int64_t)col[e] * HC;
        for (int64_t k = 0; k < HC; k++) tmp[k] = att[k] * leaky(s[k] + t[k], slope);
        for (int64_t h = 0; h < H; h++) {
            float acc = 0.0f;
            /* a vectorised (tree) sum: in a fixed order, so still deterministic */
            #pragma omp simd reduction(+:acc)
            for (int64_t c = 0; c < C; c++) acc += tmp[h * C + c];
            out[(int64_t)e * H + h] = acc;
        }
    }
}

void gnn_gatv2_logits(int64_t n, const int32_t *crow, const int32_t *col, const float *S, const float *T,
                      const float *att, int64_t H, int64_t C, float slope, float *out)
{
    const int64_t HC = H * C;
    #pragma omp parallel
    {
        float *tmp = malloc(sizeof(float) * HC);
        #pragma omp for schedule(dynamic, 64)
        for (int64_t i = 0; i < n; i++) {
            /* compile-time head counts and widths for the common shapes, so the loops unroll */
            switch (H * 1000 + C) {
#define GAT_CASE(HH, CC) case HH * 1000 + CC: gatv2_row(crow, col, S, T + i * HC, att, HH, CC, slope, i, out, tmp); break;
            GAT_SHAPES(GAT_CASE)
#undef GAT_CASE
            default: gatv2_row(crow, col, S, T + i * HC, att, H, C, slope, i, out, tmp);
            }
        }
        free(tmp);
    }
}

static inline __attribute__((always_inline)) void
gatv2_target_row(const int32_t *restrict crow, const int32_t *restrict col, const float *restrict S,
                 const float *restrict t, const float *restrict att, const int64_t H, const int64_t C,
                 const float slope, const float *restrict grad, const int64_t i, float *restrict dt,
                 float *restrict part)
{
    const int64_t HC = H * C;
    for (int64_t k = 0; k < HC; k++) dt[k] = 0.0f;
    for (int32_t e = crow[i]; e < crow[i + 1]; e++) {
        const float *restrict s = S + (int64_t)col[e] * HC;
        for (int64_t h = 0; h < H; h++) {
            const float g = grad[(int64_t)e * H + h];
            for (int64_t c = 0; c < C; c++) {
                const int64_t k = h * C + c;
                const float v = s[k] + t[k];
                const float d = leaky_slope(v, slope);
                dt[k] += g * att[k] * d;
                part[k] += g * v * d;
            }
        }
    }
}

static inline __attribute__((always_inline)) void
gatv2_source_row(const int32_t *restrict crow, const int32_t *restrict col, const int64_t *restrict rev,
                 const float *restrict s, const float *restrict T, const float *restrict att, const int64_t H,
                 const int64_t C, const float slope, const float *restrict grad, const int64_t j,
                 float *restrict ds)
{
    const int64_t HC = H * C;
    for (int64_t k = 0; k < HC; k++) ds[k] = 0.0f;
    for (int32_t e2 = crow[j]; e2 < crow[j + 1]; e2++) {
        const int64_t e = rev[e2];  /* edge j -> col[e2]: its logit's gradient */
        const float *restrict t = T + (int64_t)col[e2] * HC;
        for (int64_t h = 0; h < H; h++) {
            const float g = grad[e * H + h];
            for (int64_t c = 0; c < C; c++) {
                const int64_t k = h * C + c;
                ds[k] += g * att[k] * leaky_slope(s[k] + t[k], slope);
            }
        }
    }
}

void gnn_gatv2_logits_backward(int64_t n, const int32_t *crow, const int32_t *col, const int64_t *rev,
                               const float *S, const float *T, const float *att, int64_t H, int64_t C,
                               float slope, const float *grad, float *dS, float *dT, float *att_part)
{
    const int64_t HC = H * C;
    #pragma omp parallel
    {
        float *part = att_part + (int64_t)omp_get_thread_num() * HC;
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            switch (H * 1000 + C) {
#define GAT_CASE(HH, CC) case HH * 1000 + CC: \
                gatv2_target_row(crow, col, S, T + i * HC, att, HH, CC, slope, grad, i, dT + i * HC, part); break;
            GAT_SHAPES(GAT_CASE)
#undef GAT_CASE
            default: gatv2_target_row(crow, col, S, T + i * HC, att, H, C, slope, grad, i, dT + i * HC, part);
            }
        }
        #pragma omp for schedule(dynamic, 64)
        for (int64_t j = 0; j < n; j++) {
            switch (H * 1000 + C) {
#define GAT_CASE(HH, CC) case HH * 1000 + CC: \
                gatv2_source_row(crow, col, rev, S + j * HC, T, att, HH, CC, slope, grad, j, dS + j * HC); break;
            GAT_SHAPES(GAT_CASE)
#undef GAT_CASE
            default: gatv2_source_row(crow, col, rev, S + j * HC, T, att, H, C, slope, grad, j, dS + j * HC);
            }
        }
    }
}
