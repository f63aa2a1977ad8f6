/* Inverted dropout with a counter-based mask (CPU).
 *
 * torch's CPU dropout masks come from one sequential Mersenne Twister: about
 * 3.5 ns an element on one core, whatever the thread count, which was a fifth
 * of an epoch for a 2-layer stack with dropout on the bundled dataset. Here
 * element i's draw is a hash of (i, seed): no state to share, so the loop
 * runs on every thread and vectorises, and the mask depends only on the seed
 * (drawn from torch's generator by the caller), never on the thread count.
 *
 *   gnn_dropout           keep[i] = hash(i, seed) >= threshold;  y[i] = x[i] * (keep[i] ? scale : 0)
 *   gnn_dropout_backward  out[i] = g[i] * (keep[i] ? scale : 0)
 *
 * threshold = round(p * 2^32): an element is dropped with probability p to
 * within 2^-32. Multiplying by 0 (not storing 0) keeps NaN and inf visible,
 * as torch's x * mask does.
 */
#include <stdint.h>

/* lowbias32 (C. Wellons, hash-prospector): a bijective 32-bit finaliser with low bias. */
static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline uint32_t draw(const int64_t i, const uint32_t lo, const uint32_t hi)
{
    /* Two rounds: the first spreads the counter under the seed's low half, the second folds in
     * the high half and the counter's upper bits (tensors past 2^32 elements). */
    return mix32(mix32((uint32_t)i + lo) ^ hi ^ (uint32_t)((uint64_t)i >> 32));
}

void gnn_dropout(const int64_t n, const float *restrict x, const uint64_t seed, const uint32_t threshold,
                 const float scale, float *restrict y, uint8_t *restrict keep)
{
    const uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const uint8_t k = draw(i, lo, hi) >= threshold;
        keep[i] = k;
        y[i] = x[i] * (k ? scale : 0.0f);
    }
}

void gnn_dropout_backward(const int64_t n, const float *restrict g, const uint8_t *restrict keep,
                          const float scale, float *restrict out)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = g[i] * (keep[i] ? scale : 0.0f);
}
