// A device's sensors for `imx-memsim run`: the streams it writes, from a workload JSON file (checked
// with zod; every broken rule is reported as `<file>: <field path>: <rule> (got <value>)`) or from
// command-line flags, or the original test harness's 8 sensors and 4 controls by default.
//
// Workload file:
//
//   { "streams": [
//       { "name": "Voltage", "sensor": 1004, "type": "tsd", "dataType": "float32", "sampleRate": "10s",
//         "value": { "kind": "sine", "mean": 12, "amplitude": 0.5, "period": "1d", "noise": 0.05 } },
//       { "name": "Speed", "sensor": 1006, "type": "evt", "eventsPerHour": 720 },
//       { "name": "Latitude", "sensor": 2, "type": "evt", "replay": { "file": "export.json", "sensor": 2 } } ] }
//
// `source` defaults to 0, `dataType` to float32, `role` to "sensor" ("control" for a control: the
// iMatrix wire format sends controls in CONTROL_MS / EVENT_CONTROL blocks). A TSD stream has a `sampleRate`; an EVT stream has
// an `eventsPerHour` or an `eventEvery` (mean time between events, drawn from the seed), or a
// `replay` of one sensor of an iMatrix cloud export (path relative to the workload file; read by
// host/replay/export.ts). Values: `sine` (default for float32), `random` (default for the integer
// types, 0 … 1000) or `constant`; every value is a pure function of the seed, the stream and the
// record's time, so a resumed run writes what an uninterrupted one would.

import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../base/user-error.js";
import type { DataType, RecordType } from "../core/device.js";
import { exportParse, type ExportSensor } from "../replay/export.js";
import { durationParse as unitDurationParse, integerParse } from "../base/parse.js";
import { DAY_MS, durationParse, HOUR_MS } from "./duration.js";

const U32_MAX = 0xffffffff;
export const DATA_TYPES = ["uint32", "int32", "float32"] as const;

/** Bad workload input (file or flags). Exits 2. */
export class WorkloadError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "WorkloadError";
  }
}

export type ValueSpec =
  | { kind: "sine"; mean: number; amplitude: number; periodMs: number; noise: number }
  | { kind: "random"; min: number; max: number }
  | { kind: "constant"; value: number };

export interface ReplaySpec {
  /** Absolute path of the export. */
  file: string;
  /** The sensor id in the export. */
  sensor: number;
  /** Repeat the export after its last point (every whole number of days it spans). */
  loop: boolean;
}

export interface StreamSpec {
  name: string;
  source: number;
  sensor: number;
  type: RecordType;
  dataType: DataType;
  /** A control rather than a sensor (absent: a sensor). */
  role?: "control";
  /** TSD: the sample period. */
  sampleRateMs?: number;
  /** EVT drawn from the seed: the mean time between events. */
  eventMeanMs?: number;
  /** EVT replayed from an export. */
  replay?: ReplaySpec;
  /** Not for replayed streams. */
  value?: ValueSpec;
}

export interface Workload {
  /** Where it came from: a file path, "flags" or "default". */
  origin: string;
  streams: StreamSpec[];
}

// ---- The default: the original test harness (reference section 6.1) ------------------------------

interface DefaultStream {
  name: string;
  sensor: number;
  role?: "control";
  type: RecordType;
  dataType: DataType;
  rate: string;
  value: ValueSpec;
}

const sine = (mean: number, amplitude: number, noise = 0, periodMs = DAY_MS): ValueSpec => ({
  kind: "sine",
  mean,
  amplitude,
  periodMs,
  noise,
});

