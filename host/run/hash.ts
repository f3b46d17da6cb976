// A stateless integer hash for values that must be a pure function of their inputs (a sensor's
// value at a time, an outage's jitter in a period), so a resumed run draws the same numbers as an
// uninterrupted one. Sequential draws use the simulator's one PRNG (host/base/prng.ts).

const U32_RANGE = 0x1_0000_0000;

function mix(h: number, word: number): number {
  let k = Math.imul(word >>> 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

/** A 32-bit hash (murmur3's mixing) of integers; each may be up to 2^53 (split into two words). */
export function hash32(...values: number[]): number {
  let h = 0x9747b28c;
  for (const value of values) {
    h = mix(h, value % U32_RANGE);
    h = mix(h, Math.floor(value / U32_RANGE));
  }
  h ^= values.length * 8;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1) from the hash of `values`. */
export function hashUnit(...values: number[]): number {
  return hash32(...values) / U32_RANGE;
}
