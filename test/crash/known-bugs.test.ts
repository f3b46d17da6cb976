// Guarantees the simulator once found broken, each as a minimal scripted repro that asserts the
// guarantee. Each names the simulator run that found it (replay with SEED=<n>).
//
// A, B: writeFileAtomic (host/hal/atomic.ts) used to report a failure when the directory fsync
//       after the rename failed, although the new file was already in place under its final name,
//       so the core treated the write as not done. Now that write counts as done (DirSyncError is
//       reported as success by the HAL bridge, which retries the directory fsync before its next
//       write).
// C, D: boot recovery (host/core/recovery.ts) treated an I/O error like corruption, or let it
//       escape from Device.create. Now an I/O error is retried, and one that persists refuses the
//       boot without quarantining anything; a temp file that cannot be removed is left alone.
// E:    quarantineMove (host/core/quarantine.ts) fsynced corrupted/ but not the directory the file
//       left, so after a power cut the file came back and was quarantined again (a second copy).

import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { FaultyHal } from "../../host/hal/faulty.js";
import type { HalErrorCode, HalOp } from "../../host/hal/hal.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { imxScan } from "../../host/sim/imx-scan.js";
import { simulateSeed } from "../../host/sim/simulator.js";
import { flushDrain } from "../../host/core/flush.js";

const board = loadBoard("tiny");
const S = { source: 1, sensor: 2 };

function faulty(
  inner: MemoryHal,
  rule: { current: ((op: HalOp, path: string) => HalErrorCode | null) | null },
): FaultyHal {
  return new FaultyHal(inner, { seed: 1, failWhen: (op, path) => (rule.current ? rule.current(op, path) : null) });
}

function flush(device: Device, fromMs: number): number {
  let now = fromMs;
  device.flushAllToDisk();
  expect(flushDrain(device, () => device.processMemory((now += 1)), 100)).toBeGreaterThanOrEqual(0);
  return now;
}

