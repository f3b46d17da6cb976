// Reading an iMatrix cloud export, in either of its two forms:
//
//   multi-sensor:  {"metadata": {...}, "sensors": [{"sensor_id": n, "sensor_name": s, "data": [point, ...]}, ...]}
//   single-sensor: {"metadata": {"sensor_id": n, ...}, "data": [point, ...]}
//
// where a point is {"time": <UTC ms>, "value": <number>} (other keys, like formatted_time, are ignored).
//
// Real exports are not tidy. What this does with what it finds:
// - A file that is not an export (not JSON, no "sensors" or "data", a sensor without an integer
//   sensor_id or without a data array, the same sensor_id twice) is refused with an error naming
//   the file and the place (exit 2).
// - Bare NaN, Infinity and -Infinity tokens (Python's json.dump writes them) are read, as values that
//   are then skipped.
// - A point is skipped, counted by reason and listed by its place (sensors[0].data[17]), when it is
//   not an object, its time is not a whole number of ms in 0 … 2^53 − 1, or its value is null, a
//   string, NaN, ±Infinity, not a number, or outside the float32 range (it would read back as
//   Infinity). With --strict any such point refuses the file instead.
// - Duplicate times and times earlier than the previous point's are kept, in file order (the device
//   stores every event with the time it is given), and counted.
// - formatted_time is not used; when it disagrees with time the disagreement is reported (in the
//   sample export it is local time labelled "Z", 8 hours off).

import { UserError } from "../base/user-error.js";

/** Bad input: not an export, or (with --strict) a point that would be skipped. Exits 2. */
export class ReplayInputError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "ReplayInputError";
  }
}

export interface ExportPoint {
  time: number;
  value: number;
}

export interface ExportSensor {
  sensorId: number;
  name: string;
  /** Where it is in the file: "sensors[1]" or "data" for the single-sensor form. */
  place: string;
  points: ExportPoint[];
  /** Points in the file for this sensor, skipped ones included. */
  pointsInFile: number;
}

export interface SkippedPoint {
  place: string;
  reason: string;
}

export interface ParsedExport {
  form: "multi-sensor" | "single-sensor";
  /** The upload source the points are written under: metadata.serial when it is a u32, else 0. */
  source: number;
  sourceFrom: string;
  sensors: ExportSensor[];
  pointsInFile: number;
  pointsValid: number;
  skippedByReason: Record<string, number>;
  /** The first skipped points, with their places. */
  skipped: SkippedPoint[];
  /** Points whose time equals an earlier point's of the same sensor; of them, also the same value. */
  duplicateTimes: number;
  exactDuplicates: number;
  /** Points whose time is earlier than the previous point's of the same sensor. */
  outOfOrder: number;
  /** Bare NaN / Infinity tokens read. */
  nonFiniteTokens: number;
  /** Points whose formatted_time does not name the same instant as time, and by how much (first one). */
  formattedTimeMismatches: number;
  formattedTimeOffsetMs: number | null;
  notes: string[];
}

export const SKIPPED_LISTED_MAX = 20;
const U32_MAX = 0xffffffff;
const FLOAT32_MAX = 3.4028234663852886e38;
const NAN_MARK = "\u0000imx:NaN";
const INF_MARK = "\u0000imx:Infinity";
const NEG_INF_MARK = "\u0000imx:-Infinity";

/** Replaces bare NaN, Infinity and -Infinity tokens outside strings with marker strings. */
function nonFiniteTokensMark(text: string): { text: string; count: number } {
  let out = "";
  let last = 0;
  let count = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    for (const [token, mark] of [
      ["-Infinity", NEG_INF_MARK],
      ["Infinity", INF_MARK],
      ["NaN", NAN_MARK],
    ] as const) {
      if (text.startsWith(token, i)) {
        out += text.slice(last, i) + JSON.stringify(mark);
        i += token.length - 1;
        last = i + 1;
        count++;
        break;
      }
    }
  }
  return { text: count === 0 ? text : out + text.slice(last), count };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === NAN_MARK) return "NaN";
  if (value === INF_MARK) return "Infinity";
  if (value === NEG_INF_MARK) return "-Infinity";
  if (typeof value === "string") return JSON.stringify(value.length > 30 ? `${value.slice(0, 30)}…` : value);
  if (value === undefined) return "missing";
  return JSON.stringify(value);
}

function sensorIdOf(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= U32_MAX ? value : null;
}

