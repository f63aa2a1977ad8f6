/* Fused full-ranking top-K for dot-product scores (CPU): score and select without writing scores.
 *
 *   gnn_topk_dot   for each user row u of U (b x d), the k items i with the largest
 *                  s(u, i) = U[u] . I[i], best first, ties by item id ascending; items
 *                  listed in u's exclusion list, items with allowed[i] == 0, and scores
 *                  that are -inf or NaN are never ranked.
 *
 * The unfused path writes a b x n score matrix, then reads it again for torch.topk.
 * Here a register tile of UB users x PANEL items is computed and immediately compared
 * with each user's current k-th best score; only the few scores above it go into a
 * per-user heap. Items are packed in panels (d x PANEL floats, see gnn_topk_panel) so
 * a tile's operand is one contiguous block, and processed in chunks that stay in the
 * core's L2 cache while all of the thread's users pass over them.
 *
 * Deterministic: every user's items are scanned in ascending id order by one thread,
 * and a score equal to the current k-th best never displaces it (that one has the
 * lower id). Dot products are summed in dimension order, so values can differ from a
 * BLAS product in the last bits; rankings differ only where scores tie to rounding.
 *
 * found[u] is how many items were ranked (< k only when u has fewer than k rankable
 * items); the caller takes its exact fallback path for such rows.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <omp.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#ifdef __AVX512F__
#define PANEL 32
#else
#ifndef PANEL
#define PANEL 16
#endif
#endif
#ifndef UB
#define UB 6
#endif
#define CHUNK_BYTES (192 * 1024)

int gnn_topk_panel(void) { return PANEL; }

/* a ranks below b: lower score, or equal score and higher id */
static inline int below(float sa, int64_t ia, float sb, int64_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}

/* Min-heap (worst entry at the root) of n entries. */
static inline void sift_down(float *restrict hs, int64_t *restrict hi, int64_t n, int64_t pos)
{
    const float s = hs[pos];
    const int64_t it = hi[pos];
    for (;;) {
        int64_t child = 2 * pos + 1;
        if (child >= n) break;
        if (child + 1 < n && below(hs[child + 1], hi[child + 1], hs[child], hi[child])) child++;
        if (!below(hs[child], hi[child], s, it)) break;
        hs[pos] = hs[child];
        hi[pos] = hi[child];
        pos = child;
    }
    hs[pos] = s;
    hi[pos] = it;
}

static inline void sift_up(float *restrict hs, int64_t *restrict hi, int64_t pos)
{
    const float s = hs[pos];
    const int64_t it = hi[pos];
    while (pos > 0) {
        const int64_t parent = (pos - 1) / 2;
        if (!below(s, it, hs[parent], hi[parent])) break;
        hs[pos] = hs[parent];
        hi[pos] = hi[parent];
        pos = parent;
    }
    hs[pos] = s;
    hi[pos] = it;
}

typedef struct {
    float th; /* score an item must beat: the k-th best so far, -inf until k are held */
    float *hs;
    int64_t *hi;
    int64_t size;
    int64_t ex_lo, ex_hi;
} user_state;

/* GCC vector extensions: the tile's UB x PANEL accumulators must stay in registers across the
 * whole d loop, which plain arrays passed around do not guarantee. */
#if defined(__AVX512F__)
typedef float vf __attribute__((vector_size(64)));
typedef float vf_u __attribute__((vector_size(64), aligned(4)));
#define VW 16
#else
typedef float vf __attribute__((vector_size(32)));
typedef float vf_u __attribute__((vector_size(32), aligned(4)));
#define VW 8
#endif
#define NV (PANEL / VW)
typedef int32_t vi __attribute__((vector_size(sizeof(vf))));

/* Whether any of a tile row's PANEL scores is above th (NaN never is), in vector registers:
 * most rows of most tiles hold nothing above the user's k-th best score. */
static inline __attribute__((always_inline)) int any_above(const vf *restrict a, const float th)
{
    const vf t = th - (vf){0};
    vi m = a[0] > t;
    for (int v = 1; v < NV; v++) m |= a[v] > t;
#if defined(__AVX512F__)
    return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#elif defined(__AVX__)
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#else
    int any = 0;
    for (int p = 0; p < VW; p++) any |= m[p];
    return any;
#endif
}

/* acc[u][p] = U_blk[u] . panel[:, p], with U_blk UB x d (rows beyond the block are zero). */
static inline __attribute__((always_inline)) void
tile(const float *restrict ub, const float *restrict panel, const int64_t d, vf acc[UB][NV])
{
    vf a[UB][NV];
    for (int u = 0; u < UB; u++)
        for (int v = 0; v < NV; v++) a[u][v] = (vf){0};
    for (int64_t j = 0; j < d; j++) {
        vf row[NV];
        for (int v = 0; v < NV; v++) row[v] = *(const vf_u *)(panel + j * PANEL + v * VW);
        for (int u = 0; u < UB; u++) {
            const float x = ub[u * d + j];
            for (int v = 0; v < NV; v++) a[u][v] += x * row[v];
        }
    }
    for (int u = 0; u < UB; u++)
        for (int v = 0; v < NV; v++) acc[u][v] = a[u][v];
}

