// The upload log: the stand-in for the cloud. One NDJSON line per record the cloud accepted,
//
//   {"source":0,"sensor":1004,"seq":812,"utcMs":1736467200000,"value":12.600000381469727}
//
// appended and fsynced before the device is told to ACK, so the log never lacks a record the device
// erased. Each stream's `seq` in the log only grows, and no record is in it twice. Reading it back
// tells a restarted run what the cloud already has: per stream the last `seq`, and the last few
// records (to check that a record delivered again is the same record).
//
// A line cut short by a kill in the middle of an append (no newline at the end of the file) is
// not a record: the cloud never acknowledged it. The writer truncates it before appending. Any
// other line that is not a record, or a stream whose seq does not grow, means the file is not an
// upload log this command wrote; it is refused (exit 2) and left as it is.
//
// Start-up reads the log from its end (uploadLogTailRead), in chunks, until every stream the
// storage knows has been found (and a few MiB more for the tails), so a run starts in a time that
// grows with its streams, not with the log; only the part read is checked. uploadLogRead reads
// and checks the whole file.
//
// The log's owner: beside the log, `<log>.identity.json` names the storage that writes it
//
//   {"format":"imx-memsim-upload-log","version":1,"storageId":"…","storage":"/abs/storage"}
//
// written (atomically) before the first record this version appends. Another storage refuses the
// log (device-preflight.ts); the log itself stays pure NDJSON. A log without the side file
// (written by 0.1.0) is adopted by the storage whose records it holds, as device-preflight.ts
// tells them apart.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { UserError } from "../base/user-error.js";
import { AppendFile, type AppendFileOps, NODE_APPEND_FILE_OPS } from "./append-file.js";
import { writeFileAtomic } from "../hal/atomic.js";
import { NodeFsHal } from "../hal/node-fs.js";

export class UploadLogError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "UploadLogError";
  }
}

export interface UploadLogRecord {
  source: number;
  sensor: number;
  seq: number;
  utcMs: number;
  value: number;
}

export interface UploadLogStream {
  lastSeq: number;
  records: number;
  /** The last records of the stream (up to the tail size), by seq. */
  tail: Map<number, { utcMs: number; value: number }>;
}

export interface UploadLogContents {
  path: string;
  exists: boolean;
  /** Bytes up to and including the last newline. */
  validBytes: number;
  /** Bytes after it: a line cut short by a kill. */
  tornBytes: number;
  /** Records read: all of them by uploadLogRead, the ones near the end by uploadLogTailRead. */
  records: number;
  /** Whether the whole file was read. */
  complete: boolean;
  streams: Map<string, UploadLogStream>;
  /** The side file naming the storage that writes the log, or null if there is none. */
  owner: UploadLogOwner | null;
}

export const UPLOAD_LOG_OWNER_FORMAT = "imx-memsim-upload-log";
export const UPLOAD_LOG_OWNER_VERSION = 1;
export const UPLOAD_LOG_OWNER_SUFFIX = ".identity.json";

export interface UploadLogOwner {
  storageId: string;
  storage: string;
}

export function uploadLogOwnerPath(logPath: string): string {
  return logPath + UPLOAD_LOG_OWNER_SUFFIX;
}

/** Reads the side file of the log at `logPath`; null if there is none. Changes nothing. */
export function uploadLogOwnerRead(logPath: string): UploadLogOwner | null {
  const path = uploadLogOwnerPath(logPath);
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UploadLogError(`${path}: not an upload log identity (${(error as Error).message})`);
  }
  const r = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  if (r["format"] !== UPLOAD_LOG_OWNER_FORMAT || typeof r["storageId"] !== "string" || r["storageId"] === "")
    throw new UploadLogError(
      `${path}: not an upload log identity (format ${UPLOAD_LOG_OWNER_FORMAT} with a storageId)`,
    );
  if (typeof r["version"] !== "number" || r["version"] > UPLOAD_LOG_OWNER_VERSION)
    throw new UploadLogError(
      `${path}: upload log identity version ${String(r["version"])}; this imx-memsim reads ${UPLOAD_LOG_OWNER_VERSION}`,
    );
  return { storageId: r["storageId"], storage: typeof r["storage"] === "string" ? r["storage"] : "?" };
}

/** Writes the side file (atomically: temp, fsync, rename, fsync of the directory). */
export function uploadLogOwnerWrite(logPath: string, owner: UploadLogOwner): void {
  const body = {
    format: UPLOAD_LOG_OWNER_FORMAT,
    version: UPLOAD_LOG_OWNER_VERSION,
    storageId: owner.storageId,
    storage: owner.storage,
    createdUtc: new Date().toISOString(),
  };
  const hal = new NodeFsHal(dirname(logPath));
  writeFileAtomic(
    hal,
    basename(uploadLogOwnerPath(logPath)),
    Buffer.from(`${JSON.stringify(body, null, 2)}\n`, "utf8"),
  );
}

