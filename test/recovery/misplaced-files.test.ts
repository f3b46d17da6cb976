// A valid `.imx` file under a name that is not the core's name for its header (another bucket
// directory, a leading zero, other numbers, no numbers at all) is one the core would never read
// there. Boot recovery moves it to that name before the core reads anything (rename, then fsync
// of the target and of the source directory), so its records are delivered exactly once, and the
// next boot neither deletes nor delivers them again. When the name is taken: a byte-identical copy
// is removed, a damaged file in place gives way to the valid one, and of two valid files the one
// in place is kept and the other quarantined, with a reason naming both.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import { imxCrcFix, imxPathFormat, imxPathParse } from "../../host/format/imx.js";
import { listFilesRecursive } from "../../host/hal/atomic.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";

const board = loadBoard("tiny");

/** A storage with one TSD stream (1/2) of 30 records in two files; returns it and both files. */
function storage(): { hal: MemoryHal; first: string; second: string } {
  const hal = new MemoryHal();
  const device = Device.create({ board, hal });
  device.configureStream(1, 2, { type: "tsd", sampleRateMs: 10 });
  for (let k = 0; k < 30; k++) device.writeTsd(1, 2, k, 1000 + k * 10);
  device.flushAllToDisk();
  let nowMs = 0;
  expect(flushDrain(device, () => device.processMemory((nowMs += 10)), 100)).toBeGreaterThanOrEqual(0);
  const first = imxPathFormat(1, 2, 0);
  expect(hal.exists(first)).toBe(true);
  const second = listFilesRecursive(hal, "history", ".imx").find((path) => path !== first);
  expect(second).toBeDefined();
  return { hal, first, second: second as string };
}

/** Every record still to be delivered, acknowledged as it comes. */
function seqsRead(device: Device): number[] {
  const seqs: number[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const batch = device.readBulk(1, 2, 8);
    if (batch.length === 0) break;
    seqs.push(...batch.map((r) => r.seq));
    device.ack(1, 2, batch.length);
  }
  return seqs;
}

/** Every record still to be delivered, left unacknowledged (reverted). */
function seqsPeeked(device: Device): number[] {
  const seqs: number[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const batch = device.readBulk(1, 2, 8);
    if (batch.length === 0) break;
    seqs.push(...batch.map((r) => r.seq));
  }
  device.revert(1, 2);
  return seqs;
}

const ALL = Array.from({ length: 30 }, (_, k) => k);

function bucketOther(path: string): string {
  return path.replace(/^history\/\d/, `history/${((imxPathParse(path)?.bucket ?? 0) + 1) % 10}`);
}

function moveTo(hal: MemoryHal, from: string, to: string): void {
  hal.mkdir(to.slice(0, to.lastIndexOf("/")));
  hal.rename(from, to);
}

