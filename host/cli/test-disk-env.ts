// The original test harness's disk-simulation environment variables (memory_test_disk_sim.c), read
// by `imx-memsim test`, each with the flag that does the same and wins when both are given:
//
//   IMX_TEST_DISK_USAGE  (%)                  --disk-usage PCT   share of the disk quota already used
//   IMX_TEST_DISK_SIZE   (MB)                 --disk-size MB     the simulated filesystem's size
//   IMX_TEST_DISK_MODE   gradual | fail5      --disk-mode MODE   fills from 50% by 1 MB per query |
//                                                                no free space after 5 queries
//   IMX_TEST_DISK_LOG    0 | 1                --disk-log         a line per free-space query
//
// A value that is not valid is bad input (exit 2), whichever of the two it comes from. Every value
// taken from the environment, and every one a flag overrode, is said in the run's first lines.

import { numberFlag, integerFlag } from "../base/parse.js";
import { UsageError } from "../base/user-error.js";
import {
  DISK_SIM_MB_BYTES,
  DISK_SIM_MODES,
  DISK_SIM_SIZE_DEFAULT_MB,
  type DiskSimMode,
  isDiskSimMode,
} from "../hal/disk-sim.js";

export const DISK_ENV = {
  usage: "IMX_TEST_DISK_USAGE",
  size: "IMX_TEST_DISK_SIZE",
  mode: "IMX_TEST_DISK_MODE",
  log: "IMX_TEST_DISK_LOG",
} as const;

/** The largest simulated disk: 1 PB in MB (any real quota fits many times). */
export const DISK_SIZE_MB_MAX = 1024 * 1024 * 1024;

export interface TestDiskFlags {
  diskUsage?: string;
  diskSize?: string;
  diskMode?: string;
  diskLog?: boolean;
}

export interface TestDiskSettings {
  /** --disk-usage / IMX_TEST_DISK_USAGE; null when neither was given. */
  usagePercent: number | null;
  /** The simulated disk, or null when neither a size nor a mode was given (the real filesystem). */
  sim: { sizeBytes: number; mode: DiskSimMode; log: boolean } | null;
  /** Lines for the run's header: which values came from the environment, which flags won. */
  notes: string[];
}

function modeCheck(text: string, where: string): DiskSimMode {
  if (!isDiskSimMode(text) || text === "normal")
    throw new UsageError(`${where} must be gradual or fail5 (got "${text}")`);
  return text;
}

function logCheck(text: string): boolean {
  if (text !== "0" && text !== "1") throw new UsageError(`${DISK_ENV.log} must be 0 or 1 (got "${text}")`);
  return text === "1";
}

/**
 * Picks each setting from its flag or its variable (the flag wins), checks it, and says where each
 * came from. `env` is process.env in the command, a plain object in tests.
 */
export function testDiskSettings(
  flags: TestDiskFlags,
  env: Readonly<Record<string, string | undefined>>,
): TestDiskSettings {
  const notes: string[] = [];
  const pick = (flag: string, flagValue: string | boolean | undefined, variable: string): "flag" | "env" | null => {
    const fromEnv = env[variable];
    const envSet = fromEnv !== undefined && fromEnv !== "";
    const flagSet = flagValue !== undefined && flagValue !== false;
    if (flagSet && envSet) {
      notes.push(`${flag} given on the command line wins over ${variable}=${fromEnv}`);
      return "flag";
    }
    if (flagSet) return "flag";
    if (envSet) {
      notes.push(`${variable}=${fromEnv} from the environment`);
      return "env";
    }
    return null;
  };

  let usagePercent: number | null = null;
  const usageFrom = pick("--disk-usage", flags.diskUsage, DISK_ENV.usage);
  if (usageFrom !== null) {
    const text = usageFrom === "flag" ? (flags.diskUsage ?? "") : (env[DISK_ENV.usage] ?? "");
    const name = usageFrom === "flag" ? "--disk-usage" : DISK_ENV.usage;
    usagePercent = numberFlag(text, name, { min: 0, max: 100 }, "a percentage from 0 to 100");
  }

  let sizeMb: number | null = null;
  const sizeFrom = pick("--disk-size", flags.diskSize, DISK_ENV.size);
  if (sizeFrom !== null) {
    const text = sizeFrom === "flag" ? (flags.diskSize ?? "") : (env[DISK_ENV.size] ?? "");
    sizeMb = integerFlag(text, sizeFrom === "flag" ? "--disk-size" : DISK_ENV.size, 1, DISK_SIZE_MB_MAX);
  }

  let mode: DiskSimMode | null = null;
  const modeFrom = pick("--disk-mode", flags.diskMode, DISK_ENV.mode);
  if (modeFrom !== null) {
    mode =
      modeFrom === "flag"
        ? modeCheck(flags.diskMode ?? "", "--disk-mode")
        : modeCheck(env[DISK_ENV.mode] ?? "", DISK_ENV.mode);
  }

  const logFrom = pick("--disk-log", flags.diskLog, DISK_ENV.log);
  const log = logFrom === "flag" ? true : logFrom === "env" ? logCheck(env[DISK_ENV.log] ?? "") : false;

  const simulated = sizeMb !== null || mode !== null;
  if (!simulated && log) notes.push(`the disk log shows the simulated disk's queries: give a size or a mode`);
  return {
    usagePercent,
    sim: simulated
      ? { sizeBytes: (sizeMb ?? DISK_SIM_SIZE_DEFAULT_MB) * DISK_SIM_MB_BYTES, mode: mode ?? "normal", log }
      : null,
    notes,
  };
}

export const DISK_MODE_CHOICES = DISK_SIM_MODES.filter((m) => m !== "normal").join(" | ");
