// Checks: every assertion the suite makes records what it expected and what it got. A check is
// identified by (section, name); running it again in a later iteration adds to its counts, so a
// 100,000-iteration run keeps one entry per check plus the first failures, never one per run.

/** Section number used for the checks every iteration makes (cleanup, leaks): not one of 1–10. */
export const ITERATION_SECTION = 0;

export interface CheckFailure {
  iteration: number;
  section: number;
  check: string;
  expected: string;
  actual: string;
}

export interface CheckSummary {
  section: number;
  name: string;
  runs: number;
  passed: number;
  failed: number;
  /** What the last run expected and got (the first failure's, if any failed). */
  expected: string;
  actual: string;
  firstFailure: CheckFailure | null;
}

/** Failures kept in full (the counts go on beyond it). */
export const FAILURES_KEPT_MAX = 200;

export class CheckBook {
  private readonly checks = new Map<string, CheckSummary>();
  readonly failures: CheckFailure[] = [];
  failedTotal = 0;
  passedTotal = 0;
  /** Called for every failure as it happens (the CLI prints it). */
  onFailure: ((failure: CheckFailure) => void) | undefined;
  /** Called for every check when verbose output is on. */
  onCheck: ((summary: CheckSummary, passed: boolean, expected: string, actual: string) => void) | undefined;

  record(iteration: number, section: number, name: string, passed: boolean, expected: string, actual: string): boolean {
    const key = `${section}\u0000${name}`;
    let summary = this.checks.get(key);
    if (summary === undefined) {
      summary = { section, name, runs: 0, passed: 0, failed: 0, expected, actual, firstFailure: null };
      this.checks.set(key, summary);
    }
    summary.runs++;
    if (passed) {
      summary.passed++;
      this.passedTotal++;
      if (summary.firstFailure === null) {
        summary.expected = expected;
        summary.actual = actual;
      }
    } else {
      summary.failed++;
      this.failedTotal++;
      const failure: CheckFailure = { iteration, section, check: name, expected, actual };
      if (summary.firstFailure === null) {
        summary.firstFailure = failure;
        summary.expected = expected;
        summary.actual = actual;
      }
      if (this.failures.length < FAILURES_KEPT_MAX) this.failures.push(failure);
      this.onFailure?.(failure);
    }
    this.onCheck?.(summary, passed, expected, actual);
    return passed;
  }

  /** Every check, in section order, then in the order first run. */
  list(): CheckSummary[] {
    return [...this.checks.values()].sort((a, b) => a.section - b.section);
  }

  forSection(section: number): CheckSummary[] {
    return this.list().filter((c) => c.section === section);
  }
}

/** Formats a value for an expected/actual text. */
export function show(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") {
    if (Object.is(value, -0)) return "-0";
    return Number.isInteger(value) || !Number.isFinite(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
  }
  if (value === undefined) return "undefined";
  return JSON.stringify(value);
}

/** The checks of one section (or of the iteration itself) in one iteration. */
export class CheckContext {
  constructor(
    readonly book: CheckBook,
    readonly section: number,
    readonly iteration: number,
  ) {}

  /** Records a check: `passed`, with what was expected and what was got. Returns `passed`. */
  check(name: string, passed: boolean, expected: string, actual: string): boolean {
    return this.book.record(this.iteration, this.section, name, passed, expected, actual);
  }

  /** Passes when `actual` is `expected` (Object.is: -0 and NaN are told apart exactly). */
  equal(name: string, expected: unknown, actual: unknown): boolean {
    return this.check(name, Object.is(expected, actual), show(expected), show(actual));
  }

  atLeast(name: string, min: number, actual: number): boolean {
    return this.check(name, actual >= min, `≥ ${show(min)}`, show(actual));
  }

  atMost(name: string, max: number, actual: number): boolean {
    return this.check(name, actual <= max, `≤ ${show(max)}`, show(actual));
  }

  below(name: string, limit: number, actual: number): boolean {
    return this.check(name, actual < limit, `< ${show(limit)}`, show(actual));
  }

  /** Passes when `run` returns the error code `expected` (or throws a CoreError with it). */
  code(name: string, expectedName: string, actual: string): boolean {
    return this.check(name, expectedName === actual, expectedName, actual);
  }
}
