// The pieces of `imx-memsim run` on their own: durations, outage schedules (parsing, coverage,
// seeded jitter that a resumed run sees the same), event rates, workload files (every bad field
// named with file, path and rule) and flags, the upload log reader (a line cut short by a kill is
// dropped; anything else malformed is refused), and the map from device to cloud sequence numbers.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { durationFormat, durationParse } from "../../host/run/duration.js";
import { OutageSchedule, outageSpecParse } from "../../host/run/outage-schedule.js";
import { SensorBank } from "../../host/run/sensors.js";
import { cloudSeq, type RunStream } from "../../host/run/uplink.js";
import { UploadLogError, uploadLogRead, UploadLogWriter } from "../../host/run/upload-log.js";
import {
  defaultWorkload,
  eventRateParse,
  WorkloadError,
  workloadFromFlags,
  workloadLoad,
} from "../../host/run/workload.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-run-parts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;
const D = 24 * H;

describe("durations", () => {
  it("reads units, compounds and bare milliseconds", () => {
    expect(durationParse("7d")).toBe(7 * D);
    expect(durationParse("90m")).toBe(90 * 60_000);
    expect(durationParse("1h30m")).toBe(90 * 60_000);
    expect(durationParse("2.5h")).toBe(2.5 * H);
    expect(durationParse("250ms")).toBe(250);
    expect(durationParse("250")).toBe(250);
    expect(durationParse("1w")).toBe(7 * D);
    for (const bad of ["", "7x", "d", "-1h", "1h-", "h1", "1.5.2h"]) expect(durationParse(bad)).toBeNull();
  });

  it("formats compactly", () => {
    expect(durationFormat(7 * D)).toBe("7d");
    expect(durationFormat(D + 2 * H + 3 * 60_000 + 4000)).toBe("1d 02:03:04");
    expect(durationFormat(90)).toBe("90 ms");
  });
});

