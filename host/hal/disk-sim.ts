// The disk simulation of the original test harness (memory_test_disk_sim.c): a filesystem whose
// free space is made up, so a test can show what the disk tier does on a disk that is nearly full,
// filling up, or failing — on any real directory. As in the original only the free-space query is
// simulated (there: statvfs; here: Hal.freeBytes(), which the core reads at a bounded rate, never
// per record); reads, writes and deletes go to the wrapped Hal unchanged.
//
// The simulated filesystem has `sizeBytes` (the original's IMX_TEST_DISK_SIZE, 10 GB by default).
// What the disk tier itself holds counts against it: a `DiskSimHal` reports
//   free = min(what the wrapped Hal reports, sizeBytes − foreign bytes − the tier's bytes)
// where the tier's bytes are what the wrapped Hal's files hold (counted by a FaultyHal in its
// small-filesystem mode, the "disk-full mode" every HAL test already uses) and the foreign bytes are
// what the mode says other writers took:
//
//   normal   0 (a filesystem of sizeBytes)
//   gradual  from 50% of sizeBytes, 1 MB more on every free-space query ("fills from 50% by 1 MB
//            per operation", the original's DISK_SIM_MODE_GRADUAL_FILL)
//   fail5    the first 5 queries see the filesystem as it is; from the 6th on it reports 0 bytes
//            free (the original's DISK_SIM_MODE_FAIL_AFTER_N with N = 5)
//
// Several devices (the suite's shared device and its fresh ones) can share one DiskSim: one
// simulated disk, one query count, as the original's one global simulator. `log` gets a line per
// query (IMX_TEST_DISK_LOG).

import { FaultyHal, NO_FAULTS } from "./faulty.js";
import type { Hal } from "./hal.js";
import { HalWrapper } from "./hal-wrapper.js";

export const DISK_SIM_MODES = ["normal", "gradual", "fail5"] as const;
export type DiskSimMode = (typeof DISK_SIM_MODES)[number];

/** The original's MB: 1,048,576 bytes. */
export const DISK_SIM_MB_BYTES = 1024 * 1024;
/** The original's simulated disk: 10 GB. */
export const DISK_SIM_SIZE_DEFAULT_MB = 10 * 1024;
/** gradual: the share of the disk other writers hold at the first query, and what each query adds. */
export const DISK_SIM_GRADUAL_START_PERCENT = 50;
export const DISK_SIM_GRADUAL_STEP_BYTES = DISK_SIM_MB_BYTES;
/** fail5: queries answered truthfully before the disk reports no free space. */
export const DISK_SIM_FAIL_AFTER_CALLS = 5;

export function isDiskSimMode(text: string): text is DiskSimMode {
  return (DISK_SIM_MODES as readonly string[]).includes(text);
}

export interface DiskSimOptions {
  sizeBytes: number;
  mode: DiskSimMode;
  /** A line per free-space query (IMX_TEST_DISK_LOG). */
  log?: ((line: string) => void) | null;
}

/** The statistics the original kept: queries, simulated answers, queries answered with no space. */
export interface DiskSimStats {
  mode: DiskSimMode;
  sizeBytes: number;
  /** freeBytes() queries made by every device on this disk. */
  freeQueries: number;
  /** Queries whose answer the simulation changed (below what the filesystem really has). */
  simulatedAnswers: number;
  /** Queries answered with 0 bytes free. */
  noSpaceAnswers: number;
  /** Bytes other writers hold at the last query (gradual), 0 otherwise. */
  foreignBytes: number;
}

/** One simulated disk, shared by the HALs wrapped with `wrap`. */
export class DiskSim {
  readonly sizeBytes: number;
  readonly mode: DiskSimMode;
  private readonly log: ((line: string) => void) | null;
  private queries = 0;
  private simulated = 0;
  private noSpace = 0;
  private foreign = 0;

  constructor(options: DiskSimOptions) {
    if (!Number.isSafeInteger(options.sizeBytes) || options.sizeBytes <= 0)
      throw new RangeError(`DiskSim: sizeBytes must be a positive integer (got ${options.sizeBytes})`);
    this.sizeBytes = options.sizeBytes;
    this.mode = options.mode;
    this.log = options.log ?? null;
  }

  /** A Hal over `inner` whose free space is this disk's. */
  wrap(inner: Hal): DiskSimHal {
    return new DiskSimHal(inner, this);
  }

  /** What a free-space query answers, given the tier's own bytes and what the real filesystem has free. */
  answer(tierBytes: number, realFreeBytes: number): number {
    this.queries++;
    let foreign = 0;
    if (this.mode === "gradual") {
      foreign =
        Math.floor((this.sizeBytes * DISK_SIM_GRADUAL_START_PERCENT) / 100) +
        (this.queries - 1) * DISK_SIM_GRADUAL_STEP_BYTES;
      foreign = Math.min(foreign, this.sizeBytes);
    }
    this.foreign = foreign;
    let free = Math.max(0, this.sizeBytes - foreign - tierBytes);
    if (this.mode === "fail5" && this.queries > DISK_SIM_FAIL_AFTER_CALLS) free = 0;
    const answer = Math.min(free, realFreeBytes);
    if (answer < realFreeBytes) this.simulated++;
    if (answer === 0) this.noSpace++;
    this.log?.(
      `disk sim: query ${this.queries} (${this.mode}): size ${mb(this.sizeBytes)}, others ${mb(foreign)}, ` +
        `tier ${mb(tierBytes)}, free ${mb(answer)}${answer === 0 ? " (no space)" : ""}`,
    );
    return answer;
  }

  stats(): DiskSimStats {
    return {
      mode: this.mode,
      sizeBytes: this.sizeBytes,
      freeQueries: this.queries,
      simulatedAnswers: this.simulated,
      noSpaceAnswers: this.noSpace,
      foreignBytes: this.foreign,
    };
  }
}

function mb(bytes: number): string {
  return `${(bytes / DISK_SIM_MB_BYTES).toFixed(2)} MB`;
}

/** A Hal whose freeBytes() is the simulated disk's; every other call goes through unchanged. */
export class DiskSimHal extends HalWrapper {
  private readonly counted: FaultyHal;

  constructor(
    inner: Hal,
    readonly disk: DiskSim,
  ) {
    // The small-filesystem mode counts the bytes under the root; its capacity is never reached
    // (the simulation only answers queries), so writes land as they would without it.
    const counted = new FaultyHal(inner, { seed: 0, rates: NO_FAULTS, capacityBytes: Number.MAX_SAFE_INTEGER });
    super(counted, `disk-sim(${inner.kind})`);
    this.counted = counted;
  }

  /** Bytes the files under the root hold. */
  tierBytes(): number {
    return this.counted.usedBytes();
  }

  override freeBytes(): number {
    return this.disk.answer(this.tierBytes(), this.inner.freeBytes());
  }
}
