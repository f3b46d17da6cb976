// A deterministic simulator of one device's life on a disk tier that fails, after TigerBeetle's
// VOPR and RingFS's restart-equivalence fuzzer. From a seed it draws a workload (configure, write,
// bulk read, ACK, revert, ticks, flush, cancel, clock jumps forward and back, graceful restarts,
// power cuts) and runs it against the real wasm core on a MemoryHal wrapped in a FaultyHal, which
// injects I/O errors, torn writes, zero-filled tails, disk-full windows and power cuts at an
// arbitrary HAL operation. After every step it checks the device against a simple model:
//
//   * Every record delivered by a bulk read is one the model wrote to that stream, with the same
//     sequence number, value and time, in increasing sequence order, and was never acknowledged
//     (an acknowledged record is never delivered again, across any restart or power cut).
//   * No record that is in a complete, valid, durable `.imx` file (checked with an independent
//     reader, host/sim/imx-scan.ts) is skipped by a read, or missing after a restart or a power cut,
//     unless the FaultyHal damaged that very file.
//   * A record only disappears when the device counts it (STAT_RECORDS_DISCARDED), or with RAM at
//     a power cut; the per-stream counters (nextSeq, ackedSeq, readSeq, pending) match the model.
//   * After each restart or power cut: no temp file is left, nothing but damaged files is
//     quarantined, and a second device booted on a clone of the same storage sees the same
//     streams with the same counts ("restart equivalence"); that twin is then drained to check
//     that every record that was in a complete file and not acknowledged comes back, in order.
//   * Now and then ("shadow power cuts") the storage is cloned, the clone loses power, and a device
//     booted on it is drained and checked the same way, without disturbing the run.
//
// Records carry unique values (value = record id), so the model can recognise a record even after
// a power cut made the device reuse sequence numbers it had handed out but never made durable.
// A failure throws SimFailure; its message holds the seed, the step and the last steps, and
// `SEED=<n>` replays exactly that run (`imx-memsim sim --seeds 1 --from <n>` does the same).

import { CLEANUP_POLICIES, type Board, type CleanupPolicy, loadBoard } from "../boards.js";
import * as abi from "../core/abi.generated.js";
import { type DataType, Device, type RecordType, type StreamCounts, type UploadRecord } from "../core/device.js";
import { RecoveryIoError } from "../core/recovery.js";
import { CoreAssertionError, CoreError } from "../core/errors.js";
import { CrashSignal, FaultyHal, type FaultKind, type FaultRates } from "../hal/faulty.js";
import { HalError } from "../hal/hal.js";
import { MemoryHal } from "../hal/memory.js";
import { listFilesRecursive } from "../hal/atomic.js";
import {
  HISTORY_DIR,
  IMX_HEADER_BYTES,
  IMX_OFFSET,
  IMX_SUFFIX,
  imxFileBytes,
  imxHeaderRead,
  imxPathParse,
  imxValid,
  recordsPerSector,
  TMP_SUFFIX,
} from "../format/imx.js";
import { POSITIONS_PATH } from "../format/positions.js";
import { tmpFilesList } from "./imx-scan.js";
import { Prng } from "../base/prng.js";
import { FLUSH_PROGRESS_COMPLETE, flushDrain } from "../core/flush.js";

// ---- Options and results ---------------------------------------------------------------------------

export interface FaultProfile {
  name: string;
  /** Per-operation fault rates while a device runs, in parts per million (FAULT_RATE_SCALE). */
  rates: Partial<FaultRates>;
  /** Also inject I/O errors while a device boots (recovery). */
  bootFaults: boolean;
  /** The workload may make the disk full for a while (ENOSPC). */
  diskFull: boolean;
  /** The workload may cut the power (at a step, or at a random HAL operation inside a step). */
  crashes: boolean;
  /** Sabotage for testing the simulator itself: positions-file renames silently do nothing. */
  lyingPositions?: boolean;
}

export const FAULT_PROFILES: Readonly<Record<string, FaultProfile>> = {
  /** No faults and no power cuts: the model checks alone. */
  none: { name: "none", rates: {}, bootFaults: false, diskFull: false, crashes: false },
  /** Power cuts and graceful restarts, a perfect disk otherwise. */
  crashes: { name: "crashes", rates: {}, bootFaults: false, diskFull: false, crashes: true },
  /** I/O errors on every kind of operation, torn and zero-filled writes, disk full, power cuts. */
  default: {
    name: "default",
    rates: {
      read: 10_000,
      write: 10_000,
      tornWrite: 10_000,
      zeroTail: 5_000,
      syncFile: 10_000,
      // Directory fsync faults have a profile of their own ("syncdir").
      rename: 10_000,
      remove: 30_000,
    },
    bootFaults: false,
    diskFull: true,
    crashes: true,
  },
  /** Write-path errors during spills (write, torn write, fsync, rename) and disk full; no power cuts. */
  "write-errors": {
    name: "write-errors",
    rates: { write: 40_000, tornWrite: 40_000, syncFile: 40_000, rename: 40_000 },
    bootFaults: false,
    diskFull: true,
    crashes: false,
  },
  /** Delete errors during cleanup (EIO, EBUSY, EACCES), plus power cuts. */
  "delete-errors": {
    name: "delete-errors",
    rates: { remove: 300_000 },
    bootFaults: false,
    diskFull: false,
    crashes: true,
  },
  /** Disk-full windows and read errors. */
  "disk-full": { name: "disk-full", rates: { read: 20_000 }, bootFaults: false, diskFull: true, crashes: true },
  /**
   * Sabotage, to show the simulator catches a broken store: the disk silently keeps the old
   * positions file, so acknowledged records come back after a restart. Every seed should fail.
   */
  "lying-positions": {
    name: "lying-positions",
    rates: {},
    bootFaults: false,
    diskFull: false,
    crashes: true,
    lyingPositions: true,
  },
  /**
   * Directory fsync failures. A write whose directory fsync fails after the rename counts as done
   * (test/crash/known-bugs.test.ts, A and B) and the fsync is retried before the next write; a
   * power cut inside that window can lose the newest positions file, so acknowledged records may
   * come back (SPEC.md 6.3, a documented limit). Seeds that cut the power there fail.
   */
  syncdir: { name: "syncdir", rates: { syncDir: 150_000 }, bootFaults: false, diskFull: false, crashes: true },
  /**
   * I/O errors while booting too: recovery must not mistake them for corruption (finds bugs C and
   * D of test/crash/known-bugs.test.ts).
   */
  boot: {
    name: "boot",
    rates: { read: 20_000, remove: 30_000, write: 10_000, rename: 10_000, meta: 5_000 },
    bootFaults: true,
    diskFull: false,
    crashes: true,
  },
};

