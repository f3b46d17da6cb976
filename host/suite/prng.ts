// The test command uses the project's one seeded PRNG (host/sim/prng.ts).

export { Prng } from "../sim/prng.js";
