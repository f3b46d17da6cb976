// An independent reader of what is on the disk tier, for the simulator and the crash tests: it
// lists the `.imx` files under history/ and judges their names and contents with the host's own
// reader of the format (host/format, written from SPEC.md, not the core's code). It answers "which records were in a complete, valid `.imx` file" without asking
// the device under test.

import { HISTORY_DIR, IMX_SUFFIX, imxHeaderRead, imxPathParse, imxValid, TMP_SUFFIX } from "../format/imx.js";
import { listFilesRecursive } from "../hal/atomic.js";
import type { Hal } from "../hal/hal.js";

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

/**
 * Every `.imx` file under history/ with its name, header fields and validity. With `durableOnly`
 * and a Hal that knows durability (MemoryHal.isDurable), files a power cut would lose are left out.
 */
export function imxScan(hal: Hal, options: { durableOnly?: boolean } = {}): ImxFileInfo[] {
  if (!hal.isDir(HISTORY_DIR)) return [];
  const durable = (hal as { isDurable?: (path: string) => boolean }).isDurable?.bind(hal);
  const found: ImxFileInfo[] = [];
  for (const path of listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX)) {
    const name = imxPathParse(path);
    if (name === null) continue;
    if (options.durableOnly === true && durable !== undefined && !durable(path)) continue;
    const data = hal.readFile(path);
    const header = imxHeaderRead(data);
    found.push({
      path,
      source: name.source,
      sensor: name.sensor,
      firstSeq: name.firstSeq,
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
  return hal.isDir(HISTORY_DIR) ? listFilesRecursive(hal, HISTORY_DIR, TMP_SUFFIX) : [];
}
