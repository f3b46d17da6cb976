// A small seeded integer PRNG (mulberry32) for simulations and stress tests. The same seed gives
// the same sequence on every machine, so a failing run replays from the seed it prints.

export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [min, max], both included (max − min below 2^32). */
  intIn(min: number, max: number): number {
    return min + (this.nextU32() % (max - min + 1));
  }

  /** True with probability `numerator` / `denominator`. */
  chance(numerator: number, denominator: number): boolean {
    return this.nextU32() % denominator < numerator;
  }

  /** One of `items`, chosen uniformly. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.nextU32() % items.length];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** An index into `weights`, chosen with probability proportional to its weight. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let roll = this.nextU32() % total;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] ?? 0;
      if (roll < w) return i;
      roll -= w;
    }
    return weights.length - 1;
  }
}

/** A seed from the environment (IMX_SEED) when set, so a failure replays; else `fallback`. */
export function seedFromEnv(fallback: number): number {
  const text = process.env["IMX_SEED"];
  if (text === undefined || text === "") return fallback >>> 0;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`IMX_SEED must be a u32 (got ${text})`);
  return seed;
}
