// Board files: one JSON file per device in boards/, checked by a zod schema and turned into a Board.
//
// A board names the device's real RAM (informational), the RAM budget of the memory manager (the
// size of the device's WebAssembly memory, inside which the core lays out everything at boot), the
// sector geometry, the disk tier (or null) and the tier state machine settings, which have
// defaults. Every broken rule is reported as `<file>: <field path>: <rule> (got <value>)`.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  BULK_RECORD_BYTES,
  CONFIG_BOARD_NAME_BYTES,
  CONFIG_IMAGE_BYTES,
  PATH_BYTES_MAX,
  QUERY_COUNT,
  SECTOR_NULL,
  STAT_COUNT,
} from "./core/abi.generated.js";
import * as abi from "./core/abi.generated.js";
import { UserError } from "./base/user-error.js";
import { IMX_HEADER_BYTES, imxFileBytes } from "./format/imx.js";
import { positionsFileBytes } from "./format/positions.js";

/** The board the command line uses without `--board`: the FC-1 gateway (i.MX6). */
export const DEFAULT_BOARD_NAME = "fc1-imx6";
export const PACKAGE_NAME = "imx-memsim";

/** The cleanup policies, in code order (from the one table in assembly/abi.ts). */
export const CLEANUP_POLICIES = abi.CLEANUP_POLICY_NAMES;
/**
 * When acknowledged `.imx` files are deleted: "immediate" (in the ACK), "batched" (by processMemory,
 * a few per tick) or "lazy" (queued, deleted off the main loop, at most tier.deletesInFlightMax at once).
 */
export type CleanupPolicy = abi.CleanupPolicy;

// What the disk tier does when a spill finds it full, in code order (SPEC.md section 4).
export const DISK_FULL_POLICIES = abi.DISK_FULL_POLICY_NAMES;
export type DiskFullPolicy = abi.DiskFullPolicy;
/** How RAM meets the disk tier (SPEC.md 4.2): spill the oldest sectors, or allocate new ones on disk (MM2). */
export const TIER_MODES = ["spill", "direct"] as const;
export type TierMode = (typeof TIER_MODES)[number];

// ---- Limits --------------------------------------------------------------------------------------
// Each limit is the width of the field that carries the value in the flashed config image, or a
// limit the core enforces at boot (assembly/config.ts), so a board that passes here also boots.
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const WASM_PAGE_BYTES = 65536;
// ramBytes is a u32 in the image; 65535 pages is the largest whole-page memory that fits.
export const RAM_BYTES_MAX = U16_MAX * WASM_PAGE_BYTES;
export const SECTOR_BYTES_MIN = abi.SECTOR_BYTES_MIN;
export const SECTOR_BYTES_MAX = abi.SECTOR_BYTES_MAX;
export const SECTOR_BYTES_ALIGN = 4;
// Stream ids are 16-bit; STREAM_NULL and STREAM_NULL - 1 are reserved owner marks in the SAT.
export const STREAM_COUNT_MAX = abi.STREAMS_MAX_LIMIT;
export const FILE_COUNT_MAX = abi.FILES_MAX_LIMIT;
export const SECTORS_PER_FILE_COUNT_MAX = abi.SECTORS_PER_FILE_MAX_LIMIT;
export const BULK_RECORD_COUNT_MAX = abi.BULK_RECORDS_MAX_LIMIT;

// ---- RAM layout estimate -------------------------------------------------------------------------
// The core lays out (assembly/config.ts), from the end of its static data: core state block, CRC
// table, config image, stats, query slots, SAT, stream table, file table, sector pool, bulk-read
// buffer, two I/O buffers (disk tier only; each holds one full .imx file or the positions file,
// whichever is larger) and a path buffer, each 8-byte aligned (SPEC.md, "RAM layout"). Given the
// module's real static data size the estimate is exact: test/boards/ram-layout.test.ts compares
// it with the end of the layout a booted core reports, on every board and on odd geometries.
export const SAT_ENTRY_BYTES = abi.SAT_ENTRY_BYTES;
export const STREAM_ENTRY_BYTES = abi.STREAM_ENTRY_BYTES;
export const FILE_ENTRY_BYTES = abi.FILE_ENTRY_BYTES;
// An allowance for the module's own static data, which sits below the layout; the test checks it
// covers the real size, so a board this file accepts always boots.
export const CORE_STATIC_BYTES_ESTIMATE = 8192;
const REGION_ALIGN_BYTES = 8;

