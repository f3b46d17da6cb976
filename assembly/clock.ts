// The core's notion of time: the last `nowMs` the host passed in (boot or processMemory), kept in
// the state block. The core has no clock of its own, so simulated time is whatever the main loop
// says it is.

import { core } from "./state";

export function clockSet(nowMs: f64): void {
  core().clockNowMs = nowMs;
}
