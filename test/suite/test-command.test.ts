// The `imx-memsim test` command line: bad flags exit 2 with one clear line and run nothing; a run
// prints the summary table and exits 0 when every check passed; --json writes the whole result in
// the documented shape; --storage is used (and kept) as given, and a non-empty one is refused; and
// a run passes on board files of every sector geometry (test/support/geometries.ts), its
// predictions following the sector size.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { EXIT_OK, EXIT_USAGE, runCli } from "../../host/cli/errors.js";
import { programBuild } from "../../host/cli/main.js";
import { testCommandRun, type TestIo } from "../../host/cli/test-command.js";
import { VARIANT_SECTOR_BYTES, variantFileWrite } from "../support/geometries.js";

/** The parts of the JSON report that the assertions below walk into. */
interface ReportJson {
  sections: Array<{ checks: number }>;
  checks: Array<Record<string, unknown>>;
  cleanupMs: Record<string, unknown>;
  leaks: { figures: Array<{ metric: string }> };
  leakBoundsPer1000: unknown;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-test-cmd-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs the CLI in-process; returns the exit code and what went to stdout and stderr. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const code = await runCli(
    () =>
      programBuild({ writeOut: (t) => void (out += t), writeErr: (t) => void (err += t) }).parseAsync(args, {
        from: "user",
      }),
    { stderrWrite: (t) => void (err += t), verbose: false },
  );
  vi.restoreAllMocks();
  process.exitCode = undefined;
  return { code, out, err };
}

function io(): TestIo & { text: () => string } {
  let buffer = "";
  return { out: (t) => void (buffer += t), err: (t) => void (buffer += t), tty: false, text: () => buffer };
}

describe("bad flags exit 2 with a clear message", () => {
  const nonEmpty = path.join(dir, "not-empty");
  fs.mkdirSync(nonEmpty);
  fs.writeFileSync(path.join(nonEmpty, "x"), "");
  const cases: Array<[string[], RegExp]> = [
    [["--iterations", "0"], /--iterations must be an integer from 1 to 100000000 \(got "0"\)/],
    [["--iterations", "ten"], /--iterations must be an integer/],
    [["--iterations", "1.5"], /--iterations must be an integer/],
    [["--section", "11"], /--section must be an integer from 0 to 10 \(got "11"\)/],
    [["--section", "-1"], /--section must be an integer from 0 to 10/],
    [["--policy", "eager"], /--policy must be immediate, batched or lazy \(got "eager"\)/],
    [["--disk-usage", "101"], /--disk-usage must be a percentage from 0 to 100 \(got "101"\)/],
    [["--disk-usage", "half"], /--disk-usage must be a percentage/],
    [["--board", "nrf52840", "--disk-usage", "50"], /--disk-usage needs a disk tier; board nrf52840 has none/],
    [["--board", "no-such-board"], /no-such-board/],
    [["--seed", "-3"], /--seed must be an integer from 0 to 4294967295/],
    [["--full-every", "0"], /--full-every must be an integer from 1/],
    [["--storage", nonEmpty], /is not empty/],
    [["--json", path.join(dir, "missing-dir", "out.json")], /--json .*does not exist/],
    [["--no-such-flag"], /unknown option '--no-such-flag'/],
  ];
  it.each(cases)("test %j", async (args, message) => {
    const { code, out, err } = await cli(["test", ...args]);
    expect(code).toBe(EXIT_USAGE);
    expect(err).toMatch(message);
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(/^imx-memsim: /);
    expect(out).not.toMatch(/iterations of write/);
  });
});

