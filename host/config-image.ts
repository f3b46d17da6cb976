// The flashed config image: the 108-byte little-endian record (layout 2) that boots a board's core;
// the 96-byte layout 1 that 0.1.0 flashed is still read.
//
// The host encodes a Board into the image (SPEC.md, "Flashed config image") and places it in device
// RAM; the core checks it again at boot. decodeConfigImage refuses a damaged image with the same
// E_CONFIG_* code the core would return. Offsets and sizes come from the ABI, never retyped here.

import { crc32 } from "node:zlib";
import {
  CFG_BOARD_NAME,
  CFG_BULK_RECORDS_MAX,
  CFG_BYTES_WRITTEN_PER_TICK_MAX,
  CFG_CLEANUP_POLICY,
  CFG_CRC32,
  CFG_CRC32_1,
  CFG_DELETE_RETRY_BASE_MS,
  CFG_DELETES_IN_FLIGHT_MAX,
  CFG_DISK_FREE_MARGIN_FILES,
  CFG_DISK_QUOTA_BYTES,
  CFG_DISK_THRESHOLD_PERCENT,
  CFG_FILES_DELETED_PER_TICK_MAX,
  CFG_FILES_MAX,
  CFG_FILES_WRITTEN_PER_TICK_MAX,
  CFG_FLAG_DISK_FULL_MASK,
  CFG_FLAG_DISK_FULL_SHIFT,
  CFG_FLAG_TIER_DIRECT,
  CFG_FLAG_DISK_TIER,
  CFG_FLAGS,
  CFG_IMAGE_BYTES,
  CFG_LAYOUT_VERSION,
  CFG_MAGIC,
  CFG_RAM_BYTES,
  CFG_SECTOR_BYTES,
  CFG_SECTOR_COUNT,
  CFG_SECTORS_PER_FILE_MAX,
  CFG_SPILL_SECTORS_PER_TICK_MAX,
  CFG_SPILL_TARGET_PERCENT,
  CFG_SPILL_THRESHOLD_PERCENT,
  CFG_STREAMS_MAX,
  CFG_TICK_INTERVAL_MS,
  CLEANUP_POLICY_BY_CODE,
  CLEANUP_POLICY_CODES,
  CONFIG_BOARD_NAME_BYTES,
  CONFIG_IMAGE_BYTES,
  CONFIG_IMAGE_BYTES_1,
  CONFIG_LAYOUT_VERSION,
  CONFIG_LAYOUT_VERSION_1,
  DISK_FREE_MARGIN_FILES_DEFAULT,
  DELETES_IN_FLIGHT_MAX_DEFAULT,
  CONFIG_MAGIC,
  BYTES_WRITTEN_PER_TICK_DERIVED,
  DISK_FULL_POLICY_BY_CODE,
  DISK_FULL_POLICY_CODES,
  E_CONFIG_CRC,
  E_CONFIG_FIELD,
  E_CONFIG_MAGIC,
  E_CONFIG_TRUNCATED,
  E_CONFIG_VERSION,
} from "./core/abi.generated.js";
import { configIssuesFind, type Board, type BoardConfig, type CleanupPolicy, type DiskFullPolicy } from "./boards.js";
import { UserError } from "./base/user-error.js";

// ---- Field table ---------------------------------------------------------------------------------
// One row per field, in image order. The rows tile bytes [0, CONFIG_IMAGE_BYTES) with no gap, which
// the tests check, so an offset that drifts in assembly/abi.ts fails the first test run.
export type ConfigFieldType = "u8" | "u16" | "u32" | "u64" | "ascii";

export interface ConfigField {
  name: string;
  offset: number;
  type: ConfigFieldType;
  bytes: number;
}

function field(name: string, offset: number, type: Exclude<ConfigFieldType, "ascii">): ConfigField {
  const bytes = { u8: 1, u16: 2, u32: 4, u64: 8 }[type];
  return { name, offset, type, bytes };
}

