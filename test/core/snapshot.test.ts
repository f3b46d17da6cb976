// A device is its RAM: device.snapshot() copies the board's ramBytes bytes, and Device.restore
// instantiates a new core over a memory holding them, without booting again. Shown by running a
// seeded workload, taking a snapshot (and a copy of the storage directory) halfway, then running
// the same second half on the original and on the restored device: the records read back, the
// files left in the storage directory and the statistics are the same, on a RAM-only board and on
// a disk board. A snapshot is refused while host-side work is outstanding (a lazy deletion in
// flight), and a restore refuses a snapshot of the wrong size, of a core that never booted, or of
// another board. A failure prints the seed; IMX_SEED=<seed> replays it.

import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type Board, loadBoard } from "../../host/boards.js";
import { Device, SnapshotError } from "../../host/core/device.js";
import { HalWrapper } from "../../host/hal/hal-wrapper.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { Prng, seedFromEnv } from "../support/prng.js";

const STEPS = 600;
const T0 = 1_700_000_000_000;
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "imx-snapshot-"));
  dirs.push(dir);
  return dir;
}

interface Clock {
  nowMs: number;
}

/** Runs `steps` seeded operations on `device` and returns what they answered, one line each. */
function drive(device: Device, prng: Prng, steps: number, clock: Clock): string[] {
  const trace: string[] = [];
  const streams = [
    { source: 1, sensor: 1 },
    { source: 1, sensor: 2 },
  ];
  for (let step = 0; step < steps; step++) {
    const { source, sensor } = streams[prng.below(streams.length)] ?? { source: 1, sensor: 1 };
    const op = prng.weighted([8, 2, 2, 1, 4, 1]);
    clock.nowMs += prng.intIn(1, 400);
    try {
      if (op === 0) {
        if (sensor === 1) device.writeTsd(source, sensor, prng.below(1000), clock.nowMs);
        else device.writeEvt(source, sensor, prng.below(1000), clock.nowMs);
        trace.push("write");
      } else if (op === 1) {
        const records = device.readBulk(source, sensor, prng.intIn(1, 20));
        trace.push(`read ${JSON.stringify(records)}`);
      } else if (op === 2) {
        const pending = device.counts(source, sensor).pending;
        device.ack(source, sensor, prng.intIn(0, pending));
        trace.push(`ack ${JSON.stringify(device.counts(source, sensor))}`);
      } else if (op === 3) {
        device.revert(source, sensor);
        trace.push("revert");
      } else if (op === 4) {
        trace.push(`tick ${device.processMemory(clock.nowMs)}`);
      } else if (device.hasDiskTier) {
        device.flushAllToDisk();
        trace.push(`flush ${device.getFlushProgress()}`);
      }
    } catch (error) {
      trace.push(`error ${(error as Error).message}`);
    }
  }
  return trace;
}

/** Every file under `dir` with its bytes, as relative path → base64. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path).toString("base64");
    }
  };
  walk(dir);
  return out;
}

/** The statistics the core keeps (the host's own timings left out). */
function coreStats(device: Device): Record<string, unknown> {
  const { writeLatencyMs: _latency, dirSyncFailures: _syncs, ...stats } = device.stats();
  return stats;
}

/**
 * Real files, but a filesystem whose free space other processes do not move: the free bytes the
 * core reads are an input like the clock, so both devices must be given the same.
 */
class SteadyFreeHal extends HalWrapper {
  constructor(storageDir: string) {
    super(new NodeFsHal(storageDir), "steady-free(node-fs)");
  }
  override freeBytes(): number {
    return 1 << 30;
  }
}

function halFor(storageDir: string | undefined): SteadyFreeHal | undefined {
  return storageDir === undefined ? undefined : new SteadyFreeHal(storageDir);
}

function setUp(board: Board, storageDir: string | undefined, clock: Clock): Device {
  const device = Device.create({ board, storageDir, hal: halFor(storageDir), policy: "batched", nowMs: clock.nowMs });
  device.configureStream(1, 1, { type: "tsd", sampleRateMs: 100 });
  device.configureStream(1, 2, { type: "evt", dataType: "int32" });
  return device;
}

describe("a device restored from a snapshot continues as the original does", () => {
  test.each([
    ["rp2040", false],
    ["tiny", true],
  ] as const)("%s (disk tier: %s)", (boardName, disk) => {
    const seed = seedFromEnv(0x5eed + boardName.length);
    const board = loadBoard(boardName);
    const prng = new Prng(seed);
    const clock: Clock = { nowMs: T0 };
    const originalDir = disk ? tempDir() : undefined;
    const original = setUp(board, originalDir, clock);
    drive(original, prng, STEPS, clock);

    const snapshot = original.snapshot();
    expect(snapshot.length, `seed ${seed}`).toBe(board.memory.ramBytes);
    const restoredDir = disk ? tempDir() : undefined;
    if (originalDir && restoredDir) cpSync(originalDir, restoredDir, { recursive: true });
    const restored = Device.restore({ board, storageDir: restoredDir, hal: halFor(restoredDir), snapshot });
    expect(restored.streamList()).toEqual(original.streamList());
    expect(coreStats(restored)).toEqual(coreStats(original));

    const secondHalf = prng.fork();
    const traceOriginal = drive(original, new Prng(secondHalf.seed), STEPS, { ...clock });
    const traceRestored = drive(restored, new Prng(secondHalf.seed), STEPS, { ...clock });
    expect(traceRestored, `seed ${seed}`).toEqual(traceOriginal);
    expect(traceOriginal.some((line) => line.startsWith("read [{"))).toBe(true);
    expect(coreStats(restored), `seed ${seed}`).toEqual(coreStats(original));
    expect(restored.snapshot()).toEqual(original.snapshot());
    if (originalDir && restoredDir) {
      expect(original.stats().filesCreated).toBeGreaterThan(0);
      expect(files(restoredDir), `seed ${seed}`).toEqual(files(originalDir));
    }
  });
});

describe("snapshots that cannot be taken or restored", () => {
  test("a snapshot is refused while a lazy deletion is in flight, and taken once it settled", async () => {
    const board = loadBoard("tiny");
    const device = Device.create({ board, storageDir: tempDir(), policy: "lazy" });
    device.configureStream(1, 1, { type: "evt" });
    for (let i = 0; i < 40; i++) device.writeEvt(1, 1, i, T0 + i);
    device.flushAllToDisk();
    for (let tick = 0; tick < 50 && device.getFlushProgress() !== 101; tick++) device.processMemory(T0 + 1000 * tick);
    const records = device.readBulk(1, 1, 40);
    device.ack(1, 1, records.length);
    device.processMemory(T0 + 1000 * 50); // starts the lazy deletions the ACK queued
    expect(device.getCleanupProgress().filesInFlight).toBeGreaterThan(0);
    expect(() => device.snapshot()).toThrow(SnapshotError);
    await device.settle();
    expect(device.snapshot().length).toBe(board.memory.ramBytes);
  });

  test("a restore refuses a snapshot of the wrong size, of an unbooted core, or of another board", () => {
    const board = loadBoard("rp2040");
    const snapshot = Device.create({ board }).snapshot();
    expect(() => Device.restore({ board, snapshot: snapshot.subarray(1) })).toThrow(SnapshotError);
    expect(() => Device.restore({ board, snapshot: new Uint8Array(snapshot.length) })).toThrow(/never booted/);
    const other: Board = { ...board, memory: { ...board.memory, sectorCount: board.memory.sectorCount - 1 } };
    expect(() => Device.restore({ board: other, snapshot })).toThrow(/another board/);
  });
});
