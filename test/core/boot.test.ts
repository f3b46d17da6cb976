// Boot: every board boots into a WebAssembly.Memory of exactly ceil(ramBytes / 64 KiB) pages that
// can never grow, and lays everything out below ramBytes. The CORE (not the host) refuses a flashed
// image that is damaged or whose numbers do not fit: each test passes the bytes through
// `configImage`, which the host hands to the core unchecked, and expects the core's E_* code. One
// compiled module serves many independent devices.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { describe, expect, test } from "vitest";
import { listBoards, loadBoard, type Board } from "../../host/boards.js";
import { ConfigImageError, decodeConfigImage, encodeConfigImage } from "../../host/config-image.js";
import * as abi from "../../host/core/abi.generated.js";
import { WASM_PAGE_BYTES } from "../../host/core/boot.js";
import { Device } from "../../host/core/device.js";
import { coreModule } from "../../host/core/wasm.js";
import { MemoryHal } from "../../host/hal/memory.js";
import {
  boardClone,
  coreErrorOf,
  firstDifference,
  ramSnapshot,
  range,
  readAll,
  seqs,
  statsSnapshot,
} from "./helpers.js";

/** Re-signs an image after a change, so only the changed field can be what the core refuses. */
function resign(image: Uint8Array): Uint8Array {
  new DataView(image.buffer, image.byteOffset).setUint32(
    abi.CFG_CRC32,
    crc32(image.subarray(0, abi.CFG_CRC32)) >>> 0,
    true,
  );
  return image;
}

/** The tiny board's image with `change` applied to it, re-signed. */
function tinyImageWith(change: (view: DataView) => void): Uint8Array {
  const image = encodeConfigImage(loadBoard("tiny"));
  change(new DataView(image.buffer, image.byteOffset, image.byteLength));
  return resign(image);
}

/** The E_* name the core answers when booting `board` from `image`. */
function bootRefusal(image: Uint8Array, board: Board = loadBoard("tiny")): string {
  return coreErrorOf(() => Device.create({ board, configImage: image })).codeName;
}

describe("every board boots", () => {
  for (const board of listBoards()) {
    test(`${board.name}: memory is ceil(ramBytes / 64 KiB) pages, cannot grow, and holds the layout`, () => {
      const device = Device.create({ board });
      const pages = Math.ceil(board.memory.ramBytes / WASM_PAGE_BYTES);
      expect(device.memory.buffer.byteLength).toBe(pages * WASM_PAGE_BYTES);
      expect(() => device.memory.grow(1)).toThrow(RangeError);
      expect(device.memory.buffer.byteLength).toBe(pages * WASM_PAGE_BYTES);

      expect(device.exports.ramBytesConfigured()).toBe(board.memory.ramBytes);
      expect(device.layoutBytes).toBeGreaterThan(0);
      expect(device.layoutBytes).toBeLessThanOrEqual(board.memory.ramBytes);

      const stats = device.stats();
      expect(stats.sectorsTotal).toBe(board.memory.sectorCount);
      expect(stats.sectorsFree).toBe(board.memory.sectorCount);
      expect(stats.sectorsUsed).toBe(0);
      expect(device.bulkCapacity).toBe(board.memory.bulkRecordsMax);
    });
  }

  test("a second boot of a running device is refused with E_ALREADY_BOOTED and changes nothing", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    device.sectorAlloc();
    const statsBefore = statsSnapshot(device);
    const ramBefore = ramSnapshot(device);
    expect(device.exports.boot(abi.CONFIG_IMAGE_BYTES, 0)).toBe(abi.E_ALREADY_BOOTED);
    expect(firstDifference(ramBefore, ramSnapshot(device))).toBe(-1);
    expect(statsSnapshot(device)).toEqual(statsBefore);
  });
});