export interface RamRegion {
  name: string;
  bytes: number;
}

export interface RamLayoutEstimate {
  regions: RamRegion[];
  totalBytes: number;
}

/**
 * The regions the core lays out for `config` and the end of the last one. `staticBytes` is the
 * size of the module's static data (an allowance by default; a booted core's real size makes the
 * total exactly its layoutEndOffset).
 */
export function ramLayoutEstimate(
  config: Pick<BoardConfig, "memory" | "disk">,
  staticBytes = CORE_STATIC_BYTES_ESTIMATE,
): RamLayoutEstimate {
  const { memory, disk } = config;
  const ioBufferBytes =
    disk === null
      ? 0
      : Math.max(imxFileBytes(disk.sectorsPerFileMax, memory.sectorBytes), positionsFileBytes(memory.streamsMax));
  const regions: RamRegion[] = [
    {
      name: staticBytes === CORE_STATIC_BYTES_ESTIMATE ? "static data (estimate)" : "static data",
      bytes: staticBytes,
    },
    { name: "core state block", bytes: abi.CORE_STATE_BYTES },
    { name: "CRC table", bytes: abi.CRC_TABLE_BYTES },
    { name: "config image", bytes: CONFIG_IMAGE_BYTES },
    { name: "stats", bytes: STAT_COUNT * 8 },
    { name: "query slots", bytes: QUERY_COUNT * 8 },
    { name: "SAT", bytes: memory.sectorCount * SAT_ENTRY_BYTES },
    { name: "stream table", bytes: memory.streamsMax * STREAM_ENTRY_BYTES },
    { name: "file table", bytes: disk === null ? 0 : disk.filesMax * FILE_ENTRY_BYTES },
    { name: "sector pool", bytes: memory.sectorCount * memory.sectorBytes },
    { name: "bulk-read buffer", bytes: memory.bulkRecordsMax * BULK_RECORD_BYTES },
    { name: "write buffer", bytes: ioBufferBytes },
    { name: "read buffer", bytes: ioBufferBytes },
    { name: "path buffer", bytes: PATH_BYTES_MAX },
  ];
  let totalBytes = 0;
  for (const region of regions) {
    totalBytes += Math.ceil(region.bytes / REGION_ALIGN_BYTES) * REGION_ALIGN_BYTES;
  }
  return { regions, totalBytes };
}

// ---- Schema --------------------------------------------------------------------------------------
const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

type RawIssue = { code?: string; input?: unknown };

function typeRule(what: string) {
  return (issue: RawIssue) =>
    issue.code !== "invalid_type" ? undefined : issue.input === undefined ? "is required" : `must be ${what}`;
}

function integer(min: number, max: number) {
  return z
    .number({ error: typeRule("a number") })
    .int(`must be an integer`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);
}

function percent() {
  return integer(1, 100);
}

const nameSchema = z
  .string({ error: typeRule("a string") })
  .max(
    CONFIG_BOARD_NAME_BYTES,
    `must be at most ${CONFIG_BOARD_NAME_BYTES} characters (the config image's board name field)`,
  )
  .regex(NAME_PATTERN, "must be lowercase letters and digits in words joined by single hyphens");

const textSchema = z.string({ error: typeRule("a string") }).regex(/\S/, "must not be empty");
const sourceSchema = z
  .string({ error: typeRule("a string saying where the numbers come from") })
  .regex(/\S/, "must say where the numbers come from");

const memoryShape = {
  ramBytes: integer(1, RAM_BYTES_MAX),
  sectorBytes: integer(SECTOR_BYTES_MIN, SECTOR_BYTES_MAX).multipleOf(
    SECTOR_BYTES_ALIGN,
    `must be a multiple of ${SECTOR_BYTES_ALIGN}`,
  ),
  sectorCount: integer(1, SECTOR_NULL - 1),
  streamsMax: integer(1, STREAM_COUNT_MAX),
  bulkRecordsMax: integer(1, BULK_RECORD_COUNT_MAX),
};

// Files' worth of bytes (the largest file the core writes) the disk tier leaves free on the
// filesystem, so the temp file of an atomic write always fits beside what it replaces.
export const DISK_DEFAULTS = { freeMarginFiles: abi.DISK_FREE_MARGIN_FILES_DEFAULT } as const;

