// The suite's environment: the options of the run, the one shared device every iteration reuses
// (reusing it is what makes leaks visible), fresh devices for the sections that need them, one
// simulated main-loop clock, and the small drivers the sections share (tick, flush, clean up).

import fs from "node:fs";
import path from "node:path";
import type { Board, CleanupPolicy } from "../boards.js";
import { Device } from "../core/device.js";
import { type EnsureCleanupResult, ensureCleanupComplete } from "../core/ensure-cleanup.js";
import { IMX_SUFFIX } from "../format/imx.js";
import type { DiskSim } from "../hal/disk-sim.js";
import type { Hal } from "../hal/hal.js";
import { MemoryHal } from "../hal/memory.js";
import { NodeFsHal } from "../hal/node-fs.js";
import { NoSyncHal, type SyncCounter } from "./no-sync-hal.js";
import { Prng } from "../base/prng.js";
import { flushDrain } from "../core/flush.js";

export interface SuiteOptions {
  board: Board;
  /** Root of every device's storage; must exist and be empty. */
  storageDir: string;
  iterations: number;
  /** Sections to run in full (1–10), in order. */
  sections: number[];
  /** Sections run in full on iteration 1, every fullEvery-th iteration, and the last. */
  fullEvery: number;
  /** The shared device's cleanup policy. */
  policy: CleanupPolicy;
  /** The disk tier behaves as if this share of its quota were already used (null: 0, untouched). */
  diskUsagePercent: number | null;
  seed: number;
  stopOnFail: boolean;
  /** Skips ensureCleanupComplete between iterations (the final cleanup still runs and is checked). */
  skipIterationCleanup: boolean;
  /**
   * Skips the final cleanup and its checks (the original's --skip-cleanup: what the run left stays in
   * the storage directory, which the command then keeps); the cleanup between iterations still runs.
   */
  skipFinalCleanup?: boolean;
  /** The simulated disk every device's HAL reports free space from (IMX_TEST_DISK_*; null: the real one). */
  diskSim?: DiskSim | null;
  /** Real fsyncs on the disk tier (default off: see no-sync-hal.ts). */
  fsync: boolean;
  verbose: boolean;
  /** Wraps every device's HAL (tests use it to sabotage the disk tier). */
  halWrap?: (hal: Hal) => Hal;
  /** Called with every device the suite boots (tests use it to break one deliberately). */
  deviceHook?: (device: Device) => void;
  /** Called at the end of each iteration, before its checks (tests use it to inject leaks). */
  iterationHook?: (iteration: number, env: SuiteEnv) => void;
}

/** A device a section made for itself, with its own storage directory (null: in-memory HAL). */
export interface FreshDevice {
  device: Device;
  dir: string | null;
}

/** The most ticks any driver here waits for something the spec says will happen. */
export const TICKS_WAIT_MAX = 10_000;

export class SuiteEnv {
  readonly board: Board;
  readonly prng: Prng;
  readonly stepMs: number;
  /** The simulated main-loop clock shared by every device (it only moves forward). */
  nowMs: number;
  device!: Device;
  /** Files created and deleted by fresh devices since the run started. */
  freshFilesCreated = 0;
  freshFilesDeleted = 0;
  freshFilesCorrupt = 0;
  /** Syncs skipped by the NoSyncHal wrappers (0 with --fsync). */
  readonly syncs: SyncCounter = { skipped: 0 };
  private freshCount = 0;

  constructor(readonly options: SuiteOptions) {
    this.board = options.board;
    this.prng = new Prng(options.seed);
    this.stepMs = Math.max(1, this.board.tier.tickIntervalMs);
    this.nowMs = Date.UTC(2025, 0, 10);
  }

  get hasDisk(): boolean {
    return this.board.disk !== null;
  }

  /** The HAL for a storage directory: node-fs, without syncs unless --fsync, on the simulated disk if any, wrapped by halWrap. */
  halFor(dir: string): Hal {
    let hal: Hal = new NodeFsHal(dir);
    if (!this.options.fsync) hal = new NoSyncHal(hal, this.syncs);
    if (this.options.diskSim) hal = this.options.diskSim.wrap(hal);
    return this.options.halWrap ? this.options.halWrap(hal) : hal;
  }

  /** Boots the shared device on the storage root. */
  sharedBoot(): Device {
    this.device = this.hooked(
      Device.create({
        board: this.board,
        hal: this.halFor(this.options.storageDir),
        policy: this.options.policy,
        nowMs: this.nowMs,
      }),
    );
    this.diskUsageRestore(this.device);
    return this.device;
  }

