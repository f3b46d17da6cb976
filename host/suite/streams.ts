// The streams the suite writes, and where they live: on the shared device when its stream table
// has room, else on a fresh device a section makes for itself (the `tiny` board holds 4 streams).

import type { Device } from "../core/device.js";
import type { CheckContext } from "./checks.js";
import type { FreshDevice, SuiteEnv } from "./env.js";
import { imxFilesCount } from "./env.js";
import { HARNESS_SENSORS } from "./harness-sensors.js";
import { Ledger, type StreamSpec } from "./ledger.js";

/** The per-iteration cycle's streams: both record types and all three data types. */
export const CYCLE_STREAMS: readonly StreamSpec[] = [
  { name: "cycle-tsd-u32", source: 1, sensor: 1, type: "tsd", dataType: "uint32", sampleRateMs: 1000 },
  { name: "cycle-evt-f32", source: 1, sensor: 2, type: "evt", dataType: "float32", sampleRateMs: 0 },
  { name: "cycle-tsd-f32", source: 1, sensor: 3, type: "tsd", dataType: "float32", sampleRateMs: 250 },
  { name: "cycle-evt-i32", source: 1, sensor: 4, type: "evt", dataType: "int32", sampleRateMs: 0 },
];

/** The original harness's 8 sensors and 4 controls (reference section 6.1), on upload source 0. */
export const HARNESS_STREAMS: readonly StreamSpec[] = HARNESS_SENSORS.map((s) => ({
  name: s.name,
  source: 0,
  sensor: s.sensor,
  type: s.type,
  dataType: s.dataType,
  sampleRateMs: s.sampleRateMs,
}));

/** The harness's value of sample `i` of a sensor. */
export function harnessValue(sensor: number, i: number): number {
  const s = HARNESS_SENSORS.find((d) => d.sensor === sensor);
  if (s === undefined) throw new Error(`no harness sensor ${sensor}`);
  return s.value(i);
}

/** The original's samples per harness sensor: 100 per TSD sensor, 50 per control, 25 per event sensor. */
export function harnessSampleCount(spec: StreamSpec): number {
  if (spec.type === "tsd") return 100;
  return spec.sensor >= 2000 ? 50 : 25;
}

/** real_world_test's 4 sensors (ids 100–400), as EVT streams of checksummed uint32 words. */
export const REAL_WORLD_STREAMS: readonly StreamSpec[] = [100, 200, 300, 400].map((sensor) => ({
  name: `real-world-${sensor}`,
  source: 10,
  sensor,
  type: "evt" as const,
  dataType: "uint32" as const,
  sampleRateMs: 0,
}));

/** The checksum of real_world_test: XOR of sensor id, sequence number and time, rotated left by 1. */
export function realWorldChecksum(sensor: number, seq: number, utcMs: number): number {
  const x = (sensor ^ (seq >>> 0) ^ ((utcMs % 0x1_0000_0000) >>> 0)) >>> 0;
  return ((x << 1) | (x >>> 31)) >>> 0;
}

/** Streams that fill RAM in sections 3–7: one EVT (2 records per 32-byte sector) and one TSD. */
export const FILL_EVT: StreamSpec = {
  name: "fill-evt",
  source: 2,
  sensor: 1,
  type: "evt",
  dataType: "uint32",
  sampleRateMs: 0,
};
export const FILL_TSD: StreamSpec = {
  name: "fill-tsd",
  source: 2,
  sensor: 2,
  type: "tsd",
  dataType: "uint32",
  sampleRateMs: 1000,
};

/** Whether `specs` fit in `device`'s stream table (configured ones take no new slot). */
export function streamsFit(device: Device, specs: readonly StreamSpec[]): boolean {
  const configured = device.streamList();
  const missing = specs.filter((spec) => !configured.some((c) => c.source === spec.source && c.sensor === spec.sensor));
  return configured.length + missing.length <= device.board.memory.streamsMax;
}

/**
 * Runs `body` with ledgers for `specs` on the shared device when its stream table has room, else
 * on a fresh device (with a disk tier when `disk` and the board has one), which is then cleaned up,
 * checked to leave no file behind, and disposed.
 */
export async function withLedgers(
  env: SuiteEnv,
  ctx: CheckContext,
  label: string,
  specs: readonly StreamSpec[],
  disk: boolean,
  body: (device: Device, ledgers: Ledger[], fresh: FreshDevice | null) => Promise<void> | void,
): Promise<void> {
  if (streamsFit(env.device, specs)) {
    await body(
      env.device,
      specs.map((spec) => new Ledger(env.device, spec)),
      null,
    );
    return;
  }
  const fresh = env.freshDevice(label, disk);
  try {
    await body(
      fresh.device,
      specs.map((spec) => new Ledger(fresh.device, spec)),
      fresh,
    );
    await freshCleanupCheck(env, ctx, fresh);
  } finally {
    env.freshDispose(fresh);
  }
}

/** Cleans up a fresh device and checks that it left no `.imx` file and no RAM sector with data. */
export async function freshCleanupCheck(env: SuiteEnv, ctx: CheckContext, fresh: FreshDevice): Promise<void> {
  const result = await env.cleanup(fresh.device);
  const files = fresh.dir === null ? 0 : imxFilesCount(fresh.dir);
  ctx.check(
    "its own device is left with 0 .imx files and 0 RAM sectors with data",
    result.complete && files === 0 && result.ramSectorsLeft === 0,
    "0 files, 0 sectors, cleanup complete",
    `${files} files, ${result.ramSectorsLeft} sectors, complete ${result.complete}`,
  );
}
