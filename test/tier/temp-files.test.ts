// A spill whose rename fails and whose temp-file removal fails too leaves a `.tmp` file behind;
// the host retries removing it before its next write, and a forced cleanup sweeps it, so no temp
// file outlives the fault.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { FailingHal } from "../support/failing-hal.js";
import {
  filesUnder,
  storageDirMake,
  storageDirRemove,
  TickClock,
  tsdPerSector,
  tsdWrite,
} from "../support/tier-helpers.js";

const tiny = loadBoard("tiny");
let dir = "";
let hal: FailingHal;

beforeEach(() => {
  dir = storageDirMake();
  hal = new FailingHal(new NodeFsHal(dir));
});
afterEach(() => storageDirRemove(dir));

function leaveTemp(device: Device, clock: TickClock): void {
  device.configureStream(1, 10, { type: "tsd", sampleRateMs: 1000 });
  tsdWrite(device, 1, 10, 0, 1); // the first write reserves sequence numbers (a positions write)
  hal.failNext("rename", "EIO", 1, ".imx.tmp");
  hal.failNext("remove", "EBUSY", 1, ".tmp");
  tsdWrite(device, 1, 10, 1, 13 * tsdPerSector(tiny) - 1); // above the 75% threshold
  clock.tick(device);
  expect(device.stats().spillsFailed).toBe(1);
  expect(filesUnder(dir, ".tmp")).toHaveLength(1);
}

describe("temp files left by a failed write", () => {
  it("are removed before the next write", () => {
    const device = Device.create({ board: tiny, hal });
    const clock = new TickClock(tiny);
    leaveTemp(device, clock);
    // Acknowledge the first sector so the retried spill starts at another sequence number and
    // writes another file name: only the sweep can remove the old temp file.
    expect(device.readBulk(1, 10, tsdPerSector(tiny))).toHaveLength(tsdPerSector(tiny));
    device.ack(1, 10, tsdPerSector(tiny));
    clock.tick(device);
    expect(device.stats().spills).toBeGreaterThan(0);
    expect(filesUnder(dir, ".tmp")).toEqual([]);
  });

  it("are swept by a forced cleanup", () => {
    const device = Device.create({ board: tiny, hal });
    const clock = new TickClock(tiny);
    leaveTemp(device, clock);
    const result = device.forceCleanupAllDiskFiles();
    expect(result.failed).toBe(0);
    expect(filesUnder(dir, ".tmp")).toEqual([]);
  });
});
