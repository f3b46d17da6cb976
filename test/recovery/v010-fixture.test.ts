// Storages written by the first release (0.1.0, commit acbe81a) boot on today's code. The fixtures
// in test/fixtures/v0.1.0 were made by that release's own code (make-fixture.mjs, see the README
// there): a storage stopped gracefully and one whose process was SIGKILLed, each with a TSD and an
// EVT stream, records spilled to .imx files, some acknowledged; and a storage of the old `run` with
// its upload log, killed in its second life. Each test works on a copy and checks what is
// delivered, never the files' layout: every record the old code had stored and not acknowledged
// comes back exactly once, in order, with its value (the old code's own reading, <name>.expected.json,
// and the workload's formula agree); nothing acknowledged comes back; the next boot delivers nothing.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { ACK_LOG_PATH, ackLogScan, POSITIONS_PATH } from "../../host/format/positions.js";
import { cli, imxRecords, logCheck, recordId, ROOT, uploadLogRecords } from "../run/helpers.js";

const FIXTURES = join(ROOT, "test", "fixtures", "v0.1.0");
const board = loadBoard("tiny");

// The workload of make-fixture.mjs: record i of each stream.
const START_MS = Date.UTC(2025, 0, 10);
const TSD = { source: 0, sensor: 1001, key: "0:1001", value: (i: number) => Math.fround(20 + i * 0.25) };
const EVT = { source: 0, sensor: 2001, key: "0:2001", value: (i: number) => 1000 * (i % 7) - 3000 + i };
const tsdUtcMs = (i: number): number => START_MS + i * 10_000;
const evtUtcMs = (i: number): number => START_MS + i * 7_000 + 3;

interface Expected {
  seq: number;
  utcMs: number;
  value: number;
}

const root = mkdtempSync(join(tmpdir(), "imx-v010-fixture-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The pid of a process that has exited: a lock naming it has no live holder.
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid;
}

function copyFixture(name: string): string {
  const dir = join(root, `${name}-${Math.random().toString(36).slice(2)}`);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  // A 0.1.0 lock holds just a pid, the fixture's that of a process long gone; here that pid could
  // belong to a live imx-memsim of this test run, so the copy names a pid known to be dead, in
  // the same format.
  const lock = join(dir, "imx-memsim.lock");
  if (existsSync(lock)) writeFileSync(lock, `${deadPid()}\n`);
  return dir;
}

function expectedOf(name: string): Record<string, Expected[]> {
  const parsed = JSON.parse(readFileSync(join(FIXTURES, `${name}.expected.json`), "utf8")) as {
    streams: Record<string, Expected[]>;
  };
  return parsed.streams;
}

function boot(dir: string): Device {
  // Each boot is a life of the device in this one process, the one before never closed: no lock.
  const device = Device.create({ board, storageDir: dir, nowMs: START_MS + 86_400_000, lock: false });
  // Configuring a stream the storage already holds is what a firmware does at every boot.
  device.configureStream(TSD.source, TSD.sensor, { type: "tsd", dataType: "float32", sampleRateMs: 10_000 });
  device.configureStream(EVT.source, EVT.sensor, { type: "evt", dataType: "int32" });
  return device;
}

/** Reads a stream to its end, acknowledging each bulk read as an uploader does. */
function drain(device: Device, stream: { source: number; sensor: number }): Expected[] {
  const out: Expected[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const got = device.readBulk(stream.source, stream.sensor, device.bulkCapacity);
    if (got.length === 0) break;
    for (const r of got) out.push({ seq: r.seq, utcMs: r.utcMs, value: r.value });
    device.ack(stream.source, stream.sensor, got.length);
  }
  return out;
}

describe.each(["graceful", "killed"])("the 0.1.0 storage %s", (name) => {
  const expected = expectedOf(name);

  it("the old code's reading matches the workload that wrote it", () => {
    // A fixture worth testing against: both streams hold records, starting after what was acknowledged.
    for (const [stream, utcMs] of [
      [TSD, tsdUtcMs],
      [EVT, evtUtcMs],
    ] as const) {
      const records = expected[stream.key] ?? [];
      expect(records.length).toBeGreaterThan(10);
      expect(records[0]?.seq).toBeGreaterThan(0);
      for (const r of records) expect(r).toEqual({ seq: r.seq, utcMs: utcMs(r.seq), value: stream.value(r.seq) });
    }
  });

  it("delivers every stored, unacknowledged record exactly once, in order; the next boot delivers nothing", async () => {
    const dir = copyFixture(name);
    const first = boot(dir);
    expect(first.recovery?.filesQuarantined).toBe(0);
    const tsd = drain(first, TSD);
    const evt = drain(first, EVT);
    expect(tsd).toEqual(expected[TSD.key]);
    expect(evt).toEqual(expected[EVT.key]);
    // Let cleanup delete what was acknowledged before the next boot.
    for (let t = 1; t <= 64 && !first.isCleanupComplete(); t++) {
      first.processMemory(START_MS + 86_400_000 + t);
      await first.settle();
    }
    await first.settle();
    // The ACKs upgraded the v1 storage in place (SPEC.md 6.5): a checkpoint in the ACK log holds
    // every stream, and the positions file it replaced is gone.
    expect(existsSync(join(dir, POSITIONS_PATH))).toBe(false);
    const log = ackLogScan(readFileSync(join(dir, ACK_LOG_PATH)));
    expect(log.checkpoint?.length).toBe(2);
    expect(log.invalid + log.tornBytes).toBe(0);

    const second = boot(dir);
    expect(drain(second, TSD)).toEqual([]);
    expect(drain(second, EVT)).toEqual([]);
    // New records are numbered above everything the storage ever held.
    second.writeEvt(EVT.source, EVT.sensor, 5, START_MS + 90_000_000);
    const fresh = second.readBulk(EVT.source, EVT.sensor, 1);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]?.seq).toBeGreaterThan(evt.at(-1)?.seq ?? 0);
  });

  it("delivers the same after a boot that acknowledges nothing (a crash before the first upload)", () => {
    const dir = copyFixture(name);
    const first = boot(dir);
    expect(first.readBulk(TSD.source, TSD.sensor, 3)).toHaveLength(3); // read, never acknowledged
    const second = boot(dir);
    expect(drain(second, TSD)).toEqual(expected[TSD.key]);
    expect(drain(second, EVT)).toEqual(expected[EVT.key]);
  });
});

