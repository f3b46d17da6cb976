// Leak detection across iterations. Free sectors and the wasm memory size are checked exactly after
// every iteration (the runner does that). Open file descriptors, the host heap, external memory
// (ArrayBuffers, the devices' wasm memories among them) and RSS are sampled about 50 times over the
// run, after a garbage collection where one can be had, and judged by their growth per 1,000
// iterations: the Theil–Sen slope (median of pairwise slopes) over the samples after a warm-up (the
// first 20% of the run), never right after a full iteration.
//
// What a correct run shows: 0 descriptors; a one-time heap warm-up of 200–350 KiB (compiled code and
// type feedback, mostly in the first 1,000 iterations), which a short run spreads over few
// iterations (≈ 550 KiB per 1,000 at 600 iterations, ≈ 290 KiB at 1,000, ≈ 100 KiB at 3,000, near 0
// at 100,000); external memory flat; RSS in steps of up to ~20 MiB when a full iteration's fresh
// devices raise the allocator's high-water mark (≈ 7 MiB per 1,000 at 3,000 iterations). Bounds, per
// 1,000 iterations, set above that and below any real leak:
//   open file descriptors  1        (one leaked descriptor per iteration: 1,000)
//   host heap              1 MiB    (a leak of ≥ 1 KiB per iteration; a retained upload batch is ~20 KiB)
//   external memory        1 MiB    (a leaked device: ≥ 64 KiB (one page) of wasm memory per iteration)
//   RSS                    16 MiB   (a leaked device per iteration: ≥ 64 MiB)
// Growth is judged only when the samples after the warm-up span at least 500 iterations; shorter
// runs report the figures as "not judged".

import fs from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";

export const LEAK_BOUNDS_PER_1000 = {
  fds: 1,
  heapBytes: 1024 * 1024,
  externalBytes: 1024 * 1024,
  rssBytes: 16 * 1024 * 1024,
} as const;

export const LEAK_SPAN_MIN_ITERATIONS = 500;
const SAMPLES_TARGET = 50;
const WARMUP_SHARE = 0.2;

export type LeakMetric = keyof typeof LEAK_BOUNDS_PER_1000;

export interface LeakFigure {
  metric: LeakMetric;
  /** Growth per 1,000 iterations (least-squares slope), or null when not measurable here. */
  per1000: number | null;
  bound: number;
  first: number | null;
  last: number | null;
  /** null: not judged (too few iterations, or not measurable on this platform). */
  passed: boolean | null;
}

export interface LeakReport {
  samples: number;
  spanIterations: number;
  judged: boolean;
  gc: "exposed" | "enabled at run time" | "unavailable";
  figures: LeakFigure[];
  /** The samples themselves (for --json). */
  series: Sample[];
}

export interface Sample {
  iteration: number;
  fds: number | null;
  heapBytes: number;
  externalBytes: number;
  rssBytes: number;
}

/** A garbage collection function: global.gc when node runs with --expose-gc, else one enabled through V8's flags. */
function gcFind(): { gc: (() => void) | null; how: LeakReport["gc"] } {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return { gc: exposed, how: "exposed" };
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    if (typeof gc === "function") return { gc: gc as () => void, how: "enabled at run time" };
  } catch {
    // Not available on this runtime: samples are taken without a collection (noisier).
  }
  return { gc: null, how: "unavailable" };
}

/** Open file descriptors of this process (entries of /proc/self/fd), or null where there is none. */
export function openFdCount(): number | null {
  try {
    return fs.readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

/**
 * The Theil–Sen slope: the median of the slopes between every pair of samples. A leak grows every
 * sample; a one-off step (a buffer pool, code compiled late) moves only the pairs that straddle it.
 */
function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const a = points[i];
      const b = points[j];
      if (a !== undefined && b !== undefined && b.x !== a.x) slopes.push((b.y - a.y) / (b.x - a.x));
    }
  }
  if (slopes.length === 0) return 0;
  slopes.sort((p, q) => p - q);
  const mid = slopes.length >> 1;
  return slopes.length % 2 === 1 ? (slopes[mid] ?? 0) : ((slopes[mid - 1] ?? 0) + (slopes[mid] ?? 0)) / 2;
}

export class LeakMonitor {
  private readonly samples: Sample[] = [];
  private readonly every: number;
  private readonly warmup: number;
  private readonly gc: (() => void) | null;
  private readonly gcHow: LeakReport["gc"];
  private postponed = false;

  constructor(readonly iterations: number) {
    this.every = Math.max(1, Math.ceil(iterations / SAMPLES_TARGET));
    this.warmup = Math.max(1, Math.floor(iterations * WARMUP_SHARE));
    const found = gcFind();
    this.gc = found.gc;
    this.gcHow = found.how;
  }

  /**
   * Takes a sample when `iteration` is due: every ~2% of the run after the warm-up, and at the end.
   * Never right after a full iteration: its sections boot fresh devices whose memory a collection
   * may not have released yet, a passing step that is not a leak; a sample due then is taken after
   * the next iteration instead.
   */
  maybeSample(iteration: number, full: boolean): void {
    if (iteration < this.warmup) return;
    const due =
      this.postponed || iteration === this.warmup || iteration % this.every === 0 || iteration >= this.iterations - 1;
    if (!due) return;
    if (full) {
      this.postponed = true;
      return;
    }
    this.postponed = false;
    this.gc?.();
    const memory = process.memoryUsage();
    this.samples.push({
      iteration,
      fds: openFdCount(),
      heapBytes: memory.heapUsed,
      externalBytes: memory.external,
      rssBytes: memory.rss,
    });
  }

  report(): LeakReport {
    const samples = this.samples;
    const first = samples[0];
    const last = samples[samples.length - 1];
    const span = first && last ? last.iteration - first.iteration : 0;
    const judged = samples.length >= 3 && span >= LEAK_SPAN_MIN_ITERATIONS;
    const figure = (metric: LeakMetric, value: (s: Sample) => number | null): LeakFigure => {
      const bound = LEAK_BOUNDS_PER_1000[metric];
      const points = samples.flatMap((s) => {
        const y = value(s);
        return y === null ? [] : [{ x: s.iteration, y }];
      });
      if (points.length < 2)
        return { metric, per1000: null, bound, first: points[0]?.y ?? null, last: null, passed: null };
      const per1000 = slope(points) * 1000;
      return {
        metric,
        per1000,
        bound,
        first: points[0]?.y ?? null,
        last: points[points.length - 1]?.y ?? null,
        passed: judged && points.length === samples.length ? per1000 <= bound : null,
      };
    };
    return {
      samples: samples.length,
      spanIterations: span,
      judged,
      gc: this.gcHow,
      figures: [
        figure("fds", (s) => s.fds),
        figure("heapBytes", (s) => s.heapBytes),
        figure("externalBytes", (s) => s.externalBytes),
        figure("rssBytes", (s) => s.rssBytes),
      ],
      series: samples,
    };
  }
}