export interface SimStreamSpec {
  source: number;
  sensor: number;
  type: RecordType;
  dataType: DataType;
  /** TSD only. */
  sampleRateMs: number;
}

export type SimAction =
  | { kind: "configure"; stream: number }
  | { kind: "write"; stream: number; count: number }
  | { kind: "read"; stream: number; max: number }
  | { kind: "ack"; stream: number; count: number | "all" }
  | { kind: "upload"; stream: number; max: number }
  | { kind: "revert"; stream: number }
  | { kind: "tick"; count: number }
  | { kind: "flush"; ticks: number }
  | { kind: "cancel" }
  | { kind: "clock"; deltaMs: number }
  | { kind: "settle" }
  | { kind: "restart" }
  | { kind: "crash" }
  | { kind: "arm-crash"; inOps: number }
  | { kind: "disk-full"; roomBytes: number | null }
  | { kind: "policy"; policy: CleanupPolicy };

export interface SimOptions {
  /** A board name, a path to a board file, or a Board (default "tiny"). */
  board?: string | Board;
  /** Steps of random workload (default 300); ignored with `script`. */
  steps?: number;
  /** The cleanup policy (default: drawn from the seed). */
  policy?: CleanupPolicy;
  /** A profile name from FAULT_PROFILES or a profile (default "default"). */
  faults?: string | FaultProfile;
  /** On average one step in this many is followed by a shadow power cut check (0 = never; default 6). */
  shadowCrashOneIn?: number;
  /** Run these actions instead of a random workload. */
  script?: readonly SimAction[];
  /** The streams (default: drawn from the seed). Actions name streams by index in this list. */
  streams?: readonly SimStreamSpec[];
  /**
   * Cut the power at this HAL operation (1-based), counted over the whole run from the first
   * boot on (boots and recoveries included); at most one such cut per run.
   */
  crashAtOp?: number | null;
  /** After the workload, write to every stream, flush, and drain everything (default: true for scripts). */
  finalCheck?: boolean;
  /** Lines of the step trace kept for a failure message (default 40). */
  traceLines?: number;
  /** Called with each trace line as it happens. */
  onTrace?: (line: string) => void;
}

export interface SimResult {
  seed: number;
  board: string;
  policy: CleanupPolicy;
  faults: string;
  steps: number;
  /** Power cuts: at a step, at an armed HAL operation, or when a graceful stop could not finish its flush. */
  crashes: number;
  /** Graceful restarts (flush reached 101, then a new device on the same storage). */
  restarts: number;
  shadowChecks: number;
  /** HAL operations over every device life, checks excluded. */
  halOps: number;
  /** HAL operations from the first boot to the end of the workload (before the final check). */
  workloadOps: number;
  faultsInjected: number;
  faultsByKind: Record<FaultKind, number>;
  bootRetries: number;
  recordsWritten: number;
  recordsDelivered: number;
  recordsAcked: number;
  /** Records the model saw vanish at power cuts (RAM contents, by design). */
  recordsLostRam: number;
  /** What the recovered devices reported as lost with RAM (recovery.recordsLostRam). */
  recordsLostRamReported: number;
  /** Records the device discarded while running (RAM full), as seen by reads. */
  recordsDiscarded: number;
  /** Records in files the FaultyHal damaged, gone with them. */
  recordsDamaged: number;
  /** Discarded records that came back after a restart (a copy had reached a file). */
  recordsResurrected: number;
  filesQuarantined: number;
}

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

// ---- The model -------------------------------------------------------------------------------------

interface Rec {
  id: number;
  stream: number;
  seq: number;
  utcMs: number;
  value: number;
  /** Seen in a complete, valid, durable `.imx` file: it must never go missing. */
  inFile: boolean;
  /** In a file the FaultyHal damaged: it may go missing with that file. */
  excused: boolean;
  /** Part of an ACK the power cut interrupted: it may or may not come back. */
  ackInDoubt?: boolean;
  /** The file it was first seen in (for failure messages). */
  filePath?: string;
}

type GoneReason = "acked" | "discarded" | "lost" | "damaged";

class StreamModel {
  configured = false;
  nextSeq = 0;
  ackedSeq = 0;
  readSeq = 0;
  /** Not acknowledged and not known to be gone, in sequence order; live[0 … pending) are pending. */
  live: Rec[] = [];
  pending = 0;
  /** Every record written since sequence numbers last restarted below it, by seq (for TSD times). */
  readonly bySeq = new Map<number, Rec>();

  constructor(
    readonly index: number,
    readonly spec: SimStreamSpec,
    readonly perSector: number,
  ) {}

  get key(): string {
    return `${this.spec.source}:${this.spec.sensor}`;
  }

  /** Index in `live` of the first record with seq ≥ `seq`. */
  lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.live[mid] as Rec).seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const HAL_CODES = new Set([
  abi.E_HAL_IO,
  abi.E_HAL_BUSY,
  abi.E_HAL_PERMISSION,
  abi.E_HAL_NO_SPACE,
  abi.E_HAL_NOT_FOUND,
]);
const START_UTC_MS = 1_700_000_000_000;
const FLOAT_EXACT_MAX = 1 << 24;

function profileOf(faults: string | FaultProfile | undefined): FaultProfile {
  if (faults === undefined) return FAULT_PROFILES["default"] as FaultProfile;
  if (typeof faults !== "string") return faults;
  const profile = FAULT_PROFILES[faults];
  if (!profile) throw new Error(`unknown fault profile '${faults}' (known: ${Object.keys(FAULT_PROFILES).join(", ")})`);
  return profile;
}

function boardOf(board: string | Board | undefined): Board {
  if (board === undefined) return loadBoard("tiny");
  return typeof board === "string" ? loadBoard(board) : board;
}

/** Streams drawn from a seed: 1 to 4 (at most streamsMax), TSD or EVT, every data type. */
export function streamsDraw(prng: Prng, streamsMax: number): SimStreamSpec[] {
  const count = Math.min(streamsMax, prng.between(1, 4));
  const specs: SimStreamSpec[] = [];
  for (let i = 0; i < count; i++) {
    const type: RecordType = prng.chance(1, 2) ? "evt" : "tsd";
    specs.push({
      source: prng.below(3),
      sensor: 100 + i,
      type,
      dataType: prng.pick(["uint32", "int32", "float32"] as const),
      sampleRateMs: type === "tsd" ? prng.pick([1, 10, 1000]) : 0,
    });
  }
  return specs;
}