const diskShape = {
  quotaBytes: integer(1, Number.MAX_SAFE_INTEGER),
  thresholdPercent: percent(),
  filesMax: integer(1, FILE_COUNT_MAX),
  sectorsPerFileMax: integer(1, SECTORS_PER_FILE_COUNT_MAX),
  freeMarginFiles: integer(0, U32_MAX).default(DISK_DEFAULTS.freeMarginFiles),
};

export const TIER_DEFAULTS = {
  spillThresholdPercent: 80,
  spillTargetPercent: 60,
  tickIntervalMs: 100,
  spillSectorsPerTickMax: 256,
  filesWrittenPerTickMax: 2,
  filesDeletedPerTickMax: 16,
  cleanupPolicy: "batched",
  deleteRetryBaseMs: 100,
  diskFullPolicy: "evict-oldest",
  deletesInFlightMax: abi.DELETES_IN_FLIGHT_MAX_DEFAULT,
  bytesWrittenPerTickMax: abi.BYTES_WRITTEN_PER_TICK_DERIVED,
  mode: "spill",
} as const satisfies Record<string, number | CleanupPolicy | DiskFullPolicy | TierMode>;

const tierShape = {
  spillThresholdPercent: percent().default(TIER_DEFAULTS.spillThresholdPercent),
  spillTargetPercent: percent().default(TIER_DEFAULTS.spillTargetPercent),
  tickIntervalMs: integer(0, U32_MAX).default(TIER_DEFAULTS.tickIntervalMs),
  spillSectorsPerTickMax: integer(1, U32_MAX).default(TIER_DEFAULTS.spillSectorsPerTickMax),
  filesWrittenPerTickMax: integer(1, U32_MAX).default(TIER_DEFAULTS.filesWrittenPerTickMax),
  filesDeletedPerTickMax: integer(1, U32_MAX).default(TIER_DEFAULTS.filesDeletedPerTickMax),
  cleanupPolicy: z
    .enum(CLEANUP_POLICIES, { error: () => `must be one of ${CLEANUP_POLICIES.join(", ")}` })
    .default(TIER_DEFAULTS.cleanupPolicy),
  deleteRetryBaseMs: integer(0, U32_MAX).default(TIER_DEFAULTS.deleteRetryBaseMs),
  diskFullPolicy: z
    .enum(DISK_FULL_POLICIES, { error: () => `must be one of ${DISK_FULL_POLICIES.join(", ")}` })
    .default(TIER_DEFAULTS.diskFullPolicy),
  deletesInFlightMax: integer(1, U32_MAX).default(TIER_DEFAULTS.deletesInFlightMax),
  // 0: the bytes of the largest file one tick can spill (tickBytesWrittenMax).
  bytesWrittenPerTickMax: integer(0, U32_MAX).default(TIER_DEFAULTS.bytesWrittenPerTickMax),
  mode: z.enum(TIER_MODES, { error: () => `must be one of ${TIER_MODES.join(", ")}` }).default(TIER_DEFAULTS.mode),
};

const objectRule = typeRule("an object");
const diskRule = (issue: RawIssue) =>
  issue.code !== "invalid_type"
    ? undefined
    : issue.input === undefined
      ? "is required (null for a board without a disk tier)"
      : "must be an object or null";

const boardSchema = z.strictObject(
  {
    name: nameSchema,
    title: textSchema,
    notes: textSchema.optional(),
    device: z.strictObject(
      { ramBytes: integer(1, Number.MAX_SAFE_INTEGER), source: sourceSchema },
      { error: objectRule },
    ),
    memory: z.strictObject({ ...memoryShape, source: sourceSchema }, { error: objectRule }),
    disk: z.strictObject({ ...diskShape, source: sourceSchema }, { error: diskRule }).nullable(),
    tier: z.strictObject({ ...tierShape, source: sourceSchema.optional() }, { error: objectRule }).prefault({}),
  },
  { error: objectRule },
);

// What the flashed config image carries: a board without its titles and sources.
const configSchema = z.strictObject({
  name: nameSchema,
  memory: z.strictObject(memoryShape),
  disk: z.strictObject(diskShape).nullable(),
  tier: z.strictObject(tierShape),
});

