// The seeded tests use the project's one PRNG (host/base/prng.ts); IMX_SEED replays a failure.

export { Prng } from "../../host/base/prng.js";

/** A seed from the environment (IMX_SEED) when set, so a failure replays; else `fallback`. */
export function seedFromEnv(fallback: number): number {
  const text = process.env["IMX_SEED"];
  if (text === undefined || text === "") return fallback >>> 0;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`IMX_SEED must be a u32 (got ${text})`);
  return seed;
}
