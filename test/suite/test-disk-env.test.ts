// The original harness's disk-simulation variables on `imx-memsim test`: IMX_TEST_DISK_USAGE is
// --disk-usage, IMX_TEST_DISK_SIZE / _MODE / _LOG put the storage on a simulated disk; a flag given
// on the command line wins and the run says so; a bad value is one clear line and exit 2. And
// --skip-cleanup means what it meant there: no final cleanup, the storage kept, while the cleanup
// between iterations still runs (--skip-iteration-cleanup is the other one).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../host/base/user-error.js";
import { testCommandRun, type TestIo } from "../../host/cli/test-command.js";
import { testDiskSettings } from "../../host/cli/test-disk-env.js";
import { DISK_SIM_MB_BYTES } from "../../host/hal/disk-sim.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-test-disk-env-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function io(env: Record<string, string>): TestIo & { text: () => string } {
  let buffer = "";
  return { out: (t) => void (buffer += t), err: (t) => void (buffer += t), tty: false, env, text: () => buffer };
}

describe("the settings", () => {
  it("reads the variables when no flag is given", () => {
    const settings = testDiskSettings(
      {},
      { IMX_TEST_DISK_USAGE: "79", IMX_TEST_DISK_SIZE: "64", IMX_TEST_DISK_MODE: "fail5", IMX_TEST_DISK_LOG: "1" },
    );
    expect(settings.usagePercent).toBe(79);
    expect(settings.sim).toEqual({ sizeBytes: 64 * DISK_SIM_MB_BYTES, mode: "fail5", log: true });
    expect(settings.notes).toContain("IMX_TEST_DISK_USAGE=79 from the environment");
  });

  it("a flag wins over its variable, and says so", () => {
    const settings = testDiskSettings(
      { diskUsage: "50", diskMode: "gradual" },
      { IMX_TEST_DISK_USAGE: "95", IMX_TEST_DISK_MODE: "fail5" },
    );
    expect(settings.usagePercent).toBe(50);
    expect(settings.sim?.mode).toBe("gradual");
    expect(settings.sim?.sizeBytes).toBe(10 * 1024 * DISK_SIM_MB_BYTES);
    expect(settings.notes).toEqual([
      "--disk-usage given on the command line wins over IMX_TEST_DISK_USAGE=95",
      "--disk-mode given on the command line wins over IMX_TEST_DISK_MODE=fail5",
    ]);
  });

  it("no variable and no flag: the real disk", () => {
    expect(testDiskSettings({}, {})).toEqual({ usagePercent: null, sim: null, notes: [] });
  });

  it.each([
    [{ IMX_TEST_DISK_USAGE: "120" }, /^IMX_TEST_DISK_USAGE must be a percentage from 0 to 100 \(got "120"\)$/],
    [{ IMX_TEST_DISK_SIZE: "0" }, /^IMX_TEST_DISK_SIZE must be an integer from 1 to \d+ \(got "0"\)$/],
    [{ IMX_TEST_DISK_SIZE: "1.5" }, /^IMX_TEST_DISK_SIZE must be an integer/],
    [{ IMX_TEST_DISK_MODE: "fast" }, /^IMX_TEST_DISK_MODE must be gradual or fail5 \(got "fast"\)$/],
    [{ IMX_TEST_DISK_LOG: "yes" }, /^IMX_TEST_DISK_LOG must be 0 or 1 \(got "yes"\)$/],
  ])("refuses %j", (env, message) => {
    expect(() => testDiskSettings({}, env)).toThrow(UsageError);
    expect(() => testDiskSettings({}, env)).toThrow(message);
  });
});

describe("a run", () => {
  it("IMX_TEST_DISK_USAGE=79 and =95 pass section 5, and the header names the variable", async () => {
    for (const usage of ["79", "95"]) {
      const out = io({ IMX_TEST_DISK_USAGE: usage });
      const result = await testCommandRun({ section: "5", iterations: "2" }, out);
      expect(result.passed).toBe(true);
      expect(out.text()).toContain(`disk ${usage}% used`);
      expect(out.text()).toContain(`IMX_TEST_DISK_USAGE=${usage} from the environment`);
    }
  });

  // Near the limit a spill under evict-oldest gives up the oldest files to make its own room: the
  // section counts those records as discarded instead of calling them missing (esp32's 1 MiB quota
  // gets there in the gradual fill); under refuse-new nothing may be given up.
  it.each([
    ["esp32", "evict-oldest"],
    ["esp32", "refuse-new"],
    ["esp32-direct", "evict-oldest"],
    ["tiny", "evict-oldest"],
  ])("section 5 passes on %s under %s", async (board, diskFull) => {
    const out = io({});
    const result = await testCommandRun({ board, diskFull, section: "5", iterations: "2" }, out);
    expect(result.passed, out.text()).toBe(true);
    expect(out.text()).toMatch(/5 +disk usage.* passed/);
  });

  it("fail5 on section 4: the refused spills are failed checks, not a crash", async () => {
    const out = io({ IMX_TEST_DISK_MODE: "fail5" });
    const result = await testCommandRun({ section: "4", iterations: "25" }, out);
    expect(result.stoppedEarly).toBeNull();
    expect(result.diskSim).toMatchObject({ mode: "fail5" });
    expect(result.diskSim?.noSpaceAnswers).toBeGreaterThan(0);
    expect(result.checks.some((c) => c.name === "ran without an unexpected error" && c.failed > 0)).toBe(false);
    expect(out.text()).toMatch(
      /^disk sim {5}fail5: no free space after 5 free-space queries on 10 GiB: \d+ free-space queries/m,
    );
  });

  it("gradual: the simulated disk fills from 50%, the log shows each query", async () => {
    const out = io({ IMX_TEST_DISK_MODE: "gradual", IMX_TEST_DISK_SIZE: "2", IMX_TEST_DISK_LOG: "1" });
    const result = await testCommandRun({ section: "4", iterations: "3" }, out);
    expect(out.text()).toContain("disk sim: query 1 (gradual): size 2.00 MB, others 1.00 MB");
    expect(result.diskSim?.noSpaceAnswers).toBeGreaterThan(0);
  });

  it("--skip-cleanup keeps the storage and what the run left; the iterations are still cleaned", async () => {
    const storage = path.join(dir, "kept");
    const out = io({});
    const result = await testCommandRun({ iterations: "2", section: "3", storage, skipCleanup: true }, out);
    expect(result.passed).toBe(true);
    expect(result.finalCleanup).toBe(false);
    expect(result.cleanupMs.samples).toBe(2);
    expect(fs.existsSync(storage)).toBe(true);
    expect(out.text()).toContain(`storage      kept (--skip-cleanup): ${storage}`);
    expect(result.checks.some((c) => c.name.startsWith("at the end:"))).toBe(false);
  });

  it("--skip-cleanup keeps even the temporary storage", async () => {
    const out = io({});
    const result = await testCommandRun({ iterations: "1", section: "3", skipCleanup: true }, out);
    expect(fs.existsSync(result.storageDir)).toBe(true);
    fs.rmSync(result.storageDir, { recursive: true, force: true });
  });

  it("--skip-cleanup and --skip-iteration-cleanup together are refused", async () => {
    await expect(
      testCommandRun({ iterations: "1", skipCleanup: true, skipIterationCleanup: true }, io({})),
    ).rejects.toThrow(/cannot be combined/);
  });
});
