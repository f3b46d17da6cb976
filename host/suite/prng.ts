// The suite's seeded integer PRNG (mulberry32): the same --seed gives the same values on every
// machine, so a failing run replays from the seed it prints.

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

  /** A float in [0, 1). */
  unit(): number {
    return this.nextU32() / 0x1_0000_0000;
  }
}
