// The uplink's outage pattern for a replay: when the device may upload.
//
//   PATTERN  = "none" | SEGMENT ("," SEGMENT)*
//   SEGMENT  = ("up" | "down") ":" COUNT
//   COUNT    = N      points written while the segment lasts
//            | N "%"  that share of all the points replayed (0 < N ≤ 100)
//
// The segments repeat until the last point; then the uplink comes up and everything left is
// uploaded. "none" keeps the uplink up throughout. Example: "down:50%,up:50%" (the default: the
// first half of the points spill while the uplink is down), "up:1000,down:3000".

import { UsageError } from "../base/user-error.js";

export interface OutageSegment {
  up: boolean;
  points: number;
}

export const OUTAGE_DEFAULT = "down:50%,up:50%";

export interface OutagePattern {
  text: string;
  segments: OutageSegment[];
}

/** Parses PATTERN for a replay of `totalPoints` points; throws UsageError naming the bad part. */
export function outageParse(text: string, totalPoints: number): OutagePattern {
  const trimmed = text.trim();
  if (trimmed === "none") return { text: trimmed, segments: [{ up: true, points: Math.max(1, totalPoints) }] };
  const segments: OutageSegment[] = [];
  for (const part of trimmed.split(",")) {
    const match = /^(up|down):(\d+(?:\.\d+)?)(%?)$/.exec(part.trim());
    if (match === null) {
      throw new UsageError(`--outage: "${part}" is not up:N, down:N, up:N% or down:N% (pattern: ${text}; or "none")`);
    }
    const [, kind, amount, percent] = match;
    const n = Number(amount);
    let points: number;
    if (percent === "%") {
      if (!(n > 0 && n <= 100)) throw new UsageError(`--outage: "${part}": a share must be above 0% and at most 100%`);
      points = Math.max(1, Math.round((totalPoints * n) / 100));
    } else {
      if (!Number.isSafeInteger(n) || n < 1)
        throw new UsageError(`--outage: "${part}": a count of points must be a whole number ≥ 1`);
      points = n;
    }
    segments.push({ up: kind === "up", points });
  }
  return { text: trimmed, segments };
}

/** Walks a pattern point by point: whether the uplink is up while point `index` (0-based) is written. */
export class OutageClock {
  private segment = 0;
  private left: number;

  constructor(private readonly pattern: OutagePattern) {
    this.left = pattern.segments[0]?.points ?? 1;
  }

  /** Whether the uplink is up now; then moves on by one point. */
  step(): boolean {
    const segments = this.pattern.segments;
    while (this.left <= 0) {
      this.segment = (this.segment + 1) % segments.length;
      this.left = segments[this.segment]?.points ?? 1;
    }
    this.left--;
    return segments[this.segment]?.up ?? true;
  }
}