export const CONFIG_FIELDS: readonly ConfigField[] = [
  field("magic", CFG_MAGIC, "u32"),
  field("layoutVersion", CFG_LAYOUT_VERSION, "u16"),
  field("imageBytes", CFG_IMAGE_BYTES, "u16"),
  field("ramBytes", CFG_RAM_BYTES, "u32"),
  field("sectorBytes", CFG_SECTOR_BYTES, "u16"),
  field("flags", CFG_FLAGS, "u16"),
  field("sectorCount", CFG_SECTOR_COUNT, "u32"),
  field("streamsMax", CFG_STREAMS_MAX, "u32"),
  field("filesMax", CFG_FILES_MAX, "u32"),
  field("sectorsPerFileMax", CFG_SECTORS_PER_FILE_MAX, "u32"),
  field("diskQuotaBytes", CFG_DISK_QUOTA_BYTES, "u64"),
  field("spillThresholdPercent", CFG_SPILL_THRESHOLD_PERCENT, "u8"),
  field("spillTargetPercent", CFG_SPILL_TARGET_PERCENT, "u8"),
  field("diskThresholdPercent", CFG_DISK_THRESHOLD_PERCENT, "u8"),
  field("cleanupPolicy", CFG_CLEANUP_POLICY, "u8"),
  field("tickIntervalMs", CFG_TICK_INTERVAL_MS, "u32"),
  field("spillSectorsPerTickMax", CFG_SPILL_SECTORS_PER_TICK_MAX, "u32"),
  field("filesWrittenPerTickMax", CFG_FILES_WRITTEN_PER_TICK_MAX, "u32"),
  field("filesDeletedPerTickMax", CFG_FILES_DELETED_PER_TICK_MAX, "u32"),
  field("bulkRecordsMax", CFG_BULK_RECORDS_MAX, "u32"),
  field("deleteRetryBaseMs", CFG_DELETE_RETRY_BASE_MS, "u32"),
  { name: "boardName", offset: CFG_BOARD_NAME, type: "ascii", bytes: CONFIG_BOARD_NAME_BYTES },
  field("diskFreeMarginFiles", CFG_DISK_FREE_MARGIN_FILES, "u32"),
  field("deletesInFlightMax", CFG_DELETES_IN_FLIGHT_MAX, "u32"),
  field("bytesWrittenPerTickMax", CFG_BYTES_WRITTEN_PER_TICK_MAX, "u32"),
  field("crc32", CFG_CRC32, "u32"),
];

// ---- Errors --------------------------------------------------------------------------------------
const CONFIG_ERROR_NAMES: Record<number, string> = {
  [E_CONFIG_MAGIC]: "E_CONFIG_MAGIC",
  [E_CONFIG_VERSION]: "E_CONFIG_VERSION",
  [E_CONFIG_CRC]: "E_CONFIG_CRC",
  [E_CONFIG_TRUNCATED]: "E_CONFIG_TRUNCATED",
  [E_CONFIG_FIELD]: "E_CONFIG_FIELD",
};

/** A flashed config image the device refuses (DeviceOptions.configImage, `imx-memsim flash`): its E_CONFIG_* code and why. */
export class ConfigImageError extends UserError {
  /** One of the ABI's E_CONFIG_* codes (negative). */
  readonly code: number;
  /** The code's name, e.g. "E_CONFIG_CRC". */
  readonly codeName: string;

  constructor(code: number, detail: string) {
    const codeName = CONFIG_ERROR_NAMES[code] ?? `error ${code}`;
    super(`config image refused (${codeName}): ${detail}`);
    this.name = "ConfigImageError";
    this.code = code;
    this.codeName = codeName;
  }
}

// ---- Encode --------------------------------------------------------------------------------------
function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function configOf(board: Board): BoardConfig {
  const { memory, disk, tier } = board;
  return {
    name: board.name,
    memory: {
      ramBytes: memory.ramBytes,
      sectorBytes: memory.sectorBytes,
      sectorCount: memory.sectorCount,
      streamsMax: memory.streamsMax,
      bulkRecordsMax: memory.bulkRecordsMax,
    },
    disk:
      disk === null
        ? null
        : {
            quotaBytes: disk.quotaBytes,
            thresholdPercent: disk.thresholdPercent,
            filesMax: disk.filesMax,
            sectorsPerFileMax: disk.sectorsPerFileMax,
            freeMarginFiles: disk.freeMarginFiles,
          },
    tier: {
      spillThresholdPercent: tier.spillThresholdPercent,
      spillTargetPercent: tier.spillTargetPercent,
      tickIntervalMs: tier.tickIntervalMs,
      spillSectorsPerTickMax: tier.spillSectorsPerTickMax,
      filesWrittenPerTickMax: tier.filesWrittenPerTickMax,
      filesDeletedPerTickMax: tier.filesDeletedPerTickMax,
      cleanupPolicy: tier.cleanupPolicy,
      deleteRetryBaseMs: tier.deleteRetryBaseMs,
      diskFullPolicy: tier.diskFullPolicy,
      deletesInFlightMax: tier.deletesInFlightMax,
      bytesWrittenPerTickMax: tier.bytesWrittenPerTickMax,
      mode: tier.mode,
    },
  };
}

