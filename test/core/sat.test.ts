// The sector allocation table through the raw sector API (sectorAlloc/Free/Write/Read/Link/Next),
// as the original's section-1 tests exercise it: allocation and free of one and of every sector,
// word patterns read back from every word, chains, every refusal with its code (each leaving the
// statistics and every byte of device RAM unchanged), the statistics, fragmentation, and the log
// line each time usage crosses a 10% step. Most cases run on the tiny board (16 sectors); those
// about the whole pool run on every board.

import { describe, expect, test } from "vitest";
import { listBoards, loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { CoreLogger } from "../../host/core/log.js";
import { coreErrorOf, expectRefused, firstDifference, range, ramSnapshot, statsSnapshot } from "./helpers.js";

const SECTOR_NULL = abi.SECTOR_NULL;

function tinyDevice(log?: CoreLogger): Device {
  return Device.create({ board: loadBoard("tiny"), ...(log ? { log } : {}) });
}

/** Allocates every free sector; returns their ids in allocation order. */
function allocateAll(device: Device): number[] {
  const ids: number[] = [];
  const free = device.stats().sectorsFree;
  for (let i = 0; i < free; i++) ids.push(device.sectorAlloc());
  return ids;
}

describe("allocation and free", () => {
  test("one sector: allocated in range and zeroed, then freed; the counters follow", () => {
    const device = tinyDevice();
    const total = device.board.memory.sectorCount;
    const id = device.sectorAlloc();
    expect(id).toBeGreaterThanOrEqual(0);
    expect(id).toBeLessThan(total);
    expect(device.sectorNext(id)).toBe(SECTOR_NULL);
    for (let offset = 0; offset < device.board.memory.sectorBytes; offset += 4)
      expect(device.sectorRead(id, offset)).toBe(0);
    expect(device.stats()).toMatchObject({
      allocations: 1,
      frees: 0,
      sectorsUsed: 1,
      sectorsFree: total - 1,
      sectorsUsedPeak: 1,
    });
    expect(device.countRamSectorsWithData()).toBe(1);

    device.sectorFree(id);
    expect(device.stats()).toMatchObject({
      allocations: 1,
      frees: 1,
      sectorsUsed: 0,
      sectorsFree: total,
      sectorsUsedPeak: 1,
    });
    expect(device.countRamSectorsWithData()).toBe(0);
    expect(coreErrorOf(() => device.sectorRead(id, 0)).codeName).toBe("E_SECTOR_NOT_ALLOCATED");
  });

  test("a freed sector comes back zeroed", () => {
    const device = tinyDevice();
    const id = device.sectorAlloc();
    for (let offset = 0; offset < device.board.memory.sectorBytes; offset += 4)
      device.sectorWrite(id, offset, 0xffffffff);
    device.sectorFree(id);
    const again = device.sectorAlloc();
    expect(again).toBe(id); // the free list is a LIFO stack (SPEC.md, "SAT")
    for (let offset = 0; offset < device.board.memory.sectorBytes; offset += 4)
      expect(device.sectorRead(again, offset)).toBe(0);
  });

  for (const board of listBoards()) {
    test(`${board.name}: every sector is allocated once, then E_OUT_OF_SECTORS counts a failure, changing nothing else`, () => {
      const device = Device.create({ board });
      const ids = allocateAll(device);
      expect(ids.length).toBe(board.memory.sectorCount);
      expect([...ids].sort((a, b) => a - b)).toEqual(range(0, board.memory.sectorCount));
      const before = statsSnapshot(device);
      const { sectorCount } = board.memory;
      expect(before).toMatchObject({ sectorsFree: 0, sectorsUsed: sectorCount, allocations: sectorCount });

      expect(coreErrorOf(() => device.sectorAlloc()).codeName).toBe("E_OUT_OF_SECTORS");
      expect(statsSnapshot(device)).toEqual({ ...before, allocationFailures: before.allocationFailures + 1 });
      expect(coreErrorOf(() => device.sectorAlloc()).codeName).toBe("E_OUT_OF_SECTORS");
      expect(device.stats().allocationFailures).toBe(before.allocationFailures + 2);

      device.sectorFree(ids[0]!);
      expect(device.sectorAlloc()).toBe(ids[0]);
    });
  }
});

describe("word patterns read back from every word of every sector", () => {
  for (const boardName of ["tiny", "stm32f405-wiced"]) {
    for (const pattern of [0xdeadbeef, 0xcafebabe, 0x12345678]) {
      test(`${boardName}: 0x${pattern.toString(16)} XOR word index`, () => {
        const device = Device.create({ board: loadBoard(boardName) });
        const ids = allocateAll(device);
        const wordsPerSector = device.board.memory.sectorBytes / 4;
        const expected = (sector: number, word: number): number => (pattern ^ (sector * wordsPerSector + word)) >>> 0;
        // Write every word of every sector first, then read them all: a write that landed in the
        // wrong place shows as a wrong word somewhere.
        for (const id of ids) for (let w = 0; w < wordsPerSector; w++) device.sectorWrite(id, w * 4, expected(id, w));
        const mismatches: string[] = [];
        for (const id of ids) {
          for (let w = 0; w < wordsPerSector; w++) {
            const got = device.sectorRead(id, w * 4);
            if (got !== expected(id, w))
              mismatches.push(`sector ${id} word ${w}: got ${got}, expected ${expected(id, w)}`);
          }
        }
        expect(mismatches).toEqual([]);
      });
    }
  }
});

describe("chains", () => {
  test("three sectors chained a → b → c, then shortened", () => {
    const device = tinyDevice();
    const [a, b, c] = [device.sectorAlloc(), device.sectorAlloc(), device.sectorAlloc()] as [number, number, number];
    device.sectorLink(a, b);
    device.sectorLink(b, c);
    expect([device.sectorNext(a), device.sectorNext(b), device.sectorNext(c)]).toEqual([b, c, SECTOR_NULL]);
    device.sectorLink(a, SECTOR_NULL);
    expect([device.sectorNext(a), device.sectorNext(b)]).toEqual([SECTOR_NULL, c]);
  });

  test("a sector cannot be linked to itself or to a free sector", () => {
    const device = tinyDevice();
    const a = device.sectorAlloc();
    const b = device.sectorAlloc();
    device.sectorFree(b);
    expectRefused(device, () => device.sectorLink(a, a), "E_SECTOR_INVALID");
    expectRefused(device, () => device.sectorLink(a, b), "E_SECTOR_NOT_ALLOCATED");
    expectRefused(device, () => device.sectorLink(a, device.board.memory.sectorCount), "E_SECTOR_INVALID");
  });
});

describe("refusals leave the statistics and device RAM unchanged", () => {
  test("sector 0xFFFFFFFF and sector sectorCount are E_SECTOR_INVALID for every call", () => {
    const device = tinyDevice();
    const raw = device.sectorAlloc();
    for (const id of [SECTOR_NULL, device.board.memory.sectorCount]) {
      expectRefused(device, () => device.sectorFree(id), "E_SECTOR_INVALID");
      expectRefused(device, () => device.sectorWrite(id, 0, 1), "E_SECTOR_INVALID");
      expectRefused(device, () => device.sectorRead(id, 0), "E_SECTOR_INVALID");
      expectRefused(device, () => device.sectorLink(id, SECTOR_NULL), "E_SECTOR_INVALID");
      expectRefused(device, () => device.sectorNext(id), "E_SECTOR_INVALID");
    }
    expectRefused(device, () => device.sectorLink(raw, device.board.memory.sectorCount), "E_SECTOR_INVALID");
  });

  test("a free sector, and a double free, are E_SECTOR_NOT_ALLOCATED", () => {
    const device = tinyDevice();
    const id = device.sectorAlloc();
    device.sectorFree(id);
    expectRefused(device, () => device.sectorFree(id), "E_SECTOR_NOT_ALLOCATED");
    expectRefused(device, () => device.sectorWrite(id, 0, 1), "E_SECTOR_NOT_ALLOCATED");
    expectRefused(device, () => device.sectorRead(id, 0), "E_SECTOR_NOT_ALLOCATED");
    expectRefused(device, () => device.sectorNext(id), "E_SECTOR_NOT_ALLOCATED");
    expectRefused(device, () => device.sectorLink(id, SECTOR_NULL), "E_SECTOR_NOT_ALLOCATED");
  });

  test("offsets that are unaligned or outside the sector are E_OFFSET_INVALID; the last word works", () => {
    const device = tinyDevice();
    const { sectorBytes } = device.board.memory;
    const [first, id] = [device.sectorAlloc(), device.sectorAlloc()] as [number, number];
    for (const offset of [1, 2, 3, sectorBytes - 2, sectorBytes, sectorBytes + 4, 0xfffffff0, 0xfffffffc, 0xffffffff]) {
      expectRefused(device, () => device.sectorWrite(id, offset, 0x55555555), "E_OFFSET_INVALID");
      expectRefused(device, () => device.sectorRead(id, offset), "E_OFFSET_INVALID");
    }
    device.sectorWrite(id, sectorBytes - 4, 0x89abcdef);
    expect(device.sectorRead(id, sectorBytes - 4)).toBe(0x89abcdef);
    // The write landed in its own sector's last word and nowhere else.
    expect(range(0, sectorBytes / 4 - 1).map((w) => device.sectorRead(id, w * 4))).toEqual(
      Array(sectorBytes / 4 - 1).fill(0),
    );
    expect(range(0, sectorBytes / 4).map((w) => device.sectorRead(first, w * 4))).toEqual(
      Array(sectorBytes / 4).fill(0),
    );
  });

  test("a stream's sector: the raw API may read it; free is E_SECTOR_LINKED, write and link E_SECTOR_OWNED", () => {
    const device = tinyDevice();
    device.configureStream(1, 2, { type: "evt" });
    device.writeEvt(1, 2, 0x0badf00d, 1234);
    // On a fresh device the stream's first sector is the first one allocated, sector 0.
    const streamSector = 0;
    expect(device.sectorNext(streamSector)).toBe(SECTOR_NULL);
    expect(device.sectorRead(streamSector, 0)).toBe(0x0badf00d);
    const raw = device.sectorAlloc();
    expect(raw).not.toBe(streamSector);

    expectRefused(device, () => device.sectorFree(streamSector), "E_SECTOR_LINKED");
    expectRefused(device, () => device.sectorWrite(streamSector, 0, 1), "E_SECTOR_OWNED");
    expectRefused(device, () => device.sectorLink(streamSector, SECTOR_NULL), "E_SECTOR_OWNED");
    expectRefused(device, () => device.sectorLink(raw, streamSector), "E_SECTOR_OWNED");
    expect(device.readBulk(1, 2, 10).map((record) => record.value)).toEqual([0x0badf00d]);
  });
});

describe("statistics", () => {
  test("allocations, frees, used, free and peak move as sectors are allocated and freed", () => {
    const device = tinyDevice();
    const total = device.board.memory.sectorCount;
    const ids = range(0, 5).map(() => device.sectorAlloc());
    device.sectorFree(ids[1]!);
    device.sectorFree(ids[3]!);
    device.sectorAlloc();
    expect(device.stats()).toMatchObject({
      sectorsTotal: total,
      allocations: 6,
      frees: 2,
      sectorsUsed: 4,
      sectorsFree: total - 4,
      sectorsUsedPeak: 5,
      usagePercent: (4 * 100) / total,
      allocationFailures: 0,
    });
  });

  test("fragmentation is 0 while the free sectors are one run", () => {
    const device = tinyDevice();
    expect(device.stats().fragmentationPercent).toBe(0);
    const ids = allocateAll(device).sort((a, b) => a - b);
    expect(device.stats().fragmentationPercent).toBe(0);
    for (const id of ids.slice(4, 9)) device.sectorFree(id);
    expect(device.stats().fragmentationPercent).toBe(0);
  });

  test("fragmentation is above 0 after freeing every other sector of 20", () => {
    const device = Device.create({ board: loadBoard("nrf52840") });
    const ids = range(0, 20).map(() => device.sectorAlloc());
    expect(device.stats().fragmentationPercent).toBe(0);
    ids.filter((_, index) => index % 2 === 0).forEach((id) => device.sectorFree(id));
    const fragmentation = device.stats().fragmentationPercent;
    expect(fragmentation).toBeGreaterThan(0);
    expect(fragmentation).toBeLessThan(100);
  });

  test("fragmentation is 100 when no two free sectors are adjacent", () => {
    const device = tinyDevice();
    const ids = allocateAll(device).sort((a, b) => a - b);
    ids.filter((id) => id % 2 === 0).forEach((id) => device.sectorFree(id));
    expect(device.stats().sectorsFree).toBe(ids.length / 2);
    expect(device.stats().fragmentationPercent).toBe(100);
  });

  test("a log line each time usage crosses a 10% step, up and down", () => {
    const lines: string[] = [];
    const device = tinyDevice(new CoreLogger("info", (line) => lines.push(line)));
    const total = device.board.memory.sectorCount;
    const crossings = (): Array<[number, number]> =>
      lines.flatMap((line) => {
        const match = /crossed (\d+)% \(used: (\d+) sectors\)/.exec(line);
        return match ? [[Number(match[1]), Number(match[2])] as [number, number]] : [];
      });
    /** The (percent, used) lines expected while usage walks through `usedSequence` from `usedStart`. */
    const expectedCrossings = (usedStart: number, usedSequence: number[]): Array<[number, number]> => {
      let step = Math.floor((usedStart * 10) / total);
      const expected: Array<[number, number]> = [];
      for (const used of usedSequence) {
        const next = Math.floor((used * 10) / total);
        if (next !== step) expected.push([next * 10, used]);
        step = next;
      }
      return expected;
    };

    lines.length = 0;
    const ids = allocateAll(device);
    expect(crossings()).toEqual(expectedCrossings(0, range(1, total + 1)));
    expect(crossings().map(([percent]) => percent)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);

    lines.length = 0;
    for (const id of ids) device.sectorFree(id);
    expect(crossings()).toEqual(expectedCrossings(total, range(0, total).reverse()));
  });

  test("a refused call logs nothing", () => {
    const lines: string[] = [];
    const device = tinyDevice(new CoreLogger("debug", (line) => lines.push(line)));
    const id = device.sectorAlloc();
    device.sectorFree(id);
    lines.length = 0;
    const before = ramSnapshot(device);
    coreErrorOf(() => device.sectorFree(id));
    coreErrorOf(() => device.sectorWrite(id, 0, 1));
    expect(lines).toEqual([]);
    expect(firstDifference(before, ramSnapshot(device))).toBe(-1);
  });
});
