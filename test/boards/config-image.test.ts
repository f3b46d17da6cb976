// Shows that the flashed config image matches its ABI layout, round-trips every field of every
// board, and refuses damage: every single flipped bit, every truncation, and well-formed images
// whose fields break a rule (re-signed with a valid CRC so the field check is what refuses them).
// Layout-1 images flashed by 0.1.0 still decode and are refused the same way when damaged; every
// other layout version is refused.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DISK_DEFAULTS, listBoards, loadBoard, withOverrides, type Board } from "../../host/boards.js";
import { CONFIG_FIELDS, ConfigImageError, decodeConfigImage, encodeConfigImage } from "../../host/config-image.js";
import {
  CFG_BOARD_NAME,
  CFG_BYTES_WRITTEN_PER_TICK_MAX,
  CFG_CLEANUP_POLICY,
  CFG_CRC32,
  CFG_CRC32_1,
  CFG_DISK_FREE_MARGIN_FILES,
  CFG_DELETES_IN_FLIGHT_MAX,
  CFG_FILES_MAX,
  CFG_FLAG_DISK_FULL_SHIFT,
  CFG_FLAGS,
  CFG_IMAGE_BYTES,
  CFG_LAYOUT_VERSION,
  CFG_MAGIC,
  CFG_RAM_BYTES,
  CFG_SECTOR_BYTES,
  CFG_SPILL_TARGET_PERCENT,
  CLEANUP_LAZY,
  CONFIG_BOARD_NAME_BYTES,
  CONFIG_IMAGE_BYTES,
  CONFIG_IMAGE_BYTES_1,
  CONFIG_LAYOUT_VERSION_1,
  CONFIG_MAGIC,
  DISK_FREE_MARGIN_FILES_DEFAULT,
  E_CONFIG_CRC,
  E_CONFIG_FIELD,
  E_CONFIG_MAGIC,
  E_CONFIG_TRUNCATED,
  E_CONFIG_VERSION,
} from "../../host/core/abi.generated.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/v0.1.0/", import.meta.url));
const boards = listBoards();
const boardNames = boards.map((board) => board.name);

function refusal(bytes: Uint8Array): ConfigImageError {
  try {
    decodeConfigImage(bytes);
  } catch (error) {
    if (error instanceof ConfigImageError) return error;
    throw error;
  }
  throw new Error("the image was accepted");
}

// Registers the checks every image layout gets: each single flipped bit of `image` (`bytes` long) is
// refused with the most specific code, and so is each truncation.
function itRefusesEveryDamage(image: Uint8Array, bytes: number): void {
  it("refuses every single flipped bit, with the most specific code", () => {
    for (let byte = 0; byte < bytes; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const damaged = image.slice();
        damaged[byte] = (damaged[byte] ?? 0) ^ (1 << bit);
        const expected =
          byte < CFG_LAYOUT_VERSION
            ? E_CONFIG_MAGIC
            : byte < CFG_IMAGE_BYTES
              ? E_CONFIG_VERSION
              : byte < CFG_RAM_BYTES
                ? E_CONFIG_TRUNCATED
                : E_CONFIG_CRC;
        expect(refusal(damaged).code, `byte ${byte} bit ${bit}`).toBe(expected);
      }
    }
  });

  it("refuses every truncated image", () => {
    for (let length = 0; length < bytes; length++) {
      expect(refusal(image.slice(0, length)).code, `length ${length}`).toBe(E_CONFIG_TRUNCATED);
    }
  });
}

function withoutSource<T extends { source?: string }>(value: T): Omit<T, "source"> {
  const { source: _source, ...rest } = value;
  return rest;
}

// Changes an image and signs it again, so only the field check can refuse it.
function resigned(board: Board, edit: (view: DataView) => void): Uint8Array {
  const image = encodeConfigImage(board);
  const view = new DataView(image.buffer);
  edit(view);
  view.setUint32(CFG_CRC32, crc32(image.subarray(0, CFG_CRC32)) >>> 0, true);
  return image;
}

