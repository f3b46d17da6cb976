// Bad input found before anything changes: output files that could not be written, workload
// values outside their data type, and the loose cases of the other commands (demo --storage on a
// file, bench --only and --compare, a board field that breaks two rules). Each refusal is one
// `imx-memsim: …` line and exit 2; where there is a storage it is unchanged byte for byte.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boardsDir } from "../../host/boards.js";
import { workloadLoad } from "../../host/run/workload.js";
import { cli, snapshot } from "../run/helpers.js";
import { refused } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const storage = join(dir, "st");
let before: Map<string, string>;
const run = (...args: string[]): string[] => [
  "run",
  "--storage",
  storage,
  "--duration",
  "2h",
  "--speed",
  "max",
  "--quiet",
  ...args,
];

beforeAll(async () => {
  const first = await cli(["run", "--storage", storage, "--duration", "1h", "--speed", "max", "--quiet"]);
  expect(first.code, first.stderr).toBe(0);
  before = snapshot(storage);
}, 60_000);

describe("output paths are checked before the storage is touched", () => {
  it("refuses a missing directory, a directory as a file and a path under a file", async () => {
    const aDir = join(dir, "a-dir");
    mkdirSync(aDir);
    const aFile = join(dir, "a-file");
    writeFileSync(aFile, "");
    const cases: Array<[string[], RegExp]> = [
      [
        run("--upload-log", "/nonexistent/u.ndjson"),
        /^imx-memsim: --upload-log \/nonexistent\/u\.ndjson: the directory \/nonexistent does not exist\n$/,
      ],
      [
        run("--json", "/nonexistent/x.json"),
        /^imx-memsim: --json \/nonexistent\/x\.json: the directory \/nonexistent does not exist\n$/,
      ],
      [run("--trace", aDir), /--trace .*a-dir: is not a file \(it is a directory\)/],
      [run("--packets", aDir), /--packets .*a-dir: is not a file \(it is a directory\)/],
      [run("--upload-log", aDir), /--upload-log .*a-dir: is not a file \(it is a directory\)/],
      [run("--json", join(aFile, "x.json")), /--json .*a-file\/x\.json: .*a-file is not a directory/],
      [
        run("--devices", "2", "--upload-log", join(dir, "nope", "u.ndjson")),
        /--upload-log .*u\.device-0\.ndjson: the directory .*nope does not exist/,
      ],
      [["sim", "--seeds", "1", "--json", "/nonexistent/s.json"], /--json \/nonexistent\/s\.json: the directory/],
      [["bench", "--quick", "--html", "/nonexistent/b.html"], /--html \/nonexistent\/b\.html: the directory/],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
    expect(snapshot(storage)).toEqual(before);
    expect(existsSync(join(dir, "nope"))).toBe(false);
  }, 120_000);

  it("refuses an upload log on a read-only filesystem", async (context) => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const mounted =
      process.getuid?.() === 0 && spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro]).status === 0;
    if (!mounted) {
      console.log("skipped: a read-only mount needs root and mount(8)");
      context.skip();
      return;
    }
    try {
      await refused(
        run("--upload-log", join(ro, "u.ndjson")),
        /^imx-memsim: --upload-log .*ro\/u\.ndjson: the directory .*ro cannot be written \(EROFS\)\n$/,
      );
      expect(snapshot(storage)).toEqual(before);
    } finally {
      spawnSync("umount", [ro]);
    }
  }, 60_000);
});