/**
 * A board: the device's RAM (`memory`), its disk tier (`disk`, or null for a RAM-only board) and the
 * tier state machine's settings (`tier`), as a boards/<name>.json file gives them (boards/README.md
 * describes each field). Get one with loadBoard.
 */
export type Board = z.output<typeof boardSchema>;
/** A board's RAM: its size, sector size and count, streams and bulk-read limit. */
export type BoardMemory = Board["memory"];
/** A board's disk tier: its quota, thresholds and file limits. */
export type BoardDisk = NonNullable<Board["disk"]>;
/** A board's tier state machine: thresholds, tick interval, per-tick bounds and policies. */
export type BoardTier = Board["tier"];
export type BoardConfig = z.output<typeof configSchema>;

// ---- Errors --------------------------------------------------------------------------------------
/** One broken rule of a board file. */
export interface BoardIssue {
  /** Dotted field path, e.g. "memory.sectorBytes"; empty for a problem with the whole file. */
  path: string;
  /** The rule it breaks, as a sentence. */
  rule: string;
}

/** A board that cannot be used (loadBoard, withOverrides): an unknown name, an unreadable file, or broken rules, each listed. */
export class BoardError extends UserError {
  /** The board file (or name) as shown in the message. */
  readonly file: string;
  /** Every rule it breaks. */
  readonly issues: readonly BoardIssue[];

  constructor(file: string, issues: readonly BoardIssue[]) {
    super(issues.map((issue) => `${file}: ${issue.path === "" ? "" : `${issue.path}: `}${issue.rule}`).join("\n"));
    this.name = "BoardError";
    this.file = file;
    this.issues = issues;
  }
}

const VALUE_SHOWN_CHARS_MAX = 60;

function valueShow(value: unknown): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length <= VALUE_SHOWN_CHARS_MAX ? text : `${text.slice(0, VALUE_SHOWN_CHARS_MAX - 3)}...`;
}

function pathShow(path: readonly PropertyKey[]): string {
  return path.map((key) => (typeof key === "number" ? `[${key}]` : String(key))).join(".");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function issuesFromZod(error: z.ZodError, input: unknown): BoardIssue[] {
  const issues: BoardIssue[] = [];
  const rulesByPath = new Map<string, string[]>();
  const gotByPath = new Map<string, string>();
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        issues.push({ path: pathShow([...issue.path, key]), rule: "is not a known field" });
      }
      continue;
    }
    const path = pathShow(issue.path);
    // A field that breaks several rules is one issue (one line) that lists them.
    const earlier = rulesByPath.get(path);
    if (earlier !== undefined) {
      if (!earlier.includes(issue.message)) earlier.push(issue.message);
      continue;
    }
    const rules = [issue.message];
    rulesByPath.set(path, rules);
    const value = valueAt(input, issue.path);
    gotByPath.set(path, value === undefined ? "" : ` (got ${valueShow(value)})`);
    issues.push({ path, rule: "" });
  }
  for (const issue of issues) {
    const rules = rulesByPath.get(issue.path);
    if (rules !== undefined) issue.rule = `${rules.join("; ")}${gotByPath.get(issue.path) ?? ""}`;
  }
  return issues;
}

// ---- Rules across fields ------------------------------------------------------------------------
// Rules that the flashed config image must also satisfy (decodeConfigImage checks them too).
export function configRulesCheck(config: BoardConfig): BoardIssue[] {
  const issues: BoardIssue[] = [];
  const { memory, disk, tier } = config;
  if (tier.spillTargetPercent >= tier.spillThresholdPercent) {
    issues.push({
      path: "tier.spillTargetPercent",
      rule: `must be below tier.spillThresholdPercent (${tier.spillThresholdPercent}) (got ${tier.spillTargetPercent})`,
    });
  }
  if (tier.mode === "direct" && disk === null) {
    issues.push({ path: "tier.mode", rule: 'must be "spill" on a board without a disk tier (got "direct")' });
  }
  if (disk !== null) {
    const fileBytes = imxFileBytes(disk.sectorsPerFileMax, memory.sectorBytes);
    if (disk.quotaBytes < fileBytes) {
      issues.push({
        path: "disk.quotaBytes",
        rule:
          `must hold one full .imx file: ${IMX_HEADER_BYTES}-byte header + sectorsPerFileMax × sectorBytes = ` +
          `${fileBytes} bytes (got ${disk.quotaBytes})`,
      });
    }
    const smallestFileBytes = imxFileBytes(1, memory.sectorBytes);
    if (
      tier.bytesWrittenPerTickMax !== abi.BYTES_WRITTEN_PER_TICK_DERIVED &&
      tier.bytesWrittenPerTickMax < smallestFileBytes
    ) {
      issues.push({
        path: "tier.bytesWrittenPerTickMax",
        rule:
          `must be 0 (derived) or hold the smallest spill file: ${IMX_HEADER_BYTES}-byte header + sectorBytes = ` +
          `${smallestFileBytes} bytes (got ${tier.bytesWrittenPerTickMax})`,
      });
    }
    // Disk sector ids run from sectorCount up and must stay below the null id.
    const idEnd = memory.sectorCount + disk.filesMax * disk.sectorsPerFileMax;
    if (idEnd >= SECTOR_NULL) {
      issues.push({
        path: "disk.filesMax",
        rule:
          `memory.sectorCount + filesMax × sectorsPerFileMax must stay below the null sector id ` +
          `${SECTOR_NULL} (got ${idEnd})`,
      });
    }
  }
  return issues;
}

