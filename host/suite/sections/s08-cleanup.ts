// Section 8 — cleanup, the seed document's own subject, for each policy: files flushed to disk and
// then fully acknowledged are deleted in the ACK (immediate), by processMemory at most
// filesDeletedPerTickMax per tick (batched), or off the main loop, started by processMemory at
// most deletesInFlightMax in flight, until settled (lazy); the
// cleanup-complete flag, getCleanupProgress() (files and bytes pending, in flight, time remaining)
// and getPendingDiskWriteCount() (all pending work) say so at every step; and
// forceCleanupAllDiskFiles() deletes every file at once, strays included, counting what it discards.

import fs from "node:fs";
import path from "node:path";
import { CLEANUP_POLICIES, type CleanupPolicy } from "../../boards.js";
import { imxFilesList } from "../env.js";
import { type Ledger, ledgersUpload, outcomeNew } from "../ledger.js";
import { HISTORY_DIR, recordsPerSector } from "../../format/imx.js";
import { REAL_WORLD_STREAMS, withLedgers } from "../streams.js";
import type { Section, SectionRun } from "./section.js";

const POLICIES: readonly CleanupPolicy[] = CLEANUP_POLICIES;

export const cleanupSection: Section = {
  id: 8,
  title: "cleanup: each policy; flag, progress, pending count, forced cleanup",
  needsDisk: true,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const disk = board.disk;
    if (disk === null) return;
    await withLedgers(env, ctx, "cleanup", REAL_WORLD_STREAMS, true, async (device, ledgers, fresh) => {
      const historyDir = path.join(fresh?.dir ?? env.options.storageDir, HISTORY_DIR);
      const streams = ledgers.length;
      const sectorsPerStream = Math.max(1, Math.min(8, Math.floor(board.memory.sectorCount / (2 * streams))));
      const records = sectorsPerStream * recordsPerSector("evt", board.memory.sectorBytes);
      const filesPerStream = Math.ceil(sectorsPerStream / disk.sectorsPerFileMax);
      const expectedFiles = streams * filesPerStream;
      device.setDiskUsagePercent(0);

      const writeAndFlush = (): number => {
        for (const ledger of ledgers)
          for (let i = 0; i < records; i++) ledger.write((ledger.spec.sensor * 1_000_003 + ledger.written) >>> 0);
        return env.flush(device);
      };

      for (const policy of POLICIES) {
        device.setCleanupPolicy(policy);
        for (const ledger of ledgers) ledger.reset();
        const s0 = device.stats();
        const ticks = writeAndFlush();
        const files = imxFilesList(historyDir);
        ctx.check(
          `${policy}: the flush writes one file per stream per ${disk.sectorsPerFileMax} sectors`,
          ticks >= 0 && files.length === expectedFiles,
          `${expectedFiles} files, progress 101`,
          `${files.length} files, ${ticks < 0 ? "progress below 101" : "progress 101"}`,
        );
        const idle = device.getCleanupProgress();
        ctx.check(
          `${policy}: nothing to delete yet — complete, 0 pending, 0 in flight, no time remaining, 0 pending work`,
          device.isCleanupComplete() &&
            idle.filesPending === 0 &&
            idle.filesInFlight === 0 &&
            idle.etaMs === 0 &&
            device.getPendingDiskWriteCount() === 0,
          "complete, 0, 0, 0 ms, 0",
          `${device.isCleanupComplete() ? "complete" : "incomplete"}, ${idle.filesPending}, ${idle.filesInFlight}, ${idle.etaMs} ms, ${device.getPendingDiskWriteCount()}`,
        );
        const bytesOnDisk = files.reduce((sum, f) => sum + fs.statSync(path.join(historyDir, f)).size, 0);

        const outcome = outcomeNew();
        ledgersUpload(ledgers, outcome);
        ctx.check(
          `${policy}: every flushed record read back from disk exactly`,
          outcome.mismatches === 0 && outcome.missing === 0 && outcome.matched === streams * records,
          `${streams * records} records`,
          `${outcome.matched} exact, ${outcome.mismatches} mismatches, ${outcome.missing} missing`,
        );
        const progress = device.getCleanupProgress();
        const left = imxFilesList(historyDir).length;
        const pendingWork = device.getPendingDiskWriteCount();
        if (policy === "immediate") {
          ctx.check(
            "immediate: the files are gone when the ACK returns; complete",
            left === 0 && device.isCleanupComplete() && progress.filesPending === 0 && pendingWork === 0,
            "0 files, complete, 0 pending, 0 pending work",
            `${left} files, ${device.isCleanupComplete() ? "complete" : "incomplete"}, ${progress.filesPending} pending, ${pendingWork} pending work`,
          );
        } else if (policy === "batched") {
          ctx.check(
            "batched: after the ACK every file awaits deletion — incomplete, progress and pending work count them",
            left === expectedFiles &&
              !device.isCleanupComplete() &&
              progress.filesPending === expectedFiles &&
              progress.bytesPending === bytesOnDisk &&
              pendingWork === expectedFiles,
            `${expectedFiles} files on disk and pending, ${bytesOnDisk} B pending, incomplete, ${expectedFiles} pending work`,
            `${left} on disk, ${progress.filesPending} pending, ${progress.bytesPending} B, ${device.isCleanupComplete() ? "complete" : "incomplete"}, ${pendingWork} pending work`,
          );
          ctx.check(
            "batched: a time remaining is estimated once deletions have been timed, unknown before",
            progress.deleteLatencyMs.samples === 0 ? progress.etaMs === null : (progress.etaMs ?? 0) > 0,
            progress.deleteLatencyMs.samples === 0 ? "unknown (no deletion timed yet)" : "> 0 ms",
            `${progress.etaMs ?? "unknown"} ms`,
          );
          const perTick = board.tier.filesDeletedPerTickMax;
          let previous = progress.filesPending;
          let rises = 0;
          let overBudget = 0;
          const ticks = env.tickUntil(
            device,
            () => {
              const now = device.getCleanupProgress().filesPending;
              if (now > previous) rises++;
              if (previous - now > perTick) overBudget++;
              previous = now;
              return device.isCleanupComplete();
            },
            1000,
          );
          const expectedTicks = Math.ceil(expectedFiles / perTick);
          ctx.check(
            `batched: processMemory deletes at most ${perTick} per tick, pending never rises, done in ceil(files / ${perTick}) ticks`,
            ticks === expectedTicks && rises === 0 && overBudget === 0,
            `${expectedTicks} ticks, 0 rises, 0 over budget`,
            `${ticks} ticks, ${rises} rises, ${overBudget} over budget`,
          );
        } else {
          ctx.check(
            "lazy: after the ACK every file awaits a tick, none in flight — incomplete, pending work counts them",
            !device.isCleanupComplete() &&
              progress.filesPending === expectedFiles &&
              progress.filesInFlight === 0 &&
              pendingWork === expectedFiles,
            `incomplete, ${expectedFiles} pending, 0 in flight, ${expectedFiles} pending work`,
            `${device.isCleanupComplete() ? "complete" : "incomplete"}, ${progress.filesPending} pending, ${progress.filesInFlight} in flight, ${pendingWork} pending work`,
          );
          env.tick(device);
          const started = device.getCleanupProgress();
          const inFlightMax = board.tier.deletesInFlightMax;
          const expectedInFlight = Math.min(expectedFiles, inFlightMax);
          ctx.check(
            `lazy: processMemory starts the deletions, at most ${inFlightMax} in flight`,
            started.filesInFlight === expectedInFlight &&
              started.filesPending === expectedFiles - expectedInFlight &&
              device.getPendingDiskWriteCount() === expectedFiles,
            `${expectedInFlight} in flight, ${expectedFiles - expectedInFlight} pending`,
            `${started.filesInFlight} in flight, ${started.filesPending} pending`,
          );
          await device.settle();
        }
        const s1 = device.stats();
        const after = device.getCleanupProgress();
        ctx.check(
          `${policy}: finally 0 files, complete, 0 pending work, every file counted deleted`,
          imxFilesList(historyDir).length === 0 &&
            device.isCleanupComplete() &&
            device.getPendingDiskWriteCount() === 0 &&
            s1.filesDeleted - s0.filesDeleted === expectedFiles &&
            after.filesPending === 0,
          `0 files, complete, 0, ${expectedFiles} deleted`,
          `${imxFilesList(historyDir).length} files, ${device.isCleanupComplete() ? "complete" : "incomplete"}, ${device.getPendingDiskWriteCount()}, ${s1.filesDeleted - s0.filesDeleted} deleted`,
        );
      }
      device.setCleanupPolicy(env.options.policy);

      // Forced cleanup: live (unacknowledged) files and a stray one, all deleted at once.
      for (const ledger of ledgers) ledger.reset();
      writeAndFlush();
      const stray = path.join(historyDir, "0", "stray_from_an_earlier_run.imx");
      fs.mkdirSync(path.dirname(stray), { recursive: true });
      fs.writeFileSync(stray, "not a real file");
      const onDisk = ledgers.reduce(
        (sum: number, l: Ledger) => sum + device.counts(l.spec.source, l.spec.sensor).disk,
        0,
      );
      const forced = device.forceCleanupAllDiskFiles();
      const diskLeft = ledgers.reduce(
        (sum: number, l: Ledger) => sum + device.counts(l.spec.source, l.spec.sensor).total,
        0,
      );
      ctx.check(
        "forced cleanup: every file deleted now, the stray too, records on disk counted as discarded",
        forced.failed === 0 &&
          forced.strays === 1 &&
          forced.recordsDiscarded === onDisk &&
          imxFilesList(historyDir).length === 0 &&
          diskLeft === 0 &&
          device.isCleanupComplete(),
        `0 failed, 1 stray, ${onDisk} discarded, 0 files, 0 records left, complete`,
        `${forced.failed} failed, ${forced.strays} strays, ${forced.recordsDiscarded} discarded, ${imxFilesList(historyDir).length} files, ${diskLeft} records left, ${device.isCleanupComplete() ? "complete" : "incomplete"}`,
      );
      for (const ledger of ledgers) ledger.reset();
      env.diskUsageRestore(device);
    });
  },
};