static inline void offer(user_state *restrict st, const int64_t k, const float s, const int64_t item,
                         const int64_t *restrict ex)
{
    if (st->ex_lo < st->ex_hi) {
        /* items arrive in ascending order: skip exclusions below this item for good */
        int64_t lo = st->ex_lo, hi = st->ex_hi;
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (ex[mid] < item) lo = mid + 1;
            else hi = mid;
        }
        st->ex_lo = lo;
        if (lo < st->ex_hi && ex[lo] == item) return;
    }
    if (st->size < k) {
        st->hs[st->size] = s;
        st->hi[st->size] = item;
        sift_up(st->hs, st->hi, st->size);
        st->size++;
    } else {
        st->hs[0] = s;
        st->hi[0] = item;
        sift_down(st->hs, st->hi, k, 0);
    }
    if (st->size == k) st->th = st->hs[0];
}

static inline __attribute__((always_inline)) void
select_tile(vf acc[UB][NV], const int nu, const int64_t base, const int64_t lim, user_state *restrict st,
            const int64_t k, const int64_t *restrict ex, const uint8_t *restrict allowed)
{
    for (int u = 0; u < nu; u++) {
        user_state *restrict s = st + u;
        if (!any_above(acc[u], s->th)) continue;
        const float *restrict row = (const float *)acc[u];
        for (int64_t p = 0; p < lim; p++) {
            const float v = row[p];
            if (!(v > s->th)) continue; /* also drops NaN and -inf */
            const int64_t item = base + p;
            if (allowed && !allowed[item]) continue;
            offer(s, k, v, item, ex);
        }
    }
}

static void heap_sort_best_first(float *restrict hs, int64_t *restrict hi, int64_t n)
{
    /* pop the worst entry to the end until one is left: the array ends up best first */
    for (int64_t last = n - 1; last > 0; last--) {
        const float s = hs[last];
        const int64_t it = hi[last];
        hs[last] = hs[0];
        hi[last] = hi[0];
        hs[0] = s;
        hi[0] = it;
        sift_down(hs, hi, last, 0);
    }
}

void gnn_topk_dot(int64_t b, int64_t d, const float *U, int64_t n, const float *packed, int64_t k,
                  const int64_t *ex_indptr, const int64_t *ex_items, const uint8_t *allowed,
                  int64_t *out_items, float *out_values, int64_t *found)
{
    const int64_t n_panels = (n + PANEL - 1) / PANEL;
    const int64_t panel_floats = d * PANEL;
    int64_t chunk = CHUNK_BYTES / (panel_floats * (int64_t)sizeof(float));
    if (chunk < 1) chunk = 1;
    const int64_t n_blocks = (b + UB - 1) / UB;

    #pragma omp parallel
    {
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t blk_lo = n_blocks * t / nt, blk_hi = n_blocks * (t + 1) / nt;
        const int64_t u_lo = blk_lo * UB, u_hi = blk_hi * UB < b ? blk_hi * UB : b;
        const int64_t mine = u_hi > u_lo ? u_hi - u_lo : 0;
        user_state st_stack[64 * UB];
        user_state *st = st_stack;
        /* states live on the stack; threads with more users than fit process them in slices */
        for (int64_t s_lo = u_lo; s_lo < u_lo + mine; s_lo += 64 * UB) {
            const int64_t s_hi = s_lo + 64 * UB < u_hi ? s_lo + 64 * UB : u_hi;
            for (int64_t u = s_lo; u < s_hi; u++) {
                user_state *s = st + (u - s_lo);
                s->hs = out_values + u * k;
                s->hi = out_items + u * k;
                s->size = 0;
                s->th = -INFINITY;
                s->ex_lo = ex_indptr ? ex_indptr[u] : 0;
                s->ex_hi = ex_indptr ? ex_indptr[u + 1] : 0;
            }
            for (int64_t c0 = 0; c0 < n_panels; c0 += chunk) {
                const int64_t c1 = c0 + chunk < n_panels ? c0 + chunk : n_panels;
                for (int64_t u0 = s_lo; u0 < s_hi; u0 += UB) {
                    const int nu = (int)(s_hi - u0 < UB ? s_hi - u0 : UB);
                    float ub[UB * d];
                    memcpy(ub, U + u0 * d, (size_t)(nu * d) * sizeof(float));
                    if (nu < UB) memset(ub + nu * d, 0, (size_t)((UB - nu) * d) * sizeof(float));
                    for (int64_t pnl = c0; pnl < c1; pnl++) {
                        vf acc[UB][NV];
                        tile(ub, packed + pnl * panel_floats, d, acc);
                        const int64_t base = pnl * PANEL;
                        const int64_t lim = n - base < PANEL ? n - base : PANEL;
                        select_tile(acc, nu, base, lim, st + (u0 - s_lo), k, ex_items, allowed);
                    }
                }
            }
            for (int64_t u = s_lo; u < s_hi; u++) {
                user_state *s = st + (u - s_lo);
                found[u] = s->size;
                heap_sort_best_first(s->hs, s->hi, s->size);
            }
        }
    }
}

/* packed[p][j][q] = items[p * PANEL + q][j] (zero past n): the panel layout gnn_topk_dot reads. */
void gnn_topk_pack(int64_t n, int64_t d, const float *items, float *packed)
{
    const int64_t n_panels = (n + PANEL - 1) / PANEL;
    #pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < n_panels; p++) {
        float *restrict out = packed + p * d * PANEL;
        const int64_t base = p * PANEL;
        const int64_t rows = n - base < PANEL ? n - base : PANEL;
        if (rows < PANEL) memset(out, 0, (size_t)(d * PANEL) * sizeof(float));
        for (int64_t q = 0; q < rows; q++) {
            const float *restrict row = items + (base + q) * d;
            for (int64_t j = 0; j < d; j++) out[j * PANEL + q] = row[j];
        }
    }
}