function configCheck(config: unknown): void {
  const issue = configIssuesFind(config)[0];
  if (issue !== undefined) throw new ConfigImageError(E_CONFIG_FIELD, `${issue.path}: ${issue.rule}`);
}

// Encodes the board into a CONFIG_IMAGE_BYTES image. Refuses (E_CONFIG_FIELD) a board whose values
// do not fit their fields, so nothing is ever truncated silently.
export function encodeConfigImage(board: Board): Uint8Array {
  const config = configOf(board);
  configCheck(config);
  const { memory, disk, tier } = config;
  const image = new Uint8Array(CONFIG_IMAGE_BYTES);
  const view = new DataView(image.buffer);
  view.setUint32(CFG_MAGIC, CONFIG_MAGIC, true);
  view.setUint16(CFG_LAYOUT_VERSION, CONFIG_LAYOUT_VERSION, true);
  view.setUint16(CFG_IMAGE_BYTES, CONFIG_IMAGE_BYTES, true);
  view.setUint32(CFG_RAM_BYTES, memory.ramBytes, true);
  view.setUint16(CFG_SECTOR_BYTES, memory.sectorBytes, true);
  const diskFullBits = DISK_FULL_POLICY_CODES[tier.diskFullPolicy] << CFG_FLAG_DISK_FULL_SHIFT;
  const modeBits = tier.mode === "direct" ? CFG_FLAG_TIER_DIRECT : 0;
  view.setUint16(CFG_FLAGS, (disk === null ? 0 : CFG_FLAG_DISK_TIER) | diskFullBits | modeBits, true);
  view.setUint32(CFG_SECTOR_COUNT, memory.sectorCount, true);
  view.setUint32(CFG_STREAMS_MAX, memory.streamsMax, true);
  view.setUint32(CFG_FILES_MAX, disk?.filesMax ?? 0, true);
  view.setUint32(CFG_SECTORS_PER_FILE_MAX, disk?.sectorsPerFileMax ?? 0, true);
  view.setBigUint64(CFG_DISK_QUOTA_BYTES, BigInt(disk?.quotaBytes ?? 0), true);
  view.setUint8(CFG_SPILL_THRESHOLD_PERCENT, tier.spillThresholdPercent);
  view.setUint8(CFG_SPILL_TARGET_PERCENT, tier.spillTargetPercent);
  view.setUint8(CFG_DISK_THRESHOLD_PERCENT, disk?.thresholdPercent ?? 0);
  view.setUint8(CFG_CLEANUP_POLICY, CLEANUP_POLICY_CODES[tier.cleanupPolicy]);
  view.setUint32(CFG_TICK_INTERVAL_MS, tier.tickIntervalMs, true);
  view.setUint32(CFG_SPILL_SECTORS_PER_TICK_MAX, tier.spillSectorsPerTickMax, true);
  view.setUint32(CFG_FILES_WRITTEN_PER_TICK_MAX, tier.filesWrittenPerTickMax, true);
  view.setUint32(CFG_FILES_DELETED_PER_TICK_MAX, tier.filesDeletedPerTickMax, true);
  view.setUint32(CFG_BULK_RECORDS_MAX, memory.bulkRecordsMax, true);
  view.setUint32(CFG_DELETE_RETRY_BASE_MS, tier.deleteRetryBaseMs, true);
  view.setUint32(CFG_DISK_FREE_MARGIN_FILES, disk?.freeMarginFiles ?? 0, true);
  view.setUint32(CFG_DELETES_IN_FLIGHT_MAX, tier.deletesInFlightMax, true);
  view.setUint32(CFG_BYTES_WRITTEN_PER_TICK_MAX, tier.bytesWrittenPerTickMax, true);
  // The schema allows only ASCII names of at most CONFIG_BOARD_NAME_BYTES; the rest stays zero.
  for (let index = 0; index < config.name.length; index++) {
    view.setUint8(CFG_BOARD_NAME + index, config.name.charCodeAt(index));
  }
  view.setUint32(CFG_CRC32, crc32(image.subarray(0, CFG_CRC32)) >>> 0, true);
  return image;
}