/**
 * The bytes one tick may write to files on `config`'s board: `tier.bytesWrittenPerTickMax`, or for
 * 0 the default the core derives at boot, the bytes of the largest file one tick can spill
 * (header + min(spillSectorsPerTickMax, sectorsPerFileMax) × sectorBytes). 0 without a disk tier.
 */
export function tickBytesWrittenMax(config: Pick<BoardConfig, "memory" | "disk" | "tier">): number {
  const { memory, disk, tier } = config;
  if (disk === null) return 0;
  if (tier.bytesWrittenPerTickMax !== abi.BYTES_WRITTEN_PER_TICK_DERIVED) return tier.bytesWrittenPerTickMax;
  return Math.min(
    imxFileBytes(Math.min(tier.spillSectorsPerTickMax, disk.sectorsPerFileMax), memory.sectorBytes),
    U32_MAX,
  );
}

// Checks a value against the config image's schema and rules; returns every issue found.
export function configIssuesFind(config: unknown): BoardIssue[] {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) return issuesFromZod(parsed.error, config);
  return configRulesCheck(parsed.data);
}

function boardRulesCheck(board: Board): BoardIssue[] {
  const issues = configRulesCheck(board);
  if (board.memory.ramBytes > board.device.ramBytes) {
    issues.push({
      path: "memory.ramBytes",
      rule: `must not exceed device.ramBytes (${board.device.ramBytes}) (got ${board.memory.ramBytes})`,
    });
  }
  const layout = ramLayoutEstimate(board);
  if (layout.totalBytes > board.memory.ramBytes) {
    const parts = layout.regions
      .filter((region) => region.bytes > 0)
      .map((region) => `${region.name} ${region.bytes}`)
      .join(", ");
    issues.push({
      path: "memory.ramBytes",
      rule: `must hold the RAM layout of about ${layout.totalBytes} bytes (${parts}) (got ${board.memory.ramBytes})`,
    });
  }
  return issues;
}

// Validates a parsed board object. `origin` names it in messages (a file path, or any label).
export function boardParse(raw: unknown, origin = "<board>"): Board {
  const parsed = boardSchema.safeParse(raw);
  if (!parsed.success) throw new BoardError(origin, issuesFromZod(parsed.error, raw));
  const issues = boardRulesCheck(parsed.data);
  if (issues.length > 0) throw new BoardError(origin, issues);
  return parsed.data;
}

// ---- JSON with error positions -------------------------------------------------------------------
// JSON.parse does not always say where a syntax error is, so a small scanner finds the offset.
const JSON_DEPTH_MAX = 64;

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    problem: string,
  ) {
    super(problem);
  }
}

