// Restarting on the same storage: a new device adopts the .imx files and the positions file a
// previous device left, continues every stream's sequence numbers, never delivers an
// acknowledged record again (also inside a partly acknowledged file), and quarantines what is
// corrupt without losing the rest.

import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { CoreLogger } from "../../host/core/log.js";
import { recordsPerSector } from "../../host/format/imx.js";
import { ACK_RECORD_BYTES } from "../../host/format/positions.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { flushDrain } from "../../host/core/flush.js";

const board = loadBoard("tiny");
/** What RAM could hold of one EVT stream: after a power cut numbering resumes this far above the data on disk. */
const ramEvtMax = board.memory.sectorCount * recordsPerSector("evt", board.memory.sectorBytes);

function writeAndSpill(device: Device, count: number, startMs: number): number {
  let now = startMs;
  for (let i = 0; i < count; i++) {
    device.writeEvt(0, 7, 1000 + i, 1_000_000 + i);
    if (i % 4 === 3) device.processMemory((now += 1));
  }
  device.flushAllToDisk();
  expect(flushDrain(device, () => device.processMemory((now += 1)), 1000)).toBeGreaterThanOrEqual(0);
  return now;
}

describe("restart on the same storage", () => {
  test("after a flush every record comes back once, and sequence numbers continue", () => {
    const hal = new MemoryHal();
    const first = Device.create({ board, hal });
    first.configureStream(0, 7, { type: "evt" });
    writeAndSpill(first, 20, 0);
    const read = first.readBulk(0, 7, 3);
    first.ack(0, 7, 2); // erases seq 0 and 1, both on disk: the position is persisted
    expect(read.map((r) => r.seq)).toEqual([0, 1, 2]);

    const second = Device.create({ board, hal });
    expect(second.recovery?.filesQuarantined).toBe(0);
    expect(second.recovery?.filesKept).toBeGreaterThan(0);
    const seqs: number[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const got = second.readBulk(0, 7, 8);
      if (got.length === 0) break;
      for (const r of got) {
        expect(r.value).toBe(1000 + r.seq);
        seqs.push(r.seq);
      }
      second.ack(0, 7, got.length);
    }
    expect(seqs).toEqual(Array.from({ length: 18 }, (_, i) => i + 2));
    // The ACK reopened the numbering and the device was never stopped: numbering resumes above
    // everything it may have handed out, what RAM could hold above its data on disk (seq 0-19).
    expect(second.recovery?.recordsLostRam).toBe(0);
    expect(second.recovery?.recordsLostRamMax).toBe(ramEvtMax);
    second.writeEvt(0, 7, 5, 2_000_000);
    expect(second.readBulk(0, 7, 1)[0]?.seq).toBe(20 + ramEvtMax);
  });

  test("records only in RAM at a crash are lost, never redelivered, and their numbers never reused", () => {
    const hal = new MemoryHal();
    const first = Device.create({ board, hal });
    first.configureStream(0, 7, { type: "evt" });
    writeAndSpill(first, 6, 0); // seq 0-5 on disk, the flush closed the numbering at 6
    for (let i = 6; i < 9; i++) first.writeEvt(0, 7, 1000 + i, 1_000_000 + i); // RAM only: reopened
    const second = Device.create({ board, hal }); // the first device "lost power"
    // Nothing is certain (RAM may have been acknowledged); at most what RAM could hold was lost.
    expect(second.recovery?.recordsLostRam).toBe(0);
    expect(second.recovery?.recordsLostRamMax).toBe(ramEvtMax);
    const got = second.readBulk(0, 7, 8);
    expect(got.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    // Seq 6-8 were handed out before the crash: they are never used again, and the skip is
    // bounded by what RAM could hold of the stream.
    second.writeEvt(0, 7, 1, 3_000_000);
    expect(second.readBulk(0, 7, 1)[0]?.seq).toBe(6 + ramEvtMax);
  });

  test("a corrupt file is quarantined; the other files stay usable", () => {
    const hal = new MemoryHal();
    const first = Device.create({ board, hal });
    first.configureStream(0, 7, { type: "evt" });
    first.configureStream(0, 8, { type: "evt" });
    for (let i = 0; i < 4; i++) first.writeEvt(0, 8, 500 + i, 1_000 + i);
    writeAndSpill(first, 8, 0);
    const files = hal.snapshot().files;
    const victim = [...files.keys()].find((p) => p.includes("/0_7_") && p.endsWith(".imx"));
    expect(victim).toBeDefined();
    const bytes = files.get(victim as string) as Uint8Array;
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x40;
    hal.writeFile(victim as string, bytes);
    hal.syncFile(victim as string);

    const second = Device.create({ board, hal });
    expect(second.recovery?.filesQuarantined).toBe(1);
    expect(second.recovery?.quarantined[0]?.reason).toMatch(/E_IMX_CRC/);
    expect(hal.exists(victim as string)).toBe(false);
    expect(hal.list("corrupted").length).toBe(1);
    expect(second.readBulk(0, 8, 8).map((r) => r.value)).toEqual([500, 501, 502, 503]);
  });
});

describe("a file corrupted while the device runs", () => {
  test("is quarantined when read; the reader goes on past it and the loss is counted", () => {
    const hal = new MemoryHal();
    const device = Device.create({ board, hal });
    device.configureStream(0, 7, { type: "evt" });
    writeAndSpill(device, 16, 0);
    const files = [...hal.snapshot().files.keys()]
      .filter((p) => p.endsWith(".imx"))
      .sort((a, b) => a.slice(-24).localeCompare(b.slice(-24)));
    expect(files.length).toBeGreaterThan(1);
    const victim = files[0] as string;
    hal.writeFile(victim, new Uint8Array(10)); // truncated behind the core's back
    const before = device.stats();
    const got = device.readBulk(0, 7, 8);
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]?.seq).toBeGreaterThan(0);
    const after = device.stats();
    expect(after.filesCorrupt).toBe(before.filesCorrupt + 1);
    expect(after.recordsDiscarded).toBe(before.recordsDiscarded + (got[0]?.seq ?? 0));
    expect(hal.exists(victim)).toBe(false);
    expect(hal.list("corrupted").length).toBe(1);
  });
});

