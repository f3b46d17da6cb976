// `imx-memsim run` as a user runs it: the compiled CLI in a child process (npm test builds first).
//
// - SIGTERM in the middle of a run: exit 0 after the flush completed; a restart on the same
//   storage and upload log delivers every record written before the signal exactly once.
// - SIGKILL at seeded random points, three times in a row: each rerun recovers; nothing that had
//   reached a `.imx` file is lost, and the upload log never holds a record twice.
// - Bad input (unknown board, malformed workload, unusable storage, a storage of another board or
//   format, a malformed upload log, a bad flag): one clear line, exit 2, the storage unchanged
//   byte for byte.
// - A fleet of devices on worker threads, resumed, then stopped by SIGTERM.

import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceSummary } from "../../host/run/device-report.js";
import type { FleetSummary } from "../../host/run/report.js";
import { Prng } from "../../host/base/prng.js";
import {
  cli,
  cliWith,
  imxRecords,
  logCheck,
  recordId,
  seqStepMax,
  snapshot,
  spawnCli,
  uploadLogRecords,
  waitForOutput,
} from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-run-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const path = (name: string): string => join(root, name);
const json = (file: string): unknown => JSON.parse(readFileSync(file, "utf8"));
/** A status line whose clock says at least 5 hours since the run's start. */
const PAST_5_HOURS = /run: \+(?:\d+d |0[5-9]:|1\d:|2[0-3]:)/;

describe("SIGTERM", () => {
  it("flushes, exits 0, and a restart delivers every record written before the signal exactly once", async () => {
    const storage = path("term");
    const log = path("term.ndjson");
    const child = spawnCli([
      "run",
      "--storage",
      storage,
      "--upload-log",
      log,
      "--duration",
      "1d",
      "--speed",
      "20000",
      "--outage",
      "3h every 6h",
      "--status-every",
      "100ms",
      "--json",
      path("term-1.json"),
    ]);
    const done = cliWith(child, 60_000);
    await waitForOutput(child, PAST_5_HOURS, 30_000);
    child.kill("SIGTERM");
    const first = await done;
    expect(first.stderr).toMatch(/SIGTERM: stopping: flushing RAM to disk/);
    expect(first.code).toBe(0);
    const s1 = json(path("term-1.json")) as DeviceSummary;
    expect(s1.stop).toMatchObject({ reason: "signal", signal: "SIGTERM", flush: "flushed", flushComplete: true });
    expect(s1.ram.ramSectorsLeft).toBe(0);
    expect(s1.records.balanced).toBe(true);
    expect(s1.records.discarded).toBe(0);
    expect(s1.simulated.sinceRunStartMs).toBeLessThan(24 * 3_600_000);

    const second = await cli([
      "run",
      "--storage",
      storage,
      "--upload-log",
      log,
      "--duration",
      "1d",
      "--drain",
      "--speed",
      "max",
      "--quiet",
      "--json",
      path("term-2.json"),
    ]);
    expect(second.code).toBe(0);
    const s2 = json(path("term-2.json")) as DeviceSummary;
    expect(s2.resumed).toBe(true);
    expect(s2.records.storedAtStart).toBe(s1.records.stored);
    expect(s2.records.lostWithRamAtLastKill).toBe(0);
    const records = uploadLogRecords(log);
    expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    for (const stream of s1.streams) {
      const before = records.filter(
        (r) => r.source === stream.source && r.sensor === stream.sensor && r.utcMs <= (stream.lastUtcMs ?? -1),
      );
      expect(before, `stream ${stream.source}/${stream.sensor}`).toHaveLength(stream.written);
    }
    expect(records).toHaveLength(s1.records.written + s2.records.written);
  });
});

describe("graceful lives", () => {
  it("four lives on one storage number every stream with no gap, and none reports a loss", async () => {
    const storage = path("lives");
    const log = path("lives.ndjson");
    for (const duration of ["2h", "4h", "6h", "8h"]) {
      const file = path(`lives-${duration}.json`);
      const args = ["run", "--storage", storage, "--upload-log", log, "--duration", duration, "--speed", "max"];
      const result = await cli([...args, "--quiet", "--json", file]);
      expect(result.code, result.stderr).toBe(0);
      const summary = json(file) as DeviceSummary;
      expect(summary.stop.flushComplete).toBe(true);
      expect(summary.records.lostWithRamAtLastKill).toBe(0);
      if (duration !== "2h") expect(summary.recovery).toMatchObject({ recordsLostRam: 0, recordsLostRamMax: 0 });
    }
    const records = uploadLogRecords(log);
    expect(records.length).toBeGreaterThan(10_000);
    expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    expect(seqStepMax(records)).toBe(1);
  });
});

