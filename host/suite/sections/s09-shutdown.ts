// Section 9 — shutdown: the original test_shutdown's 17 cases, made real. The original's five
// placeholders (cancel_timeout, cancelling_state, file_op_tracking, flush_corrupted,
// flush_full_disk) always passed and data_integrity never read data back; here every case checks
// something that can fail, and every record written before a flush is read back afterwards — on
// the same device and on a new one booted from the same directory after a "power-off".
//
// The cases run in order on one fresh device with its own directory; amounts scale down on a
// small board so the same cases run on every board with a disk tier.

import fs from "node:fs";
import path from "node:path";
import { CORRUPTED_DIR, HISTORY_DIR, IMX_HEADER_BYTES, recordsPerSector } from "../../format/imx.js";
import type { Device } from "../../core/device.js";
import { FLUSH_PROGRESS_COMPLETE, flushDrain } from "../../core/flush.js";
import type { CheckContext } from "../checks.js";
import { type FreshDevice, imxFilesList, type SuiteEnv } from "../env.js";
import { Ledger, ledgersUpload, outcomeNew } from "../ledger.js";
import { freshCleanupCheck, HARNESS_STREAMS, harnessValue } from "../streams.js";
import type { Section, SectionRun } from "./section.js";

const TICKS_MAX = 1000;

class Shutdown {
  fresh: FreshDevice;
  readonly all: Ledger[];
  readonly four: Ledger[];

  constructor(
    readonly env: SuiteEnv,
    readonly ctx: CheckContext,
  ) {
    this.fresh = env.freshDevice("shutdown", true);
    const specs = HARNESS_STREAMS.slice(0, Math.min(8, env.board.memory.streamsMax));
    this.all = specs.map((spec) => new Ledger(this.fresh.device, spec));
    this.four = this.all.slice(0, Math.min(4, this.all.length));
  }

  get device(): Device {
    return this.fresh.device;
  }

  get historyDir(): string {
    return path.join(this.fresh.dir ?? "", HISTORY_DIR);
  }

  /** Samples per stream: 50, or fewer so the streams fill at most `share` of RAM. */
  samples(ledgers: readonly Ledger[], share = 0.6): number {
    const board = this.env.board;
    const sectors = Math.max(1, Math.floor((board.memory.sectorCount * share) / ledgers.length));
    const perSectorMin = Math.min(...ledgers.map((l) => recordsPerSector(l.spec.type, board.memory.sectorBytes)));
    return Math.max(1, Math.min(50, sectors * perSectorMin));
  }

  write(ledgers: readonly Ledger[], count: number): number {
    let total = 0;
    for (const ledger of ledgers) {
      for (let i = 0; i < count; i++) ledger.write(harnessValue(ledger.spec.sensor, ledger.written));
      total += count;
    }
    return total;
  }

  ramRecords(ledgers: readonly Ledger[] = this.all): number {
    return ledgers.reduce((sum, l) => sum + this.device.counts(l.spec.source, l.spec.sensor).ram, 0);
  }

  /** Reads and acknowledges everything; checks it is exactly what was written (disk records first). */
  readBack(name: string, expectedLost = 0): void {
    const outcome = outcomeNew();
    const onDisk = new Map(
      this.all.map((l) => [l, l.readBack + this.device.counts(l.spec.source, l.spec.sensor).disk]),
    );
    ledgersUpload(this.all, outcome, (ledger, i) => (i < (onDisk.get(ledger) ?? 0) ? "disk" : "ram"));
    const written = this.all.reduce((sum, l) => sum + l.written, 0);
    this.ctx.check(
      name,
      outcome.mismatches === 0 && outcome.matched === written - expectedLost,
      `${written - expectedLost} records exact, disk first${expectedLost ? ` (${expectedLost} quarantined)` : ""}`,
      `${outcome.matched} exact, ${outcome.mismatches} mismatches${outcome.first ? `; first: ${outcome.first}` : ""}`,
    );
    for (const ledger of this.all) ledger.reset();
  }