export const UPLOAD_LOG_TAIL_RECORDS = 2048;
const READ_CHUNK_BYTES = 1 << 20;
/** After every known stream is found, the tail read goes on this far back for the tails. */
export const UPLOAD_LOG_TAIL_SCAN_BYTES = 4 << 20;

export function streamKey(source: number, sensor: number): string {
  return `${source}/${sensor}`;
}

/** One record as its log line (with the newline). */
export function uploadLogLine(record: UploadLogRecord): string {
  if (!Number.isFinite(record.value))
    throw new Error(
      `upload log: value ${record.value} of ${streamKey(record.source, record.sensor)} seq ${record.seq} is not finite`,
    );
  return `{"source":${record.source},"sensor":${record.sensor},"seq":${record.seq},"utcMs":${record.utcMs},"value":${record.value}}\n`;
}

function lineParse(line: string, where: string): UploadLogRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new UploadLogError(`${where}: not JSON: ${line.slice(0, 80)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new UploadLogError(`${where}: not a record object`);
  const r = raw as Record<string, unknown>;
  for (const key of ["source", "sensor", "seq", "utcMs"] as const) {
    const v = r[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      throw new UploadLogError(`${where}: ${key} must be a whole number ≥ 0 (got ${JSON.stringify(v)})`);
  }
  if (typeof r["value"] !== "number")
    throw new UploadLogError(`${where}: value must be a number (got ${JSON.stringify(r["value"])})`);
  return {
    source: r["source"] as number,
    sensor: r["sensor"] as number,
    seq: r["seq"] as number,
    utcMs: r["utcMs"] as number,
    value: r["value"],
  };
}

// Opens an existing upload log for reading, after checking it is a file, and reads its owner
// (the side file) into `contents`.
function logOpen(path: string, contents: UploadLogContents): number {
  if (!statSync(path).isFile()) throw new UploadLogError(`upload log ${path} is not a file`);
  contents.owner = uploadLogOwnerRead(path);
  try {
    return openSync(path, "r");
  } catch (error) {
    throw new UploadLogError(`cannot read the upload log ${path}: ${(error as Error).message}`);
  }
}

/** Reads and checks an upload log (a missing file is an empty log). Changes nothing. */
export function uploadLogRead(path: string, tailRecords = UPLOAD_LOG_TAIL_RECORDS): UploadLogContents {
  const contents: UploadLogContents = {
    path,
    exists: existsSync(path),
    validBytes: 0,
    tornBytes: 0,
    records: 0,
    complete: true,
    streams: new Map(),
    owner: null,
  };
  if (!contents.exists) return contents;
  const fd = logOpen(path, contents);
  try {
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    let carry = "";
    let offset = 0;
    let lineNumber = 0;
    // Each pass reads at least one byte or ends the loop, so it ends at the end of the file.
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (n === 0) break;
      offset += n;
      const text = carry + buffer.toString("utf8", 0, n);
      const lines = text.split("\n");
      carry = lines.pop() ?? "";
      for (const line of lines) {
        lineNumber++;
        contents.validBytes += Buffer.byteLength(line) + 1;
        if (line === "") continue;
        const record = lineParse(line, `upload log ${path} line ${lineNumber}`);
        const key = streamKey(record.source, record.sensor);
        let stream = contents.streams.get(key);
        if (stream === undefined) {
          stream = { lastSeq: -1, records: 0, tail: new Map() };
          contents.streams.set(key, stream);
        }
        if (record.seq <= stream.lastSeq) {
          throw new UploadLogError(
            `upload log ${path} line ${lineNumber}: stream ${key} seq ${record.seq} does not follow ${stream.lastSeq} ` +
              `(a stream's seqs only grow in an upload log this command wrote)`,
          );
        }
        stream.lastSeq = record.seq;
        stream.records++;
        stream.tail.set(record.seq, { utcMs: record.utcMs, value: record.value });
        if (stream.tail.size > tailRecords) {
          const oldest = stream.tail.keys().next();
          if (!oldest.done) stream.tail.delete(oldest.value);
        }
        contents.records++;
      }
    }
    contents.tornBytes = Buffer.byteLength(carry);
  } finally {
    closeSync(fd);
  }
  return contents;
}

/**
 * Reads an upload log from its end until every stream in `known` has been found (and up to
 * UPLOAD_LOG_TAIL_SCAN_BYTES more, for the tails), or the start of the file. Per stream it finds
 * the last seq and the last records, as uploadLogRead does; only the part read is checked. A stream
 * of `known` that the log does not hold makes it read the whole file. Changes nothing.
 */