/** Why a point cannot be written, or null if it can. */
function pointProblem(point: unknown): string | null {
  if (!isObject(point)) return `point is not an object (${describe(point)})`;
  const { time, value } = point;
  if (typeof time !== "number")
    return time === undefined ? "time is missing" : `time is not a number (${describe(time)})`;
  if (!Number.isInteger(time) || time < 0 || time > Number.MAX_SAFE_INTEGER)
    return `time is not a whole number of ms from 0 to 2^53 − 1 (${time})`;
  if (value === null) return "value is null";
  if (value === undefined) return "value is missing";
  if (value === NAN_MARK) return "value is NaN";
  if (value === INF_MARK || value === NEG_INF_MARK) return "value is not finite";
  if (typeof value === "string") return "value is a string";
  if (typeof value !== "number") return `value is not a number (${describe(value)})`;
  if (Math.abs(value) > FLOAT32_MAX) return "value is outside the float32 range";
  return null;
}

/** The reason without the particulars, to count by. */
function reasonKey(reason: string): string {
  return reason.replace(/ \(.*\)$/, "");
}

export interface ParseOptions {
  /** Refuse the file instead of skipping a point. */
  strict?: boolean;
  /** Accept an export that holds no point at all (an empty window); by default it is refused. */
  emptyAccepted?: boolean;
}

