// Shows that the comprehensive test can fail, and says why when it does. A run on a clean core
// passes; then the disk tier is sabotaged (a HAL whose remove() reports success but keeps the file —
// the original's "free_sector_extended doesn't delete files" bug — and one that corrupts what it
// reads), and the device is broken one method at a time, once per section; each time the run fails
// and the failed check names what it expected and what it got (for the iteration check: how many
// .imx files and RAM sectors were left).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Board, DEFAULT_BOARD_NAME, loadBoard } from "../../host/boards.js";
import type { BulkRecords, Device, UploadRecord } from "../../host/core/device.js";
import { CoreAssertionError } from "../../host/core/errors.js";
import type { Hal } from "../../host/hal/hal.js";
import type { CheckSummary } from "../../host/suite/checks.js";
import { runSuite, type SuiteOptions, type SuiteResult } from "../../host/suite/run.js";

const fc1 = loadBoard(DEFAULT_BOARD_NAME);

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-suite-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(board: Board, options: Partial<SuiteOptions>): Promise<SuiteResult> {
  return runSuite(
    {
      board,
      storageDir: dir,
      iterations: 1,
      sections: [],
      fullEvery: 1,
      policy: board.tier.cleanupPolicy,
      diskUsagePercent: null,
      seed: 1,
      stopOnFail: false,
      skipIterationCleanup: false,
      fsync: false,
      verbose: false,
      ...options,
    },
    { line: () => {} },
  );
}

/** A Hal that passes every call through except the ones given. */
function halWith(inner: Hal, overrides: Partial<Hal>): Hal {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop in overrides) return overrides[prop as keyof Hal];
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value.bind(target) as unknown) : value;
    },
  });
}

/** remove() and removeAsync() of `.imx` files report success and keep the file. */
const keepImxFiles = (hal: Hal): Hal =>
  halWith(hal, {
    remove: (p: string) => (p.endsWith(".imx") ? undefined : hal.remove(p)),
    removeAsync: (p: string) => (p.endsWith(".imx") ? Promise.resolve() : hal.removeAsync(p)),
  });

/** readFileInto() of `.imx` files flips the first payload byte. */
const corruptImxReads = (hal: Hal): Hal =>
  halWith(hal, {
    readFileInto: (p: string, into: Uint8Array) => {
      const n = hal.readFileInto(p, into);
      if (p.endsWith(".imx") && n > 64) into[64] = (into[64] ?? 0) ^ 0xff;
      return n;
    },
  });

function failed(result: SuiteResult, section: number, name: string): CheckSummary | undefined {
  return result.checks.find((c) => c.section === section && c.name.includes(name) && c.failed > 0);
}

describe("a correct core", () => {
  it("passes every section on the default board and leaves no file", async () => {
    const result = await run(fc1, { sections: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], iterations: 2 });
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(true);
    expect(result.sections.every((s) => s.status === "passed")).toBe(true);
    expect(result.files.created).toBeGreaterThan(0);
    expect(result.files.leftAtEnd).toBe(0);
    expect(fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".imx"))).toEqual([]);
  });

  it("reports the disk sections as skipped, not passed, on a board without a disk tier", async () => {
    const result = await run(loadBoard("nrf52840"), { sections: [1, 4, 5, 8, 9, 10] });
    expect(result.passed).toBe(true);
    expect(result.sections.map((s) => [s.id, s.status])).toEqual([
      [1, "passed"],
      [4, "skipped"],
      [5, "skipped"],
      [8, "skipped"],
      [9, "skipped"],
      [10, "skipped"],
    ]);
    expect(result.sections[1]?.skipReason).toBe("board nrf52840 has no disk tier");
  });
});

