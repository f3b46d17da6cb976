// Every command reads its numbers and durations through host/base/parse.ts, and a flag that takes
// one value may be given once. A refusal is one `imx-memsim: …` line (stdout and stderr together
// hold just that line) naming the flag, exit 2, and the storage is unchanged byte for byte.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  durationFlag,
  durationParse,
  integerFlag,
  integerParse,
  numberFlag,
  numberParse,
} from "../../host/base/parse.js";
import { UsageError } from "../../host/base/user-error.js";
import { cli, snapshot } from "../run/helpers.js";
import { refused } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the strict parser", () => {
  it("reads decimal integers only, within 2^53 − 1", () => {
    expect(integerParse("0")).toBe(0);
    expect(integerParse("42")).toBe(42);
    expect(integerParse("-7")).toBe(-7);
    expect(integerParse("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ["", " 5", "5 ", "0x10", "1e3", "+5", "-0", "007", "1.0", "1_000", "9007199254740992", "five"])
      expect(integerParse(bad), bad).toBeNull();
  });

  it("reads decimal numbers without exponents, hex or spaces", () => {
    expect(numberParse("2.5")).toBe(2.5);
    expect(numberParse("100")).toBe(100);
    expect(numberParse("-1.25")).toBe(-1.25);
    for (const bad of ["", " 1", "1e3", "0x10", ".5", "5.", "-0", "-0.0", "Infinity", "NaN", "1,5"])
      expect(numberParse(bad), bad).toBeNull();
  });

  it("reads durations with their units and keeps every documented form", () => {
    expect(durationParse("7d")).toBe(7 * 86_400_000);
    expect(durationParse("90m")).toBe(90 * 60_000);
    expect(durationParse("1h30m")).toBe(90 * 60_000);
    expect(durationParse("2.5h")).toBe(2.5 * 3_600_000);
    expect(durationParse("250ms")).toBe(250);
    expect(durationParse("1w")).toBe(7 * 86_400_000);
    expect(durationParse("0")).toBe(0);
    for (const bad of ["", "5", " 5m", "5m ", "1 h", "0x10s", "1e3s", "-1h", "h", "5x", "99999999999w"])
      expect(durationParse(bad), bad).toBeNull();
  });

  it("names the flag and the rule in its errors", () => {
    expect(() => integerFlag("11", "--section", 0, 10)).toThrow(
      new UsageError('--section must be an integer from 0 to 10 (got "11")'),
    );
    expect(() => numberFlag("0", "--speed", { above: 0 })).toThrow(/--speed must be a number above 0 \(got "0"\)/);
    expect(() => numberFlag("101", "--x", { min: 0, max: 100 })).toThrow(/--x must be a number from 0 to 100/);
    expect(() => durationFlag("5", "--duration")).toThrow(/--duration must be a duration with a unit .* \(got "5"\)/);
    expect(durationFlag("90m", "--duration")).toBe(5_400_000);
  });
});

describe("flags on the command line", () => {
  const storage = join(dir, "st");
  let before: Map<string, string>;

  beforeAll(async () => {
    const first = await cli(["run", "--storage", storage, "--duration", "1h", "--speed", "max", "--quiet"]);
    expect(first.code, first.stderr).toBe(0);
    before = snapshot(storage);
  }, 60_000);

  const run = (...args: string[]): string[] => ["run", "--storage", storage, "--speed", "max", "--quiet", ...args];

  it("refuses loose numbers with one line, exit 2, and leaves the storage as it was", async () => {
    const cases: Array<[string[], RegExp]> = [
      [run("--duration", "2h", "--seed", "0x10"), /--seed must be an integer from 0 to \d+ \(got "0x10"\)/],
      [run("--duration", "2h", "--seed", " 5"), /--seed must be an integer .*\(got " 5"\)/],
      [run("--duration", "2h", "--seed", "-0"), /--seed must be an integer .*\(got "-0"\)/],
      [run("--duration", "2h", "--seed", "1e3"), /--seed must be an integer/],
      [run("--duration", "2h", "--tick", "9007199254740993"), /--tick must be an integer from 1 to 4294967295/],
      [run("--duration", "2h", "--devices", "0x2"), /--devices must be an integer/],
      [run("--duration", "2h", "--packet", "1.0"), /--packet must be an integer/],
      [run("--duration", "2h", "--ack-loss", "1e1"), /--ack-loss must be a percentage from 0 to 100 \(got "1e1"\)/],
      [
        ["run", "--storage", storage, "--quiet", "--speed", "0"],
        /--speed must be a positive number \(times real time\) or "max"/,
      ],
      [["run", "--storage", storage, "--quiet", "--speed", "-0"], /--speed must be a positive number/],
      [["run", "--storage", storage, "--quiet", "--speed", "0x10"], /--speed must be a positive number/],
      [run("--duration", "5"), /--duration must be a duration with a unit .* \(got "5"\)/],
      [run("--duration", " 2h"), /--duration must be a duration with a unit/],
      [run("--duration", "2h", "--upload-every", "60"), /--upload-every must be a duration with a unit/],
      [run("--duration", "2h", "--latency", "0x10"), /--latency must be a time in ms/],
      [run("--duration", "2h", "--outage", "30 every 6h"), /--outage "30 every 6h": the outage's length "30"/],
      [run("--duration", "2h", "--tsd", "1004:10"), /--tsd 1004:10: sample rate "10" must be a duration/],
      [run("--duration", "2h", "--tsd", "0x10:10s"), /--tsd 0x10:10s: sensor "0x10" must be an integer/],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
    expect(snapshot(storage)).toEqual(before);
  }, 120_000);

  it("refuses a single-valued flag given twice, naming both values", async () => {
    const cases: Array<[string[], RegExp]> = [
      [run("--duration", "2h", "--duration", "3h"), /^imx-memsim: --duration was given twice \("2h", then "3h"\)/],
      [run("--duration", "2h", "--seed=1", "--seed=1"), /--seed was given twice \("1", then "1"\)/],
      [run("--duration", "2h", "--speed", "5", "--speed", "max"), /--speed was given twice/],
      [["demo", "--records", "10", "--records", "20"], /--records was given twice/],
      [["sim", "--seeds", "1", "--seeds", "2"], /--seeds was given twice/],
      [["test", "--iterations", "1", "--iterations", "2"], /--iterations was given twice/],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
    expect(snapshot(storage)).toEqual(before);
  }, 120_000);

  it("refuses out-of-range values on the other commands", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["demo", "--records", "99999999999999999999"], /--records must be an integer from 1 to 10000000/],
      [["demo", "--records", "0x10"], /--records must be an integer/],
      [["demo", "--seed", "1.5"], /--seed must be an integer/],
      [["sim", "--seeds", "0x10"], /--seeds must be an integer from 1 to 1000000/],
      [["sim", "--steps", " 5"], /--steps must be an integer/],
      [["test", "--iterations", "1e3"], /--iterations must be an integer/],
      [["test", "--disk-usage", "1e1"], /--disk-usage must be a percentage from 0 to 100/],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
  }, 120_000);

  it("still accepts a repeatable flag several times and every documented duration form", async () => {
    const result = await cli(
      run(
        "--duration",
        "1h30m",
        "--outage",
        "10m at 1h",
        "--outage",
        "5m every 1h at 0",
        "--upload-every",
        "2.5m",
        "--latency",
        "100-2s",
      ),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/simulated .*01:30:00/);
  }, 60_000);
});
