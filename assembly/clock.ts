// The core's notion of time: the last `nowMs` the host passed in (boot or processMemory). The core
// has no clock of its own, so simulated time is whatever the main loop says it is.

export let clockNowMs: f64 = 0;

export function clockSet(nowMs: f64): void {
  clockNowMs = nowMs;
}
