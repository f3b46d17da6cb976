// Battery section 13 — spillover_test as the original's battery ran it (`spillover_test 500`,
// reference section 6.4), on a device of its own with a disk tier: (1) RAM filled to 60%, every
// record verified, all acknowledged: every sector free again; (2) filled to 80%: processMemory
// spills; (3) the records still due (record count − those of phase 2, or 100 when phase 2 already
// wrote that many) go through RAM and disk; (4) recovery in the middle of the test: the power is cut
// (no flush) and a new device boots on the storage; (5) every record on disk reads back exactly, in
// sequence, what RAM held is lost and counted within recovery's bound, and numbering resumes past
// every number used; new records after the boot read back too; (6) everything acknowledged: 0
// files, every sector free. Each phase is timed (reported, never asserted). A board that cannot
// hold the record count without discarding (tiny holds 86) writes what it holds and says so.

import path from "node:path";
import { HISTORY_DIR, recordsPerSector } from "../../format/imx.js";
import { imxFilesList } from "../env.js";
import { Ledger, ledgersUpload, outcomeNew } from "../ledger.js";
import type { StreamSpec } from "../ledger.js";
import { freshCleanupCheck } from "../streams.js";
import {
  type Section,
  type SectionRun,
  fillTo,
  sectorsAtPercent,
  evtRecordsHeldMax,
  sectorsToMove,
  tickUntilIdle,
} from "../sections/section.js";

/** The record count the original's battery passed (`spillover_test 500`). */
export const SPILLOVER_RECORDS_DEFAULT = 500;
/** Records phase 3 writes when phase 2 already wrote the record count. */
const PHASE3_RECORDS_MIN = 100;

/** spillover_test's disk sensor (150), as an EVT stream of uint32 words. */
export const SPILLOVER_STREAM: StreamSpec = {
  name: "spillover-150",
  source: 11,
  sensor: 150,
  type: "evt",
  dataType: "uint32",
  sampleRateMs: 0,
};

const value = (i: number): number => (0x50000000 | (i & 0x0fffffff)) >>> 0;