describe("a board whose numbers do not fit its RAM is refused by the core", () => {
  // Each extra sector costs one SAT entry and its data in the pool (both 8-byte multiples).
  const tiny = loadBoard("tiny");
  const bytesPerSector = abi.SAT_ENTRY_BYTES + tiny.memory.sectorBytes;
  const spareSectors = Math.floor((tiny.memory.ramBytes - Device.create({ board: tiny }).layoutBytes) / bytesPerSector);
  const sectorCountFitting = tiny.memory.sectorCount + spareSectors;

  test("the most sectors that fit boot, with the layout ending at most ramBytes", () => {
    const board = boardClone("tiny", (b) => {
      b.memory.sectorCount = sectorCountFitting;
    });
    const device = Device.create({ board });
    expect(device.stats().sectorsTotal).toBe(sectorCountFitting);
    expect(device.layoutBytes).toBeLessThanOrEqual(board.memory.ramBytes);
    expect(board.memory.ramBytes - device.layoutBytes).toBeLessThan(bytesPerSector);
  });

  test("one sector more is E_LAYOUT_TOO_BIG", () => {
    const board = boardClone("tiny", (b) => {
      b.memory.sectorCount = sectorCountFitting + 1;
    });
    const error = coreErrorOf(() => Device.create({ board }));
    expect(error.codeName).toBe("E_LAYOUT_TOO_BIG");
    expect(error.operation).toContain("boot");
  });

  test("far too many sectors is E_LAYOUT_TOO_BIG", () => {
    const board = boardClone("tiny", (b) => {
      b.memory.sectorCount = 100_000;
    });
    expect(coreErrorOf(() => Device.create({ board })).codeName).toBe("E_LAYOUT_TOO_BIG");
  });

  test("an image that claims more RAM than the memory the host gave it is E_MEMORY_TOO_SMALL", () => {
    const claimsTwoPages = boardClone("tiny", (b) => {
      b.memory.ramBytes = 2 * WASM_PAGE_BYTES;
    });
    // The host sizes the memory from the tiny board (one page); the image says two pages.
    expect(bootRefusal(encodeConfigImage(claimsTwoPages))).toBe("E_MEMORY_TOO_SMALL");
  });
});

// Each byte of `good` (`bytes` long) flipped in turn: refused with magic, version, length field,
// then CRC for the rest.
function expectEveryFlippedByteRefused(good: Uint8Array, bytes: number): void {
  for (let offset = 0; offset < bytes; offset++) {
    const image = good.slice();
    image[offset] = (image[offset] ?? 0) ^ 0xff;
    const expected =
      offset < abi.CFG_LAYOUT_VERSION
        ? "E_CONFIG_MAGIC"
        : offset < abi.CFG_IMAGE_BYTES
          ? "E_CONFIG_VERSION"
          : offset < abi.CFG_RAM_BYTES
            ? "E_CONFIG_TRUNCATED"
            : "E_CONFIG_CRC";
    expect({ offset, code: bootRefusal(image) }).toEqual({ offset, code: expected });
  }
}

