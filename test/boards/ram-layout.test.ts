// ramLayoutEstimate (host/boards.ts) is the core's RAM layout (assembly/config.ts), not an
// approximation of it: given the module's real static data size, its total is exactly the end of
// the layout a booted core reports (layoutEndOffset), on every shipped board and on geometries
// chosen to be awkward (sector sizes that are not multiples of 8, odd counts, no disk tier, a
// positions file larger than a full .imx file). A board whose RAM budget is exactly that total
// boots, and 8 bytes less is refused with E_LAYOUT_TOO_BIG. The default allowance for static data
// covers the real size, so a board that boards.ts accepts always boots.

import { describe, expect, it } from "vitest";
import { type Board, CORE_STATIC_BYTES_ESTIMATE, listBoards, loadBoard, ramLayoutEstimate } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";

/** Bytes of static data below the core's state block: configImagePtr less the state block and CRC table. */
function staticBytesOf(device: Device): number {
  return device.exports.configImagePtr() - abi.CORE_STATE_BYTES - abi.CRC_TABLE_BYTES;
}

function odd(name: string, change: (board: Board) => void): [string, Board] {
  const board = structuredClone(loadBoard("tiny"));
  board.name = name;
  board.memory.ramBytes = 1 << 20;
  board.device.ramBytes = 1 << 20;
  change(board);
  return [name, board];
}

const ODD: Array<[string, Board]> = [
  odd("sectors-16", (b) => (b.memory.sectorBytes = 16)),
  odd("sectors-20-odd-counts", (b) => {
    b.memory.sectorBytes = 20;
    b.memory.sectorCount = 7;
    b.memory.streamsMax = 3;
    b.memory.bulkRecordsMax = 5;
    if (b.disk) Object.assign(b.disk, { filesMax: 1, sectorsPerFileMax: 3 });
  }),
  odd("sectors-4096", (b) => {
    b.memory.sectorBytes = 4096;
    if (b.disk) b.disk.quotaBytes = 64 * (64 + 4 * 4096);
  }),
  odd("positions-beyond-a-file", (b) => {
    b.memory.streamsMax = 1000;
    if (b.disk) b.disk.sectorsPerFileMax = 1;
  }),
  odd("no-disk-tier", (b) => (b.disk = null)),
];

const BOARDS: Array<[string, Board]> = [...listBoards().map((b): [string, Board] => [b.name, b]), ...ODD];

describe.each(BOARDS)("the RAM layout of %s", (_name, board) => {
  it("is exactly what the booted core lays out", () => {
    const device = Device.create({ board });
    const staticBytes = staticBytesOf(device);
    expect(staticBytes % 8).toBe(0);
    expect(staticBytes).toBeLessThanOrEqual(CORE_STATIC_BYTES_ESTIMATE);
    expect(ramLayoutEstimate(board, staticBytes).totalBytes).toBe(device.layoutBytes);
    expect(ramLayoutEstimate(board).totalBytes).toBeGreaterThanOrEqual(device.layoutBytes);
  });

  it("fits a RAM budget of exactly its size and no less", () => {
    const staticBytes = staticBytesOf(Device.create({ board }));
    const totalBytes = ramLayoutEstimate(board, staticBytes).totalBytes;
    const exact = { ...board, memory: { ...board.memory, ramBytes: totalBytes } };
    expect(Device.create({ board: exact }).layoutBytes).toBe(totalBytes);
    const short = { ...board, memory: { ...board.memory, ramBytes: totalBytes - 8 } };
    let refused: unknown = null;
    try {
      Device.create({ board: short });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(CoreError);
    expect((refused as CoreError).codeName).toBe("E_LAYOUT_TOO_BIG");
  });
});
