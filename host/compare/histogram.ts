// A weighted histogram with logarithmic buckets, for the quantiles of `compare` (upload lag, tick
// time): its memory is bounded whatever the run's length, every sample counts (no reservoir, so
// the figures are the same on every run of a seed), and a quantile is within 1% of the true one.
//
//   bucket 0        values below 1 (reported as 0)
//   bucket i ≥ 1    values in [RATIO^(i-1), RATIO^i) (reported as the bucket's geometric middle)
//
// Values above RATIO^(BUCKETS_MAX - 1) (about 3 × 10^10 at 1% steps) land in the last bucket.

const RATIO = 1.01;
const LOG_RATIO = Math.log(RATIO);
const BUCKETS_MAX = 2400;

export class LogHistogram {
  private readonly counts = new Float64Array(BUCKETS_MAX);
  /** Total weight added. */
  total = 0;

  add(value: number, weight = 1): void {
    if (!(weight > 0) || !Number.isFinite(value)) return;
    const index = value < 1 ? 0 : Math.min(BUCKETS_MAX - 1, 1 + Math.floor(Math.log(value) / LOG_RATIO));
    this.counts[index] = (this.counts[index] ?? 0) + weight;
    this.total += weight;
  }

  /** The value below which a fraction `q` of the weight lies, or null when nothing was added. */
  quantile(q: number): number | null {
    if (this.total === 0) return null;
    const wanted = Math.min(1, Math.max(0, q)) * this.total;
    let seen = 0;
    for (let index = 0; index < BUCKETS_MAX; index++) {
      seen += this.counts[index] ?? 0;
      if (seen >= wanted && seen > 0) return index === 0 ? 0 : Math.pow(RATIO, index - 0.5);
    }
    return Math.pow(RATIO, BUCKETS_MAX - 1.5);
  }
}
