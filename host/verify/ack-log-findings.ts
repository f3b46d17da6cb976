// What `imx-memsim verify` says about the ACK log, history/acks.imxa (SPEC.md 6.5, 6.6). Boot
// recovery reads it leniently: a torn tail and records that fail their checks are skipped, never
// the whole file, and the next metadata write replaces the log with a checkpoint. Verify reads the
// same image with ackLogScan's rules and names each kind of damage, so a storage that boots is not
// called clean when its log lost records to bit rot:
//
//   ack-log.torn-tail       note     bytes after the last valid record: a power cut mid-append
//   ack-log.record-corrupt  problem  a record that fails its checks with a valid record after it
//   ack-log.stream-unknown  problem  a valid record of a stream recovery could not take
//   ack-log.ack-beyond-data problem  a record whose ACK position is past its stream's next number
//
// A checkpoint (the log's header) that fails its checks is recovery's to report: it quarantines
// the log, and verify names that `ack-log.header-bad`.

import * as abi from "../core/abi.generated.js";
import { ACK_RECORD_BYTES, ACK_RECORD_OFFSET, type AckRecord, ackLogScan, ackRecordRead } from "../format/positions.js";

export type AckLogFindingCode =
  "ack-log.torn-tail" | "ack-log.record-corrupt" | "ack-log.stream-unknown" | "ack-log.ack-beyond-data";

export interface AckLogFinding {
  code: AckLogFindingCode;
  severity: "problem" | "note";
  message: string;
}

/** A stream as recovery configured it: (source, sensor) and its record type (RECORD_TYPE_*, as in the format). */
export interface KnownStream {
  source: number;
  sensor: number;
  recordType: number;
}

/** Whether a record's settings are ones the core accepts (the checks after magic, version and CRC). */
function settingsValid(r: AckRecord): boolean {
  if (r.recordType === abi.RECORD_TYPE_TSD) return r.sampleRateMs > 0;
  if (r.recordType === abi.RECORD_TYPE_EVT) return r.sampleRateMs === 0;
  return false;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * The findings for the ACK log image `data`, whose streams after recovery are `streams`. Empty
 * for a healthy log, and for one whose checkpoint fails its checks (recovery quarantines it).
 */
export function ackLogFindings(data: Uint8Array, streams: readonly KnownStream[]): AckLogFinding[] {
  const scan = ackLogScan(data);
  if (scan.checkpointBytes > 0 && scan.checkpoint === null) return [];
  const tail = data.subarray(scan.checkpointBytes);
  const whole = Math.floor(tail.byteLength / ACK_RECORD_BYTES);
  const offsetOf = (i: number): number => scan.checkpointBytes + i * ACK_RECORD_BYTES;
  const known = new Map(streams.map((s) => [`${s.source}:${s.sensor}`, s.recordType]));
  const corrupt: number[] = [];
  const beyond: AckRecord[] = [];
  const unknown: AckRecord[] = [];
  let lastValid = -1;
  for (let i = 0; i < whole; i++) {
    const record = ackRecordRead(tail, i * ACK_RECORD_BYTES);
    if (record !== null && record.ackedSeq > record.nextSeq) {
      beyond.push(record);
      lastValid = i; // whole and CRC'd: written as it is, not torn
      continue;
    }
    if (record === null || !settingsValid(record)) {
      corrupt.push(i);
      continue;
    }
    lastValid = i;
    if (known.get(`${record.source}:${record.sensor}`) !== record.recordType) unknown.push(record);
  }
  const out: AckLogFinding[] = [];
  // Records that fail their checks after the last valid one are the tail a power cut tore; any
  // before a valid record were damaged after they were written.
  const middle = corrupt.filter((i) => i < lastValid);
  const tornRecords = corrupt.length - middle.length;
  if (middle.length > 0) {
    out.push({
      code: "ack-log.record-corrupt",
      severity: "problem",
      message: `${plural(middle.length, "record")} before the last valid one fail their checks (magic, version, CRC or settings; first at byte ${offsetOf(middle[0] ?? 0)}); recovery skips them, so an ACK or reservation they held may be lost, and the next write replaces the log with a checkpoint`,
    });
  }
  if (tornRecords > 0 || scan.tornBytes > 0) {
    const bytes = tornRecords * ACK_RECORD_BYTES + scan.tornBytes;
    out.push({
      code: "ack-log.torn-tail",
      severity: "note",
      message: `${plural(bytes, "byte")} after the last valid record (at byte ${offsetOf(lastValid + 1)}): an append a power cut tore; recovery ignores them, and the next write replaces the log with a checkpoint`,
    });
  }
  for (const r of unknown) {
    const type = known.get(`${r.source}:${r.sensor}`);
    out.push({
      code: "ack-log.stream-unknown",
      severity: "problem",
      message:
        type === undefined
          ? `a record for stream ${r.source}:${r.sensor}, which recovery could not configure (the board's stream table is full); recovery skips it`
          : `a record for stream ${r.source}:${r.sensor} with another record type than its files and earlier records; recovery skips it`,
    });
  }
  for (const r of beyond) {
    out.push({
      code: "ack-log.ack-beyond-data",
      severity: "problem",
      message: `a record for stream ${r.source}:${r.sensor} acknowledges up to ${r.ackedSeq}, past its next sequence number ${r.nextSeq} (bytes ${ACK_RECORD_OFFSET.ackedSeq}–${ACK_RECORD_OFFSET.nextSeq + 7} of the record); recovery skips it`,
    });
  }
  return out;
}
