// The storage of `imx-memsim run` at its edges: the lock (a stale one is taken over with a
// warning, a live one refuses), the upload log's owner (a side file; another storage refuses the
// log; a log written by 0.1.0 is adopted by its own storage), a missing run state, start-up that
// reads the upload log from its end, a full filesystem under the run's own files (a real small
// tmpfs when the test runs as root, and the fault-injecting HAL's disk-full mode), and a storage
// written in the formats of the first release (0.1.0, commit acbe81a).

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { HalErrorCode } from "../../host/hal/hal.js";
import { FaultyHal } from "../../host/hal/faulty.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { devicePreflight, type RunSettings } from "../../host/run/device-preflight.js";
import { DeviceRun } from "../../host/run/device-run.js";
import { drive } from "../../host/run/drive.js";
import { LOCK_FILE, lockCheck, processStartTicks, RUN_STATE_FILE, StorageError } from "../../host/run/storage.js";
import {
  uploadLogOwnerPath,
  uploadLogRead,
  uploadLogTailRead,
  type UploadLogWriter,
} from "../../host/run/upload-log.js";
import { cli, logCheck, runSettings, snapshot, uploadLogRecords } from "./helpers.js";
import { Tmpfs, tmpfsAvailable } from "../support/tmpfs.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-storage-edges-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const H = 3_600_000;

const settings = (name: string, overrides: Partial<RunSettings> = {}): RunSettings =>
  runSettings(root, name, overrides);