describe("a file removed while the device runs", () => {
  test("is counted in STAT_FILES_CORRUPT when read, logged as missing, and the reader goes on past it", () => {
    const hal = new MemoryHal();
    const lines: string[] = [];
    const device = Device.create({ board, hal, log: new CoreLogger("warn", (line) => lines.push(line)) });
    device.configureStream(0, 7, { type: "evt" });
    writeAndSpill(device, 16, 0);
    const files = [...hal.snapshot().files.keys()]
      .filter((p) => p.endsWith(".imx"))
      .sort((a, b) => a.slice(-24).localeCompare(b.slice(-24)));
    expect(files.length).toBeGreaterThan(1);
    const victim = files[0] as string;
    hal.remove(victim); // gone behind the core's back
    const before = device.stats();
    const got = device.readBulk(0, 7, 8);
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]?.seq).toBeGreaterThan(0);
    const after = device.stats();
    expect(after.filesCorrupt).toBe(before.filesCorrupt + 1);
    expect(after.recordsDiscarded).toBe(before.recordsDiscarded + (got[0]?.seq ?? 0));
    expect(after.filesLive).toBe(before.filesLive - 1);
    expect(lines.filter((line) => /is missing \(read returned -28, E_HAL_NOT_FOUND\)/.test(line))).toHaveLength(1);
    // Nothing was there to quarantine; every other file is still read, in order.
    expect(hal.exists("corrupted") ? hal.list("corrupted") : []).toEqual([]);
    const seqs = got.map((r) => r.seq);
    for (let guard = 0; guard < 20; guard++) {
      const more = device.readBulk(0, 7, 8);
      if (more.length === 0) break;
      seqs.push(...more.map((r) => r.seq));
    }
    expect(seqs).toEqual(Array.from({ length: 16 - (got[0]?.seq ?? 0) }, (_, i) => (got[0]?.seq ?? 0) + i));
  });
});

describe("sequence reservations", () => {
  test("one ACK record per stream reserves its numbers; later writes need none", () => {
    // Each stream's first write appends one 56-byte record for that stream to the ACK log (not a
    // rewrite of every stream's position); the lease it reserves covers what RAM can hold of it.
    const device = Device.create({ board: loadBoard("fc1-imx6"), hal: new MemoryHal() });
    for (let sensor = 1; sensor <= 20; sensor++) device.configureStream(0, sensor, { type: "evt" });
    for (let sensor = 1; sensor <= 20; sensor++) device.writeEvt(0, sensor, sensor, 1_000 + sensor);
    expect(device.stats().positionsWrites).toBe(20);
    expect(device.stats().ackRecords).toBe(20);
    expect(device.stats().ackLogBytes).toBe(20 * ACK_RECORD_BYTES);
    for (let i = 0; i < 1000; i++) device.writeEvt(0, 1 + (i % 20), i, 2_000 + i);
    expect(device.stats().positionsWrites).toBe(20);
    expect(device.stats().ackLogBytes).toBe(20 * ACK_RECORD_BYTES);
  });
});