function jsonSyntaxErrorFind(text: string): JsonSyntaxError | null {
  let at = 0;
  const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const fail = (problem?: string): never => {
    const found = at >= text.length ? "unexpected end of input" : `unexpected ${JSON.stringify(text[at])}`;
    throw new JsonSyntaxError(at, problem ?? found);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at] ?? "")) at++;
  };
  const expect = (char: string) => {
    if (text[at] !== char)
      fail(`expected ${JSON.stringify(char)}, found ${at >= text.length ? "end of input" : JSON.stringify(text[at])}`);
    at++;
  };
  const string = () => {
    expect('"');
    // Each pass consumes at least one character, so the loop ends by the end of the text.
    while (text[at] !== '"') {
      if (at >= text.length) fail("unterminated string");
      if (text.charCodeAt(at) < 0x20) fail("control character in string");
      if (text[at] === "\\") {
        at++;
        if (text[at] === "u") {
          at++;
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at, at + 4))) fail("bad \\u escape");
          at += 4;
        } else if ('"\\/bfnrt'.includes(text[at] ?? "x")) {
          at++;
        } else {
          fail("bad escape");
        }
      } else {
        at++;
      }
    }
    at++;
  };
  const value = (depth: number): void => {
    if (depth > JSON_DEPTH_MAX) fail(`nested deeper than ${JSON_DEPTH_MAX}`);
    space();
    const char = text[at];
    if (char === "{" || char === "[") {
      const close = char === "{" ? "}" : "]";
      at++;
      space();
      if (text[at] === close) {
        at++;
        return;
      }
      // Each member consumes input or fails, so the loop ends by the end of the text.
      for (;;) {
        if (char === "{") {
          space();
          string();
          space();
          expect(":");
        }
        value(depth + 1);
        space();
        if (text[at] === ",") {
          at++;
          continue;
        }
        expect(close);
        return;
      }
    }
    if (char === '"') {
      string();
      return;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return;
      }
    }
    numberPattern.lastIndex = at;
    const number = numberPattern.exec(text);
    if (number === null) return fail();
    at += number[0].length;
  };
  try {
    value(0);
    space();
    if (at < text.length) fail();
    return null;
  } catch (error) {
    if (error instanceof JsonSyntaxError) return error;
    throw error;
  }
}

function jsonParse(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const found = jsonSyntaxErrorFind(text);
    if (found === null) throw new BoardError(file, [{ path: "", rule: `invalid JSON: ${(error as Error).message}` }]);
    const before = text.slice(0, found.offset);
    const line = before.split("\n").length;
    const column = found.offset - before.lastIndexOf("\n");
    throw new BoardError(file, [
      { path: "", rule: `invalid JSON at line ${line}, column ${column} (position ${found.offset}): ${found.message}` },
    ]);
  }
}

// ---- Files ---------------------------------------------------------------------------------------
const PACKAGE_ROOT_LEVELS_MAX = 8;
let packageRootCached: string | undefined;

