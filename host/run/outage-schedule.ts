// When the simulated uplink is down, in simulated time since the run's start:
//
//   OUTAGE   = DURATION "every" PERIOD ["at" OFFSET] ["jitter" DURATION]   a repeating outage
//            | DURATION "at" OFFSET                                         one outage
//            | "none"
//
// e.g. "30m every 6h", "6h every 1d at 2h", "2h at 3d", "6h every 1d jitter 1h". The first repeating
// outage starts at OFFSET; by default each period ends with its outage ("6h every 1d" is down from
// 18:00 to 24:00 of every simulated day), so a run starts with its uplink up; with a
// jitter, each occurrence moves by up to ± that much, drawn from the seed and the occurrence's
// number (so a resumed run has the same outages as an uninterrupted one). Several --outage flags
// add up: the uplink is down while any of them is.

import { UsageError } from "../base/user-error.js";
import { durationParse } from "../base/parse.js";
import { durationFormat } from "./duration.js";
import { hashUnit } from "./hash.js";

export interface OutageSpec {
  text: string;
  durationMs: number;
  /** 0 for a single outage. */
  periodMs: number;
  offsetMs: number;
  jitterMs: number;
}

function durationOf(text: string | undefined, what: string, whole: string): number {
  const ms = text === undefined ? null : durationParse(text);
  if (ms === null)
    throw new UsageError(`--outage "${whole}": ${what} "${text ?? ""}" is not a duration like 30m, 6h or 1d`);
  return ms;
}

/** Parses one --outage value; throws UsageError naming the bad part. */
export function outageSpecParse(text: string): OutageSpec | null {
  const words = text.trim().toLowerCase().split(/\s+/);
  if (words.length === 1 && words[0] === "none") return null;
  const usage = `--outage "${text}": expected "DURATION every PERIOD [at OFFSET] [jitter DURATION]" or "DURATION at OFFSET" (e.g. "30m every 6h")`;
  const durationMs = durationOf(words[0], "the outage's length", text);
  if (durationMs < 1) throw new UsageError(`--outage "${text}": the outage must last at least 1 ms`);
  const spec: OutageSpec = { text: text.trim(), durationMs, periodMs: 0, offsetMs: 0, jitterMs: 0 };
  let offsetGiven = false;
  for (let i = 1; i < words.length; i += 2) {
    const keyword = words[i];
    const value = words[i + 1];
    if (value === undefined) throw new UsageError(usage);
    if (keyword === "every") spec.periodMs = durationOf(value, "the period", text);
    else if (keyword === "at") {
      spec.offsetMs = durationOf(value, "the offset", text);
      offsetGiven = true;
    } else if (keyword === "jitter") spec.jitterMs = durationOf(value, "the jitter", text);
    else throw new UsageError(usage);
  }
  if (spec.periodMs === 0) {
    if (!offsetGiven) throw new UsageError(usage);
    if (spec.jitterMs > 0)
      throw new UsageError(`--outage "${text}": jitter applies to a repeating outage ("every PERIOD")`);
    return spec;
  }
  if (spec.durationMs >= spec.periodMs) {
    throw new UsageError(
      `--outage "${text}": the outage (${durationFormat(durationMs)}) must be shorter than its period (${durationFormat(spec.periodMs)})`,
    );
  }
  if (spec.durationMs + 2 * spec.jitterMs >= spec.periodMs) {
    throw new UsageError(
      `--outage "${text}": outage + 2 × jitter must be shorter than the period, so occurrences cannot overlap`,
    );
  }
  if (!offsetGiven) spec.offsetMs = spec.periodMs - spec.durationMs - spec.jitterMs;
  return spec;
}

/** The uplink's schedule over simulated time; `runStartMs` is the first run's start on this storage. */
export class OutageSchedule {
  constructor(
    readonly specs: readonly OutageSpec[],
    private readonly runStartMs: number,
    private readonly seed: number,
  ) {}

  /** Start of occurrence `k` of spec `index` (ms since the run's start). */
  private occurrenceStart(index: number, spec: OutageSpec, k: number): number {
    const base = spec.offsetMs + k * spec.periodMs;
    if (spec.jitterMs === 0) return base;
    return base + Math.round((hashUnit(this.seed, index, k) * 2 - 1) * spec.jitterMs);
  }

  /** The outage covering `nowMs`, as [start, end) in simulated UTC ms, or null when the uplink is up. */
  outageAt(nowMs: number): { startMs: number; endMs: number } | null {
    const t = nowMs - this.runStartMs;
    let found: { startMs: number; endMs: number } | null = null;
    this.specs.forEach((spec, index) => {
      if (found !== null) return;
      if (spec.periodMs === 0) {
        if (t >= spec.offsetMs && t < spec.offsetMs + spec.durationMs) {
          found = {
            startMs: this.runStartMs + spec.offsetMs,
            endMs: this.runStartMs + spec.offsetMs + spec.durationMs,
          };
        }
        return;
      }
      const k0 = Math.floor((t - spec.offsetMs) / spec.periodMs);
      // With jitter an occurrence may start up to jitterMs early, so the next one is checked too.
      for (const k of [k0, k0 + 1]) {
        if (k < 0) continue;
        const start = this.occurrenceStart(index, spec, k);
        if (t >= start && t < start + spec.durationMs) {
          found = { startMs: this.runStartMs + start, endMs: this.runStartMs + start + spec.durationMs };
          return;
        }
      }
    });
    return found;
  }

  isUp(nowMs: number): boolean {
    return this.outageAt(nowMs) === null;
  }

  /** When the next outage after `nowMs` starts (simulated UTC ms), or null if none is scheduled. */
  nextOutageStart(nowMs: number): number | null {
    const t = nowMs - this.runStartMs;
    let best: number | null = null;
    for (const [index, spec] of this.specs.entries()) {
      let start: number | null = null;
      if (spec.periodMs === 0) {
        if (spec.offsetMs > t) start = spec.offsetMs;
      } else {
        const k0 = Math.max(0, Math.floor((t - spec.offsetMs) / spec.periodMs));
        for (const k of [k0, k0 + 1, k0 + 2]) {
          const s = this.occurrenceStart(index, spec, k);
          if (s > t) {
            start = s;
            break;
          }
        }
      }
      if (start !== null && (best === null || start < best)) best = start;
    }
    return best === null ? null : this.runStartMs + best;
  }
}
