// Section 6 — stress and edge: every RAM sector filled (the next write discards the oldest
// non-pending sector and counts it — never silently; on a disk tier that could take the data the
// write would spill a file instead, so here the disk is made to look full, a 100% usage offset that
// no deletion can undo, as SPEC.md section 4 has it); writes while every sector is pending are
// refused with E_ALL_PENDING and change nothing; a revert (NACK) is idempotent; boundaries of
// sector ids, word offsets, values and times; and 50 sectors freed every other one are reused
// exactly (the free list is LIFO). The original passed "allocate every sector" at N − 20.

import { SECTOR_NULL } from "../../core/abi.generated.js";
import { ledgersUpload, outcomeNew } from "../ledger.js";
import { recordsPerSector } from "../../format/imx.js";
import { CYCLE_STREAMS, FILL_EVT, withLedgers } from "../streams.js";
import { errorName, fillTo, type Section, type SectionRun } from "./section.js";

const TIME_MAX_MS = Number.MAX_SAFE_INTEGER;

export const stressEdgeSection: Section = {
  id: 6,
  title: "stress and edge: full RAM, all pending, boundaries, reuse",
  needsDisk: false,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const n = board.memory.sectorCount;
    const bytes = board.memory.sectorBytes;

    await withLedgers(env, ctx, "stress", [FILL_EVT], false, (device, [ledger], fresh) => {
      if (ledger === undefined) return;
      const { source, sensor } = FILL_EVT;
      const perSector = recordsPerSector("evt", bytes);
      const value = (i: number): number => (0x9e3779b9 ^ i) >>> 0;

      // Every sector: no processMemory, and a disk tier that cannot take data, so nothing spills.
      if (device.hasDiskTier) device.setDiskUsagePercent(100);
      fillTo(device, ledger, n, value);
      while (device.counts(source, sensor).ramSectors < n || ledger.written % perSector !== 0)
        ledger.write(value(ledger.written));
      ctx.equal("every RAM sector filled", n, device.countRamSectorsWithData());
      const before = device.stats();
      ledger.write(value(ledger.written));
      const after = device.stats();
      ctx.check(
        "a write into full RAM discards the oldest sector, counted",
        after.recordsDiscarded - before.recordsDiscarded === perSector &&
          after.sectorsDiscarded - before.sectorsDiscarded === 1,
        `${perSector} records, 1 sector discarded`,
        `${after.recordsDiscarded - before.recordsDiscarded} records, ${after.sectorsDiscarded - before.sectorsDiscarded} sectors discarded`,
      );

      // Every live record pending: a write needing a sector is refused and changes nothing.
      const all = [];
      for (let reads = 0; reads < 1_000_000; reads++) {
        const batch = device.readBulk(source, sensor, device.bulkCapacity);
        if (batch.length === 0) break;
        all.push(...batch);
      }
      const pending = device.counts(source, sensor);
      ctx.equal("every live record pending after reading them all", pending.total, pending.pending);
      let code = "OK";
      let extra = 0;
      for (let i = 0; i <= perSector && code === "OK"; i++) {
        const v = value(ledger.written);
        code = errorName(() => device.writeEvt(source, sensor, v, ledger.timeOf(ledger.startSeq + ledger.written)));
        if (code === "OK") {
          ledger.push(v, ledger.timeOf(ledger.startSeq + ledger.written));
          extra++;
        }
      }
      ctx.code("a write needing a sector while every sector is pending", "E_ALL_PENDING", code);
      const refusedAt = device.counts(source, sensor);
      ctx.check(
        "the refused write changed nothing",
        refusedAt.total === pending.total + extra && refusedAt.pending === pending.pending,
        `${pending.total + extra} live, ${pending.pending} pending`,
        `${refusedAt.total} live, ${refusedAt.pending} pending`,
      );

      // NACK twice: idempotent; everything is new again.
      device.revert(source, sensor);
      const once = device.counts(source, sensor);
      device.revert(source, sensor);
      const twice = device.counts(source, sensor);
      ctx.check(
        "revert (NACK) twice: nothing pending, same as once",
        once.pending === 0 && twice.pending === 0 && once.new === twice.new && twice.new === twice.total,
        "0 pending, all new, twice the same",
        `${once.pending}/${twice.pending} pending, ${once.new}/${twice.new} new of ${twice.total}`,
      );
      ledger.rewind();
      if (device.hasDiskTier) device.setDiskUsagePercent(fresh ? 0 : (env.options.diskUsagePercent ?? 0));
      const outcome = outcomeNew();
      ledgersUpload([ledger], outcome);
      ctx.check(
        "after the NACK every record but the discarded sector reads back exactly",
        outcome.mismatches === 0 && outcome.missing === perSector && ledger.readBack === ledger.written,
        `${ledger.written - perSector} records, ${perSector} missing (discarded), 0 mismatches`,
        `${outcome.matched} records, ${outcome.missing} missing, ${outcome.mismatches} mismatches${outcome.first ? `; first: ${outcome.first}` : ""}`,
      );
    });

    // Boundaries of the raw sector API.
    const device = env.device;
    const held: number[] = [];
    for (let i = 0; i < n; i++) held.push(device.sectorAlloc());
    const ids = [...held].sort((a, b) => a - b);
    ctx.check(
      "allocate every RAM sector: ids 0…N−1",
      ids[0] === 0 && ids[n - 1] === n - 1 && new Set(ids).size === n,
      `0…${n - 1}, ${n} distinct`,
      `${ids[0]}…${ids[n - 1]}, ${new Set(ids).size} distinct`,
    );
    ctx.code(
      "allocate one more",
      "E_OUT_OF_SECTORS",
      errorName(() => device.sectorAlloc()),
    );
    device.sectorWrite(n - 1, bytes - 4, 0xffffffff);
    device.sectorWrite(0, 0, 0);
    ctx.check(
      "last word of the last sector and first of the first",
      device.sectorRead(n - 1, bytes - 4) === 0xffffffff && device.sectorRead(0, 0) === 0,
      "0xFFFFFFFF, 0",
      `${device.sectorRead(n - 1, bytes - 4)}, ${device.sectorRead(0, 0)}`,
    );
    ctx.code(
      "write at offset sectorBytes − 4 + 4",
      "E_OFFSET_INVALID",
      errorName(() => device.sectorWrite(n - 1, bytes, 1)),
    );
    ctx.code(
      "sector id N",
      "E_SECTOR_INVALID",
      errorName(() => device.sectorRead(n, 0)),
    );
    ctx.code(
      "sector id 0xFFFFFFFF (null)",
      "E_SECTOR_INVALID",
      errorName(() => device.sectorRead(SECTOR_NULL, 0)),
    );
    for (const id of held) device.sectorFree(id);

    // Reuse: 50 sectors, every other one freed, are exactly the next ones allocated.
    const count = Math.min(50, n);
    const fifty: number[] = [];
    for (let i = 0; i < count; i++) fifty.push(device.sectorAlloc());
    const freed = fifty.filter((_, i) => i % 2 === 1);
    for (const id of freed) device.sectorFree(id);
    const again: number[] = [];
    for (let i = 0; i < freed.length; i++) again.push(device.sectorAlloc());
    ctx.check(
      `${count} sectors, every other freed and reallocated: the holes are reused, last freed first`,
      again.join() === [...freed].reverse().join(),
      [...freed].reverse().slice(0, 6).join(", ") + (freed.length > 6 ? ", …" : ""),
      again.slice(0, 6).join(", ") + (again.length > 6 ? ", …" : ""),
    );
    for (const id of fifty) device.sectorFree(id);
    ctx.equal("every sector free at the end", n, n - device.countRamSectorsWithData());

    // Value and time boundaries, on an EVT stream of each data type.
    const edgeSpecs = [FILL_EVT, CYCLE_STREAMS[1], CYCLE_STREAMS[3]].filter((s) => s !== undefined);
    await withLedgers(env, ctx, "edge", edgeSpecs, false, (dev, ledgers) => {
      const values: Record<string, number[]> = {
        uint32: [0, 1, 0x7fffffff, 0x80000000, 0xffffffff],
        int32: [-0x80000000, -1, 0, 1, 0x7fffffff],
        float32: [
          0,
          -0,
          1.5,
          -2.25,
          3.4028234663852886e38,
          -3.4028234663852886e38,
          1.401298464324817e-45,
          Infinity,
          -Infinity,
          NaN,
          0.1,
        ],
      };
      const outcome = outcomeNew();
      let refused = 0;
      for (const ledger of ledgers) {
        const { source, sensor, dataType } = ledger.spec;
        for (const v of values[dataType] ?? []) {
          for (const t of [0, 1, TIME_MAX_MS]) {
            dev.writeEvt(source, sensor, v, t);
            ledger.push(ledger.stored(v), t);
          }
          if (dev.countRamSectorsWithData() >= n - 2) ledgersUpload(ledgers, outcome);
        }
        for (const t of [-1, NaN, TIME_MAX_MS + 1, Infinity])
          if (errorName(() => dev.writeEvt(source, sensor, 1, t)) === "E_INVALID_ARGUMENT") refused++;
        const outOfRange =
          dataType === "uint32" ? [-1, 2 ** 32, 1.5] : dataType === "int32" ? [2 ** 31, -(2 ** 31) - 1, 0.5] : [];
        for (const v of outOfRange)
          if (errorName(() => dev.writeEvt(source, sensor, v, 1)) === "E_INVALID_ARGUMENT") refused++;
      }
      ledgersUpload(ledgers, outcome);
      const written = ledgers.reduce((sum, l) => sum + l.written, 0);
      ctx.check(
        "boundary values (0, ±max, −0, ±∞, NaN, subnormal) and times (0, 2^53 − 1) read back exactly",
        outcome.mismatches === 0 && outcome.missing === 0 && outcome.matched === written,
        `${written} records exact`,
        `${outcome.matched} exact, ${outcome.mismatches} mismatches${outcome.first ? `; first: ${outcome.first}` : ""}`,
      );
      ctx.equal(
        "times −1, NaN, 2^53, ∞ and out-of-range integers refused (E_INVALID_ARGUMENT)",
        ledgers.length * 4 + 6,
        refused,
      );
    });
  },
};
