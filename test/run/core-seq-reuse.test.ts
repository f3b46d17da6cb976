// After a power cut a stream never numbers a record with a sequence number it already handed out
// (PRODUCT.md: a per-stream sequence number that only grows). Records that lived and were
// acknowledged in RAM after the last positions write are unknown to the recovered device, but the
// core reserves sequence numbers durably ahead of use (SPEC.md 3.3, seqReserved), so numbering
// resumes above them. `imx-memsim run` still keeps its own mapping to cloud sequence numbers
// (host/run/uplink.ts), which stays at offset 0 when the core keeps this promise.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-seq-reuse-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("after a power cut, a stream never numbers a record with a sequence number it already acknowledged", () => {
  const board = loadBoard("fc1-imx6");
  // The power cut below boots a second device over the first in this process: no lock.
  let device = Device.create({ board, storageDir: dir, nowMs: 1000, lock: false });
  device.configureStream(0, 1, { type: "evt" });
  // Records 0…4 go through a flush (history/ and the positions file now exist) and are acknowledged from disk.
  for (let i = 0; i < 5; i++) device.writeEvt(0, 1, i, 1000 + i);
  device.flushAllToDisk();
  let nowMs = 1900;
  flushDrain(device, () => device.processMemory((nowMs += 100)), 80);
  device.ack(0, 1, device.readBulk(0, 1, 100).length);
  // Records 5…14 live and are acknowledged in RAM: the cloud has them, nothing durable says so.
  for (let i = 5; i < 15; i++) device.writeEvt(0, 1, i, 1000 + i);
  const acked = device.readBulk(0, 1, 100).map((r) => r.seq);
  device.ack(0, 1, acked.length);
  expect(acked).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);

  // Power cut: the device object is dropped without a flush; the next boot recovers the directory.
  device = Device.create({ board, storageDir: dir, nowMs: 5000, lock: false });
  device.writeEvt(0, 1, 99, 6000);
  const [next] = device.readBulk(0, 1, 1);
  // Today: next.seq is 5, a sequence number the cloud acknowledged before the cut.
  expect(next?.seq).toBeGreaterThan(14);
});