describe("outage schedules", () => {
  it("puts a repeating outage at the end of each period by default", () => {
    const spec = outageSpecParse("6h every 1d");
    expect(spec).toMatchObject({ durationMs: 6 * H, periodMs: D, offsetMs: 18 * H });
    const schedule = new OutageSchedule(spec ? [spec] : [], 0, 1);
    expect(schedule.isUp(18 * H - 1)).toBe(true);
    expect(schedule.isUp(18 * H)).toBe(false);
    expect(schedule.isUp(D - 1)).toBe(false);
    expect(schedule.isUp(D)).toBe(true);
    expect(schedule.isUp(D + 20 * H)).toBe(false);
    expect(schedule.nextOutageStart(D)).toBe(D + 18 * H);
    expect(schedule.outageAt(D + 19 * H)).toEqual({ startMs: D + 18 * H, endMs: 2 * D });
  });

  it("takes an offset, a single outage, several schedules and none", () => {
    const every = outageSpecParse("30m every 6h at 1h");
    const once = outageSpecParse("2h at 3d");
    expect(outageSpecParse("none")).toBeNull();
    const schedule = new OutageSchedule([every!, once!], 1000, 1);
    expect(schedule.isUp(1000 + H)).toBe(false);
    expect(schedule.isUp(1000 + H + 30 * 60_000)).toBe(true);
    expect(schedule.isUp(1000 + 7 * H + 1)).toBe(false);
    expect(schedule.isUp(1000 + 3 * D + H)).toBe(false);
    expect(schedule.isUp(1000 + 3 * D + 2 * H)).toBe(true);
  });

  it("draws jitter from the seed and the occurrence, the same every time", () => {
    const spec = outageSpecParse("1h every 1d jitter 2h")!;
    const starts = (seed: number) => {
      const schedule = new OutageSchedule([spec], 0, seed);
      return [0, 1, 2, 3].map((day) => schedule.nextOutageStart(day * D));
    };
    expect(starts(7)).toEqual(starts(7));
    expect(starts(7)).not.toEqual(starts(8));
    for (const [day, start] of starts(7).entries()) {
      expect(start).not.toBeNull();
      expect(Math.abs((start ?? 0) - (day * D + 21 * H))).toBeLessThanOrEqual(2 * H);
    }
  });

  it("refuses malformed schedules with the reason", () => {
    expect(() => outageSpecParse("30m")).toThrow(/expected "DURATION every PERIOD/);
    expect(() => outageSpecParse("7h every 6h")).toThrow(/shorter than its period/);
    expect(() => outageSpecParse("1h every 2h jitter 1h")).toThrow(/cannot overlap/);
    expect(() => outageSpecParse("soon every 6h")).toThrow(/"soon" is not a duration/);
  });
});

describe("sensors", () => {
  it("reads event rates as a mean interval", () => {
    expect(eventRateParse("720/h")).toBe(5000);
    expect(eventRateParse("2/m")).toBe(30_000);
    expect(eventRateParse("30s")).toBe(30_000);
    expect(eventRateParse("0/h")).toBeNull();
  });

  it("writes TSD on the run's grid and the same values after a resume", () => {
    const workload = workloadFromFlags({ tsd: ["7:10s:int32"], evt: ["8:60/m"] });
    const written = (lifeStart: number, until: number) => {
      const bank = new SensorBank(workload!.streams, 5, 0, 1, lifeStart);
      const out: Array<[number, number, number]> = [];
      bank.writeDue(until, (stream, value, utcMs) => (out.push([stream.spec.sensor, utcMs, value]), true));
      return out;
    };
    const whole = written(0, 60_000).filter(([s]) => s === 7);
    expect(whole.map(([, t]) => t)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
    const resumed = written(25_001, 60_000).filter(([s]) => s === 7);
    expect(resumed).toEqual(whole.slice(3));
    const events = written(0, 60_000)
      .filter(([s]) => s === 8)
      .map(([, t]) => t);
    expect(events.length).toBeGreaterThan(20);
    expect(events.every((t, i) => i === 0 || t > (events[i - 1] ?? 0))).toBe(true);
  });

  it("has the original harness's 12 streams by default", () => {
    const workload = defaultWorkload();
    expect(workload.streams).toHaveLength(12);
    expect(workload.streams.filter((s) => s.type === "tsd")).toHaveLength(6);
  });
});

describe("workload files", () => {
  const file = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  };

  it("reads a valid file", () => {
    const path = file("ok.json", {
      streams: [
        { name: "Voltage", sensor: 1004, type: "tsd", sampleRate: "10s", value: { kind: "sine", mean: 12 } },
        { sensor: 1006, type: "evt", eventsPerHour: 720, dataType: "uint32" },
        { sensor: 1007, source: 3, type: "evt", eventEvery: "1m", value: { kind: "constant", value: 1 } },
      ],
    });
    const workload = workloadLoad(path);
    expect(workload.streams.map((s) => [s.source, s.sensor, s.type, s.sampleRateMs ?? s.eventMeanMs])).toEqual([
      [0, 1004, "tsd", 10_000],
      [0, 1006, "evt", 5000],
      [3, 1007, "evt", 60_000],
    ]);
  });

  it.each([
    ["not JSON", "bad-0.json", "{ streams: ", /bad-0\.json: invalid JSON/],
    ["no streams", "bad-1.json", {}, /bad-1\.json: streams: is required/],
    [
      "a TSD stream without a rate",
      "bad-2.json",
      { streams: [{ sensor: 1, type: "tsd" }] },
      /bad-2\.json: streams\[0\]\.sampleRate: is required for a TSD stream/,
    ],
    [
      "a bad rate",
      "bad-3.json",
      { streams: [{ sensor: 1, type: "tsd", sampleRate: "ten" }] },
      /bad-3\.json: streams\[0\]\.sampleRate: must be a duration .* \(got "ten"\)/,
    ],
    [
      "an unknown field",
      "bad-4.json",
      { streams: [{ sensor: 1, type: "evt", eventsPerHour: 1, colour: "red" }] },
      /bad-4\.json: streams\[0\]\.colour: is not a known field/,
    ],
    [
      "a bad type",
      "bad-5.json",
      { streams: [{ sensor: 1, type: "log", sampleRate: 10 }] },
      /bad-5\.json: streams\[0\]\.type: must be "tsd" or "evt" \(got "log"\)/,
    ],
    [
      "an EVT stream without a rate",
      "bad-6.json",
      { streams: [{ sensor: 1, type: "evt" }] },
      /bad-6\.json: streams\[0\]\.type: an EVT stream needs one of eventsPerHour, eventEvery or replay/,
    ],
    [
      "a sensor id out of range",
      "bad-7.json",
      { streams: [{ sensor: -1, type: "evt", eventsPerHour: 1 }] },
      /bad-7\.json: streams\[0\]\.sensor: must be at least 0 \(got -1\)/,
    ],
    [
      "the same stream twice",
      "bad-8.json",
      {
        streams: [
          { sensor: 1, type: "evt", eventsPerHour: 1 },
          { sensor: 1, type: "evt", eventsPerHour: 2 },
        ],
      },
      /bad-8\.json: streams\[1\]: source 0, sensor 1 is already streams\[0\]/,
    ],
    [
      "a missing replay file",
      "bad-9.json",
      { streams: [{ sensor: 2, type: "evt", replay: { file: "nope.json" } }] },
      /bad-9\.json: streams\[0\]\.replay\.file nope\.json: replay file not found/,
    ],
  ])("refuses %s, naming file, field and rule", (_what, name, content, message) => {
    const path = file(name, content);
    expect(() => workloadLoad(path)).toThrow(WorkloadError);
    expect(() => workloadLoad(path)).toThrow(message);
  });

  it("replays a stream of an export (single-sensor form), its points on the run's days", () => {
    const start = Date.UTC(2025, 0, 10);
    file("export.json", {
      metadata: { sensor_id: 9 },
      data: [
        { time: Date.UTC(2024, 5, 1, 13), value: 1.5 },
        { time: Date.UTC(2024, 5, 1, 14), value: 2.5 },
      ],
    });
    const path = file("replay.json", { streams: [{ sensor: 9, type: "evt", replay: { file: "export.json" } }] });
    const workload = workloadLoad(path);
    const bank = new SensorBank(workload.streams, 1, start, 1, start);
    const out: Array<[number, number]> = [];
    bank.writeDue(start + 2 * D, (_s, value, utcMs) => (out.push([utcMs - start, value]), true));
    expect(out).toEqual([
      [13 * H, 1.5],
      [14 * H, 2.5],
      [D + 13 * H, 1.5],
      [D + 14 * H, 2.5],
    ]);
  });
});

describe("flags", () => {
  it("builds streams from --tsd, --evt and --source", () => {
    const workload = workloadFromFlags({ tsd: ["1004:10s", "1001:1m:int32"], evt: ["1006:720/h:uint32"], source: 4 });
    expect(workload?.streams.map((s) => [s.source, s.sensor, s.type, s.dataType])).toEqual([
      [4, 1004, "tsd", "float32"],
      [4, 1001, "tsd", "int32"],
      [4, 1006, "evt", "uint32"],
    ]);
    expect(workloadFromFlags({})).toBeNull();
  });

  it("refuses a malformed flag", () => {
    expect(() => workloadFromFlags({ tsd: ["1004"] })).toThrow(/--tsd 1004: expected SENSOR:RATE/);
    expect(() => workloadFromFlags({ tsd: ["x:10s"] })).toThrow(/sensor "x"/);
    expect(() => workloadFromFlags({ evt: ["1:often"] })).toThrow(/event rate "often"/);
    expect(() => workloadFromFlags({ tsd: ["1:1s:double"] })).toThrow(/data type "double"/);
  });
});

describe("upload log", () => {
  const line = (sensor: number, seq: number) =>
    `{"source":0,"sensor":${sensor},"seq":${seq},"utcMs":${1000 + seq},"value":${seq / 2}}\n`;

  it("reads the last seq and tail per stream and drops a line cut short at the end", () => {
    const path = join(dir, "torn.ndjson");
    writeFileSync(path, line(1, 0) + line(2, 5) + line(1, 1) + '{"source":0,"sens');
    const contents = uploadLogRead(path);
    expect(contents.records).toBe(3);
    expect(contents.tornBytes).toBe(17);
    expect(contents.streams.get("0/1")?.lastSeq).toBe(1);
    expect(contents.streams.get("0/2")?.tail.get(5)).toEqual({ utcMs: 1005, value: 2.5 });
    const writer = UploadLogWriter.open(contents);
    writer.append(line(1, 2), 1);
    writer.close();
    expect(readFileSync(path, "utf8")).toBe(line(1, 0) + line(2, 5) + line(1, 1) + line(1, 2));
  });

  it("refuses a log whose seqs do not grow, or a line that is not a record", () => {
    const twice = join(dir, "twice.ndjson");
    writeFileSync(twice, line(1, 0) + line(1, 1) + line(1, 1));
    expect(() => uploadLogRead(twice)).toThrow(UploadLogError);
    expect(() => uploadLogRead(twice)).toThrow(/line 3: stream 0\/1 seq 1 does not follow 1/);
    const junk = join(dir, "junk.ndjson");
    writeFileSync(junk, line(1, 0) + "hello\n");
    expect(() => uploadLogRead(junk)).toThrow(/line 2: not JSON/);
    expect(uploadLogRead(join(dir, "missing.ndjson")).exists).toBe(false);
  });
});

describe("cloud sequence numbers", () => {
  it("map device seqs through the latest offset that starts at or below them", () => {
    const stream = {
      seqOffsets: [
        [0, 0],
        [100, 50],
        [120, 200],
      ],
    } as unknown as RunStream;
    expect(cloudSeq(stream, 99)).toBe(99);
    expect(cloudSeq(stream, 100)).toBe(150);
    expect(cloudSeq(stream, 119)).toBe(169);
    expect(cloudSeq(stream, 120)).toBe(320);
    // A later life that starts numbering again from 100 gets its own, larger offset.
    const again = {
      seqOffsets: [
        [100, 50],
        [100, 400],
      ],
    } as unknown as RunStream;
    expect(cloudSeq(again, 100)).toBe(500);
  });
});
