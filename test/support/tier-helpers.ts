// Helpers shared by the tier tests (test/tier): a fresh storage directory on the real filesystem,
// a count of the `.imx` files in it taken from the directory itself, and small drivers that fill a
// stream, spill it and upload it.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import type { Board } from "../../host/boards.js";
import type { Device, UploadRecord } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import { IMX_SUFFIX, recordsPerSector } from "../../host/format/imx.js";

/** A fresh directory under os.tmpdir(); remove it with storageDirRemove. */
export function storageDirMake(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "imx-"));
}

export function storageDirRemove(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Every file under `dir` whose name ends with `suffix`, as sorted '/'-separated relative paths. */
export function filesUnder(dir: string, suffix: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const full = path.join(dir, entry);
    if (entry.endsWith(suffix) && fs.statSync(full).isFile()) found.push(entry.split(path.sep).join("/"));
  }
  return found.sort();
}

/** `.imx` files really present under `dir`, counted with fs.readdirSync, not by the device. */
export function imxFilesUnder(dir: string): string[] {
  return filesUnder(dir, IMX_SUFFIX);
}

/** TSD records in one sector: an 8-byte first time, then 4-byte values. */
export function tsdPerSector(board: Board): number {
  return recordsPerSector("tsd", board.memory.sectorBytes);
}

/** EVT records in one sector: 4-byte value + 8-byte time each. */
export function evtPerSector(board: Board): number {
  return recordsPerSector("evt", board.memory.sectorBytes);
}

/** The fewest RAM sectors at which usage (rounded down) reaches the spill threshold. */
export function sectorsAtThreshold(board: Board): number {
  return Math.ceil((board.memory.sectorCount * board.tier.spillThresholdPercent) / 100);
}

/** The value written as record `seq` of a test stream: distinct per record, exact as a uint32. */
export function valueOf(seq: number): number {
  return (Math.imul(seq + 1, 0x9e3779b1) >>> 0) % 1_000_000_007;
}

export const UTC_BASE_MS = 1_700_000_000_000;
export const SAMPLE_RATE_MS = 1000;

/** Writes `count` uint32 TSD records to (source, sensor), continuing its sequence from `firstSeq`. */
export function tsdWrite(device: Device, source: number, sensor: number, firstSeq: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    device.writeTsd(source, sensor, valueOf(seq), UTC_BASE_MS + seq * SAMPLE_RATE_MS);
  }
}

/** Bulk-reads every readable record of a stream (they become pending), oldest first. */
export function readAll(device: Device, source: number, sensor: number, readsMax = 1_000_000): UploadRecord[] {
  const records: UploadRecord[] = [];
  for (let reads = 0; reads < readsMax; reads++) {
    const batch = device.readBulk(source, sensor, device.bulkCapacity);
    if (batch.length === 0) return records;
    records.push(...batch);
  }
  throw new Error(`stream ${source}/${sensor} still had records after ${readsMax} reads`);
}

/** Reads and acknowledges every record of a stream; returns what was read. */
export function uploadAll(device: Device, source: number, sensor: number): UploadRecord[] {
  const records = readAll(device, source, sensor);
  const pending = device.counts(source, sensor).pending;
  if (pending > 0) device.ack(source, sensor, pending);
  return records;
}

/** A simulated main-loop clock that steps by the board's tick interval (at least 1 ms). */
export class TickClock {
  readonly stepMs: number;
  constructor(
    board: Board,
    public nowMs = 1_000,
  ) {
    this.stepMs = Math.max(1, board.tier.tickIntervalMs);
  }

  /** Advances one tick interval and calls processMemory once. */
  tick(device: Device): ReturnType<Device["processMemory"]> {
    this.nowMs += this.stepMs;
    return device.processMemory(this.nowMs);
  }

  /** Ticks until `done()` holds, at most `ticksMax` times; returns the ticks made. Throws if it never holds. */
  tickUntil(device: Device, done: () => boolean, ticksMax = 1000): number {
    for (let ticks = 0; ticks <= ticksMax; ticks++) {
      if (done()) return ticks;
      this.tick(device);
    }
    throw new Error(`condition not reached within ${ticksMax} ticks`);
  }
}

/** Ticks a flush to completion (progress 101); returns the ticks it took. */
export function flushToDisk(device: Device, clock: TickClock, ticksMax = 1000): number {
  device.flushAllToDisk();
  const ticks = flushDrain(device, () => clock.tick(device), ticksMax);
  if (ticks < 0) throw new Error(`the flush did not complete within ${ticksMax} ticks`);
  return ticks;
}

/**
 * Configures TSD stream 1/10, writes one sector at a time to it and ticks until at least
 * `fileCount` files exist; returns the records written (sequence numbers 0 … written−1). On tiny
 * every file holds 4 full sectors (24 records).
 */
export function spillFiles(device: Device, clock: TickClock, fileCount: number): number {
  const perSector = tsdPerSector(device.board);
  device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
  let written = 0;
  for (let i = 0; i < 10_000 && device.stats().filesLive < fileCount; i++) {
    tsdWrite(device, 1, 10, written, perSector);
    written += perSector;
    clock.tick(device);
  }
  expect(device.stats().filesLive).toBeGreaterThanOrEqual(fileCount);
  return written;
}

/**
 * Configures TSD stream 1/10 and flushes `sectors` full sectors of it into exactly one file
 * (sectors ≤ the board's sectorsPerFileMax and spillSectorsPerTickMax); returns the records written.
 */
export function oneFileOnDisk(device: Device, clock: TickClock, sectors: number): number {
  device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
  const written = sectors * tsdPerSector(device.board);
  tsdWrite(device, 1, 10, 0, written);
  flushToDisk(device, clock, 10);
  expect(device.stats().filesCreated).toBe(1);
  expect(device.counts(1, 10).disk).toBe(written);
  return written;
}