describe("workload values are checked against their data type", () => {
  const workload = (dataType: string, value: unknown): string => {
    const file = join(dir, `w-${dataType}-${JSON.stringify(value).replace(/[^a-z0-9]/gi, "")}.json`);
    writeFileSync(file, JSON.stringify({ streams: [{ sensor: 1, type: "tsd", sampleRate: "10s", dataType, value }] }));
    return file;
  };

  it("refuses values a float32, an int32 or a uint32 cannot hold, naming the file and the field", () => {
    expect(() => workloadLoad(workload("float32", { kind: "constant", value: 1e39 }))).toThrow(
      /w-float32-.*\.json: streams\[0\]\.value\.value: 1e\+39 is outside the stream's float32: a float32 is within ±3\.4028234663852886e\+38/,
    );
    expect(() => workloadLoad(workload("int32", { kind: "constant", value: 1e12 }))).toThrow(
      /streams\[0\]\.value\.value: 1000000000000 is outside the stream's int32: an int32 is an integer from -2147483648 to 2147483647/,
    );
    expect(() => workloadLoad(workload("uint32", { kind: "constant", value: -5 }))).toThrow(
      /streams\[0\]\.value\.value: -5 is outside the stream's uint32: a uint32 is an integer from 0 to 4294967295/,
    );
    expect(() => workloadLoad(workload("uint32", { kind: "constant", value: 1.5 }))).toThrow(
      /value\.value: 1\.5 is outside/,
    );
    expect(() => workloadLoad(workload("int32", { kind: "random", min: 0, max: 3e9 }))).toThrow(
      /streams\[0\]\.value\.max: 3000000000 is outside the stream's int32/,
    );
    expect(() => workloadLoad(workload("float32", { kind: "sine", mean: 3e38, amplitude: 1e38 }))).toThrow(
      /streams\[0\]\.value\.amplitude: mean 3e\+38 ± \(amplitude 1e\+38 \+ noise 0\) reaches 4e\+38, outside the stream's float32/,
    );
    // The edges themselves fit.
    expect(workloadLoad(workload("float32", { kind: "constant", value: 3.4028234663852886e38 })).streams).toHaveLength(
      1,
    );
    expect(workloadLoad(workload("int32", { kind: "random", min: -2147483648, max: 2147483647 })).streams).toHaveLength(
      1,
    );
    expect(workloadLoad(workload("uint32", { kind: "sine", mean: 10, amplitude: 10 })).streams).toHaveLength(1);
  });

  it("refuses them before the run, with or without an upload log", async () => {
    const log = join(dir, "cloud.ndjson");
    const cases: Array<[string[], RegExp]> = [
      [
        run("--workload", workload("float32", { kind: "constant", value: 1e39 })),
        /^imx-memsim: .*streams\[0\]\.value\.value: 1e\+39 is outside/,
      ],
      [
        run("--workload", workload("float32", { kind: "constant", value: 1e39 }), "--upload-log", log),
        /streams\[0\]\.value\.value: 1e\+39 is outside/,
      ],
      [
        run("--workload", workload("int32", { kind: "constant", value: 1e12 }), "--upload-log", log),
        /value\.value: 1000000000000 is outside the stream's int32/,
      ],
      [
        run("--workload", workload("uint32", { kind: "constant", value: -5 })),
        /value\.value: -5 is outside the stream's uint32/,
      ],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
    expect(existsSync(log)).toBe(false);
    expect(snapshot(storage)).toEqual(before);
  }, 120_000);
});

describe("the other commands' loose cases", () => {
  it("demo --storage on a file says it is not a directory", async () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "keep");
    await refused(["demo", "--storage", file], /^imx-memsim: --storage .*not-a-dir is not a directory\n$/);
    expect(readFileSync(file, "utf8")).toBe("keep");
  });

  it("bench --only with an unknown name and a bad --compare file exit 2 with one line", async () => {
    const notJson = join(dir, "not.json");
    writeFileSync(notJson, "nope\n");
    const notReport = join(dir, "not-report.json");
    writeFileSync(notReport, '{"x": 1}');
    const cases: Array<[string[], RegExp]> = [
      [["bench", "--only", "nope"], /^imx-memsim: --only: unknown benchmark "nope" \(one of cleanup-latency, /],
      [["bench", "--compare", notJson], /^imx-memsim: --compare .*not\.json: not JSON: /],
      [
        ["bench", "--compare", notReport],
        /^imx-memsim: --compare .*not-report\.json: not a bench report \(--json writes one\): board: /,
      ],
      [["bench", "--compare", join(dir, "missing.json")], /--compare .*missing\.json: cannot read the file \(ENOENT\)/],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
  }, 60_000);

  it("a board field that breaks two rules prints one line that lists both", async () => {
    const board = JSON.parse(readFileSync(join(boardsDir(), "tiny.json"), "utf8")) as {
      memory: { sectorBytes: number };
    };
    board.memory.sectorBytes = 7;
    const file = join(dir, "two-rules.json");
    writeFileSync(file, JSON.stringify(board));
    await refused(
      ["flash", "--board", file, "-o", join(dir, "x.img")],
      /^imx-memsim: .*two-rules\.json: memory\.sectorBytes: must be at least 16; must be a multiple of 4 \(got 7\)\n$/,
    );
    expect(existsSync(join(dir, "x.img"))).toBe(false);
  });
});