  async clean(name: string): Promise<void> {
    const done = await this.env.cleanupFinish(this.device);
    const left = imxFilesList(this.historyDir).length;
    this.ctx.check(
      name,
      done && left === 0,
      "cleanup complete, 0 files",
      `${done ? "complete" : "incomplete"}, ${left} files`,
    );
  }

  /** Ticks a requested flush to 101; returns the ticks or -1. */
  flushTicks(ticksMax = TICKS_MAX): number {
    return flushDrain(this.device, () => this.env.tick(this.device), ticksMax);
  }
}

export const shutdownSection: Section = {
  id: 9,
  title: "shutdown: the original's 17 cases, made real",
  needsDisk: true,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const disk = board.disk;
    if (disk === null) return;
    const t = new Shutdown(env, ctx);
    try {
      await cases(t, ctx, env);
      await freshCleanupCheck(env, ctx, t.fresh);
    } finally {
      env.freshDispose(t.fresh);
    }
  },
};

async function cases(t: Shutdown, ctx: CheckContext, env: SuiteEnv): Promise<void> {
  const board = env.board;
  const disk = board.disk;
  if (disk === null) return;

  // 1. flush_all_empty (critical).
  t.device.flushAllToDisk();
  ctx.equal(
    "flush_all_empty: a device that never wrote reports 101 at once",
    FLUSH_PROGRESS_COMPLETE,
    t.device.getFlushProgress(),
  );
  env.tick(t.device);
  t.device.flushAllToDisk();
  ctx.equal(
    "flush_all_empty: after a prior flush, a second flush reports 101 at once",
    FLUSH_PROGRESS_COMPLETE,
    t.device.getFlushProgress(),
  );
  env.tick(t.device);

  // 2. flush_all_with_data (critical), 4. ram_empty_check, 10. file_op_tracking, 17. data_integrity.
  const s0 = t.device.stats();
  const written = t.write(t.all, t.samples(t.all));
  const ramBefore = t.device.countRamSectorsWithData();
  ctx.check(
    "flush_all_with_data: RAM is not empty before the flush",
    ramBefore > 0,
    "> 0 sectors with data",
    `${ramBefore}`,
  );
  t.device.flushAllToDisk();
  ctx.equal(
    "file_op_tracking: during a flush, pending work = RAM sectors of stream data",
    ramBefore,
    t.device.getPendingDiskWriteCount(),
  );
  const ticks = t.flushTicks();
  ctx.check(
    "flush_all_with_data: progress reaches 101",
    ticks >= 0,
    `101 within ${TICKS_MAX} ticks`,
    ticks < 0 ? `${t.device.getFlushProgress()} after ${TICKS_MAX} ticks` : `101 after ${ticks} ticks`,
  );
  const onDisk = t.all.reduce((sum, l) => sum + t.device.counts(l.spec.source, l.spec.sensor).disk, 0);
  ctx.check(
    "ram_empty_check: after the flush RAM holds no data, every record is on disk",
    t.device.countRamSectorsWithData() === 0 && t.ramRecords() === 0 && onDisk === written,
    `0 sectors, ${written} records on disk`,
    `${t.device.countRamSectorsWithData()} sectors, ${onDisk} on disk`,
  );
  const s1 = t.device.stats();
  const files = imxFilesList(t.historyDir).length;
  ctx.check(
    "file_op_tracking: files in the directory = files created = files the core knows; no pending work",
    files === s1.filesCreated - s0.filesCreated && files === s1.filesLive && t.device.getPendingDiskWriteCount() === 0,
    `${files} = created = live, 0 pending`,
    `${files} in the directory, ${s1.filesCreated - s0.filesCreated} created, ${s1.filesLive} live, ${t.device.getPendingDiskWriteCount()} pending`,
  );
  t.readBack("data_integrity: every record written before the flush read back afterwards");
  await t.clean("flush_all_with_data: once acknowledged the flushed files are deleted");

  // 3. flush_progress (critical).
  t.write(t.four, t.samples(t.four));
  t.device.flushAllToDisk();
  const seen: number[] = [t.device.getFlushProgress()];
  flushDrain(
    t.device,
    () => {
      env.tick(t.device);
      seen.push(t.device.getFlushProgress());
    },
    TICKS_MAX,
  );
  const monotonic = seen.every((p, i) => i === 0 || p >= (seen[i - 1] ?? 0));
  const between = seen.some((p) => p > 0 && p < FLUSH_PROGRESS_COMPLETE);
  ctx.check(
    "flush_progress: rises monotonically through intermediate values to 101",
    monotonic && between && seen[0] !== FLUSH_PROGRESS_COMPLETE && seen[seen.length - 1] === FLUSH_PROGRESS_COMPLETE,
    "monotonic, from below 101, through 1–100, ending at 101",
    seen.slice(0, 12).join(" → ") + (seen.length > 12 ? " → …" : ""),
  );
  t.readBack("flush_progress: every record read back afterwards");
  await t.clean("flush_progress: files deleted once acknowledged");

  // 5. cancel_immediate (critical), 9. cancelling_state, 8. cancel_timeout.
  const c0 = t.device.stats();
  const cancelWritten = t.write(t.four, t.samples(t.four));
  t.device.flushAllToDisk();
  t.device.cancelMemoryFlush();
  ctx.equal(
    "cancelling_state: between the cancel and the next tick the state is cancelling-flush",
    "cancelling-flush",
    t.device.tierState,
  );
  env.tick(t.device);
  ctx.equal("cancel_timeout: a cancel completes within one tick (back to idle)", "idle", t.device.tierState);
  const c1 = t.device.stats();
  ctx.check(
    "cancel_immediate: nothing moved, progress 0, every record still in RAM",
    c1.filesCreated === c0.filesCreated && t.device.getFlushProgress() === 0 && t.ramRecords() === cancelWritten,
    `0 files, progress 0, ${cancelWritten} records in RAM`,
    `${c1.filesCreated - c0.filesCreated} files, progress ${t.device.getFlushProgress()}, ${t.ramRecords()} in RAM`,
  );

  // 6. state_transitions (critical): idle → flush-all (while work is left) → idle.
  t.device.flushAllToDisk();
  const states: string[] = [];
  flushDrain(
    t.device,
    () => {
      env.tick(t.device);
      if (states[states.length - 1] !== t.device.tierState) states.push(t.device.tierState);
    },
    TICKS_MAX,
  );
  ctx.check(
    "state_transitions: a flush goes idle → flush-all → idle",
    states.join(" → ") === "flush-all → idle",
    "flush-all → idle",
    states.join(" → ") || "(no tick)",
  );
  t.readBack("state_transitions: every record read back afterwards");
  await t.clean("state_transitions: files deleted once acknowledged");

  // 7. cancel_during_op: cancel once progress reaches 50%.
  const d0 = t.device.stats();
  t.write(t.four, t.samples(t.four));
  t.device.flushAllToDisk();
  const reached = env.tickUntil(t.device, () => t.device.getFlushProgress() >= 50, TICKS_MAX);
  const at = t.device.getFlushProgress();
  t.device.cancelMemoryFlush();
  env.tick(t.device);
  const d1 = t.device.stats();
  ctx.check(
    "cancel_during_op: cancelled at ≥ 50% the flush stops with part on disk, part in RAM",
    reached >= 0 &&
      at < FLUSH_PROGRESS_COMPLETE &&
      d1.filesCreated > d0.filesCreated &&
      t.ramRecords() > 0 &&
      t.device.tierState === "idle",
    "files written, records left in RAM, idle",
    `cancelled at ${at}%, ${d1.filesCreated - d0.filesCreated} files, ${t.ramRecords()} records in RAM, ${t.device.tierState}`,
  );
  t.readBack("cancel_during_op: nothing lost — disk part, then RAM part, read back exactly");
  await t.clean("cancel_during_op: files deleted once acknowledged");

  // 12. multiple_cancels, then 16. recovery_cancel.
  t.write(t.four, t.samples(t.four));
  let idleAfter = 0;
  for (let cycle = 0; cycle < 5; cycle++) {
    t.device.flushAllToDisk();
    env.tick(t.device);
    t.device.cancelMemoryFlush();
    env.tick(t.device);
    if (t.device.tierState === "idle") idleAfter++;
  }
  ctx.equal("multiple_cancels: 5 flush-and-cancel cycles each end idle", 5, idleAfter);
  t.device.flushAllToDisk();
  const recovered = t.flushTicks();
  ctx.check(
    "recovery_cancel: a flush after cancels reaches 101",
    recovered >= 0,
    "101",
    recovered < 0 ? `${t.device.getFlushProgress()}` : `101 after ${recovered} ticks`,
  );
  t.readBack("multiple_cancels: nothing lost or repeated across the cancels");
  await t.clean("multiple_cancels: files deleted once acknowledged");

  // 13. flush_full_disk: at 95% used a flush may use the rest of the quota; at 100% it cannot.
  const sectorsEach = 1;
  const perFile = IMX_HEADER_BYTES + sectorsEach * board.memory.sectorBytes;
  for (const percent of [95, 100]) {
    t.device.setDiskUsagePercent(percent);
    const before = t.device.stats();
    const count = t.write(
      t.four,
      Math.min(...t.four.map((l) => recordsPerSector(l.spec.type, board.memory.sectorBytes))) * sectorsEach,
    );
    const fits = Math.floor((disk.quotaBytes * percent) / 100) + t.four.length * perFile <= disk.quotaBytes;
    t.device.flushAllToDisk();
    const done = t.flushTicks(20);
    const after = t.device.stats();
    if (fits) {
      ctx.check(
        `flush_full_disk: with ${percent}% of the quota used the flush still completes (it may use the whole quota)`,
        done >= 0,
        "101",
        `${t.device.getFlushProgress()}`,
      );
    } else {
      ctx.check(
        `flush_full_disk: with ${percent}% used the flush cannot complete — refused, counted, nothing lost`,
        done < 0 &&
          after.spillsRefused > before.spillsRefused &&
          after.recordsDiscarded === before.recordsDiscarded &&
          t.ramRecords() + t.all.reduce((s, l) => s + t.device.counts(l.spec.source, l.spec.sensor).disk, 0) >= count,
        "below 101 after 20 ticks, refusals counted, 0 discarded",
        `${t.device.getFlushProgress()}, ${after.spillsRefused - before.spillsRefused} refusals, ${after.recordsDiscarded - before.recordsDiscarded} discarded`,
      );
      t.device.cancelMemoryFlush();
      env.tick(t.device);
      t.device.setDiskUsagePercent(0);
      t.device.flushAllToDisk();
      const later = t.flushTicks();
      ctx.check(
        "flush_full_disk: with the disk freed the flush completes",
        later >= 0,
        "101",
        `${t.device.getFlushProgress()}`,
      );
    }
    t.device.setDiskUsagePercent(0);
    t.readBack(`flush_full_disk: every record read back after the ${percent}% case`);
    await t.clean(`flush_full_disk: files deleted once acknowledged (${percent}% case)`);
  }

  // 14. concurrent_ops: keep writing while the flush runs.
  const fileBytesMin = IMX_HEADER_BYTES + board.memory.sectorBytes;
  const filesRoom = Math.min(disk.filesMax, Math.floor(disk.quotaBytes / fileBytesMin));
  const concurrentTicks = Math.max(1, Math.min(20, Math.floor(filesRoom / t.four.length) - 2));
  t.write(t.four, t.samples(t.four, 0.3));
  t.device.flushAllToDisk();
  for (let i = 0; i < concurrentTicks; i++) {
    env.tick(t.device);
    t.write(t.four, 1);
  }
  const finished = t.flushTicks(200);
  ctx.check(
    `concurrent_ops: writes go on during the flush (${concurrentTicks} ticks); it reaches 101 within 200 ticks after`,
    finished >= 0,
    "101",
    `${t.device.getFlushProgress()}`,
  );
  t.readBack("concurrent_ops: records written before and during the flush read back exactly");
  await t.clean("concurrent_ops: files deleted once acknowledged");

  // 11. flush_corrupted: a flushed file corrupted on disk is quarantined when read; the rest is exact.
  t.write(t.four, t.samples(t.four));
  t.device.flushAllToDisk();
  t.flushTicks();
  const victims = imxFilesList(t.historyDir);
  const victim = victims[0];
  if (victim === undefined) {
    ctx.check("flush_corrupted: a flushed file to corrupt", false, "≥ 1 file", "0 files");
  } else {
    const file = path.join(t.historyDir, victim);
    const bytes = fs.readFileSync(file);
    const records = bytes.readUInt32LE(36);
    bytes[IMX_HEADER_BYTES] = (bytes[IMX_HEADER_BYTES] ?? 0) ^ 0xff;
    fs.writeFileSync(file, bytes);
    const k0 = t.device.stats();
    t.readBack("flush_corrupted: the records of the other files read back exactly", records);
    const k1 = t.device.stats();
    const corruptedDir = path.join(t.fresh.dir ?? "", CORRUPTED_DIR);
    const quarantined = fs.existsSync(corruptedDir) ? fs.readdirSync(corruptedDir).length : 0;
    ctx.check(
      "flush_corrupted: the corrupted file is quarantined to corrupted/ and its records counted as discarded",
      k1.filesCorrupt - k0.filesCorrupt === 1 &&
        k1.recordsDiscarded - k0.recordsDiscarded === records &&
        quarantined === 1,
      `1 corrupt file, ${records} discarded, 1 file in corrupted/`,
      `${k1.filesCorrupt - k0.filesCorrupt} corrupt, ${k1.recordsDiscarded - k0.recordsDiscarded} discarded, ${quarantined} in corrupted/`,
    );
    fs.rmSync(corruptedDir, { recursive: true, force: true });
  }
  await t.clean("flush_corrupted: the other files deleted once acknowledged");

  // 15. power_cycle: flush, power off, boot a new device on the same directory, read everything.
  let cycles = 0;
  for (let cycle = 0; cycle < 3; cycle++) {
    const count = t.write(t.all, t.samples(t.all));
    t.device.flushAllToDisk();
    if (t.flushTicks() < 0) break;
    const filesBefore = imxFilesList(t.historyDir).length;
    env.freshRetire(t.fresh);
    t.fresh = env.restart(t.fresh);
    for (const ledger of t.all) ledger.rebind(t.device);
    const report = t.device.recovery;
    if (
      ctx.check(
        "power_cycle: after a completed flush a new device adopts every file and loses nothing",
        report !== null &&
          report.recordsLostRam === 0 &&
          report.filesKept === filesBefore &&
          report.recordsRecovered === count &&
          report.filesQuarantined === 0,
        `${filesBefore} files kept, ${count} records, 0 lost, 0 quarantined`,
        report === null
          ? "no recovery"
          : `${report.filesKept} kept, ${report.recordsRecovered} records, ${report.recordsLostRam} lost, ${report.filesQuarantined} quarantined`,
      )
    ) {
      cycles++;
    }
    t.readBack("power_cycle / data_integrity: every record written before the power-off read back on the new device");
    await t.clean("power_cycle: files deleted once acknowledged on the new device");
  }
  ctx.equal("power_cycle: 3 cycles of flush, power-off and boot", 3, cycles);
}