describe("a run", () => {
  it("exits 0, prints the summary and writes the whole result with --json", async () => {
    const file = path.join(dir, "result.json");
    const { code, out } = await cli(["test", "--board", "tiny", "--iterations", "3", "--json", file]);
    expect(code).toBe(EXIT_OK);
    expect(out).toMatch(/^imx-memsim test: board tiny/);
    expect(out).toMatch(/^ 1 {2}core: SAT, allocate\/free/m);
    expect(out).toMatch(
      /^cleanup {6}per iteration p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms \(3 iterations, 0 incomplete\)$/m,
    );
    expect(out).toMatch(
      /^files {8}\d+ \.imx files created, \d+ deleted, 2 quarantined \(found corrupt when read\), 0 left at the end/m,
    );
    expect(out).toMatch(/^leaks {8}free sectors 16 → 16, wasm memory 64 KiB → 64 KiB$/m);
    expect(out).toMatch(/^result {7}PASS$/m);

    const result = JSON.parse(fs.readFileSync(file, "utf8")) as ReportJson;
    expect(result).toMatchObject({
      command: "test",
      passed: true,
      board: "tiny",
      policy: "immediate",
      seed: 1,
      iterationsRequested: 3,
      iterationsCompleted: 3,
      iterationsFailed: 0,
      fullIterations: 2,
      checkRunsFailed: 0,
      failures: [],
      cleanupMs: { samples: 3 },
      files: { leftAtEnd: 0 },
      leaks: { freeSectorsInitial: 16, freeSectorsFinal: 16, judged: false },
    });
    expect(result.sections).toHaveLength(10);
    for (const section of result.sections) {
      expect(section).toMatchObject({ status: "passed", runs: 2, checkRunsFailed: 0 });
      expect(section.checks).toBeGreaterThan(0);
    }
    expect(result.checks.length).toBeGreaterThan(100);
    for (const check of result.checks) {
      expect(Object.keys(check).sort()).toEqual([
        "actual",
        "expected",
        "failed",
        "firstFailure",
        "name",
        "passed",
        "runs",
        "section",
      ]);
      expect(typeof check.expected).toBe("string");
      expect(typeof check.actual).toBe("string");
    }
    for (const key of ["p50", "p99", "max", "mean"]) expect(typeof result.cleanupMs[key]).toBe("number");
    expect(result.leaks.figures.map((f) => f.metric)).toEqual(["fds", "heapBytes", "externalBytes", "rssBytes"]);
    expect(result.leakBoundsPer1000).toEqual({
      fds: 1,
      heapBytes: 1048576,
      externalBytes: 1048576,
      rssBytes: 16777216,
    });
  });

  it("uses --storage as given, keeps it, and leaves no .imx file in it", async () => {
    const storage = path.join(dir, "storage");
    const out = io();
    const result = await testCommandRun({ board: "esp32", iterations: "2", section: "8", storage }, out);
    expect(result.passed).toBe(true);
    expect(result.storageDir).toBe(storage);
    expect(fs.existsSync(storage)).toBe(true);
    expect(fs.readdirSync(storage, { recursive: true }).filter((f) => String(f).endsWith(".imx"))).toEqual([]);
    expect(out.text()).toMatch(/^ 8 {2}cleanup: each policy/m);
    expect(out.text()).not.toMatch(/^ 1 {2}core/m);
  });

  it("prints plain progress lines when not on a terminal", async () => {
    const out = io();
    const result = await testCommandRun({ board: "tiny", iterations: "40", section: "3" }, out);
    expect(result.passed).toBe(true);
    expect(out.text()).toMatch(/^test: 2\/40 iterations \(5%\), \d+ it\/s, ETA \d+ s, 0 failed checks$/m);
    expect(out.text()).toMatch(/^test: 40\/40 iterations \(100%\)/m);
  });
});

describe("over the sector geometries", () => {
  it.each(VARIANT_SECTOR_BYTES)("--iterations 30 --board <tiny with %i-byte sectors> passes", async (sectorBytes) => {
    const file = variantFileWrite(dir, sectorBytes);
    const out = io();
    const result = await testCommandRun({ board: file, iterations: "30" }, out);
    expect(out.text()).toMatch(
      new RegExp(`^imx-memsim test: board tiny-s${sectorBytes} \\(16 sectors of ${sectorBytes} B`),
    );
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({ passed: true, iterationsCompleted: 30, checkRunsFailed: 0 });
    for (const section of result.sections) expect(section).toMatchObject({ status: "passed", runs: 2 });
  });
});
