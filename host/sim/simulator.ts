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
//     reader, host/format/imx.ts) is skipped by a read, or missing after a restart or a power cut,
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
//
// The run is split along its ideas: options.ts (what a run is given and returns), workload.ts (the
// actions drawn from the seed), model.ts (the records the device should hold), checks.ts (the
// device against the model), trace.ts (the step trace and the failure message); this file runs the
// device lives and the actions.

import { integerParse } from "../base/parse.js";
import { CLEANUP_POLICIES, tickBytesWrittenMax, type Board, type CleanupPolicy } from "../boards.js";
import { Prng } from "../base/prng.js";
import * as abi from "../core/abi.generated.js";
import { Device } from "../core/device.js";
import { CoreAssertionError, CoreError } from "../core/errors.js";
import { flushDrain } from "../core/flush.js";
import { RecoveryIoError } from "../core/recovery.js";
import {
  CORRUPTED_DIR,
  HISTORY_BUCKETS,
  HISTORY_DIR,
  IMX_HEADER_BYTES,
  IMX_SUFFIX,
  type ImxName,
  imxPathIsCanonical,
  imxPathParse,
  recordsPerSector,
  TMP_SUFFIX,
} from "../format/imx.js";
import { ACK_LOG_PATH, ackLogScan, POSITIONS_PATH, type PositionRecord, positionsEncode } from "../format/positions.js";
import { CrashSignal, FaultyHal, type FaultKind } from "../hal/faulty.js";
import { HalError } from "../hal/hal.js";
import { MemoryHal } from "../hal/memory.js";
import { DeviceChecks } from "./checks.js";
import { imxScan } from "./imx-scan.js";
import { type ModelReport, RecordModel, StreamModel } from "./model.js";
import {
  actionDescribe,
  boardOf,
  type FaultProfile,
  profileOf,
  resultNew,
  type SimAction,
  type SimOptions,
  type SimResult,
} from "./options.js";
import { type SimFailure, SimTrace, type TraceRun } from "./trace.js";
import { actionDraw, streamsDraw } from "./workload.js";

const HAL_CODES = new Set([
  abi.E_HAL_IO,
  abi.E_HAL_BUSY,
  abi.E_HAL_PERMISSION,
  abi.E_HAL_NO_SPACE,
  abi.E_HAL_NOT_FOUND,
]);
const START_UTC_MS = 1_700_000_000_000;

// ---- The simulation ----------------------------------------------------------------------------------

class Simulation implements TraceRun, ModelReport {
  readonly board: Board;
  readonly profile: FaultProfile;
  policy: CleanupPolicy;
  readonly workload: Prng;
  private readonly faultSeeds: Prng;
  readonly inner: MemoryHal;
  faulty!: FaultyHal;
  device!: Device;
  readonly models: StreamModel[];
  readonly records: RecordModel;
  private readonly checks: DeviceChecks;
  readonly trace: SimTrace;
  nowMs = START_UTC_MS;
  private life = 0;
  /** A file to move into another bucket before the next boot (the "misplace" fault), or null. */
  private misplaceNext: number | null = null;
  /** Whether the next boot finds the storage as the first release left it (the "downgrade" action). */
  private downgradeNext = false;
  readonly result: SimResult;
  private readonly shadowOneIn: number;
  private readonly bulkCap: number;
  private readonly tickMs: number;