/** The harness's sensor rates; the controls' event rates are made up (the harness wrote them in bursts). */
const DEFAULT_STREAMS: readonly DefaultStream[] = [
  { name: "Temperature", sensor: 1001, type: "tsd", dataType: "float32", rate: "1m", value: sine(25, 5, 0.2) },
  { name: "Pressure", sensor: 1002, type: "tsd", dataType: "float32", rate: "30s", value: sine(101.325, 2, 0.05) },
  { name: "Humidity", sensor: 1003, type: "tsd", dataType: "float32", rate: "2m", value: sine(45, 15, 1) },
  {
    name: "Voltage",
    sensor: 1004,
    type: "tsd",
    dataType: "float32",
    rate: "10s",
    value: sine(12.6, 0.4, 0.05, HOUR_MS),
  },
  { name: "Current", sensor: 1005, type: "tsd", dataType: "float32", rate: "10s", value: sine(1.5, 0.5, 0.1, HOUR_MS) },
  {
    name: "Speed",
    sensor: 1006,
    type: "evt",
    dataType: "float32",
    rate: "720/h",
    value: sine(60, 40, 10, 2 * HOUR_MS),
  },
  {
    name: "Acceleration",
    sensor: 1007,
    type: "evt",
    dataType: "float32",
    rate: "360/h",
    value: sine(0, 2, 1, 600_000),
  },
  { name: "GPS_Latitude", sensor: 1008, type: "tsd", dataType: "float32", rate: "5m", value: sine(37.33, 0.05, 0.001) },
  {
    name: "Relay_1",
    role: "control",
    sensor: 2001,
    type: "evt",
    dataType: "uint32",
    rate: "6/h",
    value: { kind: "random", min: 0, max: 1 },
  },
  {
    name: "PWM_Output",
    role: "control",
    sensor: 2002,
    type: "evt",
    dataType: "float32",
    rate: "12/h",
    value: sine(50, 50, 5, 3 * HOUR_MS),
  },
  {
    name: "System_Mode",
    role: "control",
    sensor: 2003,
    type: "evt",
    dataType: "uint32",
    rate: "2/h",
    value: { kind: "random", min: 0, max: 2 },
  },
  {
    name: "Enable_Flag",
    role: "control",
    sensor: 2004,
    type: "evt",
    dataType: "uint32",
    rate: "4/h",
    value: { kind: "random", min: 0, max: 1 },
  },
];

export function defaultWorkload(): Workload {
  return {
    origin: "default",
    streams: DEFAULT_STREAMS.map((s) => {
      const stream: StreamSpec = {
        name: s.name,
        source: 0,
        sensor: s.sensor,
        type: s.type,
        dataType: s.dataType,
        ...(s.role === undefined ? {} : { role: s.role }),
        value: s.value,
      };
      if (s.type === "tsd") stream.sampleRateMs = durationParse(s.rate) ?? 60_000;
      else stream.eventMeanMs = eventRateParse(s.rate) ?? HOUR_MS;
      return stream;
    }),
  };
}

export function defaultValue(dataType: DataType): ValueSpec {
  return dataType === "float32" ? sine(50, 10, 1) : { kind: "random", min: 0, max: 1000 };
}

// ---- Rates ----------------------------------------------------------------------------------------

const PER_UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: HOUR_MS, d: DAY_MS };

/** An event rate as the mean time between events: "720/h", "2/m", "0.5/d", or a duration with its unit ("5s"). */
export function eventRateParse(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\/(s|m|h|d)$/.exec(text.toLowerCase());
  if (match) {
    const count = Number(match[1]);
    const unitMs = PER_UNIT_MS[match[2] ?? ""];
    if (!(count > 0) || unitMs === undefined) return null;
    const meanMs = Math.round(unitMs / count);
    return meanMs >= 1 ? meanMs : null;
  }
  const ms = unitDurationParse(text);
  return ms !== null && ms >= 1 ? ms : null;
}

// ---- The file's schema ----------------------------------------------------------------------------

type RawIssue = { code?: string; input?: unknown };
const typeRule = (what: string) => (issue: RawIssue) =>
  issue.code !== "invalid_type" ? undefined : issue.input === undefined ? "is required" : `must be ${what}`;

const finite = z.number({ error: typeRule("a number") }).refine(Number.isFinite, "must be a finite number");
const u32 = z
  .number({ error: typeRule("an integer") })
  .int("must be an integer")
  .min(0, "must be at least 0")
  .max(U32_MAX, `must be at most ${U32_MAX}`);

const DURATION_RULE = 'must be a duration like "10s", "5m" or "1d", or a whole number of ms ≥ 1';
const duration = z.union([z.number(), z.string()], { error: () => DURATION_RULE }).transform((value, ctx) => {
  const ms = typeof value === "number" ? (Number.isInteger(value) ? value : null) : durationParse(value);
  if (ms === null || ms < 1) {
    ctx.addIssue({ code: "custom", message: DURATION_RULE });
    return z.NEVER;
  }
  return ms;
});

const valueSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      kind: z.literal("sine"),
      mean: finite.default(50),
      amplitude: finite.default(10),
      period: duration.default(DAY_MS),
      noise: finite.min(0, "must be at least 0").default(0),
    }),
    z.strictObject({ kind: z.literal("random"), min: finite, max: finite }),
    z.strictObject({ kind: z.literal("constant"), value: finite }),
  ],
  { error: () => 'must be an object with "kind": "sine", "random" or "constant"' },
);

