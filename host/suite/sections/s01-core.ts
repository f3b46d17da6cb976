// Section 1 — core: the SAT after boot, allocate and free, data patterns written and read back,
// chaining, freed sectors zeroed, and the error codes of the raw sector API, the streams and the
// flashed config image, each with the operation changing nothing. (The original's section 1 also
// passed when an allocation "succeeded" with an id it never checked; every id here is checked.)

import { encodeConfigImage } from "../../config-image.js";
import { SECTOR_NULL } from "../../core/abi.generated.js";
import { Device } from "../../core/device.js";
import { CoreError, errorCodeName } from "../../core/errors.js";
import { MemoryHal } from "../../hal/memory.js";
import { CYCLE_STREAMS, withLedgers } from "../streams.js";
import type { Section, SectionRun } from "./section.js";

const PATTERNS = [0xdeadbeef, 0xcafebabe, 0x12345678];

/** The code name of a raw export's result: "OK" for a non-negative one. */
function codeOf(status: number): string {
  return status >= 0 ? "OK" : errorCodeName(status);
}

/** The code a Device.create fails with, or "OK". */
function bootCode(create: () => Device): string {
  try {
    create();
    return "OK";
  } catch (error) {
    if (error instanceof CoreError) return error.codeName;
    throw error;
  }
}

