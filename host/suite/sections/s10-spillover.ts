// Section 10 — spillover and real-world: spillover_test and real_world_test as one section. Four
// sensors (ids 100–400) write checksummed records (XOR of id, sequence number and time, rotated
// left by 1): RAM filled to 60% is verified and freed; filled to 80% it spills, more records
// follow through RAM and disk, and everything is verified in order; three more rounds must give
// every sector back; and at the end there are 0 `.imx` files and every sector is free. (The
// originals deleted their files by hand because freeing did not; here cleanup must.)

import path from "node:path";
import type { Device } from "../../core/device.js";
import type { CheckContext } from "../checks.js";
import { imxFilesList } from "../env.js";
import { type Ledger, outcomeNew, type VerifyOutcome } from "../ledger.js";
import { HISTORY_DIR, recordsPerSector } from "../../format/imx.js";
import { REAL_WORLD_STREAMS, realWorldChecksum, withLedgers } from "../streams.js";
import { type Section, type SectionRun, sectorsAtPercent, tickUntilIdle } from "./section.js";

/** Writes the ledger's next checksummed record. */
export function writeOne(ledger: Ledger): void {
  const seq = ledger.startSeq + ledger.written;
  ledger.write(realWorldChecksum(ledger.spec.sensor, seq, ledger.timeOf(seq)));
}

/** Round robin across the sensors until `sectors` RAM sectors are in use. */
export function fillRoundRobin(device: Device, ledgers: readonly Ledger[], sectors: number): number {
  let writes = 0;
  for (let guard = 0; device.countRamSectorsWithData() < sectors && guard < 10_000_000; guard++) {
    const ledger = ledgers[guard % ledgers.length];
    if (ledger === undefined) break;
    writeOne(ledger);
    writes++;
  }
  return writes;
}

export interface Upload {
  outcome: VerifyOutcome;
  badChecksums: number;
  records: number;
}

/** Reads and acknowledges everything; checks order and values against the ledgers and each checksum. */
export function upload(ledgers: readonly Ledger[], tiers: boolean): Upload {
  const result: Upload = { outcome: outcomeNew(), badChecksums: 0, records: 0 };
  for (const ledger of ledgers) {
    const { device, spec } = ledger;
    const onDisk = tiers ? ledger.readBack + device.counts(spec.source, spec.sensor).disk : 0;
    // In direct mode (SPEC.md 4.2) a stream's files and RAM sectors interleave: the order is still
    // checked exactly, by sequence number, but not which tier each record comes from.
    const spillOrder = tiers && device.board.tier.mode === "spill";
    for (let reads = 0; reads < 1_000_000; reads++) {
      const batch = device.readBulk(spec.source, spec.sensor, device.bulkCapacity);
      if (batch.length === 0) break;
      for (const record of batch)
        if (record.value !== realWorldChecksum(spec.sensor, record.seq, record.utcMs)) result.badChecksums++;
      ledger.verify(batch, result.outcome, spillOrder ? (i) => (i < onDisk ? "disk" : "ram") : undefined);
      device.ack(spec.source, spec.sensor, batch.length);
      result.records += batch.length;
    }
  }
  return result;
}

/** Checks an upload against the ledgers (count, checksums, ids, sequence) and resets them. */
export function uploadCheck(ctx: CheckContext, name: string, ledgers: readonly Ledger[], result: Upload): void {
  const written = ledgers.reduce((sum, l) => sum + l.written, 0);
  ctx.check(
    name,
    result.outcome.mismatches === 0 &&
      result.outcome.missing === 0 &&
      result.badChecksums === 0 &&
      result.records === written,
    `${written} records, checksums, ids and sequence exact`,
    `${result.records} records, ${result.badChecksums} bad checksums, ${result.outcome.mismatches} mismatches, ${result.outcome.missing} missing${result.outcome.first ? `; first: ${result.outcome.first}` : ""}`,
  );
  for (const ledger of ledgers) ledger.reset();
}