const streamSchema = z
  .strictObject(
    {
      name: z
        .string({ error: typeRule("a string") })
        .min(1, "must not be empty")
        .optional(),
      source: u32.default(0),
      sensor: u32,
      type: z.enum(["tsd", "evt"], { error: () => 'must be "tsd" or "evt"' }),
      dataType: z.enum(DATA_TYPES, { error: () => `must be one of ${DATA_TYPES.join(", ")}` }).default("float32"),
      role: z.enum(["sensor", "control"], { error: () => 'must be "sensor" or "control"' }).default("sensor"),
      sampleRate: duration.refine((ms) => ms <= U32_MAX, `must be at most ${U32_MAX} ms`).optional(),
      eventsPerHour: z
        .number({ error: typeRule("a number") })
        .positive("must be above 0")
        .max(3_600_000, "must be at most 3600000 (one a millisecond)")
        .optional(),
      eventEvery: duration.optional(),
      replay: z
        .strictObject(
          {
            file: z
              .string({ error: typeRule("a string (a path relative to the workload file)") })
              .min(1, "must not be empty"),
            sensor: u32.optional(),
            loop: z.boolean({ error: typeRule("true or false") }).default(true),
          },
          { error: typeRule("an object") },
        )
        .optional(),
      value: valueSchema.optional(),
    },
    { error: typeRule("an object") },
  )
  .superRefine((s, ctx) => {
    const rule = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (s.type === "tsd") {
      if (s.sampleRate === undefined) rule("sampleRate", "is required for a TSD stream");
      for (const key of ["eventsPerHour", "eventEvery", "replay"] as const) {
        if (s[key] !== undefined) rule(key, "is for EVT streams only (a TSD stream has a sampleRate)");
      }
    } else {
      if (s.sampleRate !== undefined)
        rule("sampleRate", "is for TSD streams only (an EVT stream has eventsPerHour, eventEvery or replay)");
      const given = (["eventsPerHour", "eventEvery", "replay"] as const).filter((key) => s[key] !== undefined);
      if (given.length === 0) rule("type", "an EVT stream needs one of eventsPerHour, eventEvery or replay");
      if (given.length > 1)
        rule(
          given[1] ?? "replay",
          `only one of eventsPerHour, eventEvery and replay may be given (got ${given.join(" and ")})`,
        );
      if (s.replay !== undefined && s.value !== undefined)
        rule("value", "a replayed stream takes its values from the export");
    }
    if (s.value?.kind === "random" && s.value.min > s.value.max)
      rule("value", `min (${s.value.min}) must not be above max (${s.value.max})`);
    if (s.value !== undefined)
      for (const issue of valueRangeIssues(s.value, s.dataType))
        ctx.addIssue({ code: "custom", path: ["value", ...issue.path], message: issue.message });
  });

/** The largest finite float32, 3.4028234663852886e38. */
export const FLOAT32_MAX = 3.4028234663852886e38;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

const DATA_TYPE_RANGE: Readonly<Record<DataType, { min: number; max: number; integer: boolean; rule: string }>> = {
  float32: { min: -FLOAT32_MAX, max: FLOAT32_MAX, integer: false, rule: `a float32 is within ±${FLOAT32_MAX}` },
  int32: {
    min: INT32_MIN,
    max: INT32_MAX,
    integer: true,
    rule: `an int32 is an integer from ${INT32_MIN} to ${INT32_MAX}`,
  },
  uint32: { min: 0, max: U32_MAX, integer: true, rule: `a uint32 is an integer from 0 to ${U32_MAX}` },
};

type RawValue = z.output<typeof valueSchema>;

/**
 * Where a value spec can write a value its stream's data type cannot hold: a constant or a random
 * bound outside the type (or not an integer for an integer type), a sine whose peaks leave it. The
 * device would refuse the value at the first upload (float32) or store another one (int32, uint32,
 * clamped); the workload is refused before the run instead.
 */
