// `imx-memsim replay`: small exports made here (never the real one in ../shared/data) round-trip
// through a device in both forms — spilling during the outage, every point back exactly, 0 files
// left; untidy points are skipped or kept as documented; malformed files and flags exit 2 with a
// message naming the place; and a replay that loses data (no disk tier, long outage) fails.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from "../../host/cli/errors.js";
import { programBuild } from "../../host/cli/main.js";
import { replayCommandRun } from "../../host/cli/replay-command.js";
import { exportParse, ReplayInputError } from "../../host/replay/export.js";
import { OutageClock, outageParse } from "../../host/replay/outage.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-replay-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

const BASE_MS = Date.UTC(2025, 11, 8, 13, 0, 0);

/** `count` GPS-like points, one every 1.5 s, with values that are not exact float32 numbers. */
function points(
  count: number,
  start: number,
  seed: number,
): Array<{ time: number; value: number; formatted_time: string }> {
  return Array.from({ length: count }, (_, i) => {
    const time = BASE_MS + i * 1500;
    return {
      time,
      value: start + Math.sin((i + seed) / 50) * 0.05 + i * 1e-7,
      formatted_time: new Date(time).toISOString(),
    };
  });
}

function write(name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
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

describe("round trips", () => {
  it("multi-sensor: every point back exactly, in order, after spilling during the outage; 0 files left", async () => {
    // 2 × 3600 EVT points: the outage (the first half: sensor 2's 3600 points = 1800 sectors) takes
    // the default board's RAM past its 80% threshold (1639 of 2048 sectors).
    const file = write("multi.json", {
      metadata: { serial: "132991449", sensor_count: 2, total_data_points: 7200 },
      sensors: [
        { sensor_id: 2, sensor_name: "Latitude", data: points(3600, 38.9, 1) },
        { sensor_id: 3, sensor_name: "Longitude", data: points(3600, -119.95, 2) },
      ],
    });
    let out = "";
    const { parsed, result } = await replayCommandRun(file, {}, (t) => void (out += t));
    expect(parsed).toMatchObject({
      form: "multi-sensor",
      source: 132991449,
      pointsInFile: 7200,
      pointsValid: 7200,
      duplicateTimes: 0,
      outOfOrder: 0,
    });
    expect(result).toMatchObject({
      passed: true,
      written: 7200,
      delivered: 7200,
      mismatches: 0,
      missing: 0,
      recordsDiscarded: 0,
      filesLeft: 0,
      ramSectorsLeft: 0,
    });
    expect(result.filesCreated).toBeGreaterThan(0);
    expect(result.filesDeleted).toBe(result.filesCreated);
    expect(result.sensors.map((s) => [s.sensorId, s.delivered])).toEqual([
      [2, 3600],
      [3, 3600],
    ]);
    // The values are not float32 numbers: they came back as their float32 rounding.
    expect(result.sensors[0]?.float32ErrorMax).toBeGreaterThan(0);
    expect(out).toMatch(/^result {4}PASS$/m);
  });

  it("single-sensor form, on a board with a small disk tier and the lazy policy", async () => {
    const file = write("single.json", {
      metadata: { sensor_id: 7, sensor_name: "Speed" },
      statistics: {},
      data: points(600, 50, 3),
    });
    const { parsed, result } = await replayCommandRun(
      file,
      { board: "esp32", policy: "lazy", outage: "down:80%,up:20%" },
      () => {},
    );
    expect(parsed).toMatchObject({ form: "single-sensor", source: 0, pointsValid: 600 });
    expect(result).toMatchObject({ passed: true, policy: "lazy", written: 600, delivered: 600, filesLeft: 0 });
  });

  it("untidy points: skips null, string, NaN, infinite values and bad times (listed); keeps duplicate and out-of-order times", async () => {
    const text = `{"metadata": {"sensor_id": 9}, "data": [
      {"time": ${BASE_MS}, "value": 1.5},
      {"time": ${BASE_MS + 1000}, "value": null},
      {"time": ${BASE_MS + 2000}, "value": "2.5"},
      {"time": ${BASE_MS + 3000}, "value": NaN},
      {"time": ${BASE_MS + 4000}, "value": Infinity},
      {"time": ${BASE_MS + 5000}, "value": -Infinity},
      {"time": "${BASE_MS + 6000}", "value": 3},
      {"time": -1, "value": 3},
      {"time": ${BASE_MS + 0.5}, "value": 3},
      {"value": 3},
      17,
      {"time": ${BASE_MS + 7000}, "value": 1e39},
      {"time": ${BASE_MS + 8000}, "value": 4.25, "note": "NaN in a string is just text"},
      {"time": ${BASE_MS + 8000}, "value": 4.25},
      {"time": ${BASE_MS + 8000}, "value": 5},
      {"time": ${BASE_MS + 500}, "value": -0}
    ]}`;
    const file = write("untidy.json", text);
    const { parsed, result } = await replayCommandRun(file, { outage: "none" }, () => {});
    expect(parsed.pointsInFile).toBe(16);
    expect(parsed.pointsValid).toBe(5);
    expect(parsed.nonFiniteTokens).toBe(3);
    expect(parsed.skippedByReason).toEqual({
      "value is null": 1,
      "value is a string": 1,
      "value is NaN": 1,
      "value is not finite": 2,
      "time is not a number": 1,
      "time is not a whole number of ms from 0 to 2^53 − 1": 2,
      "time is missing": 1,
      "point is not an object": 1,
      "value is outside the float32 range": 1,
    });
    expect(parsed.skipped[0]).toEqual({ place: "data[1]", reason: "value is null" });
    expect(parsed).toMatchObject({ duplicateTimes: 2, exactDuplicates: 1, outOfOrder: 1 });
    expect(result).toMatchObject({ passed: true, written: 5, delivered: 5 });
  });

  it("--strict refuses the untidy file at its first bad point (exit 2)", async () => {
    const { code, err } = await cli(["replay", path.join(dir, "untidy.json"), "--strict"]);
    expect(code).toBe(EXIT_USAGE);
    expect(err).toMatch(/untidy\.json: data\[1\]: value is null \(--strict refuses the file/);
  });

  it("reports formatted_time that disagrees with time, and uses time", () => {
    const shifted = points(3, 1, 1).map((p) => ({
      ...p,
      formatted_time: new Date(p.time - 8 * 3_600_000).toISOString().replace("Z", "000Z"),
    }));
    const parsed = exportParse(JSON.stringify({ metadata: { sensor_id: 1 }, data: shifted }), "x.json");
    expect(parsed.formattedTimeMismatches).toBe(3);
    expect(parsed.notes).toContain("formatted_time disagrees with time for 3 points (first by -8 h); replay uses time");
  });
});

describe("a replay that loses data fails (exit 1)", () => {
  it("on a board without a disk tier, through a long outage, the discarded points are named", async () => {
    const file = write("long.json", { metadata: { sensor_id: 1 }, data: points(3000, 10, 1) });
    const { code, out } = await cli(["replay", file, "--board", "nrf52840", "--outage", "down:100%"]);
    expect(code).toBe(EXIT_FAILURE);
    expect(out).toMatch(/never came back \(discarded\)/);
    expect(out).toMatch(/board nrf52840 has no disk tier/);
    expect(out).toMatch(/^result {4}FAIL$/m);
  });
});

describe("malformed input exits 2 with a clear message", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["not-json.json", "{ not json", /not-json\.json: not valid JSON/],
    ["array.json", "[1, 2]", /not an iMatrix export: the top level is an array/],
    [
      "empty.json",
      "{}",
      /not an iMatrix export: expected "sensors": \[\.\.\.\] \(multi-sensor form\) or "metadata": \{"sensor_id": n\}/,
    ],
    ["both.json", JSON.stringify({ sensors: [], data: [] }), /has both "sensors" .* and "data"/],
    ["sensors-object.json", JSON.stringify({ sensors: {} }), /"sensors" is \{\}, not an array/],
    [
      "no-id.json",
      JSON.stringify({ sensors: [{ sensor_name: "x", data: [] }] }),
      /sensors\[0\]\.sensor_id is missing, not an integer from 0 to 4294967295/,
    ],
    [
      "string-id.json",
      JSON.stringify({ sensors: [{ sensor_id: "2", data: [] }] }),
      /sensors\[0\]\.sensor_id is "2", not an integer/,
    ],
    ["no-data.json", JSON.stringify({ sensors: [{ sensor_id: 2 }] }), /sensors\[0\]\.data is missing, not an array/],
    [
      "twice.json",
      JSON.stringify({
        sensors: [
          { sensor_id: 2, data: [] },
          { sensor_id: 2, data: [] },
        ],
      }),
      /sensor_id 2 appears twice \(sensors\[0\] and sensors\[1\]\)/,
    ],
    ["single-no-id.json", JSON.stringify({ metadata: {}, data: [] }), /metadata\.sensor_id is missing/],
    [
      "nothing-valid.json",
      JSON.stringify({ metadata: { sensor_id: 1 }, data: [{ time: 1, value: null }] }),
      /no data point to replay \(1 in the file, every one skipped\)/,
    ],
  ];
  it.each(cases)("%s", async (name, content, message) => {
    const { code, err } = await cli(["replay", write(name, content)]);
    expect(code).toBe(EXIT_USAGE);
    expect(err).toMatch(message);
    expect(err).toMatch(/^imx-memsim: /);
  });

  it("a missing file", async () => {
    const { code, err } = await cli(["replay", path.join(dir, "absent.json")]);
    expect(code).toBe(EXIT_USAGE);
    expect(err).toMatch(/absent\.json: cannot read it \(ENOENT\)/);
  });

  it("bad flags", async () => {
    const file = write("ok.json", { metadata: { sensor_id: 1 }, data: points(10, 1, 1) });
    for (const [args, message] of [
      [["--outage", "down:0"], /--outage: "down:0": a count of points must be a whole number ≥ 1/],
      [["--outage", "down:150%"], /a share must be above 0% and at most 100%/],
      [["--outage", "off"], /--outage: "off" is not up:N, down:N, up:N% or down:N%/],
      [["--policy", "never"], /--policy must be immediate, batched or lazy/],
    ] as Array<[string[], RegExp]>) {
      const { code, err } = await cli(["replay", file, ...args]);
      expect(code).toBe(EXIT_USAGE);
      expect(err).toMatch(message);
    }
    expect((await cli(["replay", file])).code).toBe(EXIT_OK);
  });

  it("the error class is a user error", () => {
    expect(() => exportParse("{}", "x.json")).toThrow(ReplayInputError);
  });
});