describe("a corrupt flashed image is refused by the core", () => {
  const good = encodeConfigImage(loadBoard("tiny"));

  test("the unchanged image boots (the control for every case below)", () => {
    expect(Device.create({ board: loadBoard("tiny"), configImage: good.slice() }).stats().sectorsTotal).toBe(16);
  });

  test("every single flipped byte is refused: magic, version, length field, then CRC for the rest", () => {
    expectEveryFlippedByteRefused(good, abi.CONFIG_IMAGE_BYTES);
  });

  test("a wrong magic number is E_CONFIG_MAGIC even with a valid CRC", () => {
    expect(bootRefusal(tinyImageWith((v) => v.setUint32(abi.CFG_MAGIC, 0x12345678, true)))).toBe("E_CONFIG_MAGIC");
  });

  test("another layout version is E_CONFIG_VERSION even with a valid CRC", () => {
    const image = tinyImageWith((v) => v.setUint16(abi.CFG_LAYOUT_VERSION, abi.CONFIG_LAYOUT_VERSION + 1, true));
    expect(bootRefusal(image)).toBe("E_CONFIG_VERSION");
  });

  test("fewer bytes than an image, or a length field that disagrees, is E_CONFIG_TRUNCATED", () => {
    for (const length of [0, 1, abi.CFG_CRC32, abi.CONFIG_IMAGE_BYTES - 1]) {
      expect({ length, code: bootRefusal(good.slice(0, length)) }).toEqual({ length, code: "E_CONFIG_TRUNCATED" });
    }
    const shortField = tinyImageWith((v) => v.setUint16(abi.CFG_IMAGE_BYTES, abi.CONFIG_IMAGE_BYTES - 4, true));
    expect(bootRefusal(shortField)).toBe("E_CONFIG_TRUNCATED");
  });

  test("an image followed by more flash bytes boots from its first CONFIG_IMAGE_BYTES", () => {
    const flash = new Uint8Array(abi.CONFIG_IMAGE_BYTES + 32).fill(0xa5);
    flash.set(good);
    expect(Device.create({ board: loadBoard("tiny"), configImage: flash }).stats().sectorsTotal).toBe(16);
  });

  // Each case breaks one rule the core checks at boot; the CRC is recomputed so the field check is
  // what refuses it. The host's decoder must refuse the same image with the same code.
  const fieldCases: Array<[string, (view: DataView) => void]> = [
    ["sectorBytes 0", (v) => v.setUint16(abi.CFG_SECTOR_BYTES, 0, true)],
    ["sectorBytes below the minimum", (v) => v.setUint16(abi.CFG_SECTOR_BYTES, abi.SECTOR_BYTES_MIN - 4, true)],
    ["sectorBytes not a multiple of 4", (v) => v.setUint16(abi.CFG_SECTOR_BYTES, 34, true)],
    ["sectorBytes above the maximum", (v) => v.setUint16(abi.CFG_SECTOR_BYTES, abi.SECTOR_BYTES_MAX + 4, true)],
    ["sectorCount 0", (v) => v.setUint32(abi.CFG_SECTOR_COUNT, 0, true)],
    ["sectorCount equal to the null id", (v) => v.setUint32(abi.CFG_SECTOR_COUNT, abi.SECTOR_NULL, true)],
    ["streamsMax 0", (v) => v.setUint32(abi.CFG_STREAMS_MAX, 0, true)],
    ["streamsMax above the limit", (v) => v.setUint32(abi.CFG_STREAMS_MAX, abi.STREAMS_MAX_LIMIT + 1, true)],
    ["bulkRecordsMax 0", (v) => v.setUint32(abi.CFG_BULK_RECORDS_MAX, 0, true)],
    [
      "bulkRecordsMax above the limit",
      (v) => v.setUint32(abi.CFG_BULK_RECORDS_MAX, abi.BULK_RECORDS_MAX_LIMIT + 1, true),
    ],
    ["spillThresholdPercent 0", (v) => v.setUint8(abi.CFG_SPILL_THRESHOLD_PERCENT, 0)],
    ["spillThresholdPercent 101", (v) => v.setUint8(abi.CFG_SPILL_THRESHOLD_PERCENT, 101)],
    [
      "spillTargetPercent equal to the threshold",
      (v) => v.setUint8(abi.CFG_SPILL_TARGET_PERCENT, v.getUint8(abi.CFG_SPILL_THRESHOLD_PERCENT)),
    ],
    ["an unknown cleanup policy", (v) => v.setUint8(abi.CFG_CLEANUP_POLICY, abi.CLEANUP_LAZY + 1)],
    ["an unknown flag bit", (v) => v.setUint16(abi.CFG_FLAGS, abi.CFG_FLAG_DISK_TIER | 16, true)],
    [
      "an unknown disk-full policy code",
      (v) =>
        v.setUint16(
          abi.CFG_FLAGS,
          abi.CFG_FLAG_DISK_TIER | (abi.DISK_FULL_POLICY_COUNT << abi.CFG_FLAG_DISK_FULL_SHIFT),
          true,
        ),
    ],
    ["filesMax 0 with a disk tier", (v) => v.setUint32(abi.CFG_FILES_MAX, 0, true)],
    ["filesMax above the limit", (v) => v.setUint32(abi.CFG_FILES_MAX, abi.FILES_MAX_LIMIT + 1, true)],
    ["sectorsPerFileMax 0 with a disk tier", (v) => v.setUint32(abi.CFG_SECTORS_PER_FILE_MAX, 0, true)],
    [
      "sectorsPerFileMax above the limit",
      (v) => v.setUint32(abi.CFG_SECTORS_PER_FILE_MAX, abi.SECTORS_PER_FILE_MAX_LIMIT + 1, true),
    ],
    ["diskQuotaBytes 0 with a disk tier", (v) => v.setBigUint64(abi.CFG_DISK_QUOTA_BYTES, 0n, true)],
    ["diskThresholdPercent 0 with a disk tier", (v) => v.setUint8(abi.CFG_DISK_THRESHOLD_PERCENT, 0)],
    ["diskThresholdPercent 101", (v) => v.setUint8(abi.CFG_DISK_THRESHOLD_PERCENT, 101)],
    ["disk fields without the disk tier flag", (v) => v.setUint16(abi.CFG_FLAGS, 0, true)],
    [
      "disk sector ids that would reach the null id",
      (v) => {
        v.setUint32(abi.CFG_FILES_MAX, abi.FILES_MAX_LIMIT, true);
        v.setUint32(abi.CFG_SECTORS_PER_FILE_MAX, abi.SECTORS_PER_FILE_MAX_LIMIT, true);
        v.setUint32(abi.CFG_SECTOR_COUNT, abi.SECTOR_NULL - abi.FILES_MAX_LIMIT * abi.SECTORS_PER_FILE_MAX_LIMIT, true);
      },
    ],
  ];

  for (const [name, change] of fieldCases) {
    test(`${name} is E_CONFIG_FIELD (and the host's decoder agrees)`, () => {
      const image = tinyImageWith(change);
      expect(bootRefusal(image)).toBe("E_CONFIG_FIELD");
      const hostError = (() => {
        try {
          decodeConfigImage(image);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(hostError).toBeInstanceOf(ConfigImageError);
      expect((hostError as ConfigImageError).codeName).toBe("E_CONFIG_FIELD");
    });
  }
});

describe("one compiled module serves many devices", () => {
  test("50 devices of different boards from the same coreModule() keep their data apart", () => {
    expect(coreModule()).toBe(coreModule());
    const boards = listBoards();
    const devices = Array.from({ length: 50 }, (_, index) => Device.create({ board: boards[index % boards.length]! }));
    expect(new Set(devices.map((device) => device.memory)).size).toBe(devices.length);

    // Device i gets 1 + i % 8 records (well inside the smallest pool) valued i × 1000 + k, and one
    // raw sector marked with i.
    const countOf = (i: number): number => 1 + (i % 8);
    const rawIds = devices.map((device, i) => {
      device.configureStream(7, 100, { type: "evt" });
      for (let k = 0; k < countOf(i); k++) device.writeEvt(7, 100, i * 1000 + k, 1_000 + k);
      const id = device.sectorAlloc();
      device.sectorWrite(id, 0, 0xa000_0000 + i);
      return id;
    });

    devices.forEach((device, i) => {
      const records = readAll(device, 7, 100);
      expect(seqs(records)).toEqual(range(0, countOf(i)));
      expect(records.map((record) => record.value)).toEqual(range(0, countOf(i)).map((k) => i * 1000 + k));
      expect(device.sectorRead(rawIds[i]!, 0)).toBe(0xa000_0000 + i);
      const stats = device.stats();
      expect(stats.recordsWritten).toBe(countOf(i));
      expect(stats.recordsDiscarded).toBe(0);
      const evtPerSector = Math.floor(device.board.memory.sectorBytes / 12);
      expect(stats.sectorsUsed).toBe(Math.ceil(countOf(i) / evtPerSector) + 1);
    });
  });
});

// Layout-1 images (96 bytes, no diskFreeMarginFiles, CRC at byte 92), flashed by 0.1.0's
// `imx-memsim flash` (test/fixtures/v0.1.0): the core boots them with the default margin on a disk
// tier and refuses them, damaged, as it refuses layout 2; any other version is E_CONFIG_VERSION.
describe("a layout-1 image flashed by 0.1.0 boots on the core", () => {
  const fixture = (name: string): Uint8Array =>
    new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/v0.1.0/config-${name}.bin`, import.meta.url))));
  const old = fixture("tiny");

  /** The disk limit the core reckons on a 1500-byte filesystem once a spill made it read the free space. */
  function diskBytesLimitOf(configImage: Uint8Array, board: Board = loadBoard("tiny")): number {
    const device = Device.create({ board, configImage, hal: new MemoryHal({ capacityBytes: 1500 }) });
    device.configureStream(0, 7, { type: "evt" });
    for (let i = 0; i < 40 && device.stats().filesCreated === 0; i++) {
      device.writeEvt(0, 7, i, 1_000 + i);
      device.processMemory(1_000 + i);
    }
    expect(device.stats().filesCreated).toBeGreaterThan(0);
    return device.stats().diskBytesLimit;
  }

  test.each(["tiny", "nrf52840"])("%s boots from its layout-1 image and runs like layout 2", (name) => {
    const board = loadBoard(name);
    const device = Device.create({ board, configImage: fixture(name) });
    const now = Device.create({ board });
    expect(statsSnapshot(device)).toEqual(statsSnapshot(now));
    expect(device.layoutBytes).toBe(now.layoutBytes);
    for (const d of [device, now]) {
      d.configureStream(0, 7, { type: "evt" });
      for (let i = 0; i < 30; i++) d.writeEvt(0, 7, i, 1_000 + i);
      d.processMemory(2_000);
    }
    expect(seqs(readAll(device, 0, 7))).toEqual(range(0, 30));
    expect(seqs(readAll(now, 0, 7))).toEqual(range(0, 30));
    expect(statsSnapshot(device)).toEqual(statsSnapshot(now));
  });

  test("its disk tier keeps the default margin (the board schema's disk.freeMarginFiles default)", () => {
    const tiny = loadBoard("tiny");
    const disk = tiny.disk!;
    expect(disk.freeMarginFiles).toBe(abi.DISK_FREE_MARGIN_FILES_DEFAULT);
    const limitOld = diskBytesLimitOf(old);
    expect(limitOld).toBe(diskBytesLimitOf(encodeConfigImage(tiny)));
    // The control: another margin would give another limit on this small filesystem.
    const noMargin = { ...tiny, disk: { ...disk, freeMarginFiles: 0 } };
    expect(diskBytesLimitOf(encodeConfigImage(noMargin), noMargin)).toBeGreaterThan(limitOld);
  });

  test("every single flipped byte is refused: magic, version, length field, then CRC for the rest", () => {
    expectEveryFlippedByteRefused(old, abi.CONFIG_IMAGE_BYTES_1);
  });

  test("every truncation is E_CONFIG_TRUNCATED", () => {
    for (let length = 0; length < abi.CONFIG_IMAGE_BYTES_1; length++) {
      expect({ length, code: bootRefusal(old.slice(0, length)) }).toEqual({ length, code: "E_CONFIG_TRUNCATED" });
    }
    // A layout-2 image cut to layout 1's length is short, whatever its first 96 bytes say.
    const now = encodeConfigImage(loadBoard("tiny"));
    expect(bootRefusal(now.slice(0, abi.CONFIG_IMAGE_BYTES_1))).toBe("E_CONFIG_TRUNCATED");
  });

  test("a length field of the other layout is E_CONFIG_TRUNCATED, disk-full bits are E_CONFIG_FIELD", () => {
    const resign1 = (image: Uint8Array): Uint8Array => {
      new DataView(image.buffer).setUint32(abi.CFG_CRC32_1, crc32(image.subarray(0, abi.CFG_CRC32_1)) >>> 0, true);
      return image;
    };
    const long = old.slice();
    new DataView(long.buffer).setUint16(abi.CFG_IMAGE_BYTES, abi.CONFIG_IMAGE_BYTES, true);
    expect(bootRefusal(resign1(long))).toBe("E_CONFIG_TRUNCATED");
    const short = tinyImageWith((v) => v.setUint16(abi.CFG_IMAGE_BYTES, abi.CONFIG_IMAGE_BYTES_1, true));
    expect(bootRefusal(short)).toBe("E_CONFIG_TRUNCATED");
    const diskFull = old.slice();
    const view = new DataView(diskFull.buffer);
    view.setUint16(abi.CFG_FLAGS, view.getUint16(abi.CFG_FLAGS, true) | (1 << abi.CFG_FLAG_DISK_FULL_SHIFT), true);
    expect(bootRefusal(resign1(diskFull))).toBe("E_CONFIG_FIELD");
    for (const version of [0, 3, 0xffff]) {
      const other = old.slice();
      new DataView(other.buffer).setUint16(abi.CFG_LAYOUT_VERSION, version, true);
      expect({ version, code: bootRefusal(resign1(other)) }).toEqual({ version, code: "E_CONFIG_VERSION" });
      const otherNow = tinyImageWith((v) => v.setUint16(abi.CFG_LAYOUT_VERSION, version, true));
      expect({ version, code: bootRefusal(otherNow) }).toEqual({ version, code: "E_CONFIG_VERSION" });
    }
  });
});