function valueRangeIssues(value: RawValue, dataType: DataType): Array<{ path: string[]; message: string }> {
  const range = DATA_TYPE_RANGE[dataType];
  const outside = (v: number): boolean =>
    !(v >= range.min && v <= range.max) || (range.integer && !Number.isInteger(v));
  const issue = (path: string, v: number) => ({
    path: [path],
    message: `${v} is outside the stream's ${dataType}: ${range.rule}`,
  });
  switch (value.kind) {
    case "constant":
      return outside(value.value) ? [issue("value", value.value)] : [];
    case "random":
      return (["min", "max"] as const).filter((key) => outside(value[key])).map((key) => issue(key, value[key]));
    case "sine": {
      const swing = Math.abs(value.amplitude) + value.noise;
      const low = value.mean - swing;
      const high = value.mean + swing;
      // A sine's values are rounded for an integer type, so only its peaks must fit.
      const fits = (v: number): boolean => v >= range.min && v <= range.max;
      if (fits(low) && fits(high)) return [];
      return [
        {
          path: ["amplitude"],
          message: `mean ${value.mean} ± (amplitude ${Math.abs(value.amplitude)} + noise ${value.noise}) reaches ${fits(low) ? high : low}, outside the stream's ${dataType}: ${range.rule}`,
        },
      ];
    }
  }
}

const workloadSchema = z.strictObject(
  {
    description: z.string({ error: typeRule("a string") }).optional(),
    streams: z.array(streamSchema, { error: typeRule("an array of streams") }).min(1, "must hold at least one stream"),
  },
  { error: typeRule("an object") },
);

function pathShow(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : `${out === "" ? "" : "."}${String(key)}`;
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function valueShow(value: unknown): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function zodIssues(error: z.ZodError, input: unknown, file: string): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) lines.push(`${file}: ${pathShow([...issue.path, key])}: is not a known field`);
      continue;
    }
    const value = valueAt(input, issue.path);
    const got = value === undefined || issue.message.startsWith("is required") ? "" : ` (got ${valueShow(value)})`;
    const where = pathShow(issue.path);
    lines.push(`${file}: ${where === "" ? "" : `${where}: `}${issue.message}${got}`);
  }
  return lines;
}

