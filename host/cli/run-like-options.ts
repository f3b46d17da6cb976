// The flags `compare` and `size` share with `run` (the workload, the outages, the uplink, the seed,
// the disk-full policy), declared once here and turned into run settings by run's own runPlan, so
// that the three commands accept and refuse the same texts.

import type { Command } from "commander";
import { UsageError } from "../base/user-error.js";
import type { RunSettings } from "../run/device-preflight.js";
import { DISK_FULL_OPTION_HELP } from "./disk-full-option.js";
import { RUN_OPTION_DEFAULTS, type RunCommandOptions, runPlan } from "./run-command.js";

export interface RunLikeOptions {
  workload?: string;
  tsd?: string[];
  evt?: string[];
  replay?: string[];
  source?: string;
  outage?: string[];
  seed?: string;
  uploadEvery: string;
  latency: string;
  diskFull?: string;
  quiet?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds the shared flags; `outageHelp` says what --outage means to the command. */
export function runLikeOptionsAdd(command: Command, outageHelp: string): Command {
  return command
    .option("--workload <file>", "the sensors, as a workload JSON file (see docs/run.md); default: run's default")
    .option("--tsd <sensor:rate[:type]>", "a TSD stream, e.g. 1004:10s or 1001:1m:int32 (repeatable)", collect)
    .option("--evt <sensor:rate[:type]>", "an EVT stream with an event rate, e.g. 1006:720/h (repeatable)", collect)
    .option("--replay <file[:sensor,...]>", "EVT streams replayed from an iMatrix cloud export (repeatable)", collect)
    .option("--source <n>", "upload source of the --tsd/--evt/--replay streams (default 0)")
    .option("--outage <schedule>", outageHelp, collect)
    .option("--seed <n>", "seed for events, values, latency and jitter (default 1)")
    .option(
      "--upload-every <time>",
      "time between upload cycles when there is no backlog",
      RUN_OPTION_DEFAULTS.uploadEvery,
    )
    .option("--latency <ms|min-max>", "the cloud's answer time, simulated", RUN_OPTION_DEFAULTS.latency)
    .option("--disk-full <policy>", DISK_FULL_OPTION_HELP)
    .option("--quiet", "no progress on stderr");
}

/**
 * The settings of one run of `board` (a name or a path) for `durationMs`, as `run` would make
 * them from the same flags; throws UsageError (or another UserError) for bad input.
 */
export function runLikeSettings(board: string, options: RunLikeOptions, duration: string): RunSettings {
  const runOptions: RunCommandOptions = {
    ...RUN_OPTION_DEFAULTS,
    board,
    speed: "max",
    duration,
    uploadEvery: options.uploadEvery,
    latency: options.latency,
    ...(options.workload === undefined ? {} : { workload: options.workload }),
    ...(options.tsd === undefined ? {} : { tsd: options.tsd }),
    ...(options.evt === undefined ? {} : { evt: options.evt }),
    ...(options.replay === undefined ? {} : { replay: options.replay }),
    ...(options.source === undefined ? {} : { source: options.source }),
    ...(options.outage === undefined ? {} : { outage: options.outage }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.diskFull === undefined ? {} : { diskFull: options.diskFull }),
  };
  return runPlan(runOptions).settings;
}

/** A comma list ("esp32,fc1-imx6"): its items, trimmed; an empty item or a repeated one is refused. */
export function listFlag(text: string, flag: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.some((item) => item === ""))
    throw new UsageError(`${flag} must be a comma-separated list without empty items (got "${text}")`);
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item)) throw new UsageError(`${flag} names ${item} twice (got "${text}")`);
    seen.add(item);
  }
  return items;
}