export function exportParse(text: string, file: string, options: ParseOptions = {}): ParsedExport {
  let root: unknown;
  let nonFiniteTokens = 0;
  try {
    root = JSON.parse(text);
  } catch (error) {
    const marked = nonFiniteTokensMark(text);
    try {
      root = JSON.parse(marked.text);
      nonFiniteTokens = marked.count;
    } catch {
      throw new ReplayInputError(`${file}: not valid JSON (${(error as Error).message})`);
    }
  }
  if (!isObject(root))
    throw new ReplayInputError(
      `${file}: not an iMatrix export: the top level is ${Array.isArray(root) ? "an array" : describe(root)}, not an object`,
    );
  const metadata = isObject(root["metadata"]) ? root["metadata"] : {};
  const hasSensors = root["sensors"] !== undefined;
  const hasData = root["data"] !== undefined;
  if (hasSensors && hasData)
    throw new ReplayInputError(
      `${file}: has both "sensors" (multi-sensor form) and "data" (single-sensor form); which one is meant?`,
    );

  const raw: Array<{ sensorId: number; name: string; place: string; data: unknown[] }> = [];
  let form: ParsedExport["form"];
  if (hasSensors) {
    form = "multi-sensor";
    const sensors = root["sensors"];
    if (!Array.isArray(sensors)) throw new ReplayInputError(`${file}: "sensors" is ${describe(sensors)}, not an array`);
    sensors.forEach((sensor, i) => {
      const place = `sensors[${i}]`;
      if (!isObject(sensor)) throw new ReplayInputError(`${file}: ${place} is ${describe(sensor)}, not an object`);
      const sensorId = sensorIdOf(sensor["sensor_id"]);
      if (sensorId === null)
        throw new ReplayInputError(
          `${file}: ${place}.sensor_id is ${describe(sensor["sensor_id"])}, not an integer from 0 to ${U32_MAX}`,
        );
      const data = sensor["data"];
      if (!Array.isArray(data)) throw new ReplayInputError(`${file}: ${place}.data is ${describe(data)}, not an array`);
      const name =
        typeof sensor["sensor_name"] === "string" && sensor["sensor_name"] !== ""
          ? sensor["sensor_name"]
          : `sensor ${sensorId}`;
      raw.push({ sensorId, name, place, data });
    });
  } else if (hasData) {
    form = "single-sensor";
    const data = root["data"];
    if (!Array.isArray(data)) throw new ReplayInputError(`${file}: "data" is ${describe(data)}, not an array`);
    const sensorId = sensorIdOf(metadata["sensor_id"]);
    if (sensorId === null)
      throw new ReplayInputError(
        `${file}: metadata.sensor_id is ${describe(metadata["sensor_id"])}, not an integer from 0 to ${U32_MAX} (the single-sensor form names its sensor there)`,
      );
    const name =
      typeof metadata["sensor_name"] === "string" && metadata["sensor_name"] !== ""
        ? metadata["sensor_name"]
        : `sensor ${sensorId}`;
    raw.push({ sensorId, name, place: "data", data });
  } else {
    throw new ReplayInputError(
      `${file}: not an iMatrix export: expected "sensors": [...] (multi-sensor form) or "metadata": {"sensor_id": n} with "data": [...] (single-sensor form)`,
    );
  }
  const seen = new Map<number, string>();
  for (const sensor of raw) {
    const earlier = seen.get(sensor.sensorId);
    if (earlier !== undefined)
      throw new ReplayInputError(
        `${file}: sensor_id ${sensor.sensorId} appears twice (${earlier} and ${sensor.place})`,
      );
    seen.set(sensor.sensorId, sensor.place);
  }

  const result: ParsedExport = {
    form,
    source: 0,
    sourceFrom: "none (upload source 0)",
    sensors: [],
    pointsInFile: 0,
    pointsValid: 0,
    skippedByReason: {},
    skipped: [],
    duplicateTimes: 0,
    exactDuplicates: 0,
    outOfOrder: 0,
    nonFiniteTokens,
    formattedTimeMismatches: 0,
    formattedTimeOffsetMs: null,
    notes: [],
  };
  const serial = metadata["serial"];
  const serialNumber = typeof serial === "string" && /^\d+$/.test(serial) ? Number(serial) : serial;
  if (
    typeof serialNumber === "number" &&
    Number.isInteger(serialNumber) &&
    serialNumber >= 0 &&
    serialNumber <= U32_MAX
  ) {
    result.source = serialNumber;
    result.sourceFrom = "metadata.serial";
  }

  for (const sensor of raw) {
    const points: ExportPoint[] = [];
    const valuesAt = new Map<number, number[]>();
    let previous = -Infinity;
    sensor.data.forEach((point, i) => {
      result.pointsInFile++;
      const problem = pointProblem(point);
      const place = form === "single-sensor" ? `data[${i}]` : `${sensor.place}.data[${i}]`;
      if (problem !== null) {
        if (options.strict)
          throw new ReplayInputError(
            `${file}: ${place}: ${problem} (--strict refuses the file; without it the point is skipped)`,
          );
        const key = reasonKey(problem);
        result.skippedByReason[key] = (result.skippedByReason[key] ?? 0) + 1;
        if (result.skipped.length < SKIPPED_LISTED_MAX) result.skipped.push({ place, reason: problem });
        return;
      }
      const p = point as { time: number; value: number; formatted_time?: unknown };
      const earlier = valuesAt.get(p.time);
      if (earlier !== undefined) {
        result.duplicateTimes++;
        if (earlier.some((v) => Object.is(v, p.value))) result.exactDuplicates++;
        earlier.push(p.value);
      } else {
        valuesAt.set(p.time, [p.value]);
      }
      if (p.time < previous) result.outOfOrder++;
      previous = p.time;
      if (typeof p.formatted_time === "string") {
        const parsed = Date.parse(p.formatted_time.replace(/(\.\d{3})\d+/, "$1"));
        if (Number.isFinite(parsed) && parsed !== p.time) {
          result.formattedTimeMismatches++;
          result.formattedTimeOffsetMs ??= parsed - p.time;
        }
      }
      points.push({ time: p.time, value: p.value });
    });
    result.pointsValid += points.length;
    result.sensors.push({
      sensorId: sensor.sensorId,
      name: sensor.name,
      place: sensor.place,
      points,
      pointsInFile: sensor.data.length,
    });
  }
  // An empty window (the cloud exports one as `data: []`, `statistics.data_points: 0`) is an
  // export with nothing in it, which a caller may accept; a file whose every point was skipped is not.
  if (result.pointsValid === 0 && !(options.emptyAccepted === true && result.pointsInFile === 0)) {
    throw new ReplayInputError(
      `${file}: no data point to replay (${result.pointsInFile} in the file${result.pointsInFile > 0 ? ", every one skipped" : ""})`,
    );
  }
  const total = metadata["total_data_points"];
  if (typeof total === "number" && total !== result.pointsInFile) {
    result.notes.push(`metadata.total_data_points says ${total}, the file holds ${result.pointsInFile}`);
  }
  if (result.formattedTimeMismatches > 0) {
    const hours = (result.formattedTimeOffsetMs ?? 0) / 3_600_000;
    result.notes.push(
      `formatted_time disagrees with time for ${result.formattedTimeMismatches} points (first by ${hours >= 0 ? "+" : ""}${Number.isInteger(hours) ? hours : hours.toFixed(3)} h); replay uses time`,
    );
  }
  return result;
}
