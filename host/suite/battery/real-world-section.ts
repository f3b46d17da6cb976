// Battery section 14 — real_world_test as the original ran it (reference section 6.6): four sensors
// (ids 100–400) write checksummed records (XOR of id, sequence number and time, rotated left by 1).
// Phase 1 fills RAM to 60% spread evenly, verifies checksum, sequence and id, and frees it; phase 2
// fills RAM to 80% and writes its 1,000 records (250 per sensor) more through RAM and disk, then
// verifies them all in sequence, disk first, and acknowledges them: the cleanup, not the test, must
// delete the files (the original deleted them by hand); phase 3 repeats phases 1 and 2 three times,
// the free count unchanged after each; phase 4 is the final report: 0 errors, 0 files, every
// sector free. Each phase is timed (reported, never asserted).

import path from "node:path";
import { HISTORY_DIR, recordsPerSector } from "../../format/imx.js";
import type { Device } from "../../core/device.js";
import type { CheckContext } from "../checks.js";
import { imxFilesList, type SuiteEnv } from "../env.js";
import type { Ledger } from "../ledger.js";
import { REAL_WORLD_STREAMS, withLedgers } from "../streams.js";
import {
  evtRecordsHeldMax,
  type Section,
  type SectionRun,
  sectorsAtPercent,
  tickUntilIdle,
} from "../sections/section.js";
import { fillRoundRobin, upload, uploadCheck, writeOne } from "../sections/s10-spillover.js";

/** real_world_test's TOTAL_DISK_RECORDS and TEST_ITERATIONS. */
export const REAL_WORLD_DISK_RECORDS = 1000;
export const REAL_WORLD_ROUNDS = 3;

function phase1(ctx: CheckContext, env: SuiteEnv, device: Device, ledgers: readonly Ledger[], label: string): void {
  const n = env.board.memory.sectorCount;
  fillRoundRobin(device, ledgers, sectorsAtPercent(env.board, 60));
  ctx.atLeast(`${label}: RAM filled to 60%`, sectorsAtPercent(env.board, 60), device.countRamSectorsWithData());
  uploadCheck(ctx, `${label}: every record in RAM verified (checksum, sequence, id)`, ledgers, upload(ledgers, false));
  ctx.equal(`${label}: after freeing, every sector free`, n, n - device.countRamSectorsWithData());
}

async function phase2(
  ctx: CheckContext,
  env: SuiteEnv,
  device: Device,
  ledgers: readonly Ledger[],
  historyDir: string,
  label: string,
): Promise<void> {
  const s0 = device.stats();
  const filled = fillRoundRobin(device, ledgers, sectorsAtPercent(env.board, 80));
  tickUntilIdle(env, device);
  const tickEvery = ledgers.length * recordsPerSector("evt", env.board.memory.sectorBytes);
  // A board too small to hold them all without discarding (tiny) writes what it holds, and says so.
  const held = Math.max(0, evtRecordsHeldMax(env.board, ledgers.length) - filled);
  const count = Math.min(REAL_WORLD_DISK_RECORDS, held);
  const scaled =
    count < REAL_WORLD_DISK_RECORDS ? ` (of ${REAL_WORLD_DISK_RECORDS}: ${env.board.name} holds ${count} more)` : "";
  for (let i = 0; i < count; i++) {
    const ledger = ledgers[i % ledgers.length];
    if (ledger !== undefined) writeOne(ledger);
    if (i % tickEvery === tickEvery - 1) env.tick(device);
  }
  tickUntilIdle(env, device);
  const s1 = device.stats();
  const onDisk = ledgers.reduce((sum, l) => sum + device.counts(l.spec.source, l.spec.sensor).disk, 0);
  ctx.check(
    `${label}: ${count} records past 80%${scaled} go through RAM and disk, none discarded`,
    s1.filesCreated > s0.filesCreated && onDisk > 0 && s1.recordsDiscarded === s0.recordsDiscarded,
    "files written, records on disk, 0 discarded",
    `${s1.filesCreated - s0.filesCreated} files, ${onDisk} on disk, ${s1.recordsDiscarded - s0.recordsDiscarded} discarded`,
  );
  uploadCheck(ctx, `${label}: every record verified in sequence, disk first then RAM`, ledgers, upload(ledgers, true));
  const finished = await env.cleanupFinish(device);
  const files = imxFilesList(historyDir).length;
  ctx.check(
    `${label}: the files are deleted by the cleanup once acknowledged`,
    finished && files === 0,
    "0 files",
    `${files} files${finished ? "" : ", cleanup incomplete"}`,
  );
}

export const realWorldSection: Section = {
  id: 14,
  title: "real world (real_world_test): 4 checksummed sensors, phases 1–2 then 3 rounds of both",
  needsDisk: true,
  async run({ ctx, env, metric }: SectionRun): Promise<void> {
    const n = env.board.memory.sectorCount;
    await withLedgers(env, ctx, "real-world", REAL_WORLD_STREAMS, true, async (device, ledgers, fresh) => {
      const historyDir = path.join(fresh?.dir ?? env.options.storageDir, HISTORY_DIR);
      device.setDiskUsagePercent(0);
      let t = performance.now();
      const phase = (name: string): void => {
        const now = performance.now();
        metric(name, now - t, "ms");
        t = now;
      };
      phase1(ctx, env, device, ledgers, "phase 1");
      phase("phase 1: fill 60%, verify, free");
      await phase2(ctx, env, device, ledgers, historyDir, "phase 2");
      phase("phase 2: 1,000 records through RAM and disk");
      const freeBefore = n - device.countRamSectorsWithData();
      let leaks = 0;
      for (let round = 1; round <= REAL_WORLD_ROUNDS; round++) {
        phase1(ctx, env, device, ledgers, "phase 3 (phase 1 again)");
        await phase2(ctx, env, device, ledgers, historyDir, "phase 3 (phase 2 again)");
        if (n - device.countRamSectorsWithData() !== freeBefore) leaks++;
      }
      ctx.equal(`phase 3: rounds of ${REAL_WORLD_ROUNDS} in which the free count changed (a leak)`, 0, leaks);
      phase(`phase 3: phases 1 and 2 × ${REAL_WORLD_ROUNDS}`);
      env.diskUsageRestore(device);
      const result = await env.cleanup(device);
      const files = imxFilesList(historyDir).length;
      const free = n - device.countRamSectorsWithData();
      ctx.check(
        "phase 4: final report: 0 files and every sector free",
        files === 0 && result.ramSectorsLeft === 0 && free === n,
        `0 files, ${n} of ${n} sectors free`,
        `${files} files, ${free} of ${n} sectors free`,
      );
      phase("phase 4: final report");
    });
  },
};
