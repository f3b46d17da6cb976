// The statistics block: STAT_COUNT f64 counters in device RAM (exact integers up to 2^53), read by
// the host as a Float64Array. Indexes are the STAT_* constants in abi.ts.

import { STAT_COUNT } from "./abi";
import { core } from "./state";

// @ts-ignore: decorator
@inline
export function statGet(index: i32): f64 {
  return load<f64>(core().statsPtr + ((<usize>index) << 3));
}

// @ts-ignore: decorator
@inline
export function statSet(index: i32, value: f64): void {
  store<f64>(core().statsPtr + ((<usize>index) << 3), value);
}

// @ts-ignore: decorator
@inline
export function statAdd(index: i32, delta: f64): void {
  const ptr = core().statsPtr + ((<usize>index) << 3);
  store<f64>(ptr, load<f64>(ptr) + delta);
}

export function statsReset(): void {
  memory.fill(core().statsPtr, 0, (<usize>STAT_COUNT) << 3);
}