/** The spillover scenario for `records` records. */
export function spilloverScenario(records = SPILLOVER_RECORDS_DEFAULT): Section {
  return {
    id: 13,
    title: `spillover (spillover_test ${records}): 60%/80% fills, spill, power cut and recovery mid-test`,
    needsDisk: true,
    async run({ ctx, env, metric }: SectionRun): Promise<void> {
      const board = env.board;
      const n = board.memory.sectorCount;
      let fresh = env.freshDevice("spillover", true);
      const historyDir = path.join(fresh.dir ?? "", HISTORY_DIR);
      const ledger = new Ledger(fresh.device, SPILLOVER_STREAM);
      const { source, sensor } = SPILLOVER_STREAM;
      let t = performance.now();
      const phase = (name: string): void => {
        const now = performance.now();
        metric(name, now - t, "ms");
        t = now;
      };
      try {
        fresh.device.setDiskUsagePercent(0);
        const free = (): number => n - fresh.device.countRamSectorsWithData();

        // 1. Fill to 60%, verify, acknowledge.
        fillTo(fresh.device, ledger, sectorsAtPercent(board, 60), value);
        let outcome = outcomeNew();
        ledgersUpload([ledger], outcome);
        ctx.check(
          "phase 1: RAM filled to 60%, every record verified",
          outcome.mismatches === 0 && outcome.missing === 0 && ledger.readBack === ledger.written && ledger.written > 0,
          `${ledger.written} records exact`,
          `${ledger.readBack} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing${outcome.first ? `; first: ${outcome.first}` : ""}`,
        );
        ctx.equal("phase 1: after the ACK every sector free", n, free());
        ledger.reset();
        phase("phase 1: fill 60%, verify, free");

        // 2. Fill to 80% and let processMemory spill.
        const s0 = fresh.device.stats();
        // (In direct mode, SPEC.md 4.2, a tick moves data once RAM passes the threshold by a batch.)
        const phase2Sectors = Math.max(sectorsAtPercent(board, 80), sectorsToMove(board));
        const phase2Records = fillTo(fresh.device, ledger, phase2Sectors, value);
        tickUntilIdle(env, fresh.device);
        const s1 = fresh.device.stats();
        ctx.check(
          "phase 2: RAM at 80% spills to .imx files",
          s1.filesCreated > s0.filesCreated && fresh.device.counts(source, sensor).disk > 0,
          "files written, records on disk",
          `${s1.filesCreated - s0.filesCreated} files, ${fresh.device.counts(source, sensor).disk} records on disk`,
        );
        phase("phase 2: fill 80%, spill");

        // 3. The rest of the record count through RAM and disk, one tick per sector's worth.
        // A board too small to hold the record count (tiny) writes what it holds, and says so.
        const held = evtRecordsHeldMax(board, 1);
        const scaled = records > held ? ` (of ${records}: ${board.name} holds ${held})` : "";
        const target = Math.min(records, held);
        const extra = Math.max(
          0,
          Math.min(target > phase2Records ? target - phase2Records : PHASE3_RECORDS_MIN, held - phase2Records),
        );
        const perSector = recordsPerSector("evt", board.memory.sectorBytes);
        for (let i = 0; i < extra; i++) {
          ledger.write(value(ledger.written));
          if (i % perSector === perSector - 1) env.tick(fresh.device);
        }
        tickUntilIdle(env, fresh.device);
        const counts = fresh.device.counts(source, sensor);
        const s2 = fresh.device.stats();
        ctx.check(
          `phase 3: ${extra} more records${scaled}: all held on disk and in RAM, none discarded`,
          counts.disk > 0 &&
            counts.ram > 0 &&
            counts.disk + counts.ram === ledger.written &&
            s2.recordsDiscarded === s0.recordsDiscarded,
          `${ledger.written} records on disk + in RAM, 0 discarded`,
          `${counts.disk} on disk + ${counts.ram} in RAM of ${ledger.written}, ${s2.recordsDiscarded - s0.recordsDiscarded} discarded`,
        );
        phase("phase 3: records through RAM and disk");

        // 4. Recovery in the middle: the power is cut (no flush), a new device boots on the storage.
        const onDisk = counts.disk;
        const inRam = counts.ram;
        const usedSeqEnd = ledger.startSeq + ledger.written;
        const filesBefore = imxFilesList(historyDir).length;
        env.freshRetire(fresh);
        fresh = env.restart(fresh);
        ledger.rebind(fresh.device);
        const report = fresh.device.recovery;
        ctx.check(
          "phase 4: after a power cut the new device adopts every file, quarantines none",
          report !== null &&
            report.filesKept === filesBefore &&
            report.filesQuarantined === 0 &&
            report.recordsRecovered === onDisk,
          `${filesBefore} files kept, ${onDisk} records recovered, 0 quarantined`,
          report === null
            ? "no recovery"
            : `${report.filesKept} kept, ${report.recordsRecovered} records, ${report.filesQuarantined} quarantined`,
        );
        phase("phase 4: power cut and recovery");

        // 5. Verify: the disk records exact and in sequence, the RAM ones lost and counted, numbering resumed.
        outcome = outcomeNew();
        // Spill mode: the disk holds the oldest records, RAM lost the newest. Direct mode (SPEC.md
        // 4.2): RAM held older records than the files, so the loss is a gap below and between them.
        const direct = board.tier.mode === "direct";
        ledgersUpload([ledger], outcome, direct ? undefined : (_l, i) => (i < onDisk ? "disk" : "ram"));
        const lost = ledger.written - ledger.matched;
        // Recovery's bound counts the numbers past the data on disk; in direct mode the records
        // lost are below it, and what bounds them is what RAM could hold.
        const lostMax = direct
          ? n * recordsPerSector("evt", board.memory.sectorBytes)
          : (report?.recordsLostRamMax ?? 0);
        ctx.check(
          "phase 5: every record on disk read back exactly, in sequence, after the recovery",
          outcome.mismatches === 0 && ledger.matched === onDisk && (direct || outcome.missing === 0),
          `${onDisk} records from disk`,
          `${ledger.matched} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing${outcome.first ? `; first: ${outcome.first}` : ""}`,
        );
        ctx.check(
          "phase 5: the records RAM held are lost, and within what recovery reports as at most lost",
          lost === inRam && lost <= lostMax,
          `${inRam} lost, ≤ ${lostMax}`,
          `${lost} lost`,
        );
        const resumed = fresh.device.counts(source, sensor).nextSeq;
        ctx.atLeast("phase 5: numbering resumes past every sequence number used before the cut", usedSeqEnd, resumed);
        ledger.reset();
        const after = Math.min(PHASE3_RECORDS_MIN, held);
        for (let i = 0; i < after; i++) {
          ledger.write(value(i));
          if (i % perSector === perSector - 1) env.tick(fresh.device);
        }
        outcome = outcomeNew();
        ledgersUpload([ledger], outcome);
        ctx.check(
          "phase 5: records written after the recovery read back exactly",
          outcome.mismatches === 0 && outcome.missing === 0 && ledger.readBack === after,
          `${after} records`,
          `${ledger.readBack} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing`,
        );
        phase("phase 5: verify disk records, the loss and new records");

        // 6. Everything acknowledged: the files go, every sector is free.
        const finished = await env.cleanupFinish(fresh.device);
        const files = imxFilesList(historyDir).length;
        ctx.check(
          "phase 6: 0 files and every sector free at the end",
          finished && files === 0 && free() === n,
          `0 files, ${n} of ${n} sectors free`,
          `${files} files, ${free()} of ${n} sectors free`,
        );
        phase("phase 6: cleanup");
        await freshCleanupCheck(env, ctx, fresh);
      } finally {
        env.freshDispose(fresh);
      }
    },
  };
}