/** A pid that is not running now (its process exited and was reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid ?? 999_999;
  await new Promise((resolve) => child.on("exit", resolve));
  return pid;
}

const runArgs = (name: string, duration: string, log = `${name}.ndjson`): string[] => [
  "run",
  "--storage",
  join(root, name),
  "--upload-log",
  join(root, log),
  "--duration",
  duration,
  "--speed",
  "max",
  "--quiet",
];

describe("the lock", () => {
  const dir = join(root, "lock");
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, LOCK_FILE);

  it("takes over a lock whose holder is not a live run of the storage, with a one-line warning", async () => {
    const stale: Array<[string, RegExp]> = [
      ["1\n", /pid 1 runs .*not imx-memsim|pid 1 is the init process/],
      [`${await deadPid()}\n`, /is not running/],
      [
        JSON.stringify({ format: "imx-memsim-lock", version: 1, pid: process.ppid, startTicks: "1", bootId: null }),
        /another process now/,
      ],
      ["garbage", /not an imx-memsim lock/],
    ];
    for (const [body, why] of stale) {
      writeFileSync(lockPath, body);
      const warning = lockCheck(dir, dir);
      expect(warning).toMatch(/^warning: storage .*: taking over a stale lock \(/);
      expect(warning).toMatch(why);
      expect(warning?.includes("\n")).toBe(false);
    }
  });

  it("refuses a live holder (its pid with its start time, or a 0.1.0 pid running imx-memsim)", async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)", "imx-memsim"], { stdio: "ignore" });
    try {
      const pid = child.pid ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 200));
      const ticks = processStartTicks(pid);
      writeFileSync(lockPath, JSON.stringify({ format: "imx-memsim-lock", version: 1, pid, startTicks: ticks }));
      expect(() => lockCheck(dir, dir)).toThrow(StorageError);
      expect(() => lockCheck(dir, dir)).toThrow(`in use by another imx-memsim run (pid ${pid})`);
      writeFileSync(lockPath, `${pid}\n`); // 0.1.0's format: the pid runs something named imx-memsim
      expect(() => lockCheck(dir, dir)).toThrow(/in use by another imx-memsim run/);
      // The CLI: one line, exit 2, nothing changed.
      const storage = join(root, "locked");
      const first = await cli(runArgs("locked", "1h"));
      expect(first.code).toBe(0);
      writeFileSync(join(storage, LOCK_FILE), JSON.stringify({ format: "imx-memsim-lock", pid, startTicks: ticks }));
      const before = snapshot(storage);
      const refused = await cli(runArgs("locked", "2h"));
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe("");
      expect(refused.stderr.trim().split("\n")).toEqual([
        `imx-memsim: storage ${storage} is in use by another imx-memsim run (pid ${pid})`,
      ]);
      expect(snapshot(storage)).toEqual(before);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a run takes over `printf 1 > lock`, says so in one line, and releases the lock at the end", async () => {
    const storage = join(root, "printf1");
    expect((await cli(runArgs("printf1", "1h"))).code).toBe(0);
    expect(existsSync(join(storage, LOCK_FILE))).toBe(false);
    writeFileSync(join(storage, LOCK_FILE), "1");
    const result = await cli(runArgs("printf1", "2h"));
    expect(result.code).toBe(0);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^imx-memsim: warning: storage .*: taking over a stale lock \(pid 1/);
    expect(existsSync(join(storage, LOCK_FILE))).toBe(false);
  });
});

describe("the upload log's owner", () => {
  it("another storage refuses a log (one line, exit 2, nothing changed); its own resumes it", async () => {
    expect((await cli(runArgs("own1", "4h", "shared.ndjson"))).code).toBe(0);
    const log = join(root, "shared.ndjson");
    expect(JSON.parse(readFileSync(uploadLogOwnerPath(log), "utf8"))).toMatchObject({
      format: "imx-memsim-upload-log",
      storage: join(root, "own1"),
    });
    const before = readFileSync(log);
    const refused = await cli(runArgs("own2", "4h", "shared.ndjson"));
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split("\n")).toEqual([
      `imx-memsim: upload log ${log} is written by another storage (${join(root, "own1")}); give this storage an upload log of its own`,
    ]);
    expect(existsSync(join(root, "own2"))).toBe(false);
    expect(readFileSync(log)).toEqual(before);
    const resumed = await cli(runArgs("own1", "6h", "shared.ndjson"));
    expect(resumed.code).toBe(0);
    expect(logCheck(uploadLogRecords(log)).duplicates).toBe(0);
  });

  it("a log without a side file (0.1.0) is adopted by its storage and refused by another", async () => {
    expect((await cli(runArgs("old1", "4h", "old.ndjson"))).code).toBe(0);
    expect((await cli(runArgs("old2", "2h", "old2.ndjson"))).code).toBe(0);
    const log = join(root, "old.ndjson");
    unlinkSync(uploadLogOwnerPath(log));
    // old2 stopped at 2h; the log holds records up to 4h: another storage's.
    const refused = await cli(runArgs("old2", "6h", "old.ndjson"));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^imx-memsim: upload log .* after storage .* stopped .*: it is another storage's log\n$/,
    );
    // A new storage has delivered nothing.
    const fresh = await cli(runArgs("old3", "1h", "old.ndjson"));
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toMatch(/holds records of another storage \(this one is new/);
    const adopted = await cli(runArgs("old1", "6h", "old.ndjson"));
    expect(adopted.code).toBe(0);
    expect(existsSync(uploadLogOwnerPath(log))).toBe(true);
    expect(logCheck(uploadLogRecords(log)).duplicates).toBe(0);
  });
});

describe("a missing run state", () => {
  it("next to a storage with history is an error that says how to recover, not a new life", async () => {
    const storage = join(root, "nostate");
    expect((await cli([...runArgs("nostate", "3d"), "--outage", "2d at 1h"])).code).toBe(0);
    unlinkSync(join(storage, RUN_STATE_FILE));
    const before = snapshot(storage);
    const result = await cli(runArgs("nostate", "4d"));
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/holds records but its run state imx-memsim-run.json is missing: restore it/);
    expect(result.stderr).toMatch(/remove imx-memsim.json too/);
    expect(snapshot(storage)).toEqual(before);
  });
});

describe("start-up reads the upload log from its end", () => {
  const line = (sensor: number, seq: number) =>
    `{"source":0,"sensor":${sensor},"seq":${seq},"utcMs":${1000 + seq},"value":${seq / 2}}\n`;

  it("finds each known stream's last seq without reading the whole log, and agrees with a full read", () => {
    const path = join(root, "tail.ndjson");
    let text = line(9, 0); // a stream only at the very start
    for (let i = 0; i < 120_000; i++) text += line(1 + (i % 3), Math.floor(i / 3));
    writeFileSync(path, `${text}{"source":0,"sen`);
    const full = uploadLogRead(path);
    const tail = uploadLogTailRead(path, ["0/1", "0/2", "0/3"], 100);
    expect(tail.complete).toBe(false);
    expect(tail.records).toBeLessThan(full.records);
    expect(tail.validBytes).toBe(full.validBytes);
    expect(tail.tornBytes).toBe(full.tornBytes);
    for (const key of ["0/1", "0/2", "0/3"]) {
      expect(tail.streams.get(key)?.lastSeq).toBe(full.streams.get(key)?.lastSeq);
      const last = full.streams.get(key)?.lastSeq ?? -1;
      expect(tail.streams.get(key)?.tail.get(last)).toEqual(full.streams.get(key)?.tail.get(last));
    }
    // A known stream found only at the start reads it all.
    const all = uploadLogTailRead(path, ["0/1", "0/9"], 100);
    expect(all.complete).toBe(true);
    expect(all.streams.get("0/9")?.lastSeq).toBe(0);
  });

  it("refuses seqs that do not grow in the part it reads", () => {
    const path = join(root, "tail-bad.ndjson");
    writeFileSync(path, line(1, 0) + line(1, 2) + line(1, 1));
    expect(() => uploadLogTailRead(path, ["0/1"])).toThrow(/from its end, line 2: stream 0\/1 seq 2 is followed by 1/);
  });
});

describe("a full filesystem under the run's own files", () => {
  it("the fault-injecting HAL's disk full: checkpoints are refused, counted and retried; the run stops gracefully", async () => {
    let clock: { nowMs: number; lifeStartMs: number } | null = null;
    const full = (): boolean =>
      clock !== null && clock.nowMs - clock.lifeStartMs >= 2 * H && clock.nowMs - clock.lifeStartMs < 9 * H;
    const s = settings("halfull", { durationMs: 12 * H });
    const hal = new FaultyHal(new NodeFsHal(s.storageDir), {
      seed: 1,
      failWhen: (op, path): HalErrorCode | null =>
        full() && op === "writeFile" && path.startsWith("imx-memsim") ? "ENOSPC" : null,
    });
    const run = DeviceRun.start(s, devicePreflight(s), { hal });
    clock = run;
    await drive([run], {
      speed: "max",
      stopRequested: () => false,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    await run.stop();
    const summary = run.summary();
    expect(summary.hostFiles.checkpointFailures).toBeGreaterThan(6 * 50);
    expect(summary.hostFiles.lastCheckpointWritten).toBe(true);
    expect(summary.hostFiles.errors).toEqual(["imx-memsim-run.json: ENOSPC"]);
    expect(summary.records.balanced).toBe(true);
    expect(existsSync(join(s.storageDir, LOCK_FILE))).toBe(false);
    const state = JSON.parse(readFileSync(join(s.storageDir, RUN_STATE_FILE), "utf8")) as { cleanStop: boolean };
    expect(state.cleanStop).toBe(true);
  });

  it("a first run state that cannot be written holds the uploads until one can", async () => {
    let run: DeviceRun | null = null;
    let uploadedWhileFull = 0;
    const full = (): boolean => {
      if (run === null) return true;
      const yes = run.nowMs - run.lifeStartMs < 90 * 60_000;
      if (yes) uploadedWhileFull = run.uploader.counters.recordsAcked;
      return yes;
    };
    const s = settings("halfirst", { durationMs: 3 * H });
    const hal = new FaultyHal(new NodeFsHal(s.storageDir), {
      seed: 1,
      failWhen: (op, path): HalErrorCode | null =>
        op === "writeFile" && path.startsWith(RUN_STATE_FILE) && full() ? "ENOSPC" : null,
    });
    run = DeviceRun.start(s, devicePreflight(s), { hal });
    await drive([run], {
      speed: "max",
      stopRequested: () => false,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    await run.stop();
    expect(run.summary().hostFiles.checkpointFailures).toBeGreaterThanOrEqual(2);
    expect(uploadedWhileFull).toBe(0);
    expect(run.summary().records.uploaded).toBeGreaterThan(0);
    expect(run.summary().hostFiles.checkpointFailures).toBeGreaterThan(0);
  });

  it("an upload-log append the filesystem refuses leaves its cycle unacknowledged; the records go again later", async () => {
    const s = settings("logfull", { durationMs: 6 * H });
    const run = DeviceRun.start(s, devicePreflight(s));
    const writer = (run as unknown as { log: UploadLogWriter }).log;
    const append = writer.append.bind(writer);
    let ackedAtFailure: number | null = null;
    writer.append = (text: string, records: number): void => {
      const at = run.nowMs - run.lifeStartMs;
      if (at >= H && at < 2 * H) {
        ackedAtFailure ??= run.uploader.counters.recordsAcked;
        // Never an ACK without the durable log line: nothing was acknowledged since the first failure.
        expect(run.uploader.counters.recordsAcked).toBe(ackedAtFailure);
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }
      append(text, records);
    };
    await drive([run], {
      speed: "max",
      stopRequested: () => false,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    await run.stop();
    const summary = run.summary();
    expect(summary.uplink.logFailures).toBeGreaterThan(10);
    expect(summary.records.balanced).toBe(true);
    const records = uploadLogRecords(s.uploadLogPath ?? "");
    expect(records.length).toBe(summary.records.uploaded);
    expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
  });

  describe.skipIf(!tmpfsAvailable("storage-edges: the real full-filesystem test"))(
    "on a real 1 MiB tmpfs (root)",
    () => {
      const mount = join(root, "tmpfs");
      const tmpfs = new Tmpfs(mount);
      afterAll(() => {
        tmpfs.unmount();
      });

      it("survives ENOSPC of the run state, the trace and the upload log: counted, flushed, lock released, summary written", async () => {
        tmpfs.mount("1m");
        const storage = join(mount, "st");
        const json = join(root, "tmpfs-summary.json");
        const result = await cli(
          [
            "run",
            "--storage",
            storage,
            "--upload-log",
            join(mount, "up.ndjson"),
            "--trace",
            join(mount, "trace.ndjson"),
            // The disk tier stops short of the filesystem's last bytes (its real free space, less a
            // margin), so the upload log and the trace are what fill it: a day of them does.
            "--duration",
            "24h",
            "--speed",
            "max",
            "--outage",
            "8h at 1h",
            // The disk tier keeps what it has (evict-oldest would give up old files to the full
            // filesystem, and the run's own files could then find room): the run's files meet ENOSPC.
            "--disk-full",
            "refuse-new",
            "--quiet",
            "--json",
            json,
          ],
          { timeoutMs: 240_000 },
        );
        expect(result.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
        expect(result.code).toBe(0); // a full disk is survived, not a failure of the run
        const summary = JSON.parse(readFileSync(json, "utf8")) as {
          hostFiles: { checkpointFailures: number; errors: string[] };
          records: { balanced: boolean };
        };
        expect(summary.hostFiles.checkpointFailures).toBeGreaterThan(0);
        expect(summary.records.balanced).toBe(true);
        expect(result.stdout).toMatch(/host files filesystem full: \d+ of \d+ run-state writes refused/);
        expect(existsSync(join(storage, LOCK_FILE))).toBe(false);
        // Every line in the upload log is whole (no line without its record).
        expect(logCheck(uploadLogRecords(join(mount, "up.ndjson"))).duplicates).toBe(0);
      }, 300_000);
    },
  );
});

describe("a storage written by 0.1.0 (commit acbe81a)", () => {
  it("is resumed: its pid-only lock, its run state without a storage id and its log without a side file are adopted", async () => {
    const name = "v010";
    const storage = join(root, name);
    const log = join(root, `${name}.ndjson`);
    expect((await cli(runArgs(name, "6h"))).code).toBe(0);
    // Back to the 0.1.0 formats: the lock held `${process.pid}\n` (of a run killed since), the run
    // state had no storageId, and there was no side file beside the log.
    writeFileSync(join(storage, LOCK_FILE), `${await deadPid()}\n`);
    const statePath = join(storage, RUN_STATE_FILE);
    const state = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
    delete state["storageId"];
    writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`);
    unlinkSync(uploadLogOwnerPath(log));
    const lines = uploadLogRecords(log).length;
    const result = await cli(runArgs(name, "12h"));
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^imx-memsim: warning: storage .*: taking over a stale lock \(pid \d+ is not running\)\n$/,
    );
    expect(result.stdout).toMatch(/life 2 \(resumed/);
    const after = JSON.parse(readFileSync(statePath, "utf8")) as { storageId?: string; lives: number };
    expect(after.storageId).toMatch(/^[0-9a-f-]{36}$/);
    const owner = JSON.parse(readFileSync(uploadLogOwnerPath(log), "utf8")) as { storageId: string };
    expect(owner.storageId).toBe(after.storageId);
    const records = uploadLogRecords(log);
    expect(records.length).toBeGreaterThan(lines);
    expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
  });
});
