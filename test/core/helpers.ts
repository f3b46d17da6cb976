// Helpers shared by the core's unit tests: catch a CoreError, snapshot what a refused call must
// leave alone (statistics and every byte of device RAM), clone a board with changed numbers, read a
// stream to its end.

import { expect } from "vitest";
import { loadBoard, type Board } from "../../host/boards.js";
import type { Device, DeviceStats, UploadRecord } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";

/** Runs `action` and returns the CoreError it threw; fails the test if it returned or threw anything else. */
export function coreErrorOf(action: () => unknown): CoreError {
  try {
    action();
  } catch (error) {
    if (error instanceof CoreError) return error;
    throw error;
  }
  throw new Error("expected a CoreError, but the call returned normally");
}

export type StatsSnapshot = Omit<DeviceStats, "writeLatencyMs">;

/** The device's statistics without the host-measured write latency (a timing, not state). */
export function statsSnapshot(device: Device): StatsSnapshot {
  const { writeLatencyMs: _timing, ...rest } = device.stats();
  return rest;
}

/** A copy of every byte of the device's RAM budget, [0, ramBytes). */
export function ramSnapshot(device: Device): Uint8Array {
  return new Uint8Array(device.memory.buffer, 0, device.ramBytes).slice();
}

/** The first RAM offset at which two snapshots differ, or -1. */
export function firstDifference(before: Uint8Array, after: Uint8Array): number {
  const length = Math.min(before.length, after.length);
  for (let offset = 0; offset < length; offset++) {
    if (before[offset] !== after[offset]) return offset;
  }
  return before.length === after.length ? -1 : length;
}

/**
 * Shows that `action` is refused with `codeName` and changes nothing: the statistics are the same
 * and so is every byte of device RAM.
 */
export function expectRefused(device: Device, action: () => unknown, codeName: string): CoreError {
  const statsBefore = statsSnapshot(device);
  const ramBefore = ramSnapshot(device);
  const error = coreErrorOf(action);
  expect(error.codeName).toBe(codeName);
  expect(firstDifference(ramBefore, ramSnapshot(device))).toBe(-1);
  expect(statsSnapshot(device)).toEqual(statsBefore);
  return error;
}

/** A deep copy of a board from boards/, changed by `change`. */
export function boardClone(name: string, change: (board: Board) => void = () => {}): Board {
  const board = structuredClone(loadBoard(name));
  change(board);
  return board;
}

/** Reads a stream to its end in bulk reads (every record read becomes pending). */
export function readAll(device: Device, source: number, sensor: number): UploadRecord[] {
  const records: UploadRecord[] = [];
  const readsMax = 1_000_000;
  for (let reads = 0; reads < readsMax; reads++) {
    const batch = device.readBulk(source, sensor, device.bulkCapacity);
    if (batch.length === 0) return records;
    records.push(...batch);
  }
  throw new Error(`stream ${source}/${sensor} did not end within ${readsMax} bulk reads`);
}

/** Sequence numbers of a list of records. */
export function seqs(records: readonly UploadRecord[]): number[] {
  return records.map((record) => record.seq);
}

/** The integers [from, to). */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, index) => from + index);
}
