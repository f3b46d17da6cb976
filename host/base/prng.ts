// The project's one seeded integer PRNG (mulberry32), used by the simulator, the test command, the
// device runs and the seeded tests: 32-bit state, integer arithmetic only (Math.imul and shifts),
// so a seed gives the same sequence on every machine and a failing run replays from the seed it
// prints. No floating point is used to draw numbers (unit() only converts one).

const U32_RANGE = 0x1_0000_0000;

export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`PRNG seed must be an integer (got ${seed})`);
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n), uniform (rejection sampling, no modulo bias); n in 1 … 2^32. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > U32_RANGE) throw new RangeError(`below(${n}): n must be in 1 … 2^32`);
    const limit = U32_RANGE - (U32_RANGE % n);
    for (;;) {
      const x = this.next();
      if (x < limit) return x % n;
    }
  }

  /** An integer in [min, max], both included. */
  between(min: number, max: number): number {
    if (max < min) throw new RangeError(`between(${min}, ${max}): empty range`);
    return min + this.below(max - min + 1);
  }

  /** Same as between(min, max). */
  intIn(min: number, max: number): number {
    return this.between(min, max);
  }

  /** A float in [0, 1), from one 32-bit draw. */
  unit(): number {
    return this.next() / U32_RANGE;
  }

  /** True with probability numerator / denominator (integers, 0 ≤ numerator ≤ denominator). */
  chance(numerator: number, denominator: number): boolean {
    if (numerator <= 0) return false;
    if (numerator >= denominator) return true;
    return this.below(denominator) < numerator;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new RangeError("pick from an empty list");
    return item;
  }

  /** An index into `weights` (non-negative integers, not all 0), with probability proportional to its weight. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.below(total);
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] ?? 0;
      if (x < w) return i;
      x -= w;
    }
    throw new RangeError("weighted: weights must not all be 0");
  }

  /** A seed for an independent generator (e.g. one per device life), drawn from this one. */
  fork(): Prng {
    return new Prng(this.next());
  }
}