export function uploadLogTailRead(
  path: string,
  known: readonly string[],
  tailRecords = UPLOAD_LOG_TAIL_RECORDS,
): UploadLogContents {
  const contents: UploadLogContents = {
    path,
    exists: existsSync(path),
    validBytes: 0,
    tornBytes: 0,
    records: 0,
    complete: false,
    streams: new Map(),
    owner: null,
  };
  if (!contents.exists) {
    contents.complete = true;
    return contents;
  }
  const fd = logOpen(path, contents);
  const missing = new Set(known);
  // Per stream going backwards: the seq of the record read last (the next one must be smaller).
  const below = new Map<string, number>();
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    // Bytes of the file after `end` that are already taken care of; `carry` is the start of a line
    // whose beginning is in an earlier chunk.
    let end = size;
    let carry = Buffer.alloc(0);
    let foundAllAt: number | null = missing.size === 0 ? size : null;
    let lastNewlineSeen = false;
    let fromEnd = 0;
    // Each pass reads at least one byte back or ends the loop, so it ends at the start of the file.
    while (end > 0) {
      const start = Math.max(0, end - READ_CHUNK_BYTES);
      const n = readSync(fd, buffer, 0, end - start, start);
      if (n !== end - start) throw new UploadLogError(`upload log ${path}: changed while it was read`);
      let chunk = Buffer.concat([buffer.subarray(0, n), carry]);
      end = start;
      if (!lastNewlineSeen) {
        const at = chunk.lastIndexOf(0x0a);
        if (at < 0) {
          carry = chunk;
          continue;
        }
        lastNewlineSeen = true;
        contents.validBytes = start + at + 1;
        contents.tornBytes = size - contents.validBytes;
        chunk = chunk.subarray(0, at + 1);
      }
      // Whole lines are those after the first newline of the chunk (or all of it at the start of the file).
      const first = start === 0 ? -1 : chunk.indexOf(0x0a);
      carry = first < 0 ? Buffer.alloc(0) : chunk.subarray(0, first + 1);
      const text = chunk.toString("utf8", first + 1);
      const lines = text.split("\n");
      lines.pop(); // "" after the last newline
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i] ?? "";
        fromEnd++;
        if (line === "") continue;
        const where = `upload log ${path}, counting from its end, line ${fromEnd}`;
        const record = lineParse(line, where);
        const key = streamKey(record.source, record.sensor);
        let stream = contents.streams.get(key);
        if (stream === undefined) {
          stream = { lastSeq: record.seq, records: 0, tail: new Map() };
          contents.streams.set(key, stream);
          missing.delete(key);
        } else if (record.seq >= (below.get(key) ?? Infinity)) {
          throw new UploadLogError(
            `${where}: stream ${key} seq ${record.seq} is followed by ${below.get(key)} ` +
              `(a stream's seqs only grow in an upload log this command wrote)`,
          );
        }
        below.set(key, record.seq);
        stream.records++;
        if (stream.tail.size < tailRecords) stream.tail.set(record.seq, { utcMs: record.utcMs, value: record.value });
        contents.records++;
      }
      if (foundAllAt === null && missing.size === 0) foundAllAt = start;
      if (foundAllAt !== null) {
        let tailsFull = true;
        for (const stream of contents.streams.values()) if (stream.tail.size < tailRecords) tailsFull = false;
        if (tailsFull || foundAllAt - start >= UPLOAD_LOG_TAIL_SCAN_BYTES) break;
      }
    }
    if (end === 0 && carry.length === 0) contents.complete = true;
    if (!lastNewlineSeen) {
      contents.validBytes = 0;
      contents.tornBytes = size;
      contents.complete = true;
    }
  } finally {
    closeSync(fd);
  }
  return contents;
}

/** Appends to an upload log; every append is on disk (fdatasync) when it returns. */
export class UploadLogWriter {
  appends = 0;
  recordsAppended = 0;

  private constructor(
    readonly path: string,
    private readonly file: AppendFile,
    private owner: UploadLogOwner | null,
  ) {}

  /**
   * Opens the log read by uploadLogRead, dropping a line cut short at its end. With `owner`, the
   * side file naming it is written before the first append if the log has none yet. `ops` are the
   * log's file operations (node:fs; a test gives a disk that can lose power).
   */
  static open(
    contents: UploadLogContents,
    owner: UploadLogOwner | null = null,
    ops: AppendFileOps = NODE_APPEND_FILE_OPS,
  ): UploadLogWriter {
    const pending = owner !== null && contents.owner === null ? owner : null;
    return new UploadLogWriter(contents.path, AppendFile.open(contents, ops), pending);
  }

  /**
   * Appends `text` (whole lines) and syncs it. On failure the log is cut back to where it was.
   * The side file goes first, when it is still to be written; if it cannot be, nothing is appended.
   */
  append(text: string, records: number): void {
    if (text === "") return;
    if (this.owner !== null) {
      uploadLogOwnerWrite(this.path, this.owner);
      this.owner = null;
    }
    this.file.append(Buffer.from(text, "utf8"));
    this.appends++;
    this.recordsAppended += records;
  }

  close(): void {
    this.file.close();
  }
}