describe("boot recovery on a file under a name the core does not give it", () => {
  const cases: Array<[string, (path: string) => string]> = [
    ["in another bucket", bucketOther],
    ["with a leading zero", (path) => path.replace("/1_2_", "/01_2_")],
    ["with a name that is no .imx name at all", (path) => path.replace(/\/[^/]+$/, "/copy of a file.imx")],
    ["directly under history/", (path) => `history/${path.slice(path.lastIndexOf("/") + 1)}`],
  ];

  it.each(cases)("moves it into place %s; its records come back exactly once", (_label, misname) => {
    const { hal, first } = storage();
    const moved = misname(first);
    expect(moved).not.toBe(first);
    moveTo(hal, first, moved);
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([]);
    expect(device.recovery?.moved).toEqual([{ from: moved, to: first }]);
    expect(device.recovery?.filesMoved).toBe(1);
    expect(device.recovery?.filesKept).toBe(2);
    expect(hal.exists(moved)).toBe(false);
    expect(hal.exists(first)).toBe(true);
    // The move is durable: a power cut right after boot keeps the file in place, and only there.
    expect(hal.isDurable(first)).toBe(true);
    const cut = hal.clone();
    cut.crash();
    expect(cut.exists(first)).toBe(true);
    expect(cut.exists(moved)).toBe(false);

    expect(seqsRead(device)).toEqual(ALL);
    expect(device.stats().recordsDiscarded).toBe(0);
    expect(device.countDiskFiles()).toBe(0);
    // The next boot neither deletes unacknowledged records nor delivers acknowledged ones again.
    const again = Device.create({ board, hal });
    expect(again.recovery?.quarantined).toEqual([]);
    expect(again.recovery?.filesMoved).toBe(0);
    expect(seqsRead(again)).toEqual([]);
  });

  it("keeps the records of a moved file on the next boot when they were not acknowledged", () => {
    const { hal, first } = storage();
    moveTo(hal, first, bucketOther(first));
    const device = Device.create({ board, hal });
    expect(seqsPeeked(device)).toEqual(ALL);
    const again = Device.create({ board, hal });
    expect(again.recovery?.filesDeleted).toBe(0);
    expect(again.recovery?.filesKept).toBe(2);
    expect(seqsRead(again)).toEqual(ALL);
  });

  it("moves a valid file whose name carries other numbers than its header to its header's name", () => {
    const { hal, first, second } = storage();
    // history/<b>/1_2_<second's seq>.imx holds the first file; the second file sits elsewhere.
    const parked = bucketOther(second);
    moveTo(hal, second, parked);
    moveTo(hal, first, second);
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([]);
    expect(device.recovery?.moved).toEqual(
      expect.arrayContaining([
        { from: parked, to: second },
        { from: second, to: first },
      ]),
    );
    expect(seqsRead(device)).toEqual(ALL);
  });

  it("removes a byte-identical copy of the file in place (a move a power cut interrupted)", () => {
    const { hal, first } = storage();
    const copy = bucketOther(first);
    hal.mkdir(copy.slice(0, copy.lastIndexOf("/")));
    hal.writeFile(copy, hal.readFile(first));
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([]);
    expect(device.recovery?.copiesRemoved).toBe(1);
    expect(hal.exists(copy)).toBe(false);
    expect(seqsRead(device)).toEqual(ALL);
  });

  it("keeps the file in place and quarantines another valid file for the same name", () => {
    const { hal, first } = storage();
    // The same header numbers, another creation time: a different valid file (CRC fixed).
    const differing = hal.readFile(first).slice();
    differing[48] = (differing[48] ?? 0) ^ 1;
    imxCrcFix(differing);
    const copy = bucketOther(first);
    hal.mkdir(copy.slice(0, copy.lastIndexOf("/")));
    hal.writeFile(copy, differing);
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([
      {
        path: copy,
        movedTo: `corrupted/${copy.replace(/\//g, "_")}`,
        reason: `another valid file is in place at ${first}, the core's name for this one's header; that one is kept`,
      },
    ]);
    expect(device.recovery?.filesMoved).toBe(0);
    expect(seqsRead(device)).toEqual(ALL);
  });

  it("quarantines a damaged file in place and puts the valid one found elsewhere there", () => {
    const { hal, first } = storage();
    const valid = hal.readFile(first);
    const elsewhere = bucketOther(first);
    hal.mkdir(elsewhere.slice(0, elsewhere.lastIndexOf("/")));
    hal.writeFile(elsewhere, valid);
    const damaged = valid.slice();
    damaged[valid.length - 1] = (damaged[valid.length - 1] ?? 0) ^ 0xff;
    hal.writeFile(first, damaged);
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([
      {
        path: first,
        movedTo: `corrupted/${first.replace(/\//g, "_")}`,
        reason: `refused: E_IMX_CRC; a valid file for this name was found at ${elsewhere}`,
      },
    ]);
    expect(device.recovery?.moved).toEqual([{ from: elsewhere, to: first }]);
    expect(seqsRead(device)).toEqual(ALL);
  });

  it("quarantines a damaged file under another name where it is, with the format's reason", () => {
    const { hal, first } = storage();
    const moved = bucketOther(first);
    moveTo(hal, first, moved);
    const damaged = hal.readFile(moved).slice();
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    hal.writeFile(moved, damaged);
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([
      { path: moved, movedTo: `corrupted/${moved.replace(/\//g, "_")}`, reason: "refused: E_IMX_CRC" },
    ]);
    expect(device.recovery?.filesMoved).toBe(0);
    // The other file's records still come back, in order, after the lost ones.
    const counts = device.counts(1, 2);
    const seqs = seqsRead(device);
    expect(seqs).toHaveLength(counts.total);
    expect(seqs[seqs.length - 1]).toBe(29);
  });

  it("on a real filesystem too: moved back from another bucket, delivered once, kept by the next boot", () => {
    const root = mkdtempSync(join(tmpdir(), "imx-memsim-misplaced-"));
    try {
      const memory = storage();
      const hal = new NodeFsHal(root);
      for (const path of listFilesRecursive(memory.hal, "history", "")) {
        hal.mkdir(path.slice(0, path.lastIndexOf("/")));
        hal.writeFile(path, memory.hal.readFile(path));
      }
      const moved = bucketOther(memory.first);
      hal.mkdir(moved.slice(0, moved.lastIndexOf("/")));
      hal.rename(memory.first, moved);
      const device = Device.create({ board, hal });
      expect(device.recovery?.moved).toEqual([{ from: moved, to: memory.first }]);
      expect(hal.exists(moved)).toBe(false);
      expect(seqsPeeked(device)).toEqual(ALL);
      const again = Device.create({ board, hal: new NodeFsHal(root) });
      expect(again.recovery?.filesMoved).toBe(0);
      expect(again.recovery?.filesDeleted).toBe(0);
      expect(seqsRead(again)).toEqual(ALL);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
