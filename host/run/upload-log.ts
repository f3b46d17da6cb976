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

import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../base/user-error.js";

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
  records: number;
  streams: Map<string, UploadLogStream>;
}

export const UPLOAD_LOG_TAIL_RECORDS = 2048;
const READ_CHUNK_BYTES = 1 << 20;

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

/** Reads and checks an upload log (a missing file is an empty log). Changes nothing. */
export function uploadLogRead(path: string, tailRecords = UPLOAD_LOG_TAIL_RECORDS): UploadLogContents {
  const contents: UploadLogContents = {
    path,
    exists: existsSync(path),
    validBytes: 0,
    tornBytes: 0,
    records: 0,
    streams: new Map(),
  };
  if (!contents.exists) return contents;
  if (!statSync(path).isFile()) throw new UploadLogError(`upload log ${path} is not a file`);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new UploadLogError(`cannot read the upload log ${path}: ${(error as Error).message}`);
  }
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

/** Appends to an upload log; every append is on disk (fdatasync) when it returns. */
export class UploadLogWriter {
  private fd: number;
  private sizeBytes: number;
  appends = 0;
  recordsAppended = 0;

  private constructor(
    readonly path: string,
    fd: number,
    sizeBytes: number,
  ) {
    this.fd = fd;
    this.sizeBytes = sizeBytes;
  }

  /** Opens the log read by uploadLogRead, dropping a line cut short at its end. */
  static open(contents: UploadLogContents): UploadLogWriter {
    const fd = openSync(contents.path, "a");
    try {
      if (contents.tornBytes > 0) {
        ftruncateSync(fd, contents.validBytes);
        fsyncSync(fd);
      }
      if (!contents.exists) {
        fsyncSync(fd);
        directorySync(dirname(contents.path));
      }
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new UploadLogWriter(contents.path, fd, contents.validBytes);
  }

  /** Appends `text` (whole lines) and syncs it. On failure the log is cut back to where it was. */
  append(text: string, records: number): void {
    if (text === "") return;
    try {
      const bytes = Buffer.from(text, "utf8");
      let written = 0;
      // writeSync writes at least one byte or throws, so the loop ends.
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      fdatasyncSync(this.fd);
      this.sizeBytes += bytes.length;
      this.appends++;
      this.recordsAppended += records;
    } catch (error) {
      try {
        ftruncateSync(this.fd, this.sizeBytes);
      } catch {
        // The next open drops a torn line anyway.
      }
      throw error;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

function directorySync(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the file's own fsync is what matters most.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