describe("the 0.1.0 run storage (killed in its second life) with its upload log", () => {
  it("is resumed by today's run: the log continues, every stored record reaches it exactly once", async () => {
    const storage = copyFixture("run");
    const log = `${storage}-upload.ndjson`;
    cpSync(join(FIXTURES, "run-upload.ndjson"), log);
    const before = readFileSync(log, "utf8");
    const logged = uploadLogRecords(log);
    const stored = imxRecords(storage);
    expect(logged.length).toBeGreaterThan(0);
    expect(stored.length).toBeGreaterThan(0);
    const result = await cli([
      "run",
      "--board",
      "tiny",
      "--storage",
      storage,
      "--upload-log",
      log,
      "--duration",
      "14h",
      "--drain",
      "--speed",
      "max",
      "--quiet",
    ]);
    expect(result.stdout + result.stderr).not.toMatch(/mismatch|error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/life 3 \(resumed/);
    const after = readFileSync(log, "utf8");
    expect(after.startsWith(before)).toBe(true); // what the cloud had is kept as it was
    const records = uploadLogRecords(log);
    expect(records.length).toBeGreaterThan(logged.length);
    const check = logCheck(records);
    expect(check).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    // Every record the old run had stored on disk reached the cloud once (before the kill or now).
    for (const r of stored) expect(check.byId.get(recordId(r))).toBe(1);
    // Drained: nothing is left to deliver, so the next life appends nothing.
    const again = await cli([
      "run",
      "--board",
      "tiny",
      "--storage",
      storage,
      "--upload-log",
      log,
      "--duration",
      "14h",
      "--drain",
      "--speed",
      "max",
      "--quiet",
    ]);
    expect(again.code).toBe(0);
    expect(readFileSync(log, "utf8")).toBe(after);
  }, 120_000);
});