export function actionDescribe(action: SimAction): string {
  const { kind, ...rest } = action;
  const args = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`);
  return args.length === 0 ? kind : `${kind} ${args.join(" ")}`;
}

// ---- The simulation ----------------------------------------------------------------------------------

class Simulation {
  readonly board: Board;
  readonly profile: FaultProfile;
  policy: CleanupPolicy;
  readonly workload: Prng;
  private readonly faultSeeds: Prng;
  readonly inner = new MemoryHal();
  faulty!: FaultyHal;
  device!: Device;
  readonly models: StreamModel[];
  private readonly recs = new Map<number, Rec>();
  private readonly gone = new Map<number, GoneReason>();
  private nextId = 1;
  nowMs = START_UTC_MS;
  stepIndex = 0;
  private life = 0;
  private readonly trace: string[] = [];
  /** Final paths the FaultyHal damaged (zero-filled tail), and the record ids they were meant to hold. */
  private readonly damagedPaths = new Map<string, number[]>();
  private readonly damageResolved = new WeakSet<Uint8Array>();
  private zeroTailsSeen = 0;
  /** Files already marked (path + size + CRC field), so each is read once. */
  private readonly marked = new Set<string>();
  /** Records that disappeared during this device life while it ran (discarded or damaged), for the "counted" check. */
  private lifeGone = 0;
  readonly result: SimResult;
  private readonly shadowOneIn: number;
  private readonly bulkCap: number;
  private readonly tickMs: number;

  constructor(
    readonly seed: number,
    readonly options: SimOptions,
  ) {
    this.board = boardOf(options.board);
    if (!this.board.disk) throw new Error(`board ${this.board.name} has no disk tier: the simulator needs one`);
    this.profile = profileOf(options.faults);
    this.workload = new Prng(seed);
    this.faultSeeds = new Prng((seed ^ 0x5bd1e995) >>> 0);
    this.policy = options.policy ?? this.workload.pick(CLEANUP_POLICIES);
    const specs = options.streams ? [...options.streams] : streamsDraw(this.workload, this.board.memory.streamsMax);
    const sectorBytes = this.board.memory.sectorBytes;
    this.models = specs.map((spec, index) => new StreamModel(index, spec, recordsPerSector(spec.type, sectorBytes)));
    this.shadowOneIn = options.shadowCrashOneIn ?? 6;
    this.bulkCap = this.board.memory.bulkRecordsMax;
    this.tickMs = Math.max(1, this.board.tier.tickIntervalMs);
    this.result = {
      seed,
      board: this.board.name,
      policy: this.policy,
      faults: this.profile.name,
      steps: 0,
      crashes: 0,
      restarts: 0,
      shadowChecks: 0,
      halOps: 0,
      workloadOps: 0,
      faultsInjected: 0,
      faultsByKind: { "io-error": 0, enospc: 0, "torn-write": 0, "zero-tail": 0, crash: 0 },
      bootRetries: 0,
      recordsWritten: 0,
      recordsDelivered: 0,
      recordsAcked: 0,
      recordsLostRam: 0,
      recordsLostRamReported: 0,
      recordsDiscarded: 0,
      recordsDamaged: 0,
      recordsResurrected: 0,
      filesQuarantined: 0,
    };
  }

  // ---- Failures and trace -----------------------------------------------------------------------

  private traceAdd(line: string): void {
    const text = `#${this.stepIndex} ${line}`;
    this.options.onTrace?.(text);
    this.trace.push(text);
    const max = this.options.traceLines ?? 40;
    while (this.trace.length > max) this.trace.shift();
  }

  fail(detail: string): SimFailure {
    const board = typeof this.options.board === "string" ? this.options.board : this.board.name;
    const replay = this.options.script
      ? `scripted run (crashAtOp=${this.options.crashAtOp ?? "none"})`
      : `SEED=${this.seed} imx-memsim sim --board ${board} --steps ${this.options.steps ?? 300}${this.profile.name === "default" ? "" : ` --faults ${this.profile.name}`}${this.options.policy ? ` --policy ${this.options.policy}` : ""}`;
    return new SimFailure(
      this.seed,
      this.stepIndex,
      detail,
      `sim seed=${this.seed} step=${this.stepIndex} board=${this.board.name} policy=${this.policy} faults=${this.profile.name}: ${detail}\n` +
        `  replay: ${replay}\n  last steps:\n    ${this.trace.join("\n    ")}`,
    );
  }

  // ---- Device calls -------------------------------------------------------------------------------

  /**
   * Runs one call on the device. A CoreError whose code is in `allowed` (or a HAL error code while
   * the FaultyHal injected something during the call) returns null; anything else is a failure.
   * After the call: quarantines are reconciled, damage is resolved, and a power cut throws CrashSignal.
   */
  private call<T>(what: string, body: () => T, allowed: readonly number[] = []): T | null {
    const injectedBefore = this.faulty.injectedTotal;
    let value: T | null;
    try {
      value = body();
    } catch (e) {
      if (e instanceof CoreAssertionError) throw this.fail(`${what}: ${e.message}`);
      if (!this.faulty.dead) {
        if (!(e instanceof CoreError)) throw this.fail(`${what} threw ${String(e)}`);
        const injected = this.faulty.injectedTotal > injectedBefore || this.faulty.diskBytesBudget !== null;
        if (
          !allowed.includes(e.code) &&
          !(injected && (HAL_CODES.has(e.code) || e.code === abi.E_ACK_PERSIST || e.code === abi.E_SEQ_RESERVE))
        ) {
          throw this.fail(`${what}: unexpected ${e.message}`);
        }
        this.traceAdd(`  ${what}: ${e.codeName}`);
      }
      value = null;
    }
    this.afterCall();
    this.faulty.checkpoint();
    return value;
  }

  private afterCall(): void {
    this.damageResolve();
    for (const rename of this.faulty.renamesTake()) {
      if (rename.to.startsWith("corrupted/")) this.quarantinedWhileRunning(rename.from, rename.to);
    }
  }

  /** Record ids a file written at `path` with `intended` bytes was meant to hold (current sequence numbers). */
  private idsOfImage(path: string, intended: Uint8Array): number[] {
    const name = imxPathParse(path);
    const header = imxHeaderRead(intended);
    if (!name || !header) return [];
    const model = this.models.find((m) => m.spec.source === name.source && m.spec.sensor === name.sensor);
    if (!model) return [];
    const ids: number[] = [];
    const end = header.firstSeq + header.recordCount;
    for (let i = model.lowerBound(header.firstSeq); i < model.live.length; i++) {
      const rec = model.live[i] as Rec;
      if (rec.seq >= end) break;
      ids.push(rec.id);
    }
    return ids;
  }

  /** Marks the records of every newly damaged `.imx` file as excused (they may vanish with it). */
  private damageResolve(): void {
    const zeroTails = this.faulty.injected["zero-tail"];
    if (zeroTails === this.zeroTailsSeen) return;
    this.zeroTailsSeen = zeroTails;
    for (const [path, intended] of this.faulty.damagedFiles()) {
      if (!path.endsWith(IMX_SUFFIX) || this.damageResolved.has(intended)) continue;
      this.damageResolved.add(intended);
      const ids = [...(this.damagedPaths.get(path) ?? []), ...this.idsOfImage(path, intended)];
      for (const id of ids) {
        const rec = this.recs.get(id);
        if (rec) rec.excused = true;
      }
      this.damagedPaths.set(path, ids);
      this.traceAdd(`  damaged ${path} (${ids.length} records excused)`);
    }
  }

  private quarantinedWhileRunning(from: string, to: string): void {
    const ids = this.damagedPaths.get(from);
    if (ids === undefined)
      throw this.fail(`the device quarantined ${from} (to ${to}) although the simulator never damaged it`);
    this.result.filesQuarantined++;
    this.traceAdd(`  quarantined ${from} while running`);
    for (const id of ids) {
      const rec = this.recs.get(id);
      if (!rec || this.gone.has(id)) continue;
      const model = this.models[rec.stream] as StreamModel;
      const at = model.live.indexOf(rec);
      if (at < 0) continue;
      model.live.splice(at, 1);
      if (at < model.pending) model.pending--;
      this.goneSet(rec, "damaged");
      this.lifeGone++;
    }
  }

  private goneSet(rec: Rec, reason: GoneReason): void {
    this.gone.set(rec.id, reason);
    if (reason === "discarded") this.result.recordsDiscarded++;
    else if (reason === "damaged") this.result.recordsDamaged++;
    else if (reason === "lost") this.result.recordsLostRam++;
  }

  // ---- Records ---------------------------------------------------------------------------------------

  private valueOf(id: number, dataType: DataType): number {
    return dataType === "int32" ? -id : id;
  }

  private idOf(value: number): number {
    return Math.abs(value);
  }

  /** Checks one delivered record against the model; returns the model's record. */
  private recordCheck(model: StreamModel, got: UploadRecord, context: string): Rec {
    const id = this.idOf(got.value);
    const rec = this.recs.get(id);
    const where = `stream ${model.key} seq ${got.seq} value ${got.value}`;
    if (!rec) throw this.fail(`${context}: delivered a record the model never wrote (${where})`);
    if (rec.stream !== model.index) throw this.fail(`${context}: delivered a record of another stream (${where})`);
    if (this.gone.get(id) === "acked") throw this.fail(`${context}: delivered an acknowledged record again (${where})`);
    if (rec.seq !== got.seq)
      throw this.fail(`${context}: record id ${id} came back with seq ${got.seq}, written as seq ${rec.seq}`);
    if (rec.value !== got.value) throw this.fail(`${context}: ${where}: value ${got.value}, written ${rec.value}`);
    if (!this.timeMatches(model, rec, got.utcMs)) {
      throw this.fail(`${context}: ${where}: time ${got.utcMs}, written at ${rec.utcMs}`);
    }
    return rec;
  }

  /** EVT: the time written. TSD: first time of the sector + k × rate, the sector opened by one of the k records before. */
  private timeMatches(model: StreamModel, rec: Rec, utcMs: number): boolean {
    if (model.spec.type === "evt") return utcMs === rec.utcMs;
    for (let k = 0; k < model.perSector && k <= rec.seq; k++) {
      const opener = model.bySeq.get(rec.seq - k);
      if (opener && opener.utcMs + k * model.spec.sampleRateMs === utcMs) return true;
    }
    return false;
  }

  /**
   * A bulk read returned `got` (asked for `max`): each record must be the next live, non-pending
   * one, except records the device dropped in between, which must not be in a complete file.
   */
  private delivered(model: StreamModel, got: UploadRecord[], max: number, context: string): void {
    let at = model.pending;
    let lastSeq = model.readSeq - 1;
    for (const r of got) {
      if (r.seq <= lastSeq) throw this.fail(`${context}: seq ${r.seq} delivered after seq ${lastSeq}: out of order`);
      const rec = this.recordCheck(model, r, context);
      const index = model.live.indexOf(rec, at);
      if (index < 0) {
        throw this.fail(
          `${context}: delivered record seq ${r.seq} (id ${rec.id}), which the model had as ${this.gone.get(rec.id) ?? "pending"}`,
        );
      }
      this.droppedBetween(model, at, index, context);
      at++;
      lastSeq = r.seq;
    }
    // Fewer than asked for: nothing new is left, so every later live record is gone.
    if (got.length < Math.min(max, this.bulkCap)) this.droppedBetween(model, at, model.live.length, context);
    model.pending += got.length;
    if (got.length > 0) model.readSeq = lastSeq + 1;
    this.result.recordsDelivered += got.length;
  }

  /** live[from … to) were skipped by a read: the device dropped them. */
  private droppedBetween(model: StreamModel, from: number, to: number, context: string): void {
    if (to <= from) return;
    const dropped = model.live.splice(from, to - from);
    for (const rec of dropped) {
      if (rec.inFile && !rec.excused) {
        throw this.fail(
          `${context}: skipped seq ${rec.seq} (id ${rec.id}) of stream ${model.key}, which is in a complete .imx file`,
        );
      }
      this.goneSet(rec, "discarded");
      this.lifeGone++;
    }
  }

  // ---- Ground truth ----------------------------------------------------------------------------------

  /** Marks every live record that sits in a complete, valid (and, with durableOnly, durable) `.imx` file. */
  private markInFile(hal: MemoryHal, durableOnly: boolean): void {
    if (!hal.isDir(HISTORY_DIR)) return;
    const header = new Uint8Array(IMX_HEADER_BYTES);
    for (const path of listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX)) {
      const name = imxPathParse(path);
      if (name === null || (durableOnly && !hal.isDurable(path))) continue;
      // A file is read and checked once per content (size and CRC field) and device life.
      const size = hal.fileSize(path);
      hal.readFileInto(path, header);
      const crc = new DataView(header.buffer).getUint32(IMX_OFFSET.crc32, true);
      const key = `${path}:${size}:${crc}:${this.life}`;
      if (this.marked.has(key)) continue;
      this.marked.add(key);
      const data = hal.readFile(path);
      if (!imxValid(data, name)) continue;
      const count = imxHeaderRead(data)?.recordCount ?? 0;
      const model = this.models.find((m) => m.spec.source === name.source && m.spec.sensor === name.sensor);
      if (!model) continue;
      const end = name.firstSeq + count;
      for (let i = model.lowerBound(name.firstSeq); i < model.live.length; i++) {
        const rec = model.live[i] as Rec;
        if (rec.seq >= end) break;
        if (!rec.inFile) rec.filePath = path;
        rec.inFile = true;
      }
    }
  }

  // ---- Checks after a step -------------------------------------------------------------------------

  private countsCheck(): void {
    for (const model of this.models) {
      if (!model.configured) continue;
      const c = this.device.counts(model.spec.source, model.spec.sensor);
      const what = `stream ${model.key}`;
      if (c.nextSeq !== model.nextSeq) throw this.fail(`${what}: nextSeq ${c.nextSeq}, model ${model.nextSeq}`);
      if (c.ackedSeq !== model.ackedSeq) throw this.fail(`${what}: ackedSeq ${c.ackedSeq}, model ${model.ackedSeq}`);
      if (c.readSeq !== model.readSeq) throw this.fail(`${what}: readSeq ${c.readSeq}, model ${model.readSeq}`);
      if (c.pending !== model.pending) throw this.fail(`${what}: pending ${c.pending}, model ${model.pending}`);
      if (c.total > model.live.length)
        throw this.fail(`${what}: ${c.total} live records, model knows only ${model.live.length}`);
      if (c.total !== c.ram + c.disk) throw this.fail(`${what}: total ${c.total} is not ram ${c.ram} + disk ${c.disk}`);
      if (c.new !== c.total - c.pending) throw this.fail(`${what}: new ${c.new} is not total − pending`);
    }
    const discarded = this.device.stats().recordsDiscarded;
    if (this.lifeGone > discarded) {
      throw this.fail(
        `${this.lifeGone} records vanished during this device life but only ${discarded} were counted as discarded`,
      );
    }
  }

  private afterStep(): void {
    this.markInFile(this.inner, true);
    this.countsCheck();
    if (this.shadowOneIn > 0 && this.workload.chance(1, this.shadowOneIn)) this.shadowCrashCheck();
  }

  /** Cuts the power on a clone of the storage and checks what a device booted on it would deliver. */
  private shadowCrashCheck(): void {
    const clone = this.inner.clone();
    clone.crash();
    this.markInFile(clone, false);
    const twin = this.bootChecked(clone, "shadow power cut");
    this.drainCheck(twin, "shadow power cut");
    this.result.shadowChecks++;
  }

  /** Boots a device on `hal` (no faults) and checks what recovery did. */
  private bootChecked(hal: MemoryHal, context: string): Device {
    let twin: Device;
    try {
      twin = Device.create({ board: this.board, hal, policy: this.policy, nowMs: this.nowMs });
    } catch (e) {
      throw this.fail(`${context}: boot failed: ${String(e)}`);
    }
    this.recoveryCheck(twin, hal, context);
    return twin;
  }

  private recoveryCheck(device: Device, hal: MemoryHal, context: string): void {
    const report = device.recovery;
    if (!report) throw this.fail(`${context}: no recovery report`);
    for (const q of report.quarantined) {
      if (!this.damagedPaths.has(q.path)) {
        throw this.fail(`${context}: recovery quarantined ${q.path} (${q.reason}), a file the simulator never damaged`);
      }
    }
    const tmp = tmpFilesList(hal);
    if (tmp.length > 0) throw this.fail(`${context}: temp files left after boot: ${tmp.join(", ")}`);
  }

  /**
   * Drains every stream of `twin` (a device on a copy of the storage) and checks guarantee (4):
   * in order, never an acknowledged record, every record of a complete file. Returns what came back.
   */
  private drainCheck(twin: Device, context: string): Map<number, Rec[]> {
    const back = new Map<number, Rec[]>();
    const known = new Set<string>();
    for (const entry of twin.streamList()) {
      const key = `${entry.source}:${entry.sensor}`;
      known.add(key);
      const model = this.models.find((m) => m.key === key);
      if (!model) throw this.fail(`${context}: the device recovered stream ${key}, which the model never configured`);
      const recs: Rec[] = [];
      const counts = twin.counts(entry.source, entry.sensor);
      let lastSeq = counts.ackedSeq - 1;
      const total = counts.total;
      for (let guard = 0; guard <= total / this.bulkCap + 2; guard++) {
        const got = twin.readBulk(entry.source, entry.sensor, this.bulkCap);
        if (got.length === 0) break;
        for (const r of got) {
          if (r.seq <= lastSeq) throw this.fail(`${context}: stream ${key} delivered seq ${r.seq} after ${lastSeq}`);
          lastSeq = r.seq;
          const rec = this.recordCheck(model, r, context);
          if (this.gone.get(rec.id) === "lost")
            throw this.fail(`${context}: record id ${rec.id} seq ${r.seq} came back after it had been lost`);
          recs.push(rec);
        }
      }
      if (recs.length !== total)
        throw this.fail(`${context}: stream ${key} counts ${total} live records but delivered ${recs.length}`);
      back.set(model.index, recs);
    }
    for (const model of this.models) {
      const ids = new Set((back.get(model.index) ?? []).map((r) => r.id));
      for (const rec of model.live) {
        if (rec.inFile && !rec.excused && rec.ackInDoubt !== true && !ids.has(rec.id)) {
          const report = twin.recovery;
          throw this.fail(
            `${context}: stream ${model.key} seq ${rec.seq} (id ${rec.id}) was in a complete .imx file (${rec.filePath}), ` +
              `not acknowledged, and did not come back; device: ${JSON.stringify(twin.streamList().length > 0 ? twin.counts(model.spec.source, model.spec.sensor) : null)}; ` +
              `recovery: kept ${report?.filesKept}, deleted ${report?.filesDeleted}, quarantined ${JSON.stringify(report?.quarantined)}`,
          );
        }
      }
    }
    return back;
  }

  /** Restart equivalence: a second device on a copy of the storage sees what `device` sees. */
  private equivalenceCheck(device: Device, twin: Device, context: string): void {
    const mine = JSON.stringify(device.streamList());
    const theirs = JSON.stringify(twin.streamList());
    if (mine !== theirs) throw this.fail(`${context}: restart equivalence: streams ${mine} vs ${theirs} on a copy`);
    for (const s of device.streamList()) {
      const a = device.counts(s.source, s.sensor);
      const b = twin.counts(s.source, s.sensor);
      for (const field of ["total", "disk", "ram", "pending", "nextSeq", "ackedSeq", "readSeq"] as const) {
        if (a[field] !== b[field]) {
          throw this.fail(
            `${context}: restart equivalence: stream ${s.source}:${s.sensor} ${field} ${a[field]} vs ${b[field]} on a copy`,
          );
        }
      }
    }
    if (
      (twin.recovery?.filesQuarantined ?? 0) !== 0 &&
      (device.recovery?.quarantined.every((q) => q.movedTo !== null) ?? true)
    ) {
      throw this.fail(
        `${context}: a second boot quarantined files the first one kept: ${JSON.stringify(twin.recovery?.quarantined)}`,
      );
    }
  }

  // ---- Device lives ----------------------------------------------------------------------------------

  /** Boots a new device on the storage (retrying when injected faults make the boot itself fail). */
  boot(context: string): void {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 50) throw this.fail(`${context}: the device did not boot in 50 attempts`);
      const previous = this.faulty as FaultyHal | undefined; // undefined before the first boot
      if (previous) {
        this.result.halOps += previous.opCount;
        this.faultsCollect(previous);
      }
      const faulty = new FaultyHal(this.inner, {
        seed: this.faultSeeds.next(),
        rates: this.profile.rates,
        enabled: this.profile.bootFaults && attempt < 3,
        crashAtOp: this.scriptedCrashRemaining(),
        damageFilter: (path) => path.endsWith(IMX_SUFFIX + TMP_SUFFIX),
        ...(this.profile.lyingPositions ? { lyingRename: (to: string) => to.endsWith(POSITIONS_PATH) } : {}),
      });
      this.faulty = faulty;
      this.zeroTailsSeen = 0;
      let device: Device;
      try {
        device = Device.create({ board: this.board, hal: faulty, policy: this.policy, nowMs: this.nowMs });
      } catch (e) {
        if (e instanceof CoreAssertionError) throw this.fail(`${context}: boot: ${e.message}`);
        if (faulty.crashed) {
          // The power went out again while booting: what survived is the new starting point.
          this.traceAdd(`  power cut during boot at HAL op ${faulty.opCount}`);
          this.result.crashes++;
          this.life++;
          this.markInFile(this.inner, false);
          continue;
        }
        if (
          faulty.injectedTotal > 0 &&
          (e instanceof HalError || e instanceof CoreError || e instanceof RecoveryIoError)
        ) {
          this.result.bootRetries++;
          this.traceAdd(`  boot failed under injected faults (${String(e)}); retrying`);
          continue;
        }
        throw this.fail(`${context}: boot failed: ${String(e)}`);
      }
      if (faulty.crashed) {
        // Cut during boot after recovery had finished its last HAL call: boot again.
        this.result.crashes++;
        this.life++;
        this.markInFile(this.inner, false);
        continue;
      }
      this.device = device;
      this.faulty.enabled = true;
      // Quarantines done by recovery are checked from its report, not as runtime quarantines.
      this.faulty.renamesTake();
      this.damageResolve();
      return;
    }
  }

  /** How many operations of the next device life remain before options.crashAtOp, or null. */
  private scriptedCrashRemaining(): number | null {
    const at = this.options.crashAtOp ?? null;
    if (at === null) return null;
    const remaining = at - this.result.halOps;
    return remaining >= 1 ? remaining : null;
  }

  /** HAL operations so far, over every device life. */
  get opsNow(): number {
    return this.result.halOps + this.faulty.opCount;
  }

  private faultsCollect(faulty: FaultyHal): void {
    for (const [kind, n] of Object.entries(faulty.injected) as Array<[FaultKind, number]>) {
      this.result.faultsByKind[kind] += n;
      this.result.faultsInjected += n;
    }
  }

  /** After a power cut or a graceful stop: boot, check recovery, compare with a twin, rebuild the model. */
  private restartAfter(kind: "power cut" | "restart"): void {
    this.markInFile(this.inner, kind === "restart");
    this.life++;
    this.lifeGone = 0;
    this.boot(`after ${kind}`);
    const device = this.device;
    const report = device.recovery;
    this.recoveryCheck(device, this.inner, `after ${kind}`);
    this.result.filesQuarantined += report?.filesQuarantined ?? 0;
    this.result.recordsLostRamReported += report?.recordsLostRam ?? 0;
    this.traceAdd(
      `  recovered: kept ${report?.filesKept} files, deleted ${report?.filesDeleted}, quarantined ${report?.filesQuarantined}, ` +
        `${report?.recordsRecovered} records, lost with RAM ${report?.recordsLostRam}`,
    );
    const twin = this.bootChecked(this.inner.clone(), `after ${kind} (twin)`);
    this.equivalenceCheck(device, twin, `after ${kind}`);
    const back = this.drainCheck(twin, `after ${kind}`);

    // The model becomes what the storage holds.
    const wasConfigured = new Set(this.models.filter((m) => m.configured).map((m) => m.index));
    const known = new Map(device.streamList().map((s) => [`${s.source}:${s.sensor}`, s]));
    for (const model of this.models) {
      const recs = back.get(model.index) ?? [];
      const ids = new Set(recs.map((r) => r.id));
      for (const rec of model.live) {
        if (!ids.has(rec.id)) this.goneSet(rec, rec.ackInDoubt === true ? "acked" : rec.excused ? "damaged" : "lost");
        rec.ackInDoubt = false;
      }
      for (const rec of recs) {
        if (this.gone.has(rec.id)) {
          this.gone.delete(rec.id);
          this.result.recordsResurrected++;
        }
      }
      model.live = recs;
      model.pending = 0;
      const entry = known.get(model.key);
      if (entry) {
        const c = device.counts(model.spec.source, model.spec.sensor);
        const last = recs[recs.length - 1];
        if (last && c.nextSeq <= last.seq) {
          throw this.fail(
            `after ${kind}: stream ${model.key} continues at seq ${c.nextSeq}, not after its last record on disk (${last.seq})`,
          );
        }
        model.nextSeq = c.nextSeq;
        model.ackedSeq = c.ackedSeq;
        model.readSeq = c.ackedSeq;
        model.configured = true;
      } else {
        model.nextSeq = 0;
        model.ackedSeq = 0;
        model.readSeq = 0;
        model.configured = false;
      }
      for (const seq of [...model.bySeq.keys()]) if (seq >= model.nextSeq) model.bySeq.delete(seq);
    }
    // The firmware configures its streams again at boot (same settings: allowed, same index).
    for (const model of this.models) {
      if (wasConfigured.has(model.index)) this.configure(model);
    }
  }

  // ---- Actions -------------------------------------------------------------------------------------------

  private configure(model: StreamModel): void {
    const { source, sensor, type, dataType, sampleRateMs } = model.spec;
    const index = this.call(`configure ${model.key}`, () =>
      this.device.configureStream(
        source,
        sensor,
        type === "tsd" ? { type, dataType, sampleRateMs } : { type, dataType },
      ),
    );
    if (index !== null && !model.configured) {
      model.configured = true;
      const c = this.device.counts(source, sensor);
      model.nextSeq = c.nextSeq;
      model.ackedSeq = c.ackedSeq;
      model.readSeq = c.readSeq;
    }
  }

  private ticks(count: number): void {
    for (let i = 0; i < count; i++) {
      this.nowMs += this.tickMs;
      this.call("processMemory", () => this.device.processMemory(this.nowMs));
    }
  }

  private model(stream: number): StreamModel | null {
    const model = this.models[stream % this.models.length] as StreamModel;
    return model.configured ? model : null;
  }

  async exec(action: SimAction): Promise<void> {
    switch (action.kind) {
      case "configure":
        this.configure(this.models[action.stream % this.models.length] as StreamModel);
        return;
      case "write": {
        const model = this.model(action.stream);
        if (!model) return;
        const { source, sensor, type, dataType } = model.spec;
        for (let i = 0; i < action.count; i++) {
          const id = this.nextId++;
          if (dataType === "float32" && id >= FLOAT_EXACT_MAX)
            throw new Error("record ids exhausted for float32 values");
          const value = this.valueOf(id, dataType);
          const utcMs = this.nowMs + (type === "evt" ? i : 0);
          const ok = this.call(
            `write ${model.key}`,
            () =>
              type === "tsd"
                ? this.device.writeTsd(source, sensor, value, utcMs)
                : this.device.writeEvt(source, sensor, value, utcMs),
            [abi.E_ALL_PENDING],
          );
          if (ok === null) break;
          const rec: Rec = { id, stream: model.index, seq: model.nextSeq, utcMs, value, inFile: false, excused: false };
          model.nextSeq++;
          model.live.push(rec);
          model.bySeq.set(rec.seq, rec);
          this.recs.set(id, rec);
          this.result.recordsWritten++;
        }
        return;
      }
      case "read":
      case "upload": {
        const model = this.model(action.stream);
        if (!model) return;
        const got = this.call(`readBulk ${model.key}`, () =>
          this.device.readBulk(model.spec.source, model.spec.sensor, action.max),
        );
        if (got === null) return;
        this.delivered(model, got, action.max, `readBulk ${model.key} max ${action.max}`);
        if (action.kind === "upload") this.ack(model, model.pending);
        return;
      }
      case "ack": {
        const model = this.model(action.stream);
        if (!model) return;
        this.ack(model, action.count === "all" ? model.pending : action.count);
        return;
      }
      case "revert": {
        const model = this.model(action.stream);
        if (!model) return;
        if (this.call(`revert ${model.key}`, () => this.device.revert(model.spec.source, model.spec.sensor)) !== null) {
          model.readSeq = model.ackedSeq;
          model.pending = 0;
        }
        return;
      }
      case "tick":
        this.ticks(action.count);
        return;
      case "flush":
        this.call("flushAllToDisk", () => this.device.flushAllToDisk());
        this.ticks(action.ticks);
        this.flushCompleteCheck();
        return;
      case "cancel":
        this.call("cancelMemoryFlush", () => this.device.cancelMemoryFlush());
        return;
      case "clock":
        this.nowMs = Math.max(0, this.nowMs + action.deltaMs);
        return;
      case "settle":
        await this.device.settle();
        this.afterCall();
        this.faulty.checkpoint();
        return;
      case "policy":
        if (
          this.call(`setCleanupPolicy ${action.policy}`, () => this.device.setCleanupPolicy(action.policy)) !== null
        ) {
          this.policy = action.policy;
        }
        return;
      case "arm-crash":
        if (this.profile.crashes) this.faulty.crashAtOp = this.faulty.opCount + Math.max(1, action.inOps);
        return;
      case "disk-full":
        this.faulty.diskBytesBudget = action.roomBytes === null ? null : this.faulty.bytesWritten + action.roomBytes;
        return;
      case "crash":
        this.faulty.crashNow();
        this.faulty.checkpoint();
        return;
      case "restart":
        await this.gracefulStop();
        return;
    }
  }

  private ack(model: StreamModel, count: number): void {
    let ok: true | null;
    try {
      ok = this.call(
        `ack ${count} of ${model.key}`,
        () => {
          this.device.ack(model.spec.source, model.spec.sensor, count);
          return true as const;
        },
        count > model.pending ? [abi.E_ACK_TOO_MANY] : [],
      );
    } catch (e) {
      // Cut during the ACK: it may have been made durable before the power went.
      if (e instanceof CrashSignal)
        for (const rec of model.live.slice(0, Math.min(count, model.pending))) rec.ackInDoubt = true;
      throw e;
    }
    if (ok === null) return;
    if (count > model.pending)
      throw this.fail(`ack ${count} of ${model.key} with ${model.pending} pending was accepted`);
    if (count === 0) return;
    const acked = model.live.splice(0, count);
    for (const rec of acked) this.goneSet(rec, "acked");
    model.pending -= count;
    model.ackedSeq = (acked[acked.length - 1] as Rec).seq + 1;
    this.result.recordsAcked += count;
  }

  /** Flush progress 101 means no stream data is left in RAM. */
  private flushCompleteCheck(): void {
    if (this.device.getFlushProgress() !== FLUSH_PROGRESS_COMPLETE) return;
    for (const model of this.models) {
      if (!model.configured) continue;
      const c: StreamCounts = this.device.counts(model.spec.source, model.spec.sensor);
      if (c.ram !== 0)
        throw this.fail(`flush progress is 101 but stream ${model.key} still has ${c.ram} records in RAM`);
    }
  }

  /** A graceful stop: flush until 101, let deletions land, then a new device on the same storage. */
  private async gracefulStop(): Promise<void> {
    this.call("flushAllToDisk", () => this.device.flushAllToDisk());
    const disk = this.board.disk;
    const spillPerTick = Math.max(
      1,
      Math.min(
        this.board.tier.spillSectorsPerTickMax,
        (disk?.sectorsPerFileMax ?? 1) * this.board.tier.filesWrittenPerTickMax,
      ),
    );
    const ticksMax = 4 * (Math.ceil(this.board.memory.sectorCount / spillPerTick) + this.models.length + 8);
    if (flushDrain(this.device, () => this.ticks(1), ticksMax) < 0) {
      // The disk would not take it all (faults, full disk): the power goes off anyway.
      this.traceAdd(`  flush did not complete (progress ${this.device.getFlushProgress()}): power off`);
      this.faulty.crashNow();
      this.faulty.checkpoint();
      return;
    }
    this.flushCompleteCheck();
    await this.device.settle();
    this.afterCall();
    this.faulty.checkpoint();
    // Every record the model still has was flushed or discarded (counted).
    const discarded = this.device.stats().recordsDiscarded;
    this.faulty.retire();
    this.result.restarts++;
    const liveBefore = new Map(this.models.map((m) => [m.index, m.live.filter((r) => !r.excused).length]));
    const goneBefore = this.lifeGone;
    this.restartAfter("restart");
    let missing = 0;
    for (const model of this.models) {
      const kept = new Set(model.live.map((r) => r.id));
      missing += (liveBefore.get(model.index) ?? 0) - [...kept].length;
    }
    if (goneBefore + Math.max(0, missing) > discarded) {
      throw this.fail(
        `graceful restart lost ${missing} records beyond the ${discarded - goneBefore} the device had counted as discarded`,
      );
    }
  }

  // ---- Steps --------------------------------------------------------------------------------------------

  async step(action: SimAction): Promise<void> {
    this.stepIndex++;
    this.result.steps++;
    this.traceAdd(actionDescribe(action));
    try {
      await this.exec(action);
    } catch (e) {
      if (e instanceof CrashSignal) {
        this.traceAdd(`  power cut (${e.message})`);
        this.result.crashes++;
        this.restartAfter("power cut");
        this.afterStep();
        return;
      }
      throw e;
    }
    this.afterStep();
  }

  /** One random action, weighted like a device's main loop with an unreliable uplink. */
  actionDraw(): SimAction {
    const p = this.workload;
    const stream = p.below(this.models.length);
    const perSector = (this.models[stream] as StreamModel).perSector;
    const burstMax = Math.max(8, Math.floor((this.board.memory.sectorCount * perSector) / 4));
    const weights = [
      /* configure */ 2,
      /* write */ 34,
      /* read */ 10,
      /* ack */ 8,
      /* upload */ 10,
      /* revert */ 3,
      /* tick */ 14,
      /* flush */ 3,
      /* cancel */ 2,
      /* clock */ 3,
      /* settle */ this.policy === "lazy" ? 4 : 1,
      /* restart */ 2,
      /* crash */ this.profile.crashes ? 2 : 0,
      /* arm-crash */ this.profile.crashes ? 3 : 0,
      /* disk-full */ this.profile.diskFull ? 2 : 0,
      /* policy */ 1,
    ];
    switch (p.weighted(weights)) {
      case 0:
        return { kind: "configure", stream };
      case 1:
        return {
          kind: "write",
          stream,
          count: p.chance(1, 5) ? p.between(1, burstMax) : p.between(1, 2 * perSector + 1),
        };
      case 2:
        return { kind: "read", stream, max: p.between(1, 2 * this.bulkCap) };
      case 3: {
        const pending = (this.models[stream] as StreamModel).pending;
        return {
          kind: "ack",
          stream,
          count: p.chance(1, 2) ? "all" : p.between(0, pending + (p.chance(1, 10) ? 1 : 0)),
        };
      }
      case 4:
        return { kind: "upload", stream, max: p.between(1, this.bulkCap) };
      case 5:
        return { kind: "revert", stream };
      case 6:
        return { kind: "tick", count: p.between(1, 6) };
      case 7:
        return { kind: "flush", ticks: p.between(0, 6) };
      case 8:
        return { kind: "cancel" };
      case 9:
        return { kind: "clock", deltaMs: p.chance(1, 3) ? -p.between(1, 10_000) : p.between(1, 3_600_000) };
      case 10:
        return { kind: "settle" };
      case 11:
        return { kind: "restart" };
      case 12:
        return { kind: "crash" };
      case 13:
        return { kind: "arm-crash", inOps: p.between(1, 48) };
      case 14: {
        const fileBytes = imxFileBytes(this.board.disk?.sectorsPerFileMax ?? 1, this.board.memory.sectorBytes);
        return { kind: "disk-full", roomBytes: p.chance(1, 2) ? null : p.below(3 * fileBytes) };
      }
      default:
        return { kind: "policy", policy: p.pick(CLEANUP_POLICIES) };
    }
  }

  /** Writes to every stream, flushes to 101 with faults off, and drains everything with ACKs. */
  async finalCheck(): Promise<void> {
    this.stepIndex++;
    this.traceAdd("final check: write, flush, drain");
    this.faulty.enabled = false;
    this.faulty.diskBytesBudget = null;
    this.faulty.crashAtOp = null;
    for (const model of this.models) {
      if (!model.configured) this.configure(model);
      await this.exec({ kind: "write", stream: model.index, count: model.perSector + 1 });
    }
    this.call("flushAllToDisk", () => this.device.flushAllToDisk());
    if (flushDrain(this.device, () => this.ticks(1), 10_000) < 0) throw this.fail("final flush never reached 101");
    this.markInFile(this.inner, true);
    for (const model of this.models) {
      for (let guard = 0; guard < 100_000; guard++) {
        const got = this.call(`readBulk ${model.key}`, () =>
          this.device.readBulk(model.spec.source, model.spec.sensor, this.bulkCap),
        );
        if (got === null) throw this.fail(`final drain of ${model.key} failed`);
        this.delivered(model, got, this.bulkCap, `final drain ${model.key}`);
        if (got.length === 0) break;
        this.ack(model, model.pending);
      }
      if (model.live.length !== 0) throw this.fail(`final drain of ${model.key} left ${model.live.length} records`);
      const c = this.device.counts(model.spec.source, model.spec.sensor);
      if (c.total !== 0)
        throw this.fail(`final drain of ${model.key}: the device still counts ${c.total} live records`);
    }
    await this.device.settle();
    this.afterCall();
    this.countsCheck();
  }

  finish(): SimResult {
    this.result.halOps += this.faulty.opCount;
    this.faultsCollect(this.faulty);
    this.result.policy = this.policy;
    return this.result;
  }
}

// ---- Entry points ----------------------------------------------------------------------------------------

/**
 * Runs one seed: a random workload of `options.steps` steps (or `options.script`), checking every
 * guarantee after every step. Throws SimFailure (seed, step, replay line, last steps) on the first
 * broken guarantee; returns the run's counters otherwise.
 */
export async function simulateSeed(seed: number, options: SimOptions = {}): Promise<SimResult> {
  const sim = new Simulation(seed, options);
  sim.stepIndex = 0;
  sim.boot("first boot");
  for (const model of sim.models.slice(0, 1)) await sim.step({ kind: "configure", stream: model.index });
  if (options.script) {
    for (const action of options.script) await sim.step(action);
  } else {
    const steps = options.steps ?? 300;
    for (let i = 0; i < steps; i++) await sim.step(sim.actionDraw());
  }
  sim.result.workloadOps = sim.opsNow;
  if (options.finalCheck ?? options.script !== undefined) await sim.finalCheck();
  return sim.finish();
}

/** The seed SEED=<n> asks to replay, or null. */
export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const text = env["SEED"];
  if (text === undefined || text.trim() === "") return null;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error(`SEED must be an integer in 0 … 2^32−1 (got '${text}')`);
  return seed;
}
