// The upload log is the cloud: a record is in it, on disk, before the device is told to ACK it, so
// that no power cut can leave the device having erased a record the log lacks. A process kill
// cannot show that (the page cache survives it), so these tests give the log writer a disk that
// loses power: PowerCutDisk keeps, per file, the bytes written (the page cache) and the bytes last
// synced, and a cut keeps only the synced ones (and only files whose directory entry was synced).
// First the writer alone: every line whose append returned survives a cut at any point. Then the
// uploader on a real device: after every ACK that returned, a cut keeps every acknowledged record
// in the log. Removing the fdatasync from AppendFile.append fails both.

import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Prng } from "../../host/base/prng.js";
import { Device } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { AppendFile, type AppendFileOps } from "../../host/run/append-file.js";
import { OutageSchedule } from "../../host/run/outage-schedule.js";
import type { SensorStream } from "../../host/run/sensors.js";
import { uploadLogRead, UploadLogWriter } from "../../host/run/upload-log.js";
import { type RunStream, Uploader } from "../../host/run/uplink.js";

interface ModelFile {
  path: string;
  /** What a reader sees now: the page cache. */
  data: Buffer;
  /** What survives a power cut: the content as of the last fsync or fdatasync. */
  durableData: Buffer;
  /** The directory entry survives a cut only once the directory was synced. */
  entryDurable: boolean;
}

/** AppendFileOps on a disk that can lose power (writes land in a page cache until synced). */
class PowerCutDisk implements AppendFileOps {
  private readonly files = new Map<string, ModelFile>();
  private readonly fds = new Map<number, ModelFile>();
  private nextFd = 3;
  syncs = 0;

  private fileOf(fd: number): ModelFile {
    const file = this.fds.get(fd);
    if (file === undefined) throw new Error(`EBADF: fd ${fd}`);
    return file;
  }

  open(path: string): number {
    let file = this.files.get(path);
    if (file === undefined) {
      file = { path, data: Buffer.alloc(0), durableData: Buffer.alloc(0), entryDurable: false };
      this.files.set(path, file);
    }
    const fd = this.nextFd++;
    this.fds.set(fd, file);
    return fd;
  }

  write(fd: number, bytes: Buffer, offset: number, length: number): number {
    const file = this.fileOf(fd);
    // Short writes, as a real write may do: the writer must loop.
    const n = Math.min(length, 13);
    file.data = Buffer.concat([file.data, bytes.subarray(offset, offset + n)]);
    return n;
  }

  fdatasync(fd: number): void {
    const file = this.fileOf(fd);
    file.durableData = Buffer.from(file.data);
    this.syncs++;
  }

  fsync(fd: number): void {
    this.fdatasync(fd);
  }

  ftruncate(fd: number, sizeBytes: number): void {
    const file = this.fileOf(fd);
    file.data = Buffer.from(file.data.subarray(0, sizeBytes));
  }

  close(fd: number): void {
    this.fds.delete(fd);
  }

  directorySync(dir: string): void {
    for (const file of this.files.values()) if (dirname(file.path) === dir) file.entryDurable = true;
  }

  /** The file as it would be after a power cut now: null if it would not exist. */
  afterCut(path: string): string | null {
    const file = this.files.get(path);
    if (file === undefined || !file.entryDurable) return null;
    return file.durableData.toString("utf8");
  }
}

const logPath = (): string => join(tmpdir(), `imx-memsim-powercut-${process.pid}-${Math.random()}`, "up.ndjson");
const line = (seq: number): string => `{"source":0,"sensor":1,"seq":${seq},"utcMs":${1000 + seq},"value":${seq}}\n`;

describe("an append-only file on a disk that loses power", () => {
  it("keeps every line whose append returned, whenever the power goes", () => {
    const disk = new PowerCutDisk();
    const path = logPath();
    const file = AppendFile.open({ path, exists: false, validBytes: 0, tornBytes: 0 }, disk);
    // The new file and its directory entry are durable at once: a cut right after leaves it, empty.
    expect(disk.afterCut(path)).toBe("");
    let expected = "";
    for (let seq = 0; seq < 40; seq++) {
      const text = seq % 3 === 0 ? line(seq) + line(seq + 1000) : line(seq);
      file.append(Buffer.from(text, "utf8"));
      expected += text;
      expect(disk.afterCut(path), `after append ${seq}`).toBe(expected);
    }
    file.close();
  });
});

describe("the uploader on a disk that loses power", () => {
  it("has every acknowledged record in the upload log after a cut at any ACK", () => {
    const board = loadBoard("tiny");
    const device = Device.create({ board, hal: new MemoryHal() });
    device.configureStream(0, 1, { type: "evt", dataType: "uint32" });
    const disk = new PowerCutDisk();
    const path = logPath();
    const log = UploadLogWriter.open(uploadLogRead(path), null, disk);

    let cuts = 0;
    // Every ACK, once it returned: a power cut now must keep each record acknowledged so far.
    const watched = new Proxy(device, {
      get(target, property, receiver) {
        // The uploader acknowledges a cycle with one ackMany (SPEC.md 6.5).
        if (property === "ackMany") {
          return (entries: Array<{ source: number; sensor: number; count: number }>): void => {
            target.ackMany(entries);
            for (const { source, sensor } of entries) {
              const ackedSeq = target.counts(source, sensor).ackedSeq;
              const survived = (disk.afterCut(path) ?? "")
                .split("\n")
                .filter((text) => text !== "")
                .map((text) => (JSON.parse(text) as { seq: number }).seq);
              expect(survived, `after the ACK up to seq ${ackedSeq}`).toEqual(
                Array.from({ length: ackedSeq }, (_, seq) => seq),
              );
            }
            cuts++;
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const stream: RunStream = {
      index: 0,
      key: "0/1",
      source: 0,
      sensor: 1,
      sensorStream: {
        spec: { name: "e", source: 0, sensor: 1, type: "evt", dataType: "uint32" },
        nextDueMs: 0,
        written: 0,
        writeFailures: 0,
        firstUtcMs: null,
        lastUtcMs: null,
      } satisfies SensorStream,
      seqOffsets: [],
      logLastSeq: -1,
      logTail: new Map(),
      storedAtStart: 0,
      acked: 0,
      ackedFirstUtcMs: NaN,
      appended: 0,
      redelivered: 0,
    };
    const uploader = new Uploader(
      watched,
      [stream],
      { packetRecords: 8, everyMs: 1_000, latencyMinMs: 10, latencyMaxMs: 200, timeoutMs: 30_000, ackLossPpm: 0 },
      new OutageSchedule([], 0, 1),
      new Prng(5),
      log,
      0,
    );
    let written = 0;
    for (let nowMs = 0; nowMs < 60_000; nowMs += 50) {
      if (nowMs % 150 === 0) device.writeEvt(0, 1, written++, 1_000_000 + nowMs);
      device.processMemory(nowMs);
      uploader.step(nowMs);
    }
    log.close();
    expect(cuts).toBeGreaterThan(20);
    expect(uploader.counters.recordsAcked).toBeGreaterThan(300);
    expect(disk.syncs).toBeGreaterThanOrEqual(cuts);
  });
});
