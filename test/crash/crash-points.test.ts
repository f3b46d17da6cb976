// Power cuts at every HAL operation of scripted scenarios (littlefs's "linear" power-loss mode):
// each scenario runs once on a healthy disk to count its HAL operations, then once per operation N
// with the power cut just before operation N (FaultyHal + MemoryHal.crash(): only what was fsynced
// survives). After each cut a new device boots on what survived and the simulator checks that no
// acknowledged record comes back, every record that was in a complete `.imx` file and not
// acknowledged comes back in order, no temp file is left, a second device on a copy of the
// storage sees the same streams and counts, and the device is usable afterwards (the rest of the
// script runs, then every stream is written, flushed to 101 and drained). The cuts land inside
// boots too: in a recovery that moves a misplaced file back (SPEC.md 6.4). Two scenarios cut inside
// the ACK log's appends and its compaction, and one inside the upgrade of a first-release storage
// (SPEC.md 6.5).

import { describe, expect, it } from "vitest";
import type { CleanupPolicy, TierMode } from "../../host/boards.js";
import type { SimAction, SimStreamSpec } from "../../host/sim/options.js";
import { simulateSeed } from "../../host/sim/simulator.js";

const STREAMS: SimStreamSpec[] = [
  { source: 0, sensor: 7, type: "evt", dataType: "uint32", sampleRateMs: 0 },
  { source: 1, sensor: 8, type: "tsd", dataType: "int32", sampleRateMs: 10 },
  { source: 2, sensor: 9, type: "evt", dataType: "float32", sampleRateMs: 0 },
];

interface Scenario {
  name: string;
  policy: CleanupPolicy;
  script: SimAction[];
  /** MM2's direct tiered allocation instead of spilling (SPEC.md 4.2). */
  tierMode?: TierMode;
}