// The package root, found by walking up from this module, so it works from host/ and dist/host/.
export function packageRootDir(): string {
  if (packageRootCached !== undefined) return packageRootCached;
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (let level = 0; level < PACKAGE_ROOT_LEVELS_MAX; level++) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown };
      if (parsed.name === PACKAGE_NAME) {
        packageRootCached = dir;
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${start}`);
}

export function boardsDir(): string {
  return join(packageRootDir(), "boards");
}

function isInside(dir: string, file: string): boolean {
  const shown = relative(dir, file);
  return shown !== "" && !shown.startsWith("..") && !isAbsolute(shown);
}

// Shipped boards show as boards/<name>.json; other files relative to the working directory if
// they are below it, else as absolute paths.
function fileShow(file: string): string {
  if (isInside(packageRootDir(), file)) return relative(packageRootDir(), file);
  return isInside(process.cwd(), file) ? relative(process.cwd(), file) : file;
}

// Names of the boards shipped in boards/, sorted.
export function boardNamesList(): string[] {
  return readdirSync(boardsDir())
    .filter((entry) => entry.endsWith(".json"))
    .map((entry) => entry.slice(0, -".json".length))
    .sort();
}

function looksLikePath(nameOrPath: string): boolean {
  return nameOrPath.includes("/") || nameOrPath.includes("\\") || nameOrPath.endsWith(".json");
}

/**
 * A board by name or path: a bare name resolves to boards/<name>.json in the package; anything
 * path-like is read as a file. Throws BoardError (a UserError) for an unknown name, a file that
 * cannot be read, or a board that breaks a rule of the schema (each broken rule listed).
 *
 * @example
 * const board = loadBoard("esp32"); // or loadBoard("./my-board.json")
 * console.log(board.memory.sectorCount, board.disk?.quotaBytes);
 */
export function loadBoard(nameOrPath: string): Board {
  let file: string;
  if (looksLikePath(nameOrPath)) {
    file = resolve(nameOrPath);
  } else {
    file = join(boardsDir(), `${nameOrPath}.json`);
    if (!NAME_PATTERN.test(nameOrPath) || !existsSync(file)) {
      throw new BoardError(fileShow(file), [
        { path: "", rule: `unknown board "${nameOrPath}" (known boards: ${boardNamesList().join(", ")})` },
      ]);
    }
  }
  const shown = fileShow(file);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new BoardError(shown, [{ path: "", rule: `cannot read the board file: ${(error as Error).message}` }]);
  }
  const board = boardParse(jsonParse(text, shown), shown);
  const nameFromFile = basename(file).replace(/\.json$/, "");
  if (board.name !== nameFromFile) {
    throw new BoardError(shown, [
      { path: "name", rule: `must match the file name "${nameFromFile}" (got ${valueShow(board.name)})` },
    ]);
  }
  return board;
}

/** Every board in the package's boards/, sorted by name. Throws BoardError on the first board that does not validate. */
export function listBoards(): Board[] {
  return boardNamesList().map((name) => loadBoard(join(boardsDir(), `${name}.json`)));
}

/** The policies as a sentence for messages and help texts: "immediate, batched or lazy". */
export function cleanupPolicyChoices(): string {
  const names: readonly string[] = CLEANUP_POLICIES;
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/** Whether `text` names a cleanup policy. */
export function isCleanupPolicy(text: string): text is CleanupPolicy {
  return (CLEANUP_POLICIES as readonly string[]).includes(text);
}

/** The disk-full policies as a sentence: "evict-oldest or refuse-new". */
export function diskFullPolicyChoices(): string {
  const names: readonly string[] = DISK_FULL_POLICIES;
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

export function isDiskFullPolicy(text: string): text is DiskFullPolicy {
  return (DISK_FULL_POLICIES as readonly string[]).includes(text);
}

/** Settings withOverrides replaces; an undefined one keeps the board's. */
export interface BoardOverrides {
  /** tier.cleanupPolicy. */
  cleanupPolicy?: CleanupPolicy | undefined;
  /** tier.diskFullPolicy: "evict-oldest" or "refuse-new". */
  diskFullPolicy?: DiskFullPolicy | undefined;
  /** tier.mode: "spill" (RAM first, then disk) or "direct" (MM2's direct tiered allocation). */
  tierMode?: TierMode | undefined;
}

/**
 * A copy of `board` with the given settings replaced (the command line's --policy, --disk-full).
 * Throws BoardError for a value that is not one of the setting's.
 *
 * @example
 * const board = withOverrides(loadBoard("esp32"), { cleanupPolicy: "lazy" });
 */
export function withOverrides(board: Board, overrides: BoardOverrides): Board {
  const tier = { ...board.tier };
  if (overrides.cleanupPolicy !== undefined) {
    if (!isCleanupPolicy(overrides.cleanupPolicy)) {
      throw new BoardError(board.name, [
        {
          path: "tier.cleanupPolicy",
          rule: `must be one of ${CLEANUP_POLICIES.join(", ")} (got ${valueShow(overrides.cleanupPolicy)})`,
        },
      ]);
    }
    tier.cleanupPolicy = overrides.cleanupPolicy;
  }
  if (overrides.diskFullPolicy !== undefined) {
    if (!isDiskFullPolicy(overrides.diskFullPolicy)) {
      throw new BoardError(board.name, [
        {
          path: "tier.diskFullPolicy",
          rule: `must be one of ${DISK_FULL_POLICIES.join(", ")} (got ${valueShow(overrides.diskFullPolicy)})`,
        },
      ]);
    }
    tier.diskFullPolicy = overrides.diskFullPolicy;
  }
  if (overrides.tierMode !== undefined) {
    if (
      !(TIER_MODES as readonly string[]).includes(overrides.tierMode) ||
      (overrides.tierMode === "direct" && board.disk === null)
    ) {
      throw new BoardError(board.name, [
        {
          path: "tier.mode",
          rule: `must be one of ${TIER_MODES.join(", ")}${board.disk === null ? " (spill without a disk tier)" : ""} (got ${valueShow(overrides.tierMode)})`,
        },
      ]);
    }
    tier.mode = overrides.tierMode;
  }
  return { ...board, tier };
}
