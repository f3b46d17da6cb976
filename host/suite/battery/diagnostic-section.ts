// Battery section 12 — diagnostic_test.c's seven diagnostics around the original's 4-vs-16-byte
// length bug (reference section 6.9), made checks: (1) write sizes of 4, 8, 12, 16, 20 and 32 bytes
// into a sector read back exactly and touch no word past their size, and a 64-byte write stops at
// the sector's end (E_OFFSET_INVALID); (2) five bit patterns at every word of a sector; (3)
// alignment: only word offsets are accepted; (4) parameters: a wrong record type and an unknown
// stream are refused and change nothing; (5) file analysis: the files a spill wrote are read from
// the directory, each valid (SPEC.md 6.4) and together holding exactly the stream's disk records, in
// sequence; (6) reproducibility: the same writes on three new devices give files identical byte for
// byte apart from their creation time (and so the CRC, which covers it).

import fs from "node:fs";
import path from "node:path";
import { HISTORY_DIR, IMX_OFFSET, imxCheck, imxHeaderRead } from "../../format/imx.js";
import { imxFilesList } from "../env.js";
import { Ledger, ledgersUpload, outcomeNew } from "../ledger.js";
import { FILL_TSD, freshCleanupCheck, withLedgers } from "../streams.js";
import { errorName, fillTo, type Section, type SectionRun, sectorsToMove, tickUntilIdle } from "../sections/section.js";

const WRITE_SIZES_BYTES = [4, 8, 12, 16, 20, 32, 64];
const PATTERNS = [0x00000000, 0xffffffff, 0xaaaaaaaa, 0x55555555, 0xdeadbeef];
const SENTINEL = 0xa5a5a5a5;
const REPRODUCIBILITY_RUNS = 3;

/** A file's bytes with the creation time and the CRC zeroed (the only fields a clock changes). */
function timeless(bytes: Uint8Array): string {
  const copy = Uint8Array.from(bytes);
  copy.fill(0, IMX_OFFSET.createdMs, IMX_OFFSET.createdMs + 8);
  copy.fill(0, IMX_OFFSET.crc32, IMX_OFFSET.crc32 + 4);
  return Buffer.from(copy).toString("base64");
}