export const coreSection: Section = {
  id: 1,
  title: "core: SAT, allocate/free, patterns, chaining, error codes",
  needsDisk: false,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const n = board.memory.sectorCount;
    const words = board.memory.sectorBytes / 4;

    // SAT init, on a device booted for this.
    const booted = env.freshDevice("core", false).device;
    const st = booted.stats();
    ctx.check(
      "SAT after boot: every sector free, none with data",
      st.sectorsTotal === n && st.sectorsFree === n && st.sectorsUsed === 0 && booted.countRamSectorsWithData() === 0,
      `${n} total, ${n} free, 0 used`,
      `${st.sectorsTotal} total, ${st.sectorsFree} free, ${st.sectorsUsed} used`,
    );
    const first = booted.sectorAlloc();
    ctx.check("first allocation after boot is sector 0 (free list starts 0, 1, 2, …)", first === 0, "0", String(first));
    booted.sectorFree(first);
    ctx.equal("allocate and free one sector: every sector free again", n, booted.stats().sectorsFree);

    // Stream table full, on the same booted device.
    let configured = 0;
    for (let s = 0; s < board.memory.streamsMax; s++) {
      if (booted.exports.streamConfigure(7, s, 2, 0, 0) >= 0) configured++;
    }
    ctx.equal("streams configure up to streamsMax", board.memory.streamsMax, configured);
    ctx.code(
      "error: one stream more than streamsMax",
      "E_STREAM_TABLE_FULL",
      codeOf(booted.exports.streamConfigure(7, 0xffff_fff0, 2, 0, 0)),
    );
    ctx.code("error: boot twice", "E_ALREADY_BOOTED", codeOf(booted.exports.boot(96, 0)));

    // Flashed config images the core must refuse.
    const image = encodeConfigImage(board);
    const corrupt = (offset: number): Uint8Array => {
      const copy = image.slice();
      copy[offset] = (copy[offset] ?? 0) ^ 0x01;
      return copy;
    };
    const boot = (configImage: Uint8Array) => () => Device.create({ board, hal: new MemoryHal(), configImage });
    ctx.code("error: config image with a wrong magic", "E_CONFIG_MAGIC", bootCode(boot(corrupt(0))));
    ctx.code("error: config image with a wrong layout version", "E_CONFIG_VERSION", bootCode(boot(corrupt(4))));
    ctx.code("error: config image with one bit flipped in a field", "E_CONFIG_CRC", bootCode(boot(corrupt(50))));
    ctx.code(
      "error: config image one byte short",
      "E_CONFIG_TRUNCATED",
      bootCode(boot(image.slice(0, image.length - 1))),
    );

    // The rest on the shared device, which every iteration reuses.
    const device = env.device;
    const x = device.exports;
    const freeAtStart = n - device.countRamSectorsWithData();
    ctx.equal("shared device: every sector free at the start of the section", n, freeAtStart);

    // Allocate and free 50.
    const count = Math.min(50, n);
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(device.sectorAlloc());
    const distinct = new Set(ids).size;
    const inRange = ids.every((id) => Number.isInteger(id) && id >= 0 && id < n);
    ctx.check(
      `allocate ${count} sectors: distinct ids in 0…${n - 1}`,
      distinct === count && inRange,
      `${count} distinct, all in range`,
      `${distinct} distinct, ${inRange ? "all" : "not all"} in range`,
    );
    ctx.equal(`allocate ${count} sectors: used sectors`, count, device.countRamSectorsWithData());

    // Data patterns: pattern XOR word index, every word of every sector.
    for (const pattern of PATTERNS) {
      ids.forEach((id, k) => {
        for (let w = 0; w < words; w++) device.sectorWrite(id, w * 4, (pattern ^ (k * words + w)) >>> 0);
      });
      let wrong = 0;
      ids.forEach((id, k) => {
        for (let w = 0; w < words; w++) if (device.sectorRead(id, w * 4) !== (pattern ^ (k * words + w)) >>> 0) wrong++;
      });
      ctx.equal(`pattern 0x${pattern.toString(16).toUpperCase()} XOR index: words read back wrong`, 0, wrong);
    }

    // A freed sector comes back first (LIFO free list) and zeroed.
    const reused = ids[0] ?? 0;
    device.sectorFree(reused);
    const again = device.sectorAlloc();
    let nonZero = 0;
    for (let w = 0; w < words; w++) if (device.sectorRead(again, w * 4) !== 0) nonZero++;
    ctx.check(
      "a freed sector is the next allocated, zeroed",
      again === reused && nonZero === 0,
      `sector ${reused}, 0 non-zero words`,
      `sector ${again}, ${nonZero} non-zero words`,
    );
    ids[0] = again;

    // Chaining: three sectors linked through the SAT.
    if (count >= 3) {
      const [a, b, c] = [ids[0], ids[1] ?? 0, ids[2] ?? 0];
      device.sectorLink(a, b);
      device.sectorLink(b, c);
      device.sectorLink(c, SECTOR_NULL);
      const chain = [device.sectorNext(a), device.sectorNext(b), device.sectorNext(c)];
      ctx.check(
        "chain of 3 sectors: next of each, null at the end",
        chain[0] === b && chain[1] === c && chain[2] === SECTOR_NULL,
        `${b}, ${c}, ${SECTOR_NULL}`,
        chain.join(", "),
      );
    }

    // Error codes of the raw sector API; none may change anything.
    const before = device.stats();
    const freed = ids.pop() ?? 0;
    device.sectorFree(freed);
    const live = ids.at(0) ?? 0;
    ctx.code("error: free sector id = sectorCount", "E_SECTOR_INVALID", codeOf(x.sectorFree(n)));
    ctx.code("error: free the null sector id", "E_SECTOR_INVALID", codeOf(x.sectorFree(SECTOR_NULL)));
    ctx.code("error: free a free sector (double free)", "E_SECTOR_NOT_ALLOCATED", codeOf(x.sectorFree(freed)));
    ctx.code("error: read a free sector", "E_SECTOR_NOT_ALLOCATED", codeOf(x.sectorRead(freed, 0)));
    ctx.code("error: write at an unaligned offset", "E_OFFSET_INVALID", codeOf(x.sectorWrite(live, 2, 1)));
    ctx.code(
      "error: write at offset sectorBytes",
      "E_OFFSET_INVALID",
      codeOf(x.sectorWrite(live, board.memory.sectorBytes, 1)),
    );
    ctx.code(
      "error: write at offset 0xFFFFFFFC (wraps if added to)",
      "E_OFFSET_INVALID",
      codeOf(x.sectorWrite(live, 0xfffffffc, 1)),
    );
    ctx.code("error: link a sector to itself", "E_SECTOR_INVALID", codeOf(x.sectorLink(live, live)));
    ctx.code("error: link to sector id = sectorCount", "E_SECTOR_INVALID", codeOf(x.sectorLink(live, n)));
    ctx.code("error: next of sector id = sectorCount", "E_SECTOR_INVALID", codeOf(x.sectorNext(n)));
    ctx.code(
      "error: cleanup confirmation for no deletion in flight",
      "E_TOKEN_UNKNOWN",
      codeOf(x.cleanupConfirm(0, 0xabcdef, 0)),
    );
    ctx.code("error: processMemory with a negative time", "E_INVALID_ARGUMENT", codeOf(x.processMemory(-1)));
    if (!device.hasDiskTier)
      ctx.code("error: flush on a board without a disk tier", "E_NO_DISK_TIER", codeOf(x.flushAllToDisk()));
    const after = device.stats();
    ctx.check(
      "errors changed nothing (used, allocations, frees, failures)",
      after.sectorsUsed === before.sectorsUsed - 1 &&
        after.allocations === before.allocations &&
        after.frees === before.frees + 1 &&
        after.allocationFailures === before.allocationFailures,
      `used ${before.sectorsUsed - 1}, allocations ${before.allocations}, frees ${before.frees + 1}, failures ${before.allocationFailures}`,
      `used ${after.sectorsUsed}, allocations ${after.allocations}, frees ${after.frees}, failures ${after.allocationFailures}`,
    );
    for (const id of ids) device.sectorFree(id);
    ctx.equal("free them all: every sector free", n, n - device.countRamSectorsWithData());

    // Stream errors, on the cycle's streams (one TSD, one EVT).
    await withLedgers(env, ctx, "core", CYCLE_STREAMS.slice(0, 2), false, (dev, ledgers) => {
      const [tsd, evt] = ledgers;
      if (tsd === undefined || evt === undefined) return;
      const y = dev.exports;
      const streams = y.streamsConfigured();
      const written = dev.stats().recordsWritten;
      ctx.code(
        "error: TSD write to an EVT stream",
        "E_RECORD_TYPE_MISMATCH",
        codeOf(y.streamWriteTsd(evt.index, 1, 1000)),
      );
      ctx.code(
        "error: EVT write to a TSD stream",
        "E_RECORD_TYPE_MISMATCH",
        codeOf(y.streamWriteEvt(tsd.index, 1, 1000)),
      );
      ctx.code(
        "error: write to an unconfigured stream index",
        "E_STREAM_UNKNOWN",
        codeOf(y.streamWriteEvt(streams, 1, 1000)),
      );
      ctx.code(
        "error: reconfigure a stream with another record type",
        "E_STREAM_CONFIG_MISMATCH",
        codeOf(y.streamConfigure(evt.spec.source, evt.spec.sensor, 1, 0, 1000)),
      );
      ctx.code(
        "error: EVT write with a negative time",
        "E_INVALID_ARGUMENT",
        codeOf(y.streamWriteEvt(evt.index, 1, -1)),
      );
      ctx.code("error: EVT write with time NaN", "E_INVALID_ARGUMENT", codeOf(y.streamWriteEvt(evt.index, 1, NaN)));
      ctx.code("error: ACK with nothing pending", "E_ACK_TOO_MANY", codeOf(y.streamAck(evt.index, 1)));
      ctx.equal("stream errors wrote no record", written, dev.stats().recordsWritten);

      // A stream sector is not the raw API's: find its id (the head of the free list) and try.
      const probe = dev.sectorAlloc();
      dev.sectorFree(probe);
      evt.write(1);
      ctx.code("error: raw free of a stream's sector", "E_SECTOR_LINKED", codeOf(y.sectorFree(probe)));
      ctx.code("error: raw write to a stream's sector", "E_SECTOR_OWNED", codeOf(y.sectorWrite(probe, 0, 7)));
      const read = dev.readBulk(evt.spec.source, evt.spec.sensor, 10);
      ctx.check(
        "the stream's record is intact after both",
        read.length === 1 && read[0]?.value === 1,
        "1 record, value 1",
        `${read.length} records, value ${read[0]?.value}`,
      );
      ctx.code("error: ACK one more than pending", "E_ACK_TOO_MANY", codeOf(y.streamAck(evt.index, 2)));
      ctx.code("error: ACK a fraction of a record", "E_INVALID_ARGUMENT", codeOf(y.streamAck(evt.index, 0.5)));
      dev.ack(evt.spec.source, evt.spec.sensor, 1);

      // Every sector held by the raw API: no sector to allocate, and a stream write cannot discard.
      const held: number[] = [];
      for (let i = 0; i < n; i++) held.push(dev.sectorAlloc());
      const failuresBefore = dev.stats().allocationFailures;
      ctx.code("error: allocate with every sector in use", "E_OUT_OF_SECTORS", codeOf(y.sectorAlloc()));
      ctx.code(
        "error: stream write with every sector held by the raw API (nothing to discard)",
        "E_OUT_OF_SECTORS",
        codeOf(y.streamWriteEvt(evt.index, 1, 1000)),
      );
      ctx.equal("both refusals counted as allocation failures", failuresBefore + 2, dev.stats().allocationFailures);
      for (const id of held) dev.sectorFree(id);
      ctx.equal("every sector free at the end", n, n - dev.countRamSectorsWithData());
    });
  },
};
