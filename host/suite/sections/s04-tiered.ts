// Section 4 — tiered: RAM filled to the spill threshold spills nothing until processMemory runs;
// then the oldest sectors move to `.imx` files (counted in the real directory, headers checked)
// until usage is below the spill target; every record reads back disk first, then RAM, exactly;
// a partly acknowledged file stays; acknowledging the rest deletes the files, by the policy.
// With --disk-usage at or above the disk threshold the spec says the spill is refused and counted,
// and the section checks that instead.

import fs from "node:fs";
import path from "node:path";
import {
  HISTORY_DIR,
  IMX_MAGIC,
  imxFileBytes,
  imxHeaderRead,
  imxPathFormat,
  recordsPerSector,
} from "../../format/imx.js";
import { imxFilesList } from "../env.js";
import { ledgersUpload, outcomeNew } from "../ledger.js";
import { FILL_TSD, withLedgers } from "../streams.js";
import {
  fillTo,
  type Section,
  type SectionRun,
  sectorsAtPercent,
  spillExpectation,
  tickUntilIdle,
  usagePercent,
} from "./section.js";

export const tieredSection: Section = {
  id: 4,
  title: "tiered: spill above the threshold, read back across tiers, ACK deletes files",
  needsDisk: true,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const disk = board.disk;
    if (disk === null) return;
    await withLedgers(env, ctx, "tiered", [FILL_TSD], true, async (device, [ledger], fresh) => {
      if (ledger === undefined) return;
      const dir = fresh?.dir ?? env.options.storageDir;
      const historyDir = path.join(dir, HISTORY_DIR);
      const diskPct = fresh ? 0 : (env.options.diskUsagePercent ?? 0);
      const s0 = device.stats();
      const threshold = sectorsAtPercent(board, board.tier.spillThresholdPercent);
      fillTo(device, ledger, threshold, (i) => (i * 2654435761) >>> 0);
      ctx.equal("RAM filled to the spill threshold: no file before processMemory", 0, imxFilesList(historyDir).length);
      const expectation = spillExpectation(device, diskPct, device.counts(FILL_TSD.source, FILL_TSD.sensor).ramSectors);

      const ticks = tickUntilIdle(env, device);
      const s1 = device.stats();
      const files = imxFilesList(historyDir);
      const created = s1.filesCreated - s0.filesCreated;
      const counts = device.counts(FILL_TSD.source, FILL_TSD.sensor);
      let oldestRecords = 0;
      ctx.check(
        "processMemory returns to idle",
        ticks >= 0,
        "idle within 1000 ticks",
        ticks < 0 ? "not idle" : `${ticks} ticks`,
      );
      if (expectation.allowed) {
        ctx.check(
          "spill above the threshold writes .imx files",
          created > 0 && files.length === created,
          `files written (${expectation.reason})`,
          `${created} created, ${files.length} in the directory`,
        );
        ctx.below(
          `RAM usage after the spill is below the ${board.tier.spillTargetPercent}% target`,
          board.tier.spillTargetPercent,
          usagePercent(device),
        );
        ctx.check(
          "files in the directory = files the core knows = the stream's files",
          files.length === s1.filesLive && files.length === counts.diskFiles,
          `${files.length}`,
          `directory ${files.length}, core ${s1.filesLive}, stream ${counts.diskFiles}`,
        );
        ctx.equal("records on disk + in RAM = records written", ledger.written, counts.disk + counts.ram);
        // The oldest file's header (SPEC.md 6.2): magic, stream, first sequence number, record count.
        const oldestPath = imxPathFormat(FILL_TSD.source, FILL_TSD.sensor, ledger.startSeq);
        const oldest = files.find((f) => `${HISTORY_DIR}/${f}` === oldestPath);
        if (oldest === undefined) {
          ctx.check(
            "the oldest file is named for the stream's first record",
            false,
            oldestPath,
            files.join(", ") || "no file",
          );
        } else {
          const bytes = fs.readFileSync(path.join(historyDir, oldest));
          const got = imxHeaderRead(bytes);
          const perSector = recordsPerSector("tsd", board.memory.sectorBytes);
          oldestRecords = got?.recordCount ?? 0;
          ctx.check(
            "the oldest file's header: magic IMX1, stream, first record, full sectors, size",
            got !== null &&
              got.source === FILL_TSD.source &&
              got.sensor === FILL_TSD.sensor &&
              got.firstSeq === ledger.startSeq &&
              got.recordCount === got.sectorCount * perSector &&
              bytes.byteLength === imxFileBytes(got.sectorCount, board.memory.sectorBytes),
            `magic ${IMX_MAGIC}, ${FILL_TSD.source}/${FILL_TSD.sensor}, first ${ledger.startSeq}, records = sectors × ${perSector}`,
            got === null
              ? `no IMX1 header (${bytes.byteLength} B)`
              : `magic ${got.magic}, ${got.source}/${got.sensor}, first ${got.firstSeq}, ${got.recordCount} records in ${got.sectorCount} sectors, ${bytes.byteLength} B`,
          );
        }
      } else {
        ctx.check(
          "spill refused and counted (disk over its threshold)",
          created === 0 && s1.spillsRefused > s0.spillsRefused && counts.ram === ledger.written,
          `no file, refusal counted, all ${ledger.written} records in RAM (${expectation.reason})`,
          `${created} files, ${s1.spillsRefused - s0.spillsRefused} refusals, ${counts.ram} in RAM`,
        );
      }

      // Read back across tiers: the records on disk come first. The first read stops short of the
      // oldest file's last record (at small sectors a file holds no more than one bulk read).
      const onDisk = counts.disk;
      const outcome = outcomeNew();
      const firstMax = Math.max(1, Math.min(device.bulkCapacity, oldestRecords - 1));
      const first = device.readBulk(FILL_TSD.source, FILL_TSD.sensor, firstMax);
      ledger.verify(first, outcome, (i) => (i < onDisk ? "disk" : "ram"));
      device.ack(FILL_TSD.source, FILL_TSD.sensor, first.length);
      if (oldestRecords > first.length) {
        ctx.equal("a file with records not yet acknowledged stays", files.length, imxFilesList(historyDir).length);
      }
      ledgersUpload([ledger], outcome, (_l, i) => (i < onDisk ? "disk" : "ram"));
      ctx.check(
        "every record read back, disk first then RAM, exactly",
        outcome.mismatches === 0 && outcome.missing === 0 && ledger.readBack === ledger.written,
        `${ledger.written} records, ${onDisk} from disk, 0 mismatches`,
        `${ledger.readBack} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing${outcome.first ? `; first: ${outcome.first}` : ""}`,
      );
      const finished = await env.cleanupFinish(device);
      const s2 = device.stats();
      const left = imxFilesList(historyDir).length;
      ctx.check(
        "every record acknowledged: the files are deleted (by the policy in force)",
        finished && left === 0 && s2.filesDeleted - s0.filesDeleted === created,
        `0 files left, ${created} deleted`,
        `${left} files left, ${s2.filesDeleted - s0.filesDeleted} deleted, cleanup ${finished ? "complete" : "incomplete"}`,
      );
    });
  },
};