export const spilloverSection: Section = {
  id: 10,
  title: "spillover and real-world: 60%/80% fills, 4 checksummed streams through RAM and disk",
  needsDisk: true,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const n = board.memory.sectorCount;
    await withLedgers(env, ctx, "spillover", REAL_WORLD_STREAMS, true, async (device, ledgers, fresh) => {
      const historyDir = path.join(fresh?.dir ?? env.options.storageDir, HISTORY_DIR);
      device.setDiskUsagePercent(0);
      const free = (): number => n - device.countRamSectorsWithData();

      // Phase 1: fill to 60%, verify, free.
      fillRoundRobin(device, ledgers, sectorsAtPercent(board, 60));
      ctx.atLeast("phase 1: RAM filled to 60%", sectorsAtPercent(board, 60), device.countRamSectorsWithData());
      uploadCheck(ctx, "phase 1: every record in RAM verified", ledgers, upload(ledgers, false));
      ctx.equal("phase 1: after freeing, every sector free", n, free());

      // Phase 2: fill to 80%, spill, keep writing through RAM and disk, verify both tiers.
      const s0 = device.stats();
      fillRoundRobin(device, ledgers, sectorsAtPercent(board, 80));
      ctx.equal("phase 2: no file before processMemory", 0, imxFilesList(historyDir).length);
      tickUntilIdle(env, device);
      // Half the RAM's worth of records more, one tick per new sector of each stream, so the
      // spill keeps pace at every sector size and nothing needs discarding.
      const perSector = recordsPerSector("evt", board.memory.sectorBytes);
      const extra = Math.min(1000, Math.floor((n * perSector) / 2));
      const tickEvery = ledgers.length * perSector;
      for (let i = 0; i < extra; i++) {
        const ledger = ledgers[i % ledgers.length];
        if (ledger !== undefined) writeOne(ledger);
        if (i % tickEvery === tickEvery - 1) env.tick(device);
      }
      tickUntilIdle(env, device);
      const s1 = device.stats();
      const onDisk = ledgers.reduce((sum, l) => sum + device.counts(l.spec.source, l.spec.sensor).disk, 0);
      const inRam = ledgers.reduce((sum, l) => sum + device.counts(l.spec.source, l.spec.sensor).ram, 0);
      ctx.check(
        "phase 2: RAM spilled — records both on disk and in RAM, none discarded",
        s1.filesCreated > s0.filesCreated && onDisk > 0 && inRam > 0 && s1.recordsDiscarded === s0.recordsDiscarded,
        "files written, records on disk and in RAM, 0 discarded",
        `${s1.filesCreated - s0.filesCreated} files, ${onDisk} on disk, ${inRam} in RAM, ${s1.recordsDiscarded - s0.recordsDiscarded} discarded`,
      );
      uploadCheck(ctx, "phase 2: every record verified, disk first then RAM", ledgers, upload(ledgers, true));
      ctx.check(
        "phase 2: the spilled files are deleted once acknowledged",
        (await env.cleanupFinish(device)) && imxFilesList(historyDir).length === 0,
        "0 files",
        `${imxFilesList(historyDir).length} files`,
      );

      // Phase 3: three more rounds; the free count must come back each time.
      for (let round = 0; round < 3; round++) {
        fillRoundRobin(device, ledgers, Math.max(1, Math.floor(n / 4)));
        uploadCheck(ctx, "phase 3: every record of the round verified", ledgers, upload(ledgers, false));
        ctx.equal("phase 3: every sector free after the round (no leak)", n, free());
      }

      // Phase 4: the final report's conditions.
      env.diskUsageRestore(device);
      const result = await env.cleanup(device);
      const files = imxFilesList(historyDir).length;
      ctx.check(
        "phase 4: 0 files and every sector free at the end",
        files === 0 && result.ramSectorsLeft === 0 && free() === n,
        `0 files, ${n} of ${n} sectors free`,
        `${files} files, ${free()} of ${n} sectors free`,
      );
    });
  },
};