describe("config image layout", () => {
  it("tiles bytes 0..CONFIG_IMAGE_BYTES with its fields, in order, without gaps", () => {
    let offset = 0;
    for (const field of CONFIG_FIELDS) {
      expect(field.offset, field.name).toBe(offset);
      offset += field.bytes;
    }
    expect(offset).toBe(CONFIG_IMAGE_BYTES);
    expect(new Set(CONFIG_FIELDS.map((field) => field.name)).size).toBe(CONFIG_FIELDS.length);
  });

  it("ends with the CRC over everything before it", () => {
    expect(CFG_CRC32 + 4).toBe(CONFIG_IMAGE_BYTES);
    expect(CFG_BOARD_NAME + CONFIG_BOARD_NAME_BYTES).toBe(CFG_DISK_FREE_MARGIN_FILES);
    expect(CFG_DISK_FREE_MARGIN_FILES + 4).toBe(CFG_DELETES_IN_FLIGHT_MAX);
    expect(CFG_DELETES_IN_FLIGHT_MAX + 4).toBe(CFG_BYTES_WRITTEN_PER_TICK_MAX);
    expect(CFG_BYTES_WRITTEN_PER_TICK_MAX + 4).toBe(CFG_CRC32);
  });

  it("uses zlib's CRC-32, the IEEE one the core implements", () => {
    expect(crc32("123456789") >>> 0).toBe(0xcbf43926);
  });
});

