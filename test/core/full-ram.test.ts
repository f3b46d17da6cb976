// Full RAM: when no sector is free, a write that needs a sector discards the oldest non-pending
// sector of the stream that owns the most sectors (passing over a stream whose every sector is
// pending). The test fills the pool with known records, forces one discard, reads every stream back
// and compares sequence numbers: exactly the records of that sector are missing,
// stats.recordsDiscarded counts them, and sequence numbers continue. When every sector holds
// pending data the write fails with E_ALL_PENDING, changes nothing but stats.allocationFailures,
// and after an ACK frees a sector writes succeed again. Runs on nrf52840 (RAM only, 512 sectors)
// and tiny (16 sectors). RAM discards only when the disk tier cannot take data, so on tiny the disk
// is made to look full (a 100% usage offset, which no deletion can undo): a write's spill is then
// refused and the discard rule shows as on a board without a disk tier.

import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { CoreLogger } from "../../host/core/log.js";
import { coreErrorOf, firstDifference, range, ramSnapshot, readAll, seqs, statsSnapshot } from "./helpers.js";

const T0_MS = 1_700_000_000_000;
type StreamId = readonly [source: number, sensor: number];
const A: StreamId = [1, 1]; // EVT
const B: StreamId = [1, 2]; // TSD
const C: StreamId = [1, 3]; // EVT, configured but empty until a test writes to it

interface Fixture {
  device: Device;
  lines: string[];
  evtPerSector: number;
  tsdPerSector: number;
  sectorCount: number;
}

function fixture(boardName: string): Fixture {
  const lines: string[] = [];
  const device = Device.create({
    board: loadBoard(boardName),
    log: new CoreLogger("warn", (line) => lines.push(line)),
  });
  device.configureStream(...A, { type: "evt" });
  device.configureStream(...B, { type: "tsd", sampleRateMs: 1000 });
  device.configureStream(...C, { type: "evt" });
  if (device.hasDiskTier) device.setDiskUsagePercent(100);
  const { sectorBytes, sectorCount } = device.board.memory;
  return {
    device,
    lines,
    evtPerSector: Math.floor(sectorBytes / 12),
    tsdPerSector: (sectorBytes - 8) / 4,
    sectorCount,
  };
}

function writeA(f: Fixture, count: number): void {
  for (let k = 0; k < count; k++) {
    const seq = f.device.counts(...A).nextSeq;
    f.device.writeEvt(...A, 1000 + seq, T0_MS + seq);
  }
}

function writeB(f: Fixture, count: number): void {
  for (let k = 0; k < count; k++) {
    const seq = f.device.counts(...B).nextSeq;
    f.device.writeTsd(...B, 2000 + seq, T0_MS + seq * 1000);
  }
}

/** Fills the pool: B gets `bSectors` full sectors, A every other sector. */
function fill(f: Fixture, bSectors: number): void {
  writeB(f, bSectors * f.tsdPerSector);
  writeA(f, (f.sectorCount - bSectors) * f.evtPerSector);
  expect(f.device.stats()).toMatchObject({ sectorsFree: 0, recordsDiscarded: 0 });
}

/** Every live record of a stream, oldest first, read and then reverted so nothing stays pending. */
function liveSeqs(f: Fixture, stream: StreamId): number[] {
  f.device.revert(...stream);
  const all = seqs(readAll(f.device, ...stream));
  f.device.revert(...stream);
  return all;
}

function without(all: number[], lost: number[]): number[] {
  return all.filter((seq) => !lost.includes(seq));
}

/** Device RAM with the statistics block blanked, for "nothing changed but a counter". */
function ramWithoutStats(device: Device): Uint8Array {
  const ram = ramSnapshot(device);
  const statsAt = device.exports.statsPointer();
  ram.fill(0, statsAt, statsAt + abi.STAT_COUNT * 8);
  return ram;
}