function uniqueCheck(streams: readonly StreamSpec[], origin: string): void {
  const seen = new Map<string, number>();
  streams.forEach((s, i) => {
    const key = `${s.source}/${s.sensor}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new WorkloadError(
        `${origin}: streams[${i}]: source ${s.source}, sensor ${s.sensor} is already streams[${earlier}]; each stream needs its own (source, sensor)`,
      );
    }
    seen.set(key, i);
  });
}

function replaySensors(file: string, shown: string): ExportSensor[] {
  if (!existsSync(file)) throw new WorkloadError(`${shown}: replay file not found`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new WorkloadError(`${shown}: cannot read the replay file: ${(error as Error).message}`);
  }
  return exportParse(text, shown).sensors;
}

/** Reads and checks a workload file. Replay paths are resolved against its directory and checked. */
export function workloadLoad(file: string): Workload {
  const shown = file;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new WorkloadError(`${shown}: cannot read the workload file: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new WorkloadError(`${shown}: invalid JSON: ${(error as Error).message}`);
  }
  const parsed = workloadSchema.safeParse(raw);
  if (!parsed.success) throw new WorkloadError(zodIssues(parsed.error, raw, shown).join("\n"));
  const streams: StreamSpec[] = parsed.data.streams.map((s, i) => {
    const stream: StreamSpec = {
      name: s.name ?? `${s.type.toUpperCase()} ${s.sensor}`,
      source: s.source,
      sensor: s.sensor,
      type: s.type,
      dataType: s.dataType,
    };
    if (s.role === "control") stream.role = "control";
    if (s.sampleRate !== undefined) stream.sampleRateMs = s.sampleRate;
    if (s.eventsPerHour !== undefined) stream.eventMeanMs = Math.max(1, Math.round(HOUR_MS / s.eventsPerHour));
    if (s.eventEvery !== undefined) stream.eventMeanMs = s.eventEvery;
    if (s.replay !== undefined) {
      const path = resolve(dirname(resolve(file)), s.replay.file);
      const sensorId = s.replay.sensor ?? s.sensor;
      const sensors = replaySensors(path, `${shown}: streams[${i}].replay.file ${s.replay.file}`);
      if (!sensors.some((x) => x.sensorId === sensorId)) {
        throw new WorkloadError(
          `${shown}: streams[${i}].replay.sensor: the export has no sensor ${sensorId} (it has ${sensors.map((x) => x.sensorId).join(", ")})`,
        );
      }
      stream.replay = { file: path, sensor: sensorId, loop: s.replay.loop };
    } else {
      stream.value = s.value === undefined ? defaultValue(s.dataType) : valueNormalize(s.value);
    }
    return stream;
  });
  uniqueCheck(streams, shown);
  return { origin: resolve(file), streams };
}

function valueNormalize(value: z.output<typeof valueSchema>): ValueSpec {
  if (value.kind === "sine")
    return { kind: "sine", mean: value.mean, amplitude: value.amplitude, periodMs: value.period, noise: value.noise };
  return value;
}

// ---- Flags ------------------------------------------------------------------------------------------

export interface WorkloadFlags {
  tsd?: string[];
  evt?: string[];
  replay?: string[];
  source?: number;
}

function dataTypeOf(text: string | undefined, flag: string, whole: string): DataType {
  if (text === undefined) return "float32";
  if ((DATA_TYPES as readonly string[]).includes(text)) return text as DataType;
  throw new WorkloadError(`${flag} ${whole}: data type "${text}" must be one of ${DATA_TYPES.join(", ")}`);
}

function sensorOf(text: string | undefined, flag: string, whole: string): number {
  const n = text === undefined ? null : integerParse(text);
  if (text === undefined || n === null || n < 0 || n > U32_MAX) {
    throw new WorkloadError(`${flag} ${whole}: sensor "${text ?? ""}" must be an integer from 0 to ${U32_MAX}`);
  }
  return n;
}

/** Streams from --tsd SENSOR:RATE[:TYPE], --evt SENSOR:RATE[:TYPE] and --replay FILE[:SENSOR]; null if none given. */
export function workloadFromFlags(flags: WorkloadFlags): Workload | null {
  const source = flags.source ?? 0;
  const streams: StreamSpec[] = [];
  for (const text of flags.tsd ?? []) {
    const [sensorText, rateText, typeText, ...rest] = text.split(":");
    if (rest.length > 0 || rateText === undefined)
      throw new WorkloadError(`--tsd ${text}: expected SENSOR:RATE[:TYPE], e.g. 1004:10s or 1001:1m:int32`);
    const sensor = sensorOf(sensorText, "--tsd", text);
    const rateMs = unitDurationParse(rateText);
    if (rateMs === null || rateMs < 1 || rateMs > U32_MAX)
      throw new WorkloadError(`--tsd ${text}: sample rate "${rateText}" must be a duration like 10s or 1m`);
    const dataType = dataTypeOf(typeText, "--tsd", text);
    streams.push({
      name: `TSD ${sensor}`,
      source,
      sensor,
      type: "tsd",
      dataType,
      sampleRateMs: rateMs,
      value: defaultValue(dataType),
    });
  }
  for (const text of flags.evt ?? []) {
    const [sensorText, rateText, typeText, ...rest] = text.split(":");
    if (rest.length > 0 || rateText === undefined)
      throw new WorkloadError(`--evt ${text}: expected SENSOR:RATE[:TYPE], e.g. 1006:720/h or 2001:30s:uint32`);
    const sensor = sensorOf(sensorText, "--evt", text);
    const meanMs = eventRateParse(rateText);
    if (meanMs === null)
      throw new WorkloadError(
        `--evt ${text}: event rate "${rateText}" must be events per time (720/h, 2/m) or a mean interval (30s)`,
      );
    const dataType = dataTypeOf(typeText, "--evt", text);
    streams.push({
      name: `EVT ${sensor}`,
      source,
      sensor,
      type: "evt",
      dataType,
      eventMeanMs: meanMs,
      value: defaultValue(dataType),
    });
  }
  for (const text of flags.replay ?? []) {
    const match = /^(.*?)(?::(\d+(?:,\d+)*))?$/.exec(text);
    const file = resolve(match?.[1] ?? text);
    const sensors = replaySensors(file, `--replay ${match?.[1] ?? text}`);
    const wanted = match?.[2]?.split(",").map(Number) ?? sensors.map((s) => s.sensorId);
    for (const id of wanted) {
      const found = sensors.find((s) => s.sensorId === id);
      if (!found)
        throw new WorkloadError(
          `--replay ${text}: the export has no sensor ${id} (it has ${sensors.map((s) => s.sensorId).join(", ")})`,
        );
      streams.push({
        name: found.name,
        source,
        sensor: id,
        type: "evt",
        dataType: "float32",
        replay: { file, sensor: id, loop: true },
      });
    }
  }
  if (streams.length === 0) return null;
  uniqueCheck(streams, "flags");
  return { origin: "flags", streams };
}

/** The streams as stored in the run state and compared on resume (no origin). */
export function workloadKey(workload: Workload): string {
  return JSON.stringify(workload.streams);
}