describe("encodeConfigImage", () => {
  it("writes little-endian fields at the ABI offsets", () => {
    const board = loadBoard("fc1-imx6");
    const image = encodeConfigImage(board);
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    expect(image).toHaveLength(CONFIG_IMAGE_BYTES);
    expect(String.fromCharCode(...image.subarray(CFG_MAGIC, CFG_MAGIC + 4))).toBe("IMXC");
    expect(view.getUint32(CFG_MAGIC, true)).toBe(CONFIG_MAGIC);
    expect(view.getUint16(CFG_IMAGE_BYTES, true)).toBe(CONFIG_IMAGE_BYTES);
    expect(view.getUint32(CFG_RAM_BYTES, true)).toBe(board.memory.ramBytes);
    expect(view.getUint16(CFG_SECTOR_BYTES, true)).toBe(32);
    expect(String.fromCharCode(...image.subarray(CFG_BOARD_NAME, CFG_BOARD_NAME + board.name.length))).toBe("fc1-imx6");
    expect(
      image
        .subarray(CFG_BOARD_NAME + board.name.length, CFG_BOARD_NAME + CONFIG_BOARD_NAME_BYTES)
        .every((byte) => byte === 0),
    ).toBe(true);
    expect(view.getUint32(CFG_DISK_FREE_MARGIN_FILES, true)).toBe(board.disk?.freeMarginFiles);
    expect(board.disk?.freeMarginFiles).toBe(2);
    expect(view.getUint32(CFG_DELETES_IN_FLIGHT_MAX, true)).toBe(board.tier.deletesInFlightMax);
    expect(board.tier.deletesInFlightMax).toBe(64);
  });

  it("writes zero disk fields and no disk flag for a board without a disk tier", () => {
    const image = encodeConfigImage(loadBoard("nrf52840"));
    const view = new DataView(image.buffer);
    expect(view.getUint16(CFG_FLAGS, true)).toBe(0);
    expect(image.subarray(CFG_FILES_MAX, CFG_FILES_MAX + 16).every((byte) => byte === 0)).toBe(true);
  });

  it("writes the overridden cleanup policy", () => {
    const image = encodeConfigImage(withOverrides(loadBoard("fc1-imx6"), { cleanupPolicy: "lazy" }));
    expect(image[CFG_CLEANUP_POLICY]).toBe(CLEANUP_LAZY);
  });

  it("refuses a board whose values do not fit their fields, rather than truncating them", () => {
    const board = loadBoard("tiny");
    const huge = { ...board, memory: { ...board.memory, sectorBytes: 70000 } };
    const error = (() => {
      try {
        encodeConfigImage(huge);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigImageError);
    expect((error as ConfigImageError).code).toBe(E_CONFIG_FIELD);
    expect((error as ConfigImageError).message).toContain("memory.sectorBytes: must be at most 4096 (got 70000)");
  });
});

describe.each(boardNames)("board %s", (name) => {
  const board = loadBoard(name);
  const image = encodeConfigImage(board);

  it("round-trips every field through encode and decode", () => {
    const decoded = decodeConfigImage(image);
    expect(decoded.name).toBe(board.name);
    expect(decoded.memory).toEqual(withoutSource(board.memory));
    expect(decoded.disk).toEqual(board.disk === null ? null : withoutSource(board.disk));
    expect(decoded.tier).toEqual(withoutSource(board.tier));
    expect(decoded.layoutVersion).toBe(2);
    expect(decoded.imageBytes).toBe(CONFIG_IMAGE_BYTES);
    expect(decoded.crc32).toBe(crc32(image.subarray(0, CFG_CRC32)) >>> 0);
  });

  it("round-trips every cleanup policy", () => {
    for (const cleanupPolicy of ["immediate", "batched", "lazy"] as const) {
      const decoded = decodeConfigImage(encodeConfigImage(withOverrides(board, { cleanupPolicy })));
      expect(decoded.tier.cleanupPolicy).toBe(cleanupPolicy);
    }
  });

  itRefusesEveryDamage(image, CONFIG_IMAGE_BYTES);

  it("reads an image inside a larger flash region at any offset", () => {
    const region = new Uint8Array(CONFIG_IMAGE_BYTES + 37).fill(0xff);
    region.set(image, 5);
    expect(decodeConfigImage(region.subarray(5)).name).toBe(name);
  });
});

describe("decodeConfigImage on signed images with bad fields", () => {
  const tiny = loadBoard("tiny");
  const nrf = loadBoard("nrf52840");

  it.each([
    [
      "a sector size that is not a multiple of 4",
      tiny,
      (view: DataView) => view.setUint16(CFG_SECTOR_BYTES, 30, true),
      "memory.sectorBytes",
    ],
    [
      "a spill target at the threshold",
      tiny,
      (view: DataView) => view.setUint8(CFG_SPILL_TARGET_PERCENT, 75),
      "tier.spillTargetPercent",
    ],
    ["an unknown cleanup policy", tiny, (view: DataView) => view.setUint8(CFG_CLEANUP_POLICY, 3), "cleanupPolicy"],
    ["an unknown flag bit", tiny, (view: DataView) => view.setUint16(CFG_FLAGS, 1 | 16, true), "flags"],
    ["an unknown disk-full policy code", tiny, (view: DataView) => view.setUint16(CFG_FLAGS, 1 | 4, true), "flags"],
    [
      "disk fields without the disk flag",
      nrf,
      (view: DataView) => view.setUint32(CFG_FILES_MAX, 4, true),
      "disk fields",
    ],
    [
      "a name byte after the terminator",
      tiny,
      (view: DataView) => view.setUint8(CFG_BOARD_NAME + 10, 0x41),
      "boardName",
    ],
    ["a name that is not printable ASCII", tiny, (view: DataView) => view.setUint8(CFG_BOARD_NAME, 0x07), "boardName"],
  ] as const)("refuses %s with E_CONFIG_FIELD", (_case, board, edit, field) => {
    const error = refusal(resigned(board, edit));
    expect(error.code).toBe(E_CONFIG_FIELD);
    expect(error.codeName).toBe("E_CONFIG_FIELD");
    expect(error.message).toContain(field);
  });

  it("names the code and the numbers in its messages", () => {
    const image = encodeConfigImage(tiny);
    image[CFG_CRC32] = (image[CFG_CRC32] ?? 0) ^ 1;
    expect(refusal(image).message).toMatch(
      /^config image refused \(E_CONFIG_CRC\): stored crc32 0x[0-9a-f]{8} does not match computed 0x[0-9a-f]{8}$/,
    );
    expect(refusal(new Uint8Array(10)).message).toBe(
      "config image refused (E_CONFIG_TRUNCATED): 10 bytes, a layout 2 image is 108 bytes",
    );
  });
});

// Images flashed by 0.1.0 (layout 1: 96 bytes, no diskFreeMarginFiles, CRC at byte 92), made by
// that release's `imx-memsim flash` (test/fixtures/v0.1.0). They still decode, with the default
// margin on a disk tier, and are refused like layout 2 when damaged.
describe.each(["tiny", "nrf52840"])("a layout-1 image of %s flashed by 0.1.0", (name) => {
  const board = loadBoard(name);
  const image = new Uint8Array(readFileSync(join(FIXTURES, `config-${name}.bin`)));

  it("is the old layout: 96 bytes, version 1, CRC of bytes 0-91 at byte 92", () => {
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    expect(image.length).toBe(CONFIG_IMAGE_BYTES_1);
    expect(view.getUint16(CFG_LAYOUT_VERSION, true)).toBe(CONFIG_LAYOUT_VERSION_1);
    expect(view.getUint16(CFG_IMAGE_BYTES, true)).toBe(CONFIG_IMAGE_BYTES_1);
    expect(view.getUint32(CFG_CRC32_1, true)).toBe(crc32(image.subarray(0, CFG_CRC32_1)) >>> 0);
    expect(CFG_CRC32_1 + 4).toBe(CONFIG_IMAGE_BYTES_1);
    expect(CFG_CRC32_1).toBe(CFG_DISK_FREE_MARGIN_FILES); // the margin took the old CRC's place
  });

  it("decodes to the board, the margin at its default with a disk tier (0 without)", () => {
    const decoded = decodeConfigImage(image);
    expect(decoded.layoutVersion).toBe(1);
    expect(decoded.imageBytes).toBe(CONFIG_IMAGE_BYTES_1);
    expect(decoded.name).toBe(board.name);
    expect(decoded.memory).toEqual(withoutSource(board.memory));
    expect(decoded.tier).toEqual(withoutSource(board.tier));
    expect(decoded.disk).toEqual(
      board.disk === null ? null : { ...withoutSource(board.disk), freeMarginFiles: DISK_FREE_MARGIN_FILES_DEFAULT },
    );
    expect(DISK_DEFAULTS.freeMarginFiles).toBe(DISK_FREE_MARGIN_FILES_DEFAULT);
    // The same board's layout-2 image says the same.
    const { layoutVersion: _v, imageBytes: _b, crc32: _c, ...now } = decodeConfigImage(encodeConfigImage(board));
    const { layoutVersion: _v1, imageBytes: _b1, crc32: _c1, ...old } = decoded;
    expect(old).toEqual(now);
  });

  itRefusesEveryDamage(image, CONFIG_IMAGE_BYTES_1);

  it("reads an image inside a larger flash region", () => {
    const region = new Uint8Array(CONFIG_IMAGE_BYTES + 37).fill(0xff);
    region.set(image, 5);
    expect(decodeConfigImage(region.subarray(5)).layoutVersion).toBe(1);
  });
});

describe("layout versions", () => {
  const tiny = loadBoard("tiny");
  const old = new Uint8Array(readFileSync(join(FIXTURES, "config-tiny.bin")));
  const signed = (image: Uint8Array, crcAt: number): Uint8Array => {
    new DataView(image.buffer, image.byteOffset).setUint32(crcAt, crc32(image.subarray(0, crcAt)) >>> 0, true);
    return image;
  };

  it.each([0, 3, 0xffff])("refuses version %i of either length with E_CONFIG_VERSION", (version) => {
    for (const [image, crcAt] of [
      [encodeConfigImage(tiny), CFG_CRC32],
      [old.slice(), CFG_CRC32_1],
    ] as const) {
      new DataView(image.buffer, image.byteOffset).setUint16(CFG_LAYOUT_VERSION, version, true);
      expect(refusal(signed(image, crcAt)).code).toBe(E_CONFIG_VERSION);
    }
  });

  it("refuses a length field of the other layout with E_CONFIG_TRUNCATED", () => {
    const now = encodeConfigImage(tiny);
    new DataView(now.buffer).setUint16(CFG_IMAGE_BYTES, CONFIG_IMAGE_BYTES_1, true);
    expect(refusal(signed(now, CFG_CRC32)).code).toBe(E_CONFIG_TRUNCATED);
    const before = old.slice();
    new DataView(before.buffer).setUint16(CFG_IMAGE_BYTES, CONFIG_IMAGE_BYTES, true);
    expect(refusal(signed(before, CFG_CRC32_1)).code).toBe(E_CONFIG_TRUNCATED);
    // A layout-2 image cut to layout 1's length is short, whatever its first 96 bytes say.
    expect(refusal(encodeConfigImage(tiny).slice(0, CONFIG_IMAGE_BYTES_1)).code).toBe(E_CONFIG_TRUNCATED);
  });

  it("refuses disk-full bits in a layout-1 image (that layout had none) with E_CONFIG_FIELD", () => {
    const image = old.slice();
    const view = new DataView(image.buffer);
    view.setUint16(CFG_FLAGS, view.getUint16(CFG_FLAGS, true) | (1 << CFG_FLAG_DISK_FULL_SHIFT), true);
    const error = refusal(signed(image, CFG_CRC32_1));
    expect(error.code).toBe(E_CONFIG_FIELD);
    expect(error.message).toContain("flags");
  });

  it("names both versions it reads when it refuses another", () => {
    const image = encodeConfigImage(tiny);
    new DataView(image.buffer).setUint16(CFG_LAYOUT_VERSION, 3, true);
    expect(refusal(signed(image, CFG_CRC32)).message).toBe(
      "config image refused (E_CONFIG_VERSION): layout version 3, this build reads versions 1 and 2",
    );
  });
});