  /** Puts the run's --disk-usage back on a device (0 when not given). */
  diskUsageRestore(device: Device): void {
    if (device.hasDiskTier) device.setDiskUsagePercent(this.options.diskUsagePercent ?? 0);
  }

  /**
   * A new device for one section: on a fresh directory under <storage>/fresh/ when it needs the
   * disk tier (and the board has one), else on an in-memory HAL.
   */
  freshDevice(label: string, disk: boolean, policy: CleanupPolicy = this.options.policy): FreshDevice {
    if (!disk || !this.hasDisk) {
      return {
        device: this.hooked(Device.create({ board: this.board, hal: new MemoryHal(), policy, nowMs: this.nowMs })),
        dir: null,
      };
    }
    const dir = path.join(this.options.storageDir, "fresh", `${label}-${++this.freshCount}`);
    fs.mkdirSync(dir, { recursive: true });
    return {
      device: this.hooked(Device.create({ board: this.board, hal: this.halFor(dir), policy, nowMs: this.nowMs })),
      dir,
    };
  }

  /** A second device booted on a fresh device's directory: the restart after a power-off. */
  restart(fresh: FreshDevice, policy: CleanupPolicy = this.options.policy): FreshDevice {
    if (fresh.dir === null) throw new Error("restart needs a device with a storage directory");
    return {
      device: this.hooked(Device.create({ board: this.board, hal: this.halFor(fresh.dir), policy, nowMs: this.nowMs })),
      dir: fresh.dir,
    };
  }

  private hooked(device: Device): Device {
    this.options.deviceHook?.(device);
    return device;
  }

  /**
   * Done with a fresh device: counts its files into the run's totals and removes its directory if
   * no `.imx` file is left in it (a left file stays, for the iteration's check to find).
   */
  freshDispose(fresh: FreshDevice): void {
    this.freshRetire(fresh);
    if (fresh.dir !== null && imxFilesCount(fresh.dir) === 0) fs.rmSync(fresh.dir, { recursive: true, force: true });
  }

  /** Counts a fresh device's files into the run's totals, leaving its directory (a restart took it over). */
  freshRetire(fresh: FreshDevice): void {
    const stats = fresh.device.stats();
    this.freshFilesCreated += stats.filesCreated;
    this.freshFilesDeleted += stats.filesDeleted;
    this.freshFilesCorrupt += stats.filesCorrupt;
  }

  /** One main-loop tick of `device`. */
  tick(device: Device = this.device): void {
    this.nowMs += this.stepMs;
    device.processMemory(this.nowMs);
  }

  /** Ticks until `done()` holds; returns the ticks made, or -1 if it did not hold within `ticksMax`. */
  tickUntil(device: Device, done: () => boolean, ticksMax = TICKS_WAIT_MAX): number {
    for (let ticks = 0; ticks <= ticksMax; ticks++) {
      if (done()) return ticks;
      this.tick(device);
    }
    return -1;
  }

  /** Requests a flush and ticks until progress 101; returns the ticks, or -1 if it never got there. */
  flush(device: Device = this.device, ticksMax = TICKS_WAIT_MAX): number {
    device.flushAllToDisk();
    return flushDrain(device, () => this.tick(device), ticksMax);
  }

  /** ensureCleanupComplete on the shared clock. */
  async cleanup(device: Device = this.device): Promise<EnsureCleanupResult> {
    const result = await ensureCleanupComplete(device, { nowMs: this.nowMs });
    this.nowMs = result.nowMs;
    return result;
  }

  /** Lets the policy finish deleting: ticks (batched) and settles lazy deletions, bounded. */
  async cleanupFinish(device: Device = this.device, ticksMax = TICKS_WAIT_MAX): Promise<boolean> {
    for (let ticks = 0; ticks <= ticksMax; ticks++) {
      await device.settle();
      if (device.isCleanupComplete()) return true;
      this.tick(device);
    }
    return false;
  }
}

/** `.imx` files anywhere under `dir`, counted from the directory itself. */
export function imxFilesCount(dir: string): number {
  return imxFilesList(dir).length;
}

/** Paths (relative to `dir`) of the `.imx` files anywhere under it. */
export function imxFilesList(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (entry.endsWith(IMX_SUFFIX)) found.push(entry.split(path.sep).join("/"));
  }
  return found.sort();
}