describe("outage patterns", () => {
  it("walk their segments point by point and repeat", () => {
    const clock = new OutageClock(outageParse("down:2,up:1", 100));
    expect(Array.from({ length: 7 }, () => clock.step())).toEqual([false, false, true, false, false, true, false]);
    expect(outageParse("down:50%,up:50%", 10).segments).toEqual([
      { up: false, points: 5 },
      { up: true, points: 5 },
    ]);
    const always = new OutageClock(outageParse("none", 3));
    expect([always.step(), always.step(), always.step(), always.step()]).toEqual([true, true, true, true]);
  });
});

describe("an empty export (an empty time window)", () => {
  // 7 of the 16 real exports of the original repository are empty windows: `data: []` and
  // `statistics.data_points: 0`. They pass and say so; a file whose points are all skipped does not.
  const empty = {
    metadata: { sensor_id: 2, sensor_name: "GPS Latitude", serial: "132991449", total_data_points: 0 },
    statistics: { data_points: 0 },
    data: [],
  };

  it("exits 0 and says there is nothing to replay, in both forms", async () => {
    for (const [name, content] of [
      ["empty-single.json", empty],
      [
        "empty-multi.json",
        {
          metadata: {},
          sensors: [
            { sensor_id: 2, data: [] },
            { sensor_id: 3, data: [] },
          ],
        },
      ],
    ] as const) {
      const { code, out, err } = await cli(["replay", write(name, content)]);
      expect(err).toBe("");
      expect(code).toBe(EXIT_OK);
      expect(out).toMatch(/0 points/);
      expect(out).toMatch(/^nothing to replay: the export is an empty window \(no data point in it\)$/m);
      expect(out).toMatch(/^result {4}PASS$/m);
    }
  });

  it("writes --json with nothingToReplay and still checks its flags", async () => {
    const file = write("empty-json.json", empty);
    const json = path.join(dir, "empty-result.json");
    const { code } = await cli(["replay", file, "--json", json]);
    expect(code).toBe(EXIT_OK);
    expect(JSON.parse(fs.readFileSync(json, "utf8"))).toMatchObject({
      command: "replay",
      nothingToReplay: true,
      passed: true,
      written: 0,
      delivered: 0,
      export: { pointsInFile: 0, source: 132991449 },
    });
    const bad = await cli(["replay", file, "--outage", "sideways"]);
    expect(bad.code).toBe(EXIT_USAGE);
    const badPolicy = await cli(["replay", file, "--policy", "eager"]);
    expect(badPolicy.code).toBe(EXIT_USAGE);
  });

  it("the parser refuses it unless asked to accept it (run --replay needs points)", () => {
    expect(() => exportParse(JSON.stringify(empty), "e.json")).toThrow(/no data point to replay \(0 in the file\)/);
    expect(exportParse(JSON.stringify(empty), "e.json", { emptyAccepted: true }).pointsInFile).toBe(0);
  });
});
