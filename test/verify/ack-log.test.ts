// `verify` names each kind of damage to the ACK log (SPEC.md 6.5, 6.6) with its own code. A healthy
// storage on tiny is made once (three streams, records acknowledged from disk, flushed: the log
// holds several records); each case copies it, damages history/acks.imxa in one way, and checks
// the codes read-only verify gives, its exit status, and that it left every byte as it was: a torn
// tail is a note (a power cut mid-append; the storage is clean), a corrupt record before a valid
// one, a checkpoint that fails its checks, a record of a stream recovery cannot take, and a record
// acknowledging past its stream's next number are problems.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import {
  ACK_LOG_PATH,
  type AckRecord,
  ackLogScan,
  ackRecordEncode,
  positionsEncode,
} from "../../host/format/positions.js";
import { type FindingCode, storageVerify } from "../../host/verify/verify.js";
import { snapshot } from "../run/helpers.js";

const board = loadBoard("tiny");
let root: string;
let healthy: string;
let cases = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "imx-verify-ack-log-"));
  healthy = join(root, "healthy");
  // Left open, as a device that loses power: it takes no lock.
  const device = Device.create({ board, storageDir: healthy, policy: "batched", lock: false });
  device.configureStream(1, 1, { type: "tsd", sampleRateMs: 10 });
  device.configureStream(1, 2, { type: "evt", dataType: "int32" });
  device.configureStream(2, 7, { type: "tsd", sampleRateMs: 1000 });
  let nowMs = 1000;
  for (let k = 0; k < 60; k++) {
    device.writeTsd(1, 1, k, 1000 + k * 10);
    device.writeEvt(1, 2, -k, 1000 + k * 7);
    device.writeTsd(2, 7, k, 1000 + k * 1000);
    device.processMemory((nowMs += 10));
  }
  for (const [source, sensor] of [
    [1, 1],
    [1, 2],
  ] as const) {
    device.ack(source, sensor, device.readBulk(source, sensor, 6).length);
  }
  device.flushAllToDisk();
  expect(flushDrain(device, () => device.processMemory((nowMs += 10)), 1000)).toBeGreaterThanOrEqual(0);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the healthy storage whose ACK log `change` rewrites; returns the copy's directory. */
function damaged(change: (log: Uint8Array) => Uint8Array): string {
  const dir = join(root, `case-${++cases}`);
  cpSync(healthy, dir, { recursive: true });
  const path = join(dir, ACK_LOG_PATH);
  writeFileSync(path, change(new Uint8Array(readFileSync(path))));
  return dir;
}

/** The log's records, to build valid ones from. */
function recordsOf(log: Uint8Array): AckRecord[] {
  return ackLogScan(log).records;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Read-only verify of `dir`: its ACK-log findings; asserts it changed nothing. */
function ackLogCodes(dir: string): { codes: FindingCode[]; exitCode: number; messages: string[] } {
  const before = snapshot(dir);
  const report = storageVerify(dir, { board: "tiny" });
  expect(snapshot(dir)).toEqual(before);
  const found = report.findings.filter((f) => f.code.startsWith("ack-log."));
  for (const f of found) expect(f.path).toBe(ACK_LOG_PATH);
  return { codes: found.map((f) => f.code), exitCode: report.exitCode, messages: found.map((f) => f.message) };
}

describe("verify on a damaged ACK log", () => {
  it("finds nothing in the healthy log, which holds several records", () => {
    const log = new Uint8Array(readFileSync(join(healthy, ACK_LOG_PATH)));
    expect(recordsOf(log).length).toBeGreaterThanOrEqual(3);
    expect(ackLogCodes(healthy)).toEqual({ codes: [], exitCode: 0, messages: [] });
  });

  it("notes a torn tail (part of a record after the last one) and calls the storage clean", () => {
    const dir = damaged((log) =>
      concat(log, ackRecordEncode({ ...recordsOf(log)[0]!, recordSeq: 99 }).subarray(0, 30)),
    );
    expect(ackLogCodes(dir)).toMatchObject({ codes: ["ack-log.torn-tail"], exitCode: 0 });
  });

  it("notes as torn a whole last record that fails its CRC", () => {
    const dir = damaged((log) => {
      const out = log.slice();
      out[out.byteLength - 1] = (out[out.byteLength - 1] ?? 0) ^ 0xff;
      return out;
    });
    expect(ackLogCodes(dir)).toMatchObject({ codes: ["ack-log.torn-tail"], exitCode: 0 });
  });

  it("finds a corrupt record before a valid one", () => {
    const dir = damaged((log) => {
      const out = log.slice();
      const first = ackLogScan(log).checkpointBytes;
      out[first + 10] = (out[first + 10] ?? 0) ^ 0x01;
      return out;
    });
    const found = ackLogCodes(dir);
    expect(found).toMatchObject({ codes: ["ack-log.record-corrupt"], exitCode: 1 });
    expect(found.messages[0]).toContain("1 record ");
  });

  it("finds a checkpoint (the log's header) that fails its checks, which recovery quarantines", () => {
    const dir = damaged((log) => {
      const records = recordsOf(log);
      const checkpoint = positionsEncode(records.slice(0, 1));
      checkpoint[12] = (checkpoint[12] ?? 0) ^ 0xff; // its CRC
      return concat(checkpoint, log.subarray(ackLogScan(log).checkpointBytes));
    });
    const report = storageVerify(dir, { board: "tiny" });
    const found = report.findings.filter((f) => f.code.startsWith("ack-log."));
    expect(found.map((f) => [f.code, f.action])).toEqual([["ack-log.header-bad", "quarantine"]]);
    expect(report.exitCode).toBe(1);
  });

  it("finds a record of a stream the board's stream table cannot take", () => {
    const dir = damaged((log) => {
      const base = recordsOf(log).find((r) => r.recordType === abi.RECORD_TYPE_EVT)!;
      const fresh = (sensor: number, recordSeq: number): Uint8Array =>
        ackRecordEncode({ ...base, source: 9, sensor, ackedSeq: 0, nextSeq: 0, seqReserved: 0, recordSeq });
      // tiny holds 4 streams: 9:1 is the fourth, 9:2 does not fit.
      return concat(log, fresh(1, 90), fresh(2, 91));
    });
    const found = ackLogCodes(dir);
    expect(found).toMatchObject({ codes: ["ack-log.stream-unknown"], exitCode: 1 });
    expect(found.messages[0]).toContain("9:2");
  });

  it("finds a record of a known stream with another record type", () => {
    const dir = damaged((log) => {
      const tsd = recordsOf(log).find((r) => r.recordType === abi.RECORD_TYPE_TSD)!;
      return concat(log, ackRecordEncode({ ...tsd, recordType: abi.RECORD_TYPE_EVT, sampleRateMs: 0, recordSeq: 90 }));
    });
    expect(ackLogCodes(dir)).toMatchObject({ codes: ["ack-log.stream-unknown"], exitCode: 1 });
  });

  it("finds a record whose ACK position is past its stream's next number", () => {
    const dir = damaged((log) => {
      const last = recordsOf(log).at(-1)!;
      return concat(log, ackRecordEncode({ ...last, ackedSeq: last.nextSeq + 5, recordSeq: 90 }));
    });
    const found = ackLogCodes(dir);
    expect(found).toMatchObject({ codes: ["ack-log.ack-beyond-data"], exitCode: 1 });
    expect(found.messages[0]).toContain("past its next sequence number");
  });
});
