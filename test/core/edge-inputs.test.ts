// Inputs at the edges of the stream API: a UTC time that is not a whole millisecond is refused (it
// would be silently truncated otherwise), and a write into a pool held entirely by raw sectors
// reports E_OUT_OF_SECTORS (no stream data to discard), not E_ALL_PENDING.

import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";

function codeOf(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CoreError) return e.codeName;
    throw e;
  }
  return "no error";
}

describe("edge inputs", () => {
  test("a fractional UTC time is refused and changes nothing", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    device.configureStream(0, 1, { type: "evt" });
    expect(codeOf(() => device.writeEvt(0, 1, 5, 1000.75))).toBe("E_INVALID_ARGUMENT");
    expect(device.counts(0, 1).total).toBe(0);
    device.writeEvt(0, 1, 5, 1000);
    expect(device.readBulk(0, 1, 1)[0]?.utcMs).toBe(1000);
  });

  test("a pool held by raw sectors gives E_OUT_OF_SECTORS to a stream write", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    device.configureStream(0, 1, { type: "evt" });
    for (let i = 0; i < device.board.memory.sectorCount; i++) device.sectorAlloc();
    const before = device.stats().allocationFailures;
    expect(codeOf(() => device.writeEvt(0, 1, 5, 1000))).toBe("E_OUT_OF_SECTORS");
    expect(device.stats().allocationFailures).toBe(before + 1);
    device.sectorFree(3);
    device.writeEvt(0, 1, 5, 1000);
    expect(device.counts(0, 1).total).toBe(1);
  });
});