// ---- Decode --------------------------------------------------------------------------------------
export interface DecodedConfig extends BoardConfig {
  layoutVersion: number;
  imageBytes: number;
  flags: number;
  crc32: number;
}

function boardNameDecode(view: DataView): string {
  let name = "";
  let ended = false;
  for (let index = 0; index < CONFIG_BOARD_NAME_BYTES; index++) {
    const byte = view.getUint8(CFG_BOARD_NAME + index);
    if (byte === 0) {
      ended = true;
    } else if (ended) {
      throw new ConfigImageError(E_CONFIG_FIELD, `boardName: byte ${index} follows the terminating zero (got ${byte})`);
    } else if (byte < 0x20 || byte > 0x7e) {
      throw new ConfigImageError(E_CONFIG_FIELD, `boardName: byte ${index} is not printable ASCII (got ${byte})`);
    } else {
      name += String.fromCharCode(byte);
    }
  }
  return name;
}

// Decodes and checks an image, in the core's order: length, magic, layout version, length field,
// CRC32, then every field. A longer input (a flash region) is read up to the image's length. Layout
// 1 (0.1.0's 96 bytes, no diskFreeMarginFiles) is read too: its disk tier keeps the default margin.
export function decodeConfigImage(bytes: Uint8Array): DecodedConfig {
  if (bytes.length < CONFIG_IMAGE_BYTES_1) {
    throw new ConfigImageError(
      E_CONFIG_TRUNCATED,
      `${bytes.length} bytes, a layout ${CONFIG_LAYOUT_VERSION} image is ${CONFIG_IMAGE_BYTES} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, CONFIG_IMAGE_BYTES));
  const magic = view.getUint32(CFG_MAGIC, true);
  if (magic !== CONFIG_MAGIC) {
    throw new ConfigImageError(E_CONFIG_MAGIC, `magic is ${hex32(magic)}, expected ${hex32(CONFIG_MAGIC)} ("IMXC")`);
  }
  const layoutVersion = view.getUint16(CFG_LAYOUT_VERSION, true);
  if (layoutVersion !== CONFIG_LAYOUT_VERSION && layoutVersion !== CONFIG_LAYOUT_VERSION_1) {
    throw new ConfigImageError(
      E_CONFIG_VERSION,
      `layout version ${layoutVersion}, this build reads versions ${CONFIG_LAYOUT_VERSION_1} and ${CONFIG_LAYOUT_VERSION}`,
    );
  }
  const layout1 = layoutVersion === CONFIG_LAYOUT_VERSION_1;
  const size = layout1 ? CONFIG_IMAGE_BYTES_1 : CONFIG_IMAGE_BYTES;
  const crcAt = layout1 ? CFG_CRC32_1 : CFG_CRC32;
  if (bytes.length < size) {
    throw new ConfigImageError(
      E_CONFIG_TRUNCATED,
      `${bytes.length} bytes, a layout ${layoutVersion} image is ${size} bytes`,
    );
  }
  const imageBytes = view.getUint16(CFG_IMAGE_BYTES, true);
  if (imageBytes !== size) {
    // The core returns the same code for a length field that disagrees with the layout.
    throw new ConfigImageError(
      E_CONFIG_TRUNCATED,
      `image length field says ${imageBytes} bytes, a layout ${layoutVersion} image is ${size} bytes`,
    );
  }
  const storedCrc = view.getUint32(crcAt, true);
  const computedCrc = crc32(new Uint8Array(bytes.buffer, bytes.byteOffset, crcAt)) >>> 0;
  if (storedCrc !== computedCrc) {
    throw new ConfigImageError(
      E_CONFIG_CRC,
      `stored crc32 ${hex32(storedCrc)} does not match computed ${hex32(computedCrc)}`,
    );
  }

  const flags = view.getUint16(CFG_FLAGS, true);
  const flagsKnown = layout1 ? CFG_FLAG_DISK_TIER : CFG_FLAG_DISK_TIER | CFG_FLAG_DISK_FULL_MASK | CFG_FLAG_TIER_DIRECT;
  if ((flags & ~flagsKnown) !== 0) {
    throw new ConfigImageError(E_CONFIG_FIELD, `flags: unknown bits set (got 0x${flags.toString(16)})`);
  }
  const diskFullCode = (flags & CFG_FLAG_DISK_FULL_MASK) >> CFG_FLAG_DISK_FULL_SHIFT;
  const diskFullPolicy: DiskFullPolicy | undefined = DISK_FULL_POLICY_BY_CODE[diskFullCode];
  if (diskFullPolicy === undefined) {
    throw new ConfigImageError(E_CONFIG_FIELD, `flags: unknown disk-full policy code (got ${diskFullCode})`);
  }
  const policyCode = view.getUint8(CFG_CLEANUP_POLICY);
  const cleanupPolicy: CleanupPolicy | undefined = CLEANUP_POLICY_BY_CODE[policyCode];
  if (cleanupPolicy === undefined) {
    throw new ConfigImageError(E_CONFIG_FIELD, `cleanupPolicy: unknown code (got ${policyCode})`);
  }
  const quota = view.getBigUint64(CFG_DISK_QUOTA_BYTES, true);
  if (quota > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ConfigImageError(E_CONFIG_FIELD, `diskQuotaBytes: larger than this host can count (got ${quota})`);
  }
  const filesMax = view.getUint32(CFG_FILES_MAX, true);
  const sectorsPerFileMax = view.getUint32(CFG_SECTORS_PER_FILE_MAX, true);
  const diskThresholdPercent = view.getUint8(CFG_DISK_THRESHOLD_PERCENT);
  const diskTier = (flags & CFG_FLAG_DISK_TIER) !== 0;
  const freeMarginFiles = layout1
    ? diskTier
      ? DISK_FREE_MARGIN_FILES_DEFAULT
      : 0
    : view.getUint32(CFG_DISK_FREE_MARGIN_FILES, true);
  if (
    !diskTier &&
    (filesMax !== 0 || sectorsPerFileMax !== 0 || quota !== 0n || diskThresholdPercent !== 0 || freeMarginFiles !== 0)
  ) {
    throw new ConfigImageError(E_CONFIG_FIELD, "disk fields must be zero without the disk tier flag");
  }

  const config: BoardConfig = {
    name: boardNameDecode(view),
    memory: {
      ramBytes: view.getUint32(CFG_RAM_BYTES, true),
      sectorBytes: view.getUint16(CFG_SECTOR_BYTES, true),
      sectorCount: view.getUint32(CFG_SECTOR_COUNT, true),
      streamsMax: view.getUint32(CFG_STREAMS_MAX, true),
      bulkRecordsMax: view.getUint32(CFG_BULK_RECORDS_MAX, true),
    },
    disk: diskTier
      ? {
          quotaBytes: Number(quota),
          thresholdPercent: diskThresholdPercent,
          filesMax,
          sectorsPerFileMax,
          freeMarginFiles,
        }
      : null,
    tier: {
      spillThresholdPercent: view.getUint8(CFG_SPILL_THRESHOLD_PERCENT),
      spillTargetPercent: view.getUint8(CFG_SPILL_TARGET_PERCENT),
      tickIntervalMs: view.getUint32(CFG_TICK_INTERVAL_MS, true),
      spillSectorsPerTickMax: view.getUint32(CFG_SPILL_SECTORS_PER_TICK_MAX, true),
      filesWrittenPerTickMax: view.getUint32(CFG_FILES_WRITTEN_PER_TICK_MAX, true),
      filesDeletedPerTickMax: view.getUint32(CFG_FILES_DELETED_PER_TICK_MAX, true),
      cleanupPolicy,
      deleteRetryBaseMs: view.getUint32(CFG_DELETE_RETRY_BASE_MS, true),
      diskFullPolicy,
      // Layout 1 had no bound on lazy deletions in flight: its core takes the default.
      deletesInFlightMax: layout1 ? DELETES_IN_FLIGHT_MAX_DEFAULT : view.getUint32(CFG_DELETES_IN_FLIGHT_MAX, true),
      // Layout 1 had no byte budget: the default derived from the board.
      bytesWrittenPerTickMax: layout1
        ? BYTES_WRITTEN_PER_TICK_DERIVED
        : view.getUint32(CFG_BYTES_WRITTEN_PER_TICK_MAX, true),
      mode: (flags & CFG_FLAG_TIER_DIRECT) !== 0 ? "direct" : "spill",
    },
  };
  configCheck(config);
  return { layoutVersion, imageBytes, flags, crc32: storedCrc, ...config };
}