function drainSeqs(device: Device): number[] {
  const seqs: number[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const got = device.readBulk(S.source, S.sensor, 8);
    if (got.length === 0) break;
    seqs.push(...got.map((r) => r.seq));
    device.ack(S.source, S.sensor, got.length);
  }
  return seqs;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe("bug A: a directory fsync that fails after the positions file is in place", () => {
  // Found by: SEED=32 imx-memsim sim --board tiny --steps 300 --faults syncdir (also seed 15).
  // The positions file is renamed into place, then the fsync of history/ fails (twice). The new
  // position is what is on disk, so the ACK is applied, not refused, and nothing comes back.
  it("the ACK takes effect: after a graceful restart only the records after it are delivered", () => {
    const inner = new MemoryHal();
    const rule: { current: ((op: HalOp, path: string) => HalErrorCode | null) | null } = { current: null };
    const device = Device.create({ board, hal: faulty(inner, rule) });
    device.configureStream(S.source, S.sensor, { type: "evt" });
    for (let i = 0; i < 12; i++) device.writeEvt(S.source, S.sensor, 100 + i, 1000 + i);
    const now = flush(device, 0);
    expect(device.readBulk(S.source, S.sensor, 8).map((r) => r.seq)).toEqual(range(0, 8));
    rule.current = (op, path) => (op === "syncDir" && path === "history" ? "EIO" : null);
    device.ack(S.source, S.sensor, 8);
    rule.current = null;
    expect(device.counts(S.source, S.sensor).ackedSeq).toBe(8);
    flush(device, now); // a graceful stop: no power cut at all
    const next = Device.create({ board, hal: inner });
    expect(drainSeqs(next)).toEqual(range(8, 12));
  });
});

describe("bug B: a spill whose directory fsync failed after the rename", () => {
  // The file (seq 0-7) is in place under its final name when the bucket fsync fails: the spill
  // counts as done, the records leave RAM, and the next boot adopts the file; nothing overlaps.
  it("counts as done: after a graceful restart every unacknowledged record is delivered and nothing is quarantined", () => {
    const inner = new MemoryHal();
    let armed = false;
    const rule: { current: ((op: HalOp, path: string) => HalErrorCode | null) | null } = {
      current: (op, path) => (armed && op === "syncDir" && /^history\/\d$/.test(path) ? "EIO" : null),
    };
    const device = Device.create({ board, hal: faulty(inner, rule), policy: "batched" });
    device.configureStream(S.source, S.sensor, { type: "evt" });
    for (let i = 0; i < 24; i++) device.writeEvt(S.source, S.sensor, 100 + i, 1000 + i); // 12 of 16 sectors
    armed = true;
    device.processMemory(1); // the spill of seq 0-7: renamed into place, then the bucket fsync fails
    armed = false;
    expect(device.stats().spillsFailed).toBe(0);
    expect(device.counts(S.source, S.sensor).disk).toBeGreaterThan(0);
    expect(imxScan(inner).map((f) => f.firstSeq)).toEqual([0]);
    expect(device.readBulk(S.source, S.sensor, 2).map((r) => r.seq)).toEqual([0, 1]);
    device.ack(S.source, S.sensor, 2);
    flush(device, 2);
    const next = Device.create({ board, hal: inner });
    expect(next.recovery?.quarantined).toEqual([]);
    expect(drainSeqs(next)).toEqual(range(2, 24));
  });
});

describe("bug C: a transient read error at boot quarantines a valid file", () => {
  // Found by: SEED=1 imx-memsim sim --board tiny --steps 300 --faults boot (every seed 1-10).
  // recoverStorage's load() turns a failed readFileInto (or fileSize, for a file that fills the read buffer) into a quarantine reason.
  function storage(): MemoryHal {
    const inner = new MemoryHal();
    const device = Device.create({ board, hal: inner });
    device.configureStream(S.source, S.sensor, { type: "evt" });
    for (let i = 0; i < 20; i++) device.writeEvt(S.source, S.sensor, 100 + i, 1000 + i);
    const now = flush(device, 0);
    device.readBulk(S.source, S.sensor, 3);
    device.ack(S.source, S.sensor, 3);
    flush(device, now);
    return inner;
  }

  it("an EIO reading one .imx file at boot: its records are still delivered (now, or at the next boot)", () => {
    const inner = storage();
    let failed = false;
    const hal = faulty(inner, {
      current: (op, path) =>
        op === "readFileInto" && path.endsWith(".imx") && !failed ? ((failed = true), "EIO") : null,
    });
    const device = Device.create({ board, hal });
    expect(device.recovery?.quarantined).toEqual([]); // was: "cannot read: EIO …"
    const seqs = drainSeqs(device);
    const again = drainSeqs(Device.create({ board, hal: inner }));
    expect([...seqs, ...again].sort((a, b) => a - b)).toEqual(range(3, 20));
  });

  it("an EIO reading the positions file at boot: acknowledged records are not delivered again", () => {
    const inner = storage();
    let failed = false;
    const hal = faulty(inner, {
      current: (op, path) =>
        op === "readFileInto" && path.endsWith("positions.imxp") && !failed ? ((failed = true), "EIO") : null,
    });
    const device = Device.create({ board, hal });
    expect(drainSeqs(device)[0]).toBe(3); // was: the positions file is quarantined and 0-2 come back
  });
});

describe("bug D: an I/O error at boot escapes from Device.create", () => {
  // recoverStorage does not catch failures of list/isDir or of removing a leftover temp file. A
  // temp file that cannot be removed (EACCES, a read-only file) makes every boot throw.
  it("a leftover temp file that cannot be removed does not stop the device from booting", () => {
    const inner = new MemoryHal();
    const device = Device.create({ board, hal: inner });
    device.configureStream(S.source, S.sensor, { type: "evt" });
    for (let i = 0; i < 20; i++) device.writeEvt(S.source, S.sensor, 100 + i, 1000 + i);
    flush(device, 0);
    inner.writeFile("history/positions.imxp.tmp", new Uint8Array(5));
    const hal = faulty(inner, { current: (op, path) => (op === "remove" && path.endsWith(".tmp") ? "EACCES" : null) });
    const next = Device.create({ board, hal }); // was: throws HalError EACCES
    expect(drainSeqs(next)).toEqual(range(0, 20));
  });
});

describe("bug E: a quarantined file comes back after a power cut", () => {
  // Seen in the soak run: more quarantines than damaged files (imx-memsim sim --seeds 600 --from 100).
  it("a file quarantined at boot stays quarantined once, across a power cut", () => {
    const inner = new MemoryHal();
    const device = Device.create({ board, hal: inner });
    device.configureStream(S.source, S.sensor, { type: "evt" });
    for (let i = 0; i < 12; i++) device.writeEvt(S.source, S.sensor, 100 + i, 1000 + i);
    flush(device, 0);
    const victim = imxScan(inner)[0]?.path ?? "";
    const bytes = inner.readFile(victim);
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    inner.writeFile(victim, bytes);
    inner.syncFile(victim);
    expect(Device.create({ board, hal: inner }).recovery?.filesQuarantined).toBe(1);
    inner.crash();
    const again = Device.create({ board, hal: inner });
    expect(again.recovery?.quarantined).toEqual([]); // was: quarantined again, as ….imx.1
    expect(inner.list("corrupted")).toHaveLength(1);
  });
});

describe("the simulator runs that found them", () => {
  it("the syncdir and boot fault profiles now pass on the seeds named above", async () => {
    await expect(simulateSeed(32, { board: "tiny", steps: 300, faults: "syncdir" })).resolves.toMatchObject({
      seed: 32,
    });
    await expect(simulateSeed(1, { board: "tiny", steps: 300, faults: "boot" })).resolves.toMatchObject({ seed: 1 });
  });
});
