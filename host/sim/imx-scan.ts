// An independent reader of what is on the disk tier, for the simulator and the crash tests: it
// lists the `.imx` files under history/, parses their names and headers and checks their CRC
// with node:zlib (not with the core's code), and reads the positions file. It answers "which
// records were in a complete, valid `.imx` file" without asking the device under test.

import { crc32 } from "node:zlib";
import * as abi from "../core/abi.generated.js";
import { listFilesRecursive } from "../hal/atomic.js";
import type { Hal } from "../hal/hal.js";

export const HISTORY_DIR = "history";
export const POSITIONS_PATH = "history/positions.imxp";
export const IMX_NAME = /^history\/(\d)\/(\d+)_(\d+)_(\d{20})\.imx$/;

export interface ImxFileInfo {
  path: string;
  /** From the name. */
  source: number;
  sensor: number;
  firstSeq: number;
  /** From the header (0 when the header is unreadable). */
  recordCount: number;
  ackedSeq: number;
  sizeBytes: number;
  /** The header parses, matches the name and the size, and the CRC over header and payload holds. */
  valid: boolean;
}

/** The header fields of an `.imx` image, or null if it is shorter than a header or has the wrong magic. */
export function imxHeaderParse(data: Uint8Array): {
  source: number;
  sensor: number;
  recordType: number;
  dataType: number;
  sectorBytes: number;
  sampleRateMs: number;
  sectorCount: number;
  firstSeq: number;
  recordCount: number;
  ackedSeq: number;
  payloadBytes: number;
  crc: number;
} | null {
  if (data.byteLength < abi.IMX_HEADER_BYTES) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(abi.IMX_MAGIC_OFFSET, true) !== abi.IMX_MAGIC) return null;
  return {
    source: view.getUint32(abi.IMX_SOURCE_OFFSET, true),
    sensor: view.getUint32(abi.IMX_SENSOR_OFFSET, true),
    recordType: view.getUint8(abi.IMX_RECORD_TYPE_OFFSET),
    dataType: view.getUint8(abi.IMX_DATA_TYPE_OFFSET),
    sectorBytes: view.getUint16(abi.IMX_SECTOR_BYTES_OFFSET, true),
    sampleRateMs: view.getUint32(abi.IMX_SAMPLE_RATE_OFFSET, true),
    sectorCount: view.getUint32(abi.IMX_SECTOR_COUNT_OFFSET, true),
    firstSeq: Number(view.getBigUint64(abi.IMX_FIRST_SEQ_OFFSET, true)),
    recordCount: view.getUint32(abi.IMX_RECORD_COUNT_OFFSET, true),
    ackedSeq: Number(view.getBigUint64(abi.IMX_ACKED_SEQ_OFFSET, true)),
    payloadBytes: view.getUint32(abi.IMX_PAYLOAD_BYTES_OFFSET, true),
    crc: view.getUint32(abi.IMX_CRC32_OFFSET, true),
  };
}

/** The CRC an `.imx` image should carry: header bytes 0–59, continued over the payload. */
export function imxCrc(data: Uint8Array): number {
  const head = crc32(data.subarray(0, abi.IMX_CRC32_OFFSET));
  return crc32(data.subarray(abi.IMX_HEADER_BYTES), head) >>> 0;
}

/** Rewrites the CRC field of an `.imx` image in place so it validates (for corruption tests). */
export function imxCrcFix(data: Uint8Array): void {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setUint32(abi.IMX_CRC32_OFFSET, imxCrc(data), true);
}

/** Whether `data` is a complete, valid `.imx` image named `name` (source, sensor, firstSeq). */
export function imxValid(data: Uint8Array, name: { source: number; sensor: number; firstSeq: number }): boolean {
  const header = imxHeaderParse(data);
  if (header === null) return false;
  if (header.source !== name.source || header.sensor !== name.sensor || header.firstSeq !== name.firstSeq) return false;
  if (header.sectorCount === 0 || header.payloadBytes !== header.sectorCount * header.sectorBytes) return false;
  if (data.byteLength !== abi.IMX_HEADER_BYTES + header.payloadBytes) return false;
  if (header.recordCount === 0) return false;
  return imxCrc(data) === header.crc;
}

/** Parses `history/<bucket>/<source>_<sensor>_<firstSeq>.imx`, or null. */
export function imxNameParse(path: string): { source: number; sensor: number; firstSeq: number } | null {
  const match = IMX_NAME.exec(path);
  if (!match) return null;
  return { source: Number(match[2]), sensor: Number(match[3]), firstSeq: Number(match[4]) };
}

/**
 * Every `.imx` file under history/ with its name, header fields and validity. With `durableOnly`
 * and a Hal that knows durability (MemoryHal.isDurable), files a power cut would lose are left out.
 */
export function imxScan(hal: Hal, options: { durableOnly?: boolean } = {}): ImxFileInfo[] {
  if (!hal.isDir(HISTORY_DIR)) return [];
  const durable = (hal as { isDurable?: (path: string) => boolean }).isDurable?.bind(hal);
  const found: ImxFileInfo[] = [];
  for (const path of listFilesRecursive(hal, HISTORY_DIR, ".imx")) {
    const name = imxNameParse(path);
    if (name === null) continue;
    if (options.durableOnly === true && durable !== undefined && !durable(path)) continue;
    const data = hal.readFile(path);
    const header = imxHeaderParse(data);
    found.push({
      path,
      ...name,
      recordCount: header?.recordCount ?? 0,
      ackedSeq: header?.ackedSeq ?? 0,
      sizeBytes: data.byteLength,
      valid: imxValid(data, name),
    });
  }
  return found;
}

/** Every path under history/ that ends with ".tmp". */
export function tmpFilesList(hal: Hal): string[] {
  return hal.isDir(HISTORY_DIR) ? listFilesRecursive(hal, HISTORY_DIR, ".tmp") : [];
}

export interface PositionRecord {
  source: number;
  sensor: number;
  ackedSeq: number;
  nextSeq: number;
}

/** The records of a valid positions file, or null if it is missing or fails validation. */
export function positionsRead(hal: Hal): PositionRecord[] | null {
  if (!hal.exists(POSITIONS_PATH)) return null;
  const data = hal.readFile(POSITIONS_PATH);
  if (data.byteLength < abi.POSITIONS_HEADER_BYTES) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(abi.POSITIONS_MAGIC_OFFSET, true) !== abi.POSITIONS_MAGIC) return null;
  const count = view.getUint32(abi.POSITIONS_COUNT_OFFSET, true);
  if (data.byteLength !== abi.POSITIONS_HEADER_BYTES + count * abi.POSITION_RECORD_BYTES) return null;
  const crc =
    crc32(data.subarray(abi.POSITIONS_HEADER_BYTES), crc32(data.subarray(0, abi.POSITIONS_CRC32_OFFSET))) >>> 0;
  if (crc !== view.getUint32(abi.POSITIONS_CRC32_OFFSET, true)) return null;
  const records: PositionRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = abi.POSITIONS_HEADER_BYTES + i * abi.POSITION_RECORD_BYTES;
    records.push({
      source: view.getUint32(at + abi.POSITION_SOURCE_OFFSET, true),
      sensor: view.getUint32(at + abi.POSITION_SENSOR_OFFSET, true),
      ackedSeq: Number(view.getBigUint64(at + abi.POSITION_ACKED_SEQ_OFFSET, true)),
      nextSeq: Number(view.getBigUint64(at + abi.POSITION_NEXT_SEQ_OFFSET, true)),
    });
  }
  return records;
}