describe("a disk tier that skips file deletion", () => {
  it("fails every iteration, naming the .imx files that remained", async () => {
    const result = await run(fc1, { iterations: 3, halWrap: keepImxFiles });
    expect(result.passed).toBe(false);
    const check = "ensureCleanupComplete leaves 0 .imx files and 0 RAM sectors with data";
    const iterationFailures = result.failures.filter((f) => f.check === check);
    // Four streams flush one file each per iteration; none is really deleted.
    expect(iterationFailures.map((f) => [f.iteration, f.actual.replace(/ \(cleanup.*$/, "")])).toEqual([
      [1, "4 .imx files and 0 RAM sectors with data remained"],
      [2, "8 .imx files and 0 RAM sectors with data remained"],
      [3, "12 .imx files and 0 RAM sectors with data remained"],
    ]);
    expect(iterationFailures[0]?.expected).toBe("0 .imx files, 0 RAM sectors with data, cleanup complete");
    expect(result.iterationsFailed).toBe(3);
    expect(result.files.leftAtEnd).toBe(12);
  });

  it("--stop-on-fail stops after the first failed iteration", async () => {
    const result = await run(fc1, { iterations: 5, halWrap: keepImxFiles, stopOnFail: true });
    expect(result.iterationsCompleted).toBe(1);
    expect(result.stoppedEarly).toBe("--stop-on-fail: iteration 1 failed");
    expect(result.passed).toBe(false);
  });

  it("--skip-iteration-cleanup: no cleanup between iterations, but the final one is checked", async () => {
    const clean = await run(fc1, { iterations: 3, skipIterationCleanup: true });
    expect(clean.passed).toBe(true);
    expect(clean.cleanupMs.samples).toBe(0);
    const broken = await run(fc1, { iterations: 3, skipIterationCleanup: true, halWrap: keepImxFiles });
    expect(broken.failures.map((f) => [f.check, f.actual])).toEqual([
      [
        "at the end: 0 .imx files anywhere in the storage directory, 0 RAM sectors with data",
        "12 files, 0 sectors, complete",
      ],
    ]);
  });

  it("fails the tiered, cleanup, shutdown and spillover sections", async () => {
    const result = await run(fc1, { sections: [4, 8, 9, 10], halWrap: keepImxFiles });
    expect(failed(result, 4, "every record acknowledged: the files are deleted")?.firstFailure?.actual).toMatch(
      /^[1-9]\d* files left/,
    );
    expect(failed(result, 8, "immediate: the files are gone when the ACK returns")).toBeDefined();
    expect(failed(result, 8, "batched: finally 0 files")).toBeDefined();
    expect(failed(result, 9, "flush_all_with_data: once acknowledged the flushed files are deleted")).toBeDefined();
    expect(failed(result, 10, "phase 2: the spilled files are deleted once acknowledged")).toBeDefined();
    expect(result.sections.map((s) => s.status)).toEqual(["failed", "failed", "failed", "failed"]);
  });
});

describe("a disk tier that corrupts what it reads", () => {
  it("fails the cycle's exact read-back: the corrupted file's records never come back", async () => {
    const result = await run(fc1, { iterations: 1, halWrap: corruptImxReads });
    const check = failed(result, 0, "cycle: every record read back exactly");
    expect(check?.firstFailure?.actual).toMatch(/missing/);
    expect(result.passed).toBe(false);
  });

  it("fails the spillover section's verification of the disk tier", async () => {
    const result = await run(fc1, { sections: [10], halWrap: corruptImxReads });
    expect(failed(result, 10, "phase 2: every record verified, disk first then RAM")).toBeDefined();
  });
});

/**
 * Breaks both bulk reads of every device the suite boots the same way: `change` rewrites what a
 * read returns (readBulk's objects; readBulkInto's arrays are rewritten through the same objects).
 */
function breakBulkReads(change: (records: UploadRecord[]) => UploadRecord[]): (device: Device) => void {
  return (device) => {
    const readBulk = device.readBulk.bind(device);
    const broken = (source: number, sensor: number, max: number): UploadRecord[] =>
      change(readBulk(source, sensor, max));
    const brokenInto = (source: number, sensor: number, max: number, into: BulkRecords): number => {
      const records = broken(source, sensor, Math.min(max, into.seq.length));
      records.forEach((r, i) => {
        into.seq[i] = r.seq;
        into.utcMs[i] = r.utcMs;
        into.value[i] = r.value;
        into.disk[i] = r.tier === "disk" ? 1 : 0;
      });
      // The records dropped were read too: what the caller acknowledges is what it was given.
      return records.length;
    };
    Object.defineProperty(device, "readBulk", { value: broken, configurable: true, writable: true });
    Object.defineProperty(device, "readBulkInto", { value: brokenInto, configurable: true, writable: true });
  };
}

/** Replaces one method of every device the suite boots. */
function breakMethod<K extends keyof Device>(
  name: K,
  make: (original: Device[K], device: Device) => Device[K],
): (device: Device) => void {
  return (device) => {
    const original = (device[name] as unknown as (...args: unknown[]) => unknown).bind(device) as Device[K];
    Object.defineProperty(device, name, { value: make(original, device), configurable: true, writable: true });
  };
}

describe("a core broken one method at a time fails the section that covers it", () => {
  const cases: Array<{ section: number; broken: string; hook: (device: Device) => void; check: string }> = [
    {
      section: 1,
      broken: "sectorRead flips bit 0",
      hook: breakMethod("sectorRead", (read) => (id: number, offset: number) => (read(id, offset) ^ 1) >>> 0),
      check: "pattern 0xDEADBEEF XOR index: words read back wrong",
    },
    {
      section: 2,
      broken: "readBulk drops the first record of every batch (an off-by-one)",
      hook: breakBulkReads((records) => records.slice(1)),
      check: "Temperature (1001, TSD float32, every 60 s): every sample read back",
    },
    {
      section: 3,
      broken: "stats() reports no fragmentation",
      hook: breakMethod("stats", (stats) => () => ({ ...stats(), fragmentationPercent: 0 })),
      check: "every other sector id freed: fragmentation 100%",
    },
    {
      section: 4,
      broken: "processMemory never runs the state machine",
      hook: breakMethod("processMemory", (_pm, device) => () => device.tierState),
      check: "spill above the threshold writes .imx files",
    },
    {
      section: 5,
      broken: "the disk usage share is ignored",
      hook: breakMethod("setDiskUsagePercent", () => () => undefined),
      check: "spill with 81% of the disk quota used",
    },
    {
      section: 6,
      broken: "revert (NACK) does nothing",
      hook: breakMethod("revert", () => () => undefined),
      check: "revert (NACK) twice: nothing pending",
    },
    {
      section: 7,
      broken: "stats() stops counting allocations",
      hook: breakMethod("stats", (stats) => () => ({ ...stats(), allocations: 0 })),
      check: "allocations and frees counted",
    },
    {
      section: 8,
      broken: "the cleanup-complete flag is always true",
      hook: breakMethod("isCleanupComplete", () => () => true),
      check: "batched: after the ACK every file awaits deletion",
    },
    {
      section: 9,
      broken: "flush progress always reads 101",
      hook: breakMethod("getFlushProgress", () => () => 101),
      check: "flush_progress: rises monotonically through intermediate values to 101",
    },
    {
      section: 10,
      broken: "bulk reads return wrong values",
      hook: breakBulkReads((records) => records.map((r) => ({ ...r, value: r.value + 1 }))),
      check: "phase 1: every record in RAM verified",
    },
  ];

  it.each(cases)("section $section: $broken", async ({ section, hook, check }) => {
    const result = await run(fc1, { sections: [section], deviceHook: hook });
    const failure = failed(result, section, check);
    expect(
      failure,
      `check "${check}" did not fail; failures: ${result.failures.map((f) => f.check).join(" | ")}`,
    ).toBeDefined();
    expect(failure?.firstFailure?.expected).not.toBe("");
    expect(failure?.firstFailure?.actual).not.toBe(failure?.firstFailure?.expected);
    expect(result.passed).toBe(false);
    expect(result.sections[0]?.status).toBe("failed");
  });
});

describe("a failed core assertion", () => {
  it("stops the run and says where", async () => {
    const hook = breakBulkReads(() => {
      throw new CoreAssertionError(
        "core assertion failed: pending records missing from RAM at assembly/stream.ts:380:5",
      );
    });
    const result = await run(fc1, { iterations: 5, deviceHook: hook });
    expect(result.passed).toBe(false);
    expect(result.iterationsCompleted).toBe(0);
    expect(result.stoppedEarly).toBe(
      "core assertion failed: pending records missing from RAM at assembly/stream.ts:380:5",
    );
    expect(result.failures[0]?.actual).toMatch(/^CoreAssertionError: core assertion failed/);
  });
});

describe("leak detection across iterations", () => {
  const tiny = loadBoard("tiny");

  it("judges a correct run of 700 iterations flat", async () => {
    const result = await run(tiny, { iterations: 700, fullEvery: 1000 });
    expect(result.failures).toEqual([]);
    expect(result.leaks.judged).toBe(true);
    expect(result.leaks.figures.filter((f) => f.passed === false)).toEqual([]);
  });

  it("fails on a leaked sector, a leaked file descriptor per iteration and a leaked 64 KiB per iteration", async () => {
    const fds: number[] = [];
    const kept: number[][] = [];
    let sector = -1;
    try {
      const result = await run(tiny, {
        iterations: 700,
        fullEvery: 1000,
        iterationHook: (iteration, env) => {
          if (iteration === 3) sector = env.device.sectorAlloc();
          if (fs.existsSync("/proc/self/fd")) fds.push(fs.openSync(process.execPath, "r"));
          kept.push(new Array<number>(8192).fill(iteration));
        },
      });
      expect(result.passed).toBe(false);
      const cleanup = result.failures.find((f) => f.check.startsWith("ensureCleanupComplete leaves"));
      expect(cleanup?.iteration).toBe(3);
      expect(cleanup?.actual).toMatch(/^0 \.imx files and 1 RAM sectors with data remained/);
      expect(failed(result, 0, "free sectors back to the initial count")?.firstFailure).toMatchObject({
        iteration: 3,
        expected: "16",
        actual: "15",
      });
      expect(failed(result, 0, "leak: host heap (bytes) growth per 1,000 iterations")).toBeDefined();
      if (fds.length > 0)
        expect(failed(result, 0, "leak: open file descriptors growth per 1,000 iterations")).toBeDefined();
    } finally {
      for (const fd of fds) fs.closeSync(fd);
      expect(sector).toBeGreaterThanOrEqual(0);
    }
  });
});