export const diagnosticSection: Section = {
  id: 12,
  title: "diagnostic (diagnostic_test): write sizes, patterns, alignment, parameters, files, reproducibility",
  needsDisk: true,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const device = env.device;
    const bytes = env.board.memory.sectorBytes;
    const words = bytes / 4;
    const id = device.sectorAlloc();

    // 1. Write sizes.
    const sizeFaults: string[] = [];
    for (const size of WRITE_SIZES_BYTES) {
      for (let w = 0; w < words; w++) device.sectorWrite(id, w * 4, SENTINEL);
      let written = 0;
      let refusal = "OK";
      for (let offset = 0; offset < size; offset += 4) {
        refusal = errorName(() => device.sectorWrite(id, offset, (size * 0x01010101 + offset) >>> 0));
        if (refusal !== "OK") break;
        written += 4;
      }
      const expectedWritten = Math.min(size, bytes);
      const expectedRefusal = size > bytes ? "E_OFFSET_INVALID" : "OK";
      let wrong = 0;
      for (let offset = 0; offset < bytes; offset += 4) {
        const want = offset < written ? (size * 0x01010101 + offset) >>> 0 : SENTINEL;
        if (device.sectorRead(id, offset) !== want) wrong++;
      }
      if (written !== expectedWritten || refusal !== expectedRefusal || wrong > 0)
        sizeFaults.push(`${size} B: ${written} B written, ${refusal}, ${wrong} words wrong`);
    }
    ctx.check(
      `write sizes ${WRITE_SIZES_BYTES.join("/")} B: each reads back exactly, no word past it changes, a write past ${bytes} B is refused`,
      sizeFaults.length === 0,
      `exact; ${WRITE_SIZES_BYTES.filter((s) => s > bytes).join(", ") || "none"} B stopped at ${bytes} B (E_OFFSET_INVALID)`,
      sizeFaults.join("; ") || "exact",
    );

    // 2. Patterns at every word.
    let patternWrong = 0;
    for (const pattern of PATTERNS) {
      for (let w = 0; w < words; w++) device.sectorWrite(id, w * 4, (pattern ^ w) >>> 0);
      for (let w = 0; w < words; w++) if (device.sectorRead(id, w * 4) !== (pattern ^ w) >>> 0) patternWrong++;
    }
    ctx.equal(
      `${PATTERNS.length} bit patterns XOR word index at each of ${words} words: words read back wrong`,
      0,
      patternWrong,
    );

    // 3. Alignment: offsets 1, 2, 3 past each word are refused, the word itself accepted.
    let misaligned = 0;
    for (let w = 0; w < words; w++) {
      for (const skew of [1, 2, 3])
        if (errorName(() => device.sectorWrite(id, w * 4 + skew, 1)) !== "E_OFFSET_INVALID") misaligned++;
    }
    ctx.equal("unaligned offsets (word + 1, 2, 3) accepted", 0, misaligned);
    device.sectorFree(id);

    // 4. Parameters: a wrong record type and an unknown stream.
    await withLedgers(env, ctx, "diagnostic-parameters", [FILL_TSD], false, (dev, [probe]) => {
      if (probe === undefined) return;
      probe.write(1);
      const before = dev.counts(FILL_TSD.source, FILL_TSD.sensor);
      const wrongType = errorName(() => dev.writeEvt(FILL_TSD.source, FILL_TSD.sensor, 1, probe.timeOf(1)));
      const unknown = errorName(() => dev.writeTsd(FILL_TSD.source, 0xfffe, 1, probe.timeOf(1)));
      const after = dev.counts(FILL_TSD.source, FILL_TSD.sensor);
      ctx.check(
        "parameters: an EVT write to a TSD stream and a write to an unknown stream are refused and change nothing",
        wrongType === "E_RECORD_TYPE_MISMATCH" && unknown === "E_STREAM_UNKNOWN" && after.total === before.total,
        `E_RECORD_TYPE_MISMATCH, E_STREAM_UNKNOWN, ${before.total} records`,
        `${wrongType}, ${unknown}, ${after.total} records`,
      );
      ledgersUpload([probe], outcomeNew());
    });

    // 5 and 6. The files of a spill, analysed, and the same spill on three new devices compared.
    const images: string[][] = [];
    for (let run = 0; run < REPRODUCIBILITY_RUNS; run++) {
      const fresh = env.freshDevice("diagnostic", true);
      try {
        const dev = fresh.device;
        const ledger = new Ledger(dev, FILL_TSD);
        dev.setDiskUsagePercent(0);
        fillTo(dev, ledger, sectorsToMove(env.board), (i) => (i * 40503) >>> 0);
        tickUntilIdle(env, dev);
        const historyDir = path.join(fresh.dir ?? "", HISTORY_DIR);
        const files = imxFilesList(historyDir);
        const contents = files.map((f) => new Uint8Array(fs.readFileSync(path.join(historyDir, f))));
        images.push(contents.map(timeless));
        if (run === 0) {
          const faults = contents.map((c) => imxCheck(c)).filter((f) => f !== null);
          const headers = contents.map((c) => imxHeaderRead(c)).filter((h) => h !== null);
          headers.sort((a, b) => a.firstSeq - b.firstSeq);
          let contiguous = true;
          for (let i = 1; i < headers.length; i++) {
            const previous = headers[i - 1];
            const current = headers[i];
            if (
              previous !== undefined &&
              current !== undefined &&
              previous.firstSeq + previous.recordCount !== current.firstSeq
            )
              contiguous = false;
          }
          const recordsInFiles = headers.reduce((sum, h) => sum + h.recordCount, 0);
          const onDisk = dev.counts(FILL_TSD.source, FILL_TSD.sensor).disk;
          ctx.check(
            "file analysis: every file of the spill valid, and together exactly the stream's disk records, in sequence",
            files.length > 0 &&
              faults.length === 0 &&
              contiguous &&
              recordsInFiles === onDisk &&
              (env.board.tier.mode === "direct" || headers[0]?.firstSeq === ledger.startSeq),
            `≥ 1 valid file, ${onDisk} records${env.board.tier.mode === "direct" ? " (the newest: direct mode)" : ` from seq ${ledger.startSeq}`}, contiguous`,
            `${files.length} files, ${faults.length} invalid (${faults.join(", ")}), ${recordsInFiles} records from seq ${headers[0]?.firstSeq ?? "-"}${contiguous ? "" : ", not contiguous"}`,
          );
        }
        const outcome = outcomeNew();
        ledgersUpload([ledger], outcome);
        ctx.check(
          "file analysis: every record of the spill read back exactly",
          outcome.mismatches === 0 && outcome.missing === 0 && ledger.readBack === ledger.written,
          `${ledger.written} records`,
          `${ledger.readBack} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing`,
        );
        await freshCleanupCheck(env, ctx, fresh);
      } finally {
        env.freshDispose(fresh);
      }
    }
    const first = JSON.stringify(images[0] ?? []);
    const same = images.filter((i) => JSON.stringify(i) === first).length;
    ctx.check(
      `reproducibility: the same writes on ${REPRODUCIBILITY_RUNS} new devices give the same files (creation time aside)`,
      same === REPRODUCIBILITY_RUNS && (images[0]?.length ?? 0) > 0,
      `${REPRODUCIBILITY_RUNS} identical sets of files`,
      `${same} of ${images.length} identical to the first (${images.map((i) => i.length).join("/")} files)`,
    );
  },
};