for (const boardName of ["nrf52840", "tiny"]) {
  describe(`${boardName}: a write into full RAM discards the oldest non-pending sector of the largest stream`, () => {
    test("A is largest and its first two sectors are pending: A's third sector is lost", () => {
      const f = fixture(boardName);
      const bSectors = Math.floor(f.sectorCount / 4);
      fill(f, bSectors);
      const aWritten = (f.sectorCount - bSectors) * f.evtPerSector;
      // Pending: all of A's first sector and part of its second.
      const pending = f.device.readBulk(...A, f.evtPerSector + 1);
      expect(seqs(pending)).toEqual(range(0, f.evtPerSector + 1));

      writeA(f, 1);
      const lost = range(2 * f.evtPerSector, 3 * f.evtPerSector);
      expect(f.device.stats()).toMatchObject({ recordsDiscarded: lost.length, sectorsDiscarded: 1, sectorsFree: 0 });
      expect(f.device.counts(...A)).toMatchObject({ nextSeq: aWritten + 1, pending: f.evtPerSector + 1 });
      expect(liveSeqs(f, A)).toEqual(without(range(0, aWritten + 1), lost));
      expect(liveSeqs(f, B)).toEqual(range(0, bSectors * f.tsdPerSector));
      const streamA = f.device.streamIndex(...A);
      expect(f.lines.filter((line) => /discarded/.test(line))).toEqual([
        `[imx:stream] RAM full: discarded the oldest non-pending sector of stream ${streamA} (${lost.length} records)`,
      ]);
    });

    test("B is largest: a write to A costs B its oldest sector", () => {
      const f = fixture(boardName);
      const aSectors = 2;
      writeA(f, aSectors * f.evtPerSector);
      writeB(f, (f.sectorCount - aSectors) * f.tsdPerSector);
      expect(f.device.stats().sectorsFree).toBe(0);
      const bWritten = (f.sectorCount - aSectors) * f.tsdPerSector;

      writeA(f, 1);
      const lost = range(0, f.tsdPerSector);
      expect(f.device.stats()).toMatchObject({ recordsDiscarded: lost.length, sectorsDiscarded: 1 });
      expect(liveSeqs(f, A)).toEqual(range(0, aSectors * f.evtPerSector + 1));
      expect(liveSeqs(f, B)).toEqual(without(range(0, bWritten), lost));
      // The surviving TSD samples keep their times.
      f.device.revert(...B);
      const first = f.device.readBulk(...B, 1)[0];
      expect(first).toMatchObject({
        seq: f.tsdPerSector,
        utcMs: T0_MS + f.tsdPerSector * 1000,
        value: 2000 + f.tsdPerSector,
      });
    });

    test("a largest stream whose every sector is pending is passed over for the next largest", () => {
      const f = fixture(boardName);
      const bSectors = Math.floor(f.sectorCount / 4);
      fill(f, bSectors);
      const aWritten = (f.sectorCount - bSectors) * f.evtPerSector;
      const aRead = readAll(f.device, ...A);
      expect(aRead.length).toBe(aWritten);

      writeB(f, 1); // B's newest sector is full, so this needs a sector
      const lost = range(0, f.tsdPerSector);
      expect(f.device.stats()).toMatchObject({ recordsDiscarded: lost.length, sectorsDiscarded: 1 });
      expect(f.device.counts(...A)).toMatchObject({ pending: aWritten, total: aWritten });
      expect(liveSeqs(f, B)).toEqual(without(range(0, bSectors * f.tsdPerSector + 1), lost));
      expect(liveSeqs(f, A)).toEqual(range(0, aWritten));
    });

    test("when only the writing stream holds non-pending data, it loses its own oldest sector", () => {
      const f = fixture(boardName);
      fill(f, Math.floor(f.sectorCount / 4));
      readAll(f.device, ...A);
      readAll(f.device, ...B);
      f.device.ack(...A, f.evtPerSector); // frees exactly one sector
      for (let k = 0; k <= f.evtPerSector; k++) f.device.writeEvt(...C, 70 + k, T0_MS + k);
      expect(f.device.stats()).toMatchObject({ recordsDiscarded: f.evtPerSector, sectorsDiscarded: 1 });
      expect(f.device.readBulk(...C, 100).map((r) => [r.seq, r.value])).toEqual([
        [f.evtPerSector, 70 + f.evtPerSector],
      ]);
    });

    test("many discards: every missing record is counted and sequence numbers continue", () => {
      const f = fixture(boardName);
      const bSectors = Math.floor(f.sectorCount / 4);
      fill(f, bSectors);
      const extra = 5 * f.sectorCount * f.evtPerSector + 1;
      writeA(f, extra);
      const aWritten = (f.sectorCount - bSectors) * f.evtPerSector + extra;
      const live = liveSeqs(f, A);
      expect(f.device.counts(...A).nextSeq).toBe(aWritten);
      expect(live.at(-1)).toBe(aWritten - 1);
      // Strictly increasing: nothing re-used, nothing out of order.
      expect(live.every((seq, index) => index === 0 || seq > live[index - 1]!)).toBe(true);
      const stats = f.device.stats();
      expect(stats.recordsDiscarded).toBe(aWritten - live.length);
      expect(stats.recordsWritten - stats.recordsDiscarded).toBe(stats.recordsLive);
      // A stayed the largest stream, so B lost nothing.
      expect(liveSeqs(f, B)).toEqual(range(0, bSectors * f.tsdPerSector));
    });
  });

  describe(`${boardName}: when every sector holds pending data`, () => {
    test("a write that needs a sector is E_ALL_PENDING, counts an allocation failure and changes nothing else", () => {
      const f = fixture(boardName);
      fill(f, Math.floor(f.sectorCount / 4));
      readAll(f.device, ...A);
      readAll(f.device, ...B);
      const countsBefore = ([A, B, C] as StreamId[]).map((s) => f.device.counts(...s));
      const statsBefore = statsSnapshot(f.device);
      const ramBefore = ramWithoutStats(f.device);

      expect(coreErrorOf(() => f.device.writeEvt(...C, 7, T0_MS)).codeName).toBe("E_ALL_PENDING");
      expect(coreErrorOf(() => f.device.writeEvt(...A, 7, T0_MS)).codeName).toBe("E_ALL_PENDING");
      expect(coreErrorOf(() => f.device.writeTsd(...B, 7, T0_MS)).codeName).toBe("E_ALL_PENDING");

      expect(statsSnapshot(f.device)).toEqual({
        ...statsBefore,
        allocationFailures: statsBefore.allocationFailures + 3,
      });
      expect(firstDifference(ramBefore, ramWithoutStats(f.device))).toBe(-1);
      expect(([A, B, C] as StreamId[]).map((s) => f.device.counts(...s))).toEqual(countsBefore);
    });

    test("after an ACK frees a sector, writes succeed again", () => {
      const f = fixture(boardName);
      fill(f, Math.floor(f.sectorCount / 4));
      readAll(f.device, ...A);
      readAll(f.device, ...B);
      expect(coreErrorOf(() => f.device.writeEvt(...C, 7, T0_MS)).codeName).toBe("E_ALL_PENDING");

      f.device.ack(...A, f.evtPerSector - 1);
      expect(f.device.stats().sectorsFree).toBe(0);
      expect(coreErrorOf(() => f.device.writeEvt(...C, 7, T0_MS)).codeName).toBe("E_ALL_PENDING");
      f.device.ack(...A, 1);
      expect(f.device.stats().sectorsFree).toBe(1);

      for (let k = 0; k < f.evtPerSector; k++) f.device.writeEvt(...C, 70 + k, T0_MS + k);
      const written = f.device.readBulk(...C, 100);
      expect(written.map((r) => [r.seq, r.value])).toEqual(range(0, f.evtPerSector).map((k) => [k, 70 + k]));
      expect(f.device.stats().recordsDiscarded).toBe(0);
      // C's sector is pending now too, so RAM is again all pending.
      expect(coreErrorOf(() => f.device.writeEvt(...C, 99, T0_MS)).codeName).toBe("E_ALL_PENDING");
    });
  });
}