  constructor(
    readonly seed: number,
    readonly options: SimOptions,
  ) {
    this.board = boardOf(options.board, options.diskFull, options.tierMode);
    if (!this.board.disk) throw new Error(`board ${this.board.name} has no disk tier: the simulator needs one`);
    this.profile = profileOf(options.faults);
    const fsPercent = this.profile.filesystemQuotaPercent;
    this.inner = new MemoryHal({
      capacityBytes: fsPercent === undefined ? null : Math.floor((this.board.disk.quotaBytes * fsPercent) / 100),
    });
    this.workload = new Prng(seed);
    this.faultSeeds = new Prng((seed ^ 0x5bd1e995) >>> 0);
    this.policy = options.policy ?? this.workload.pick(CLEANUP_POLICIES);
    const specs = options.streams ? [...options.streams] : streamsDraw(this.workload, this.board.memory.streamsMax);
    const sectorBytes = this.board.memory.sectorBytes;
    this.models = specs.map((spec, index) => new StreamModel(index, spec, recordsPerSector(spec.type, sectorBytes)));
    this.shadowOneIn = options.shadowCrashOneIn ?? 6;
    this.bulkCap = this.board.memory.bulkRecordsMax;
    this.tickMs = Math.max(1, this.board.tier.tickIntervalMs);
    this.result = resultNew(seed, this.board, this.policy, this.profile);
    this.trace = new SimTrace(this);
    this.records = new RecordModel(this.models, this.result, this, this.bulkCap);
    this.records.fileExists = (path) => this.inner.exists(path);
    this.checks = new DeviceChecks(this.records, this, this.bulkCap);
  }

  // ---- Failures and trace -----------------------------------------------------------------------

  traceAdd(line: string): void {
    this.trace.add(line);
  }

  fail(detail: string): SimFailure {
    return this.trace.fail(detail);
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
    this.records.damageResolve(this.faulty);
    for (const rename of this.faulty.renamesTake()) {
      if (rename.to.startsWith(`${CORRUPTED_DIR}/`)) this.records.quarantinedWhileRunning(rename.from, rename.to);
    }
  }

  // ---- After a step -------------------------------------------------------------------------------

  private afterStep(): void {
    this.result.filesystemBytesPeak = Math.max(this.result.filesystemBytesPeak, this.inner.usedBytes());
    this.records.markInFile(this.inner, true, this.life);
    this.checks.counts(this.device);
    if (this.shadowOneIn > 0 && this.workload.chance(1, this.shadowOneIn)) this.shadowCrashCheck();
  }