describe("SIGKILL", () => {
  it("at seeded random points: rerunning loses nothing that had reached disk and never duplicates in the upload log", async () => {
    const seed = Number(process.env["SEED"] ?? 7);
    const prng = new Prng(seed);
    const storage = path("kill");
    const log = path("kill.ndjson");
    const reachedDisk = new Set<string>();
    // Down for the first 6 of every 8 hours: RAM passes its threshold ~2.3 h into an outage and spills.
    const args = [
      "run",
      "--storage",
      storage,
      "--upload-log",
      log,
      "--duration",
      "36h",
      "--outage",
      "6h every 8h at 0",
      "--status-every",
      "100ms",
    ];
    for (let kill = 0; kill < 3; kill++) {
      const child = spawnCli([...args, "--speed", "20000"]);
      const done = cliWith(child, 60_000);
      await waitForOutput(child, /run: /, 30_000);
      await new Promise((resolve) => setTimeout(resolve, prng.between(500, 1500)));
      child.kill("SIGKILL");
      expect((await done).signal, `seed ${seed}, kill ${kill}`).toBe("SIGKILL");
      for (const record of imxRecords(storage)) reachedDisk.add(recordId(record));
      expect(logCheck(uploadLogRecords(log)), `seed ${seed}, kill ${kill}`).toMatchObject({
        duplicates: 0,
        outOfOrder: 0,
      });
    }
    expect(reachedDisk.size).toBeGreaterThan(1000);
    const last = await cli([...args, "--speed", "max", "--drain", "--quiet", "--json", path("kill.json")]);
    expect(last.code, last.stderr).toBe(0);
    const summary = json(path("kill.json")) as DeviceSummary;
    expect(summary.life).toBe(4);
    expect(summary.records.stored).toBe(0);
    const check = logCheck(uploadLogRecords(log));
    expect(check, `seed ${seed}`).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    const missing = [...reachedDisk].filter((id) => check.byId.get(id) !== 1);
    expect(missing, `seed ${seed}: records that had reached disk but are not in the log once`).toEqual([]);
    // Each kill skips at most what RAM could hold of one stream (fc1-imx6: 2048 sectors of 6 TSD records).
    expect(seqStepMax(uploadLogRecords(log)) - 1, `seed ${seed}`).toBeLessThanOrEqual(2048 * 6);
  });
});

