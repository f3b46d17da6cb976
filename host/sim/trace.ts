// The step trace of a run and the failure it ends with: the last steps are kept (options.traceLines),
// and a broken guarantee becomes a SimFailure whose message names the seed, the step, the line
// that replays it and the last steps.

import type { Board, CleanupPolicy } from "../boards.js";
import type { FaultProfile, SimOptions } from "./options.js";

/** A broken guarantee: the message names the seed, the step and how to replay it. */
export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly detail: string,
    message: string,
  ) {
    super(message);
    this.name = "SimFailure";
  }
}

/** What a failure message names about the run. */
export interface TraceRun {
  readonly seed: number;
  readonly options: SimOptions;
  readonly board: Board;
  readonly profile: FaultProfile;
  readonly policy: CleanupPolicy;
}

export class SimTrace {
  /** The step being run (0 before the first; the final check counts as one more). */
  stepIndex = 0;
  private readonly trace: string[] = [];

  constructor(private readonly run: TraceRun) {}

  get options(): SimOptions {
    return this.run.options;
  }

  add(line: string): void {
    const text = `#${this.stepIndex} ${line}`;
    this.options.onTrace?.(text);
    this.trace.push(text);
    const max = this.options.traceLines ?? 40;
    while (this.trace.length > max) this.trace.shift();
  }

  fail(detail: string): SimFailure {
    const board = typeof this.run.options.board === "string" ? this.run.options.board : this.run.board.name;
    const replay = this.run.options.script
      ? `scripted run (crashAtOp=${this.run.options.crashAtOp ?? "none"})`
      : `SEED=${this.run.seed} imx-memsim sim --board ${board} --steps ${this.run.options.steps ?? 300}${this.run.profile.name === "default" ? "" : ` --faults ${this.run.profile.name}`}${this.run.options.policy ? ` --policy ${this.run.options.policy}` : ""}${this.run.options.diskFull ? ` --disk-full ${this.run.options.diskFull}` : ""}`;
    return new SimFailure(
      this.run.seed,
      this.stepIndex,
      detail,
      `sim seed=${this.run.seed} step=${this.stepIndex} board=${this.run.board.name} policy=${this.run.policy} faults=${this.run.profile.name}: ${detail}\n` +
        `  replay: ${replay}\n  last steps:\n    ${this.trace.join("\n    ")}`,
    );
  }
}