  /** Cuts the power on a clone of the storage and checks what a device booted on it would deliver. */
  private shadowCrashCheck(): void {
    const clone = this.inner.clone();
    clone.crash();
    this.records.markInFile(clone, false, this.life);
    const twin = this.bootChecked(clone, "shadow power cut");
    this.checks.drain(twin, "shadow power cut");
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
    this.checks.recovery(twin, hal, context);
    return twin;
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
        ...(this.profile.lyingPositions
          ? {
              lyingRename: (to: string) => to.endsWith(POSITIONS_PATH) || to.endsWith(ACK_LOG_PATH),
              lyingAppend: (path: string) => path.endsWith(ACK_LOG_PATH),
            }
          : {}),
      });
      this.faulty = faulty;
      this.records.zeroTailsSeen = 0;
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
          this.records.markInFile(this.inner, false, this.life);
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
        this.records.markInFile(this.inner, false, this.life);
        continue;
      }
      this.device = device;
      this.faulty.enabled = true;
      // Quarantines done by recovery are checked from its report, not as runtime quarantines.
      this.faulty.renamesTake();
      this.records.damageResolve(this.faulty);
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
    this.records.markInFile(this.inner, kind === "restart", this.life);
    this.life++;
    this.records.lifeGone = 0;
    if (this.misplaceNext !== null) {
      misplaceFile(this.inner, this.misplaceNext, (line) => this.traceAdd(line), this.result);
      this.misplaceNext = null;
    }
    if (this.downgradeNext) {
      storageDowngrade(this.inner, (line) => this.traceAdd(line));
      this.downgradeNext = false;
    }
    this.boot(`after ${kind}`);
    const device = this.device;
    const report = device.recovery;
    this.checks.recovery(device, this.inner, `after ${kind}`);
    this.result.filesQuarantined += report?.filesQuarantined ?? 0;
    this.result.filesMovedBack += report?.filesMoved ?? 0;
    this.result.recordsLostRamReported += report?.recordsLostRam ?? 0;
    this.traceAdd(
      `  recovered: kept ${report?.filesKept} files, deleted ${report?.filesDeleted}, quarantined ${report?.filesQuarantined}, ` +
        `${report?.recordsRecovered} records, lost with RAM ${report?.recordsLostRam}`,
    );
    const twin = this.bootChecked(this.inner.clone(), `after ${kind} (twin)`);
    this.checks.equivalence(device, twin, `after ${kind}`);
    const back = this.checks.drain(twin, `after ${kind}`);

    // The model becomes what the storage holds.
    const wasConfigured = new Set(this.models.filter((m) => m.configured).map((m) => m.index));
    const known = new Map(device.streamList().map((s) => [`${s.source}:${s.sensor}`, s]));
    for (const model of this.models) {
      const recs = back.get(model.index) ?? [];
      const ids = new Set(recs.map((r) => r.id));
      for (const rec of model.live) {
        if (!ids.has(rec.id))
          this.records.goneSet(rec, rec.ackInDoubt === true ? "acked" : rec.excused ? "damaged" : "lost");
        rec.ackInDoubt = false;
      }
      for (const rec of recs) {
        if (this.records.gone.has(rec.id)) {
          this.records.gone.delete(rec.id);
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
          const { id, value } = this.records.idNew(dataType);
          const utcMs = this.nowMs + (type === "evt" ? i : 0);
          const ok = this.call(
            `write ${model.key}`,
            () =>
              type === "tsd"
                ? this.device.writeTsd(source, sensor, value, utcMs)
                : this.device.writeEvt(source, sensor, value, utcMs),
            // refuse-new refuses a write into full RAM once the disk tier took nothing.
            this.board.tier.diskFullPolicy === "refuse-new"
              ? [abi.E_ALL_PENDING, abi.E_DISK_FULL]
              : [abi.E_ALL_PENDING],
          );
          if (ok === null) break;
          this.records.written(model, id, value, utcMs);
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
        this.records.delivered(model, got, action.max, `readBulk ${model.key} max ${action.max}`);
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
        this.checks.flushComplete(this.device);
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
      case "misplace":
        // Consumed by the restart (or by the power cut, if the stop could not flush) before it boots.
        this.misplaceNext = action.pick;
        await this.gracefulStop();
        return;
      case "downgrade":
        this.downgradeNext = true;
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
    this.records.acked(model, count);
  }

  /** A graceful stop: flush until 101, let deletions land, then a new device on the same storage. */
  private async gracefulStop(): Promise<void> {
    this.call("flushAllToDisk", () => this.device.flushAllToDisk());
    const disk = this.board.disk;
    const sectorsInTickBytes = Math.floor(
      (tickBytesWrittenMax(this.board) - IMX_HEADER_BYTES) / this.board.memory.sectorBytes,
    );
    const spillPerTick = Math.max(
      1,
      Math.min(
        this.board.tier.spillSectorsPerTickMax,
        (disk?.sectorsPerFileMax ?? 1) * this.board.tier.filesWrittenPerTickMax,
        sectorsInTickBytes,
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
    this.checks.flushComplete(this.device);
    await this.device.settle();
    this.afterCall();
    this.faulty.checkpoint();
    // Every record the model still has was flushed or discarded (counted).
    const discarded = this.device.stats().recordsDiscarded;
    this.faulty.retire();
    this.result.restarts++;
    const liveBefore = new Map(this.models.map((m) => [m.index, m.live.filter((r) => !r.excused).length]));
    const goneBefore = this.records.lifeGone;
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

  /** One random action, weighted like a device's main loop with an unreliable uplink. */
  actionDraw(): SimAction {
    const { board, bulkCap, models, policy, profile } = this;
    return actionDraw({ prng: this.workload, models, board, bulkCap, policy, profile });
  }

  async step(action: SimAction): Promise<void> {
    this.trace.stepIndex++;
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

  /** Writes to every stream, flushes to 101 with faults off, and drains everything with ACKs. */
  async finalCheck(): Promise<void> {
    this.trace.stepIndex++;
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
    this.records.markInFile(this.inner, true, this.life);
    for (const model of this.models) {
      for (let guard = 0; guard < 100_000; guard++) {
        const got = this.call(`readBulk ${model.key}`, () =>
          this.device.readBulk(model.spec.source, model.spec.sensor, this.bulkCap),
        );
        if (got === null) throw this.fail(`final drain of ${model.key} failed`);
        this.records.delivered(model, got, this.bulkCap, `final drain ${model.key}`);
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
    this.checks.counts(this.device);
  }

  finish(): SimResult {
    this.result.halOps += this.faulty.opCount;
    this.faultsCollect(this.faulty);
    this.result.policy = this.policy;
    return this.result;
  }
}

// ---- Faults between lives ------------------------------------------------------------------------------

/**
 * The "misplace" fault: moves the `pick`-th (modulo their number) durable, valid `.imx` file at its
 * core's name into another bucket directory (one pick in four also spells its source with a leading
 * zero), durably, as an operator or a restore from a backup might while the device is off. Boot
 * recovery must move it back (SPEC.md 6.4) and deliver its records.
 */
export function misplaceFile(hal: MemoryHal, pick: number, trace: (line: string) => void, result: SimResult): void {
  const files = imxScan(hal, { durableOnly: true }).filter((f) => f.valid && imxPathIsCanonical(f.path));
  const file = files[pick % Math.max(1, files.length)];
  if (file === undefined) {
    trace("  no file to move between lives");
    return;
  }
  const name = imxPathParse(file.path) as ImxName;
  const bucket = (name.bucket + 1 + ((pick >>> 4) % (HISTORY_BUCKETS - 1))) % HISTORY_BUCKETS;
  const base = file.path.slice(file.path.lastIndexOf("/") + 1);
  const spelled = (pick >>> 8) % 4 === 1 ? `0${base}` : base;
  const dir = `${HISTORY_DIR}/${bucket}`;
  const to = `${dir}/${spelled}`;
  if (!hal.isDir(dir)) {
    hal.mkdir(dir);
    hal.syncDir(HISTORY_DIR);
  }
  hal.rename(file.path, to);
  hal.syncDir(dir);
  hal.syncDir(file.path.slice(0, file.path.lastIndexOf("/")));
  result.filesMisplaced++;
  trace(`  moved ${file.path} to ${to} between lives`);
}

/**
 * The "downgrade" action: rewrites the storage as the first release (0.1.0, a v1 storage) would
 * have left it in the same state, durably, while the device is off: the ACK log's last word for
 * each stream (its checkpoint, then its records in order) goes into a positions file of the first
 * format, history/positions.imxp, and the log is removed. The next boot reads it and upgrades the
 * storage in place (SPEC.md 6.5).
 */
export function storageDowngrade(hal: MemoryHal, trace: (line: string) => void): void {
  if (!hal.exists(ACK_LOG_PATH)) {
    trace("  no ACK log to downgrade");
    return;
  }
  const scan = ackLogScan(hal.readFile(ACK_LOG_PATH));
  const last = new Map<string, PositionRecord>();
  for (const entry of [...(scan.checkpoint ?? []), ...scan.records]) {
    const key = `${entry.source}:${entry.sensor}`;
    const before = last.get(key);
    last.set(key, {
      ...entry,
      ackedSeq: Math.max(entry.ackedSeq, before?.ackedSeq ?? 0),
      nextSeq: Math.max(entry.nextSeq, before?.nextSeq ?? 0),
    });
  }
  hal.writeFile(POSITIONS_PATH, positionsEncode([...last.values()]));
  hal.syncFile(POSITIONS_PATH);
  hal.remove(ACK_LOG_PATH);
  hal.syncDir(HISTORY_DIR);
  trace(`  downgraded to a first-release storage: ${last.size} streams in ${POSITIONS_PATH}`);
}

// ---- Entry points ----------------------------------------------------------------------------------------

/**
 * Runs one seed: a random workload of `options.steps` steps (or `options.script`), checking every
 * guarantee after every step. Throws SimFailure (seed, step, replay line, last steps) on the first
 * broken guarantee; returns the run's counters otherwise.
 */
export async function simulateSeed(seed: number, options: SimOptions = {}): Promise<SimResult> {
  const sim = new Simulation(seed, options);
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
  const seed = integerParse(text.trim());
  if (seed === null || seed < 0 || seed > 0xffffffff)
    throw new Error(`SEED must be an integer in 0 … 2^32−1 (got '${text}')`);
  return seed;
}