describe("bad input", () => {
  const tiny = path("tiny");
  const tinyLog = path("tiny.ndjson");
  const tinyArgs = ["--board", "tiny", "--tsd", "1:1s", "--evt", "2:30/m"];

  beforeAll(async () => {
    const made = await cli([
      "run",
      ...tinyArgs,
      "--storage",
      tiny,
      "--upload-log",
      tinyLog,
      "--duration",
      "10m",
      "--speed",
      "max",
      "--quiet",
      "--outage",
      "5m at 2m",
    ]);
    expect(made.code, made.stderr).toBe(0);
    expect(existsSync(join(tiny, "history"))).toBe(true);
  });

  /** Runs `args` on a copy of the tiny storage prepared by `prepare`; expects exit 2, `message`, and no change. */
  async function refused(
    name: string,
    args: (dir: string) => string[],
    message: RegExp,
    prepare?: (dir: string) => void,
  ): Promise<void> {
    const dir = path(name);
    cpSync(tiny, dir, { recursive: true });
    cpSync(tinyLog, `${dir}.ndjson`);
    prepare?.(dir);
    const before = snapshot(dir);
    const logBefore = readFileSync(`${dir}.ndjson`);
    const result = await cli(["run", ...args(dir), "--speed", "max", "--duration", "20m", "--quiet"]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^imx-memsim: /);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(`${dir}.ndjson`)).toEqual(logBefore);
  }

  it("an unknown board", async () => {
    await refused("unknown-board", (dir) => ["--board", "nope", "--storage", dir], /unknown board "nope"/);
  });

  it("a storage directory written by another board", async () => {
    await refused(
      "other-board",
      (dir) => ["--board", "fc1-imx6", "--storage", dir],
      /was written by board tiny, not fc1-imx6/,
    );
  });

  it("an incompatible format version", async () => {
    await refused(
      "format",
      (dir) => [...tinyArgs, "--storage", dir],
      /holds \.imx format v99/,
      (dir) => {
        const identity = json(join(dir, "imx-memsim.json")) as Record<string, unknown>;
        writeFileSync(join(dir, "imx-memsim.json"), JSON.stringify({ ...identity, imxFormatVersion: 99 }));
      },
    );
  });

  it("a storage without an identity whose .imx files another board wrote", async () => {
    await refused(
      "foreign-files",
      (dir) => [...tinyArgs, "--storage", dir],
      /was written by another board \(64-byte sectors/,
      (dir) => {
        rmSync(join(dir, "imx-memsim.json"));
        rmSync(join(dir, "imx-memsim-run.json"));
        const file = imxFileIn(dir);
        const data = readFileSync(file);
        data.writeUInt16LE(64, 18);
        writeFileSync(file, data);
      },
    );
  });

  it("a storage without run state whose streams have other settings than the workload's", async () => {
    await refused(
      "other-streams",
      (dir) => ["--board", "tiny", "--tsd", "1:2s", "--storage", dir],
      /stream 0\/1 is TSD every 1000 ms, float32 in history\/.*; the workload has it as TSD every 2000 ms/,
      (dir) => {
        rmSync(join(dir, "imx-memsim-run.json"));
      },
    );
  });

  it("a malformed workload file, naming file, field and rule", async () => {
    const workload = path("bad-workload.json");
    writeFileSync(workload, JSON.stringify({ streams: [{ sensor: 1, type: "tsd", sampleRate: "fast" }] }));
    await refused(
      "workload",
      (dir) => ["--board", "tiny", "--workload", workload, "--storage", dir],
      /bad-workload\.json: streams\[0\]\.sampleRate: must be a duration/,
    );
  });

  it("another workload than the storage was run with", async () => {
    await refused(
      "other-workload",
      (dir) => ["--board", "tiny", "--tsd", "9:1s", "--storage", dir],
      /was run with another workload/,
    );
  });

  it("a malformed upload log", async () => {
    await refused(
      "log",
      (dir) => [...tinyArgs, "--storage", dir, "--upload-log", `${dir}.ndjson`],
      /line \d+: not JSON/,
      (dir) => {
        writeFileSync(`${dir}.ndjson`, `${readFileSync(`${dir}.ndjson`, "utf8")}oops\n`);
      },
    );
  });

  it("a fleet on a single device's storage, and a bad flag", async () => {
    await refused(
      "fleet-on-device",
      (dir) => [...tinyArgs, "--storage", dir, "--devices", "2"],
      /holds one device's storage/,
    );
    await refused(
      "flag",
      (dir) => [...tinyArgs, "--storage", dir, "--ack-loss", "150"],
      /--ack-loss must be a percentage/,
    );
  });

  it("an unwritable storage directory", async () => {
    const file = path("a-file");
    writeFileSync(file, "not a directory\n");
    const notDir = await cli(["run", "--storage", file, "--duration", "1m", "--speed", "max", "--quiet"]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toMatch(/is not a directory/);
    const under = await cli(["run", "--storage", join(file, "sub"), "--duration", "1m", "--speed", "max", "--quiet"]);
    expect(under.code).toBe(2);
    expect(under.stderr).toMatch(/cannot be created: .*a-file is not a directory/);
    expect(readFileSync(file, "utf8")).toBe("not a directory\n");
    if (process.getuid?.() !== 0) {
      const locked = path("read-only");
      mkdirSync(locked);
      chmodSync(locked, 0o555);
      const ro = await cli(["run", "--storage", locked, "--duration", "1m", "--speed", "max", "--quiet"]);
      expect(ro.code).toBe(2);
      expect(ro.stderr).toMatch(/is not writable/);
      chmodSync(locked, 0o755);
    }
  });
});

function imxFileIn(dir: string): string {
  const history = join(dir, "history");
  for (let bucket = 0; bucket < 10; bucket++) {
    const bucketDir = join(history, String(bucket));
    if (!existsSync(bucketDir)) continue;
    const name = readdirSync(bucketDir).find((n) => n.endsWith(".imx"));
    if (name !== undefined) return join(bucketDir, name);
  }
  throw new Error(`no .imx file in ${dir}`);
}

describe("a fleet", () => {
  it("runs devices on worker threads, resumes them, and stops them all gracefully on SIGTERM", async () => {
    const storage = path("fleet");
    const log = path("fleet.ndjson");
    const args = [
      "run",
      "--devices",
      "3",
      "--workers",
      "2",
      "--storage",
      storage,
      "--upload-log",
      log,
      "--outage",
      "2h every 3h",
    ];
    const first = await cli([...args, "--duration", "6h", "--speed", "max", "--quiet", "--json", path("fleet-1.json")]);
    expect(first.code, first.stderr).toBe(0);
    const f1 = json(path("fleet-1.json")) as FleetSummary;
    expect(f1.devices).toBe(3);
    expect(f1.records.balanced).toBe(true);
    expect(f1.stopReasons).toEqual({ duration: 3 });
    expect(f1.deviceSimHoursPerSecond).toBeGreaterThan(0);
    for (const device of f1.perDevice) {
      const records = uploadLogRecords(join(root, `fleet.device-${device.device}.ndjson`));
      expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
      expect(records).toHaveLength(device.records.uploaded);
      expect(existsSync(join(storage, `device-${device.device}`, "history"))).toBe(true);
    }
    expect(f1.perDevice[0]?.seed).not.toBe(f1.perDevice[1]?.seed);

    const child = spawnCli([
      ...args,
      "--duration",
      "3d",
      "--speed",
      "20000",
      "--status-every",
      "100ms",
      "--json",
      path("fleet-2.json"),
    ]);
    const done = cliWith(child, 60_000);
    await waitForOutput(child, /run: 0\/3 devices done/, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill("SIGTERM");
    const second = await done;
    expect(second.code, second.stderr).toBe(0);
    const f2 = json(path("fleet-2.json")) as FleetSummary;
    expect(f2.stopReasons).toEqual({ signal: 3 });
    expect(f2.flushComplete).toBe(3);
    expect(f2.perDevice.every((d) => d.resumed && d.life === 2)).toBe(true);
    expect(f2.records.balanced).toBe(true);
    expect(f2.records.storedAtStart).toBe(f1.records.stored);
  });
});