// On the tiny board: 16 sectors of 32 B (2 EVT or 6 TSD records each), spill at 12 sectors down to
// 8, files of at most 4 sectors, one file written and one deleted per tick.
const SCENARIOS: Scenario[] = [
  {
    name: "spill of two streams past the RAM threshold",
    policy: "immediate",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "write", stream: 0, count: 14 },
      { kind: "write", stream: 1, count: 30 },
      { kind: "tick", count: 4 },
      { kind: "write", stream: 0, count: 10 },
      { kind: "tick", count: 4 },
      { kind: "write", stream: 1, count: 24 },
      { kind: "tick", count: 4 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "write", stream: 0, count: 12 },
      { kind: "tick", count: 4 },
    ],
  },
  {
    name: "ACK across a file boundary",
    policy: "immediate",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "write", stream: 0, count: 20 },
      { kind: "write", stream: 1, count: 30 },
      { kind: "flush", ticks: 12 },
      { kind: "read", stream: 0, max: 8 },
      { kind: "read", stream: 0, max: 4 },
      { kind: "ack", stream: 0, count: 12 },
      { kind: "upload", stream: 1, max: 8 },
      { kind: "upload", stream: 1, max: 8 },
      { kind: "tick", count: 3 },
    ],
  },
  ...(["immediate", "batched", "lazy"] as const).map((policy): Scenario => ({
    name: `cleanup of acknowledged files, ${policy} policy`,
    policy,
    script: [
      { kind: "write", stream: 0, count: 30 },
      { kind: "flush", ticks: 12 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "tick", count: 4 },
      { kind: "settle" },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "tick", count: 4 },
      { kind: "settle" },
    ],
  })),
  {
    name: "flush of three streams with pending records",
    policy: "batched",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "configure", stream: 2 },
      { kind: "write", stream: 0, count: 9 },
      { kind: "write", stream: 1, count: 20 },
      { kind: "write", stream: 2, count: 5 },
      { kind: "read", stream: 0, max: 3 },
      { kind: "flush", ticks: 16 },
    ],
  },
  {
    // Boot recovery moves the file back (rename, fsync of the target directory, then of the
    // source): a cut at any of its steps leaves every record delivered at least once.
    name: "a file moved into another bucket between lives, moved back at boot",
    policy: "batched",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "write", stream: 0, count: 12 },
      { kind: "write", stream: 1, count: 20 },
      { kind: "flush", ticks: 12 },
      { kind: "upload", stream: 0, max: 3 },
      { kind: "misplace", pick: 1 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "misplace", pick: 0x100 },
      { kind: "upload", stream: 1, max: 8 },
      { kind: "tick", count: 2 },
    ],
  },
  {
    // One record appended to the ACK log per ACK (SPEC.md 6.5); with three streams the log passes
    // its bound (a checkpoint and 24 records) and is compacted after the record that passed it.
    name: "ACK records one at a time until the ACK log is compacted, then more",
    policy: "immediate",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "configure", stream: 2 },
      { kind: "write", stream: 0, count: 24 },
      { kind: "write", stream: 2, count: 8 },
      { kind: "flush", ticks: 16 },
      ...Array.from({ length: 14 }, (): SimAction => ({ kind: "upload", stream: 0, max: 1 })),
      ...Array.from({ length: 6 }, (): SimAction => ({ kind: "upload", stream: 2, max: 1 })),
      ...Array.from({ length: 8 }, (): SimAction => ({ kind: "upload", stream: 0, max: 1 })),
      { kind: "tick", count: 2 },
    ],
  },
  {
    // A compaction in one life, then ACKs appended in the next: the next life's first append
    // finds the log under the name a power cut keeps.
    name: "a compaction, a graceful restart, and ACK records in the next life",
    policy: "batched",
    script: [
      { kind: "write", stream: 0, count: 30 },
      { kind: "flush", ticks: 16 },
      ...Array.from({ length: 17 }, (): SimAction => ({ kind: "upload", stream: 0, max: 1 })),
      { kind: "restart" },
      { kind: "upload", stream: 0, max: 1 },
      { kind: "upload", stream: 0, max: 2 },
      { kind: "tick", count: 2 },
    ],
  },
  {
    // A v1 storage (the first release's positions file, no ACK log) upgraded in place (SPEC.md
    // 6.5): the first ACK record goes into a new log, the checkpoint that replaces the positions
    // file follows it, and a later append deletes the positions file. A cut at any step boots as
    // v1 (the positions file) or v2 (the log), or both, and loses and repeats nothing.
    name: "a first-release storage upgraded in place by its first ACKs",
    policy: "batched",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "write", stream: 0, count: 20 },
      { kind: "write", stream: 1, count: 30 },
      { kind: "flush", ticks: 12 },
      { kind: "upload", stream: 0, max: 3 },
      { kind: "downgrade" },
      { kind: "upload", stream: 0, max: 2 },
      { kind: "upload", stream: 1, max: 8 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "write", stream: 0, count: 4 },
      { kind: "tick", count: 2 },
    ],
  },
  {
    // Direct mode: past the threshold the newest sectors go to files while older data stays in RAM,
    // so a stream's files and RAM sectors interleave; the read, the ACK and recovery must keep order.
    name: "direct tiered allocation: files newer than RAM, read and acknowledged across both, flushed",
    policy: "immediate",
    tierMode: "direct",
    script: [
      { kind: "configure", stream: 1 },
      { kind: "write", stream: 0, count: 14 },
      { kind: "write", stream: 1, count: 30 },
      { kind: "tick", count: 3 },
      { kind: "write", stream: 0, count: 10 },
      { kind: "tick", count: 3 },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "write", stream: 1, count: 12 },
      { kind: "tick", count: 3 },
      { kind: "upload", stream: 1, max: 8 },
      { kind: "flush", ticks: 12 },
      { kind: "upload", stream: 0, max: 8 },
    ],
  },
  {
    name: "graceful restart, then recovery and upload",
    policy: "batched",
    script: [
      { kind: "write", stream: 0, count: 20 },
      { kind: "flush", ticks: 12 },
      { kind: "upload", stream: 0, max: 5 },
      { kind: "restart" },
      { kind: "upload", stream: 0, max: 8 },
      { kind: "tick", count: 2 },
    ],
  },
];

describe("a power cut at every HAL operation (tiny board)", () => {
  for (const scenario of SCENARIOS) {
    it(scenario.name, { timeout: 60_000 }, async () => {
      const options = {
        board: "tiny",
        script: scenario.script,
        streams: STREAMS,
        policy: scenario.policy,
        faults: "none",
        shadowCrashOneIn: 0,
        ...(scenario.tierMode === undefined ? {} : { tierMode: scenario.tierMode }),
      };
      const healthy = await simulateSeed(1, options);
      expect(healthy.crashes).toBe(0);
      const points = healthy.workloadOps;
      expect(points).toBeGreaterThan(20);
      for (let n = 1; n <= points; n++) {
        const result = await simulateSeed(1, { ...options, crashAtOp: n });
        expect(result.crashes, `power cut at op ${n}`).toBe(1);
      }
    });
  }
});
