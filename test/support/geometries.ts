// The sector geometries the tests run over, named once here, as littlefs runs its test cases over
// named block-device geometries. The `tiny` board (32-byte sectors, as on iMatrix) is one; the
// others are variants of boards/tiny.json that change the sector size and only what it forces:
//
//   geometry    memory.sectorBytes  memory.ramBytes  device.ramBytes  disk.quotaBytes
//   tiny-s16    16                  65536            131072           10 × (64 + 4 × 16)  =  1280
//   tiny        32                  24576             32768           2048 (the board as it is)
//   tiny-s64    64                  65536            131072           10 × (64 + 4 × 64)  =  3200
//   tiny-s128   128                 65536            131072           10 × (64 + 4 × 128) =  5760
//
// The disk quota of a variant is ten full `.imx` files (header + sectorsPerFileMax sectors), so its
// 80% threshold falls in the ninth file as on `tiny`; everything else (16 sectors, 4 streams, 8
// records per bulk read, the tier settings) is tiny's. A variant is checked by the board schema
// like any board file, and can be written to a file for `--board <path>`.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Board, boardParse, boardsDir, loadBoard } from "../../host/boards.js";
import { IMX_HEADER_BYTES } from "../../host/core/abi.generated.js";

/** The sector sizes of the variants; with tiny's own 32 they make the geometries. */
export const VARIANT_SECTOR_BYTES = [16, 64, 128] as const;
const VARIANT_MEMORY_RAM_BYTES = 65536;
const VARIANT_DEVICE_RAM_BYTES = 131072;
const VARIANT_QUOTA_FULL_FILES = 10;

interface RawBoard {
  name: string;
  title: string;
  notes?: string;
  device: { ramBytes: number; source: string };
  memory: { ramBytes: number; sectorBytes: number; source: string };
  disk: { quotaBytes: number; sectorsPerFileMax: number; source: string };
  [key: string]: unknown;
}

/** The name of tiny's variant with `sectorBytes`-byte sectors. */
export function variantName(sectorBytes: number): string {
  return `tiny-s${sectorBytes}`;
}

/** The board-file JSON of tiny's variant with `sectorBytes`-byte sectors. */
export function variantJson(sectorBytes: number): RawBoard {
  const raw = JSON.parse(readFileSync(join(boardsDir(), "tiny.json"), "utf8")) as RawBoard;
  const fileBytes = IMX_HEADER_BYTES + raw.disk.sectorsPerFileMax * sectorBytes;
  const { notes: _notes, ...rest } = raw;
  return {
    ...rest,
    name: variantName(sectorBytes),
    title: `The tiny board with ${sectorBytes}-byte sectors (a test geometry)`,
    device: { ...raw.device, ramBytes: VARIANT_DEVICE_RAM_BYTES, source: "test geometry: tiny with room to spare" },
    memory: {
      ...raw.memory,
      ramBytes: VARIANT_MEMORY_RAM_BYTES,
      sectorBytes,
      source: `test geometry: tiny's 16 sectors, 4 streams and 8-record bulk reads, with ${sectorBytes}-byte sectors`,
    },
    disk: {
      ...raw.disk,
      quotaBytes: VARIANT_QUOTA_FULL_FILES * fileBytes,
      source: `test geometry: ${VARIANT_QUOTA_FULL_FILES} full files of ${IMX_HEADER_BYTES} + ${raw.disk.sectorsPerFileMax} × ${sectorBytes} = ${fileBytes} B`,
    },
  };
}

/** Tiny's variant with `sectorBytes`-byte sectors, checked like a board file. */
export function variantBoard(sectorBytes: number): Board {
  return boardParse(variantJson(sectorBytes), variantName(sectorBytes));
}

/** The variants: tiny with 16-, 64- and 128-byte sectors. */
export const VARIANTS: readonly Board[] = VARIANT_SECTOR_BYTES.map(variantBoard);

/** Every geometry, smallest sector first: the variants and tiny itself. */
export const GEOMETRIES: readonly Board[] = [loadBoard("tiny"), ...VARIANTS].sort(
  (a, b) => a.memory.sectorBytes - b.memory.sectorBytes,
);

/** Writes the variant's board file into `dir` (named for the board, as loadBoard requires); returns its path. */
export function variantFileWrite(dir: string, sectorBytes: number): string {
  const file = join(dir, `${variantName(sectorBytes)}.json`);
  writeFileSync(file, `${JSON.stringify(variantJson(sectorBytes), null, 2)}\n`);
  return file;
}
