// Corrupted files at boot. A reference storage is made by a real device on the tiny board: stream
// A (EVT) in three `.imx` files, the first partly acknowledged, stream B (TSD) in two, and the
// ACK log. Each case damages one file of a copy of it the way disks and filesystems do (random
// bytes, truncation at every length, every single bit flip of the header and a sample of the
// payload, a wrong CRC, absurd counts with a valid CRC, wrong magic or version, zero-filled tails
// from every offset, an overlapping file, a positions file of the first format) and boots a new
// device on it. The damaged file must be moved to corrupted/ with the specific reason, boot must neither
// throw nor hang, and every record of every other file must still be delivered, in order, once.
// A valid copy of a file under another name (another stream's, another sequence number's, no
// .imx name at all) is removed as the copy it is, and its records are delivered once. The ACK log
// is the exception (SPEC.md 6.5): a damaged record is dropped alone and a torn tail ignored; only a
// damaged checkpoint quarantines it.

import { beforeAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { imxCrcFix, imxHeaderRead, imxPathFormat, imxPathParse, recordsPerSector } from "../../host/format/imx.js";
import {
  ACK_LOG_PATH,
  ackLogScan,
  POSITIONS_PATH,
  type PositionRecord,
  positionsEncode,
} from "../../host/format/positions.js";
import { Prng } from "../../host/base/prng.js";
import { flushDrain } from "../../host/core/flush.js";

const board = loadBoard("tiny");
const A = { source: 0, sensor: 7, base: 1000, count: 20 };
const B = { source: 0, sensor: 8, base: 5000, count: 30 };
const A_ACKED = 3;

interface Reference {
  hal: MemoryHal;
  /** The `.imx` files, stream A's oldest first, then stream B's. */
  a: string[];
  b: string[];
}

let ref: Reference;

function flush(device: Device, fromMs: number): void {
  device.flushAllToDisk();
  let t = 0;
  expect(flushDrain(device, () => device.processMemory(fromMs + ++t), 999)).toBeGreaterThanOrEqual(0);
}

function referenceBuild(): Reference {
  const hal = new MemoryHal();
  const device = Device.create({ board, hal, policy: "batched" });
  device.configureStream(A.source, A.sensor, { type: "evt" });
  device.configureStream(B.source, B.sensor, { type: "tsd", sampleRateMs: 10 });
  for (let seq = 0; seq < A.count; seq++) device.writeEvt(A.source, A.sensor, A.base + seq, 1_000_000 + seq);
  for (let seq = 0; seq < B.count; seq++) device.writeTsd(B.source, B.sensor, B.base + seq, 2_000_000);
  flush(device, 0);
  expect(device.readBulk(A.source, A.sensor, A_ACKED)).toHaveLength(A_ACKED);
  device.ack(A.source, A.sensor, A_ACKED); // on disk: the position is persisted
  const files = [...hal.snapshot().files.keys()].filter((p) => p.endsWith(".imx"));
  const of = (s: { source: number; sensor: number }): string[] =>
    files
      .filter((p) => {
        const name = imxPathParse(p);
        return name !== null && name.source === s.source && name.sensor === s.sensor;
      })
      .sort((x, y) => (imxPathParse(x)?.firstSeq ?? 0) - (imxPathParse(y)?.firstSeq ?? 0));
  return { hal, a: of(A), b: of(B) };
}

/** Sequence numbers a file holds, from its name and header. */
function seqsOf(hal: MemoryHal, path: string): number[] {
  const header = imxHeaderRead(hal.readFile(path));
  if (!header) throw new Error(`no header in ${path}`);
  return Array.from({ length: header.recordCount }, (_, i) => header.firstSeq + i);
}

interface Booted {
  device: Device;
  quarantined: Array<{ path: string; movedTo: string | null; reason: string }>;
  /** Sequence numbers delivered per stream ("A", "B"), every record checked for value. */
  seqs: { A: number[]; B: number[] };
}

function bootAndDrain(hal: MemoryHal): Booted {
  const device = Device.create({ board, hal });
  const seqs = { A: [] as number[], B: [] as number[] };
  for (const [key, s] of [
    ["A", A],
    ["B", B],
  ] as const) {
    if (!device.streamList().some((e) => e.source === s.source && e.sensor === s.sensor)) continue;
    for (let guard = 0; guard < 100; guard++) {
      const got = device.readBulk(s.source, s.sensor, 8);
      if (got.length === 0) break;
      for (const r of got) {
        expect(r.value, `value of ${key} seq ${r.seq}`).toBe(s.base + r.seq);
        seqs[key].push(r.seq);
      }
      device.ack(s.source, s.sensor, got.length);
    }
  }
  return { device, quarantined: device.recovery?.quarantined ?? [], seqs };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const expectedA = (): number[] => range(A_ACKED, A.count);
const expectedB = (): number[] => range(0, B.count);

/**
 * Replaces `path` in a copy of the reference storage with `mutate(bytes)` (synced), boots, drains,
 * and checks: the file is quarantined with a reason matching `reason` (or kept if the bytes did not
 * change), and every record of every other file is delivered.
 */
function corruptCase(path: string, mutate: (bytes: Uint8Array) => Uint8Array, reason: RegExp, label: string): void {
  const hal = ref.hal.clone();
  const original = hal.readFile(path);
  const damaged = mutate(original.slice());
  const lostSeqs = new Set(seqsOf(ref.hal, path));
  hal.writeFile(path, damaged);
  hal.syncFile(path);
  const booted = bootAndDrain(hal);
  const unchanged = damaged.length === original.length && damaged.every((b, i) => b === original[i]);
  const inA = ref.a.includes(path);
  if (unchanged) {
    expect(booted.quarantined, label).toEqual([]);
    expect(booted.seqs, label).toEqual({ A: expectedA(), B: expectedB() });
    return;
  }
  expect(
    booted.quarantined.map((q) => q.path),
    label,
  ).toEqual([path]);
  const [entry] = booted.quarantined;
  expect(entry?.reason, label).toMatch(reason);
  expect(entry?.movedTo, label).toBe(`corrupted/${path.replace(/\//g, "_")}`);
  expect(hal.exists(path), label).toBe(false);
  expect(hal.readFile(entry?.movedTo ?? ""), label).toEqual(damaged);
  expect(booted.seqs.A, label).toEqual(expectedA().filter((s) => !(inA && lostSeqs.has(s))));
  expect(booted.seqs.B, label).toEqual(expectedB().filter((s) => !(!inA && lostSeqs.has(s))));
}

function headerSet(bytes: Uint8Array, offset: number, value: number | bigint, width: 1 | 2 | 4 | 8): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 1) view.setUint8(offset, Number(value));
  else if (width === 2) view.setUint16(offset, Number(value), true);
  else if (width === 4) view.setUint32(offset, Number(value), true);
  else view.setBigUint64(offset, BigInt(value), true);
  return bytes;
}

const withCrc = (bytes: Uint8Array): Uint8Array => {
  imxCrcFix(bytes);
  return bytes;
};

const refused = (code: string): RegExp => new RegExp(`^refused: ${code}$`);

/** The reason a single flipped bit at header byte `offset` must give (the checks' order is in SPEC.md 6.4). */
function headerFlipReason(offset: number, flipped: Uint8Array): RegExp {
  if (offset < 4) return refused("E_IMX_MAGIC");
  if (offset < 8) return refused("E_IMX_VERSION");
  // A flipped source or sensor makes the name another file's; the CRC tells the header is damaged.
  if (offset < 16) return refused("E_IMX_CRC");
  if (offset < 18) return refused("E_IMX_CRC");
  if (offset < 20) return refused("E_IMX_GEOMETRY");
  if (offset < 24) return refused("E_IMX_CRC");
  if (offset < 28) {
    const sectors = new DataView(flipped.buffer, flipped.byteOffset).getUint32(abi.IMX_SECTOR_COUNT_OFFSET, true);
    return sectors === 0 || sectors > (board.disk?.sectorsPerFileMax ?? 0)
      ? refused("E_IMX_GEOMETRY")
      : refused("E_IMX_SIZE");
  }
  if (offset < 36) return refused("E_IMX_CRC");
  if (offset < 56) return refused("E_IMX_CRC");
  if (offset < 60) return refused("E_IMX_SIZE");
  return refused("E_IMX_CRC");
}

beforeAll(() => {
  ref = referenceBuild();
});

describe("the reference storage", () => {
  it("boots clean and delivers every unacknowledged record once", () => {
    expect(ref.a).toHaveLength(3);
    expect(ref.b).toHaveLength(2);
    const booted = bootAndDrain(ref.hal.clone());
    expect(booted.quarantined).toEqual([]);
    expect(booted.seqs).toEqual({ A: expectedA(), B: expectedB() });
  });
});

describe("a damaged .imx file is quarantined with its reason; every other file is still delivered", () => {
  it("every single bit flip in the header of a middle file", () => {
    const path = ref.a[1] as string;
    for (let offset = 0; offset < abi.IMX_HEADER_BYTES; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        const flip = (bytes: Uint8Array): Uint8Array => {
          bytes[offset] = (bytes[offset] ?? 0) ^ (1 << bit);
          return bytes;
        };
        const flipped = flip(ref.hal.readFile(path));
        corruptCase(path, flip, headerFlipReason(offset, flipped), `header byte ${offset} bit ${bit}`);
      }
    }
  });

  it("a sample of payload bit flips in every file", () => {
    const prng = new Prng(1234);
    for (const path of [...ref.a, ...ref.b]) {
      const size = ref.hal.readFile(path).length;
      for (let i = 0; i < 24; i++) {
        const offset = prng.between(abi.IMX_HEADER_BYTES, size - 1);
        const bit = prng.below(8);
        corruptCase(
          path,
          (bytes) => {
            bytes[offset] = (bytes[offset] ?? 0) ^ (1 << bit);
            return bytes;
          },
          refused("E_IMX_CRC"),
          `${path} payload byte ${offset} bit ${bit}`,
        );
      }
    }
  });

  it("truncation at every length, of the first (partly acknowledged), a middle and a TSD file", () => {
    for (const path of [ref.a[0], ref.a[1], ref.b[0]] as string[]) {
      const size = ref.hal.readFile(path).length;
      for (let length = 0; length < size; length++) {
        corruptCase(path, (bytes) => bytes.slice(0, length), refused("E_IMX_SIZE"), `${path} cut to ${length} bytes`);
      }
    }
  });

  it("a zero-filled tail from every offset (a hard reset after the size was set, before the data landed)", () => {
    for (const path of [ref.a[1], ref.b[1]] as string[]) {
      const size = ref.hal.readFile(path).length;
      for (let from = 0; from < size; from++) {
        const zeroed = (bytes: Uint8Array): Uint8Array => bytes.fill(0, from);
        const reason = from >= abi.IMX_HEADER_BYTES ? refused("E_IMX_CRC") : /^refused: E_IMX_[A-Z]+$/;
        corruptCase(path, zeroed, reason, `${path} zeros from ${from}`);
      }
    }
  });

  it("a wrong CRC", () => {
    const other = imxHeaderRead(ref.hal.readFile(ref.a[2] as string))?.crc32 ?? 0;
    corruptCase(
      ref.a[1] as string,
      (b) => headerSet(b, abi.IMX_CRC32_OFFSET, other, 4),
      refused("E_IMX_CRC"),
      "CRC of another file",
    );
    corruptCase(ref.b[0] as string, (b) => headerSet(b, abi.IMX_CRC32_OFFSET, 0, 4), refused("E_IMX_CRC"), "CRC zero");
  });

  it("absurd counts and types behind a valid CRC", () => {
    const path = ref.a[1] as string;
    const cases: Array<[string, (b: Uint8Array) => Uint8Array, RegExp]> = [
      ["record count 2^32−1", (b) => headerSet(b, abi.IMX_RECORD_COUNT_OFFSET, 0xffffffff, 4), refused("E_IMX_COUNTS")],
      ["record count 0", (b) => headerSet(b, abi.IMX_RECORD_COUNT_OFFSET, 0, 4), refused("E_IMX_COUNTS")],
      ["record count 100", (b) => headerSet(b, abi.IMX_RECORD_COUNT_OFFSET, 100, 4), refused("E_IMX_COUNTS")],
      [
        "record count leaving a middle sector part-empty",
        (b) => headerSet(b, abi.IMX_RECORD_COUNT_OFFSET, 6, 4),
        refused("E_IMX_COUNTS"),
      ],
      ["record type 9", (b) => headerSet(b, abi.IMX_RECORD_TYPE_OFFSET, 9, 1), refused("E_IMX_COUNTS")],
      ["data type 7", (b) => headerSet(b, abi.IMX_DATA_TYPE_OFFSET, 7, 1), refused("E_IMX_COUNTS")],
      ["EVT with a sample rate", (b) => headerSet(b, abi.IMX_SAMPLE_RATE_OFFSET, 5, 4), refused("E_IMX_COUNTS")],
      [
        "TSD without a sample rate",
        (b) => headerSet(b, abi.IMX_RECORD_TYPE_OFFSET, abi.RECORD_TYPE_TSD, 1),
        refused("E_IMX_COUNTS"),
      ],
      [
        "another data type than the stream's",
        (b) => headerSet(b, abi.IMX_DATA_TYPE_OFFSET, abi.DATA_TYPE_FLOAT32, 1),
        refused("E_STREAM_CONFIG_MISMATCH"),
      ],
      [
        "ACK position past the file's end",
        (b) => headerSet(b, abi.IMX_ACKED_SEQ_OFFSET, 1_000_000, 8),
        refused("E_IMX_COUNTS"),
      ],
      ["sector count 4096", (b) => headerSet(b, abi.IMX_SECTOR_COUNT_OFFSET, 4096, 4), refused("E_IMX_GEOMETRY")],
      ["sector count 0", (b) => headerSet(b, abi.IMX_SECTOR_COUNT_OFFSET, 0, 4), refused("E_IMX_GEOMETRY")],
      ["sector size 64", (b) => headerSet(b, abi.IMX_SECTOR_BYTES_OFFSET, 64, 2), refused("E_IMX_GEOMETRY")],
      ["payload bytes 0", (b) => headerSet(b, abi.IMX_PAYLOAD_BYTES_OFFSET, 0, 4), refused("E_IMX_SIZE")],
      ["wrong magic", (b) => headerSet(b, abi.IMX_MAGIC_OFFSET, 0x32584d49, 4), refused("E_IMX_MAGIC")],
      ["format version 2", (b) => headerSet(b, abi.IMX_VERSION_OFFSET, 2, 2), refused("E_IMX_VERSION")],
      ["header size 128", (b) => headerSet(b, abi.IMX_HEADER_BYTES_OFFSET, 128, 2), refused("E_IMX_VERSION")],
    ];
    for (const [label, mutate, reason] of cases) corruptCase(path, (b) => withCrc(mutate(b)), reason, label);
  });

  it("random bytes of random lengths under a real file's name", () => {
    const prng = new Prng(99);
    const ioBytes = abi.IMX_HEADER_BYTES + (board.disk?.sectorsPerFileMax ?? 0) * board.memory.sectorBytes;
    for (let i = 0; i < 60; i++) {
      const length = prng.below(2 * ioBytes);
      const bytes = new Uint8Array(length).map(() => prng.below(256));
      const reason =
        length > ioBytes ? /^file is \d+ bytes, larger than any file this board writes/ : /^refused: E_IMX_[A-Z]+$/;
      corruptCase(ref.a[1] as string, () => bytes, reason, `random ${length} bytes`);
    }
  });
});

describe("a file that does not belong where it is", () => {
  /** Adds a file to a copy of the reference storage, boots and drains; everything else must come back. */
  function strayCase(path: string, bytes: Uint8Array, reason: RegExp): void {
    const hal = ref.hal.clone();
    hal.mkdir(path.slice(0, path.lastIndexOf("/")));
    hal.writeFile(path, bytes);
    hal.syncFile(path);
    const booted = bootAndDrain(hal);
    expect(booted.quarantined.map((q) => [q.path, q.movedTo !== null])).toEqual([[path, true]]);
    expect(booted.quarantined[0]?.reason).toMatch(reason);
    expect(booted.seqs).toEqual({ A: expectedA(), B: expectedB() });
  }

  /** Adds a byte-identical copy of a file under `path`: it is removed, and every record comes back once. */
  function copyCase(path: string, of: string): void {
    const hal = ref.hal.clone();
    hal.mkdir(path.slice(0, path.lastIndexOf("/")));
    hal.writeFile(path, ref.hal.readFile(of));
    hal.syncFile(path);
    const booted = bootAndDrain(hal);
    expect(booted.quarantined, path).toEqual([]);
    expect(booted.device.recovery?.copiesRemoved, path).toBe(1);
    expect(booted.device.recovery?.filesMoved, path).toBe(0);
    expect(hal.exists(path), path).toBe(false);
    expect(booted.seqs, path).toEqual({ A: expectedA(), B: expectedB() });
  }

  it("a copy of stream A's file under stream B's name", () => {
    copyCase("history/0/0_8_00000000000000000100.imx", ref.a[1] as string);
  });

  it("a copy under the same stream but another first sequence number", () => {
    copyCase("history/0/0_7_00000000000000000050.imx", ref.a[1] as string);
  });

  it("a valid file that overlaps the records of an earlier one", () => {
    const bytes = withCrc(headerSet(ref.hal.readFile(ref.a[1] as string), abi.IMX_FIRST_SEQ_OFFSET, 10, 8));
    strayCase(imxPathFormat(0, 7, 10), bytes, refused("E_IMX_ORDER"));
  });

  it("a first sequence number past 2^53 (renamed to match)", () => {
    const seq = 2n ** 60n;
    const bytes = withCrc(headerSet(ref.hal.readFile(ref.a[2] as string), abi.IMX_FIRST_SEQ_OFFSET, seq, 8));
    strayCase(imxPathFormat(0, 7, seq), bytes, refused("E_IMX_COUNTS"));
  });

  it("a copy under a name that is not history/<bucket>/<source>_<sensor>_<seq>.imx", () => {
    copyCase("history/0/garbage.imx", ref.a[1] as string);
    copyCase("history/stray.imx", ref.a[1] as string);
  });

  it("a damaged file under a name that is not history/<bucket>/<source>_<sensor>_<seq>.imx", () => {
    const bytes = ref.hal.readFile(ref.a[1] as string).slice();
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    strayCase("history/0/garbage.imx", bytes, refused("E_IMX_CRC"));
    strayCase("history/stray.imx", new Uint8Array(10), refused("E_IMX_SIZE"));
  });

  it("a file larger than any file this board writes", () => {
    strayCase(
      "history/0/0_8_00000000000000000100.imx",
      new Uint8Array(4096),
      /^file is 4096 bytes, larger than any file/,
    );
  });
});

/**
 * The reference storage as the first release left it: the same `.imx` files, and instead of the ACK
 * log a positions file of the first format holding each stream's last word in the log.
 */
function legacyBuild(): MemoryHal {
  const hal = ref.hal.clone();
  const scan = ackLogScan(hal.readFile(ACK_LOG_PATH));
  const last = new Map<string, PositionRecord>();
  for (const r of scan.records) last.set(`${r.source}_${r.sensor}`, r);
  hal.remove(ACK_LOG_PATH);
  hal.writeFile(POSITIONS_PATH, positionsEncode([...last.values()]));
  hal.syncFile(POSITIONS_PATH);
  hal.syncDir("history");
  return hal;
}

describe("a corrupt positions file of the first format", () => {
  /** Damages the positions file; it is quarantined, and every unacknowledged record still comes back, in order. */
  function positionsCase(mutate: (bytes: Uint8Array) => Uint8Array, label: string): void {
    const hal = legacy.clone();
    const original = hal.readFile(POSITIONS_PATH);
    const damaged = mutate(original.slice());
    hal.writeFile(POSITIONS_PATH, damaged);
    hal.syncFile(POSITIONS_PATH);
    const booted = bootAndDrain(hal);
    if (damaged.length === original.length && damaged.every((b, i) => b === original[i])) {
      expect(booted.quarantined, label).toEqual([]);
      expect(booted.device.recovery?.positionsRecovered, label).toBe(true);
      expect(booted.seqs, label).toEqual({ A: expectedA(), B: expectedB() });
      return;
    }
    expect(
      booted.quarantined.map((q) => q.path),
      label,
    ).toEqual([POSITIONS_PATH]);
    expect(booted.quarantined[0]?.reason, label).toMatch(
      /^(refused: E_POSITIONS_CORRUPT|file is \d+ bytes, larger than any file.*)$/,
    );
    expect(booted.device.recovery?.positionsRecovered, label).toBe(false);
    // Without the positions file the ACK position is the files' own: records 0-2 of A, acknowledged
    // in the lost file, come back (at least once); nothing unacknowledged is lost.
    expect(booted.seqs.A, label).toEqual(range(0, A.count));
    expect(booted.seqs.B, label).toEqual(expectedB());
    // Nothing says where numbering stopped: it resumes above anything RAM could have held (SPEC.md 6.4).
    expect(booted.device.counts(A.source, A.sensor).nextSeq, label).toBe(A.count + ramMax("evt"));
  }

  let legacy: MemoryHal;
  beforeAll(() => {
    legacy = legacyBuild();
  });

  it("boots undamaged and is replaced by the ACK log", () => {
    const hal = legacy.clone();
    const booted = bootAndDrain(hal);
    expect(booted.quarantined).toEqual([]);
    expect(booted.seqs).toEqual({ A: expectedA(), B: expectedB() });
    expect(hal.exists(POSITIONS_PATH)).toBe(false);
    expect(ackLogScan(hal.readFile(ACK_LOG_PATH)).checkpoint).not.toBeNull();
  });

  it("every single bit flip in the header and in the first record", () => {
    const bytes = abi.POSITIONS_HEADER_BYTES + abi.POSITION_RECORD_BYTES;
    for (let offset = 0; offset < bytes; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        positionsCase((b) => {
          b[offset] = (b[offset] ?? 0) ^ (1 << bit);
          return b;
        }, `byte ${offset} bit ${bit}`);
      }
    }
  });

  it("truncation at every length, zero-filled tails and random bytes", () => {
    const size = legacy.readFile(POSITIONS_PATH).length;
    for (let length = 0; length < size; length++) positionsCase((b) => b.slice(0, length), `cut to ${length}`);
    for (let from = 0; from < size; from++) positionsCase((b) => b.fill(0, from), `zeros from ${from}`);
    const prng = new Prng(7);
    for (let i = 0; i < 20; i++) {
      const length = prng.below(400);
      positionsCase(() => new Uint8Array(length).map(() => prng.below(256)), `random ${length} bytes`);
    }
  });
});

/** What RAM could hold of one stream of `type`: every sector full of its records. */
const ramMax = (type: "evt" | "tsd"): number =>
  board.memory.sectorCount * recordsPerSector(type, board.memory.sectorBytes);

/** The first sequence number past a stream's data in the reference's `.imx` files. */
const fileEnd = { A: A.count, B: B.count };

interface LogEntry {
  source: number;
  sensor: number;
  ackedSeq: number;
  nextSeq: number;
  seqReserved: number;
}

/**
 * What a boot must make of a damaged ACK log, from which parts of the original survived byte for
 * byte (SPEC.md 6.5): each surviving entry (checkpoint streams, then records in file order) raises
 * its stream's ACK position and next number, and the last one gives its reservation and whether it
 * was closed. A damaged log (a changed whole record, or bytes after the last whole one) closes no
 * stream: numbering resumes above what RAM could have held, as after a power cut.
 */
function logExpected(
  entries: readonly LogEntry[],
  damaged: boolean,
): { A: { acked: number; next: number }; B: { acked: number; next: number } } {
  const of = (s: { source: number; sensor: number }, end: number, type: "evt" | "tsd") => {
    const mine = entries.filter((e) => e.source === s.source && e.sensor === s.sensor);
    const acked = Math.max(0, ...mine.map((e) => e.ackedSeq));
    const next = Math.max(end, ...mine.map((e) => e.nextSeq));
    const last = mine[mine.length - 1];
    if (last !== undefined && last.seqReserved === last.nextSeq && !damaged) return { acked, next };
    return { acked, next: Math.max(next, last?.seqReserved ?? 0, Math.max(end, acked) + ramMax(type)) };
  };
  return { A: of(A, fileEnd.A, "evt"), B: of(B, fileEnd.B, "tsd") };
}

/**
 * The reference storage with a checkpoint: a boot on it after a torn append (which marks the log
 * damaged) acknowledges one more record of A, so the log is compacted before that record is appended.
 */
function checkpointedBuild(): MemoryHal {
  const hal = ref.hal.clone();
  hal.appendFile(ACK_LOG_PATH, new Uint8Array(10).fill(0xa5));
  hal.syncFile(ACK_LOG_PATH);
  const device = Device.create({ board, hal });
  expect(device.readBulk(A.source, A.sensor, 1).map((r) => r.seq)).toEqual([A_ACKED]);
  device.ack(A.source, A.sensor, 1);
  const scan = ackLogScan(hal.readFile(ACK_LOG_PATH));
  expect(scan.checkpoint).toHaveLength(2);
  expect(scan.records).toHaveLength(1);
  expect(scan.records[0]?.ackedSeq).toBe(A_ACKED + 1);
  return hal;
}

describe("a damaged ACK log", () => {
  let checkpointed: MemoryHal;
  beforeAll(() => {
    checkpointed = checkpointedBuild();
  });

  /**
   * Damages the ACK log of `base` in place and boots. Every whole record that changed is dropped,
   * alone; bytes after the last whole record are ignored; a checkpoint that changed quarantines the
   * log (`quarantine`: what the case must give when the checkpoint changed). Nothing unacknowledged
   * is ever lost, and the next write replaces a damaged log with a checkpoint.
   */
  function logCase(
    base: MemoryHal,
    mutate: (bytes: Uint8Array) => Uint8Array,
    label: string,
    quarantine: (damaged: Uint8Array) => boolean = () => true,
  ): void {
    const hal = base.clone();
    const original = hal.readFile(ACK_LOG_PATH);
    const scan = ackLogScan(original);
    const damaged = mutate(original.slice());
    hal.writeFile(ACK_LOG_PATH, damaged);
    hal.syncFile(ACK_LOG_PATH);
    const booted = bootAndDrain(hal);
    const same = (from: number, to: number): boolean =>
      damaged.length >= to && original.subarray(from, to).every((b, i) => b === damaged[from + i]);
    const checkpointSame = same(0, scan.checkpointBytes);
    if (!checkpointSame && quarantine(damaged)) {
      expect(
        booted.quarantined.map((q) => q.path),
        label,
      ).toEqual([ACK_LOG_PATH]);
      expect(booted.quarantined[0]?.reason, label).toBe("refused: E_POSITIONS_CORRUPT");
      expect(hal.readFile(booted.quarantined[0]?.movedTo ?? ""), label).toEqual(damaged);
    } else {
      expect(booted.quarantined, label).toEqual([]);
    }
    const entries: LogEntry[] = [];
    let survived = 0;
    if (checkpointSame) {
      entries.push(...(scan.checkpoint ?? []));
      survived += scan.checkpoint?.length ?? 0;
    }
    scan.records.forEach((record, i) => {
      const at = scan.checkpointBytes + i * abi.ACK_RECORD_BYTES;
      if (checkpointSame && same(at, at + abi.ACK_RECORD_BYTES)) {
        entries.push(record);
        survived++;
      }
    });
    const recordBytes = damaged.length - scan.checkpointBytes;
    // An empty log is no log: nothing to replace.
    const cleanCut =
      damaged.length === 0 ||
      (checkpointSame &&
        recordBytes % abi.ACK_RECORD_BYTES === 0 &&
        survived === (scan.checkpoint?.length ?? 0) + recordBytes / abi.ACK_RECORD_BYTES);
    const expected = logExpected(checkpointSame ? entries : [], !cleanCut);
    if (checkpointSame) expect(booted.device.recovery?.ackRecordsRecovered, label).toBe(survived);
    expect(booted.seqs.A, label).toEqual(range(expected.A.acked, A.count));
    expect(booted.seqs.B, label).toEqual(range(expected.B.acked, B.count));
    expect(booted.device.counts(A.source, A.sensor).nextSeq, label).toBe(expected.A.next);
    expect(booted.device.counts(B.source, B.sensor).nextSeq, label).toBe(expected.B.next);
    // The drain's ACKs wrote: a damaged log was replaced by a checkpoint before anything was appended.
    const after = ackLogScan(hal.readFile(ACK_LOG_PATH));
    expect(after.invalid + after.tornBytes, label).toBe(0);
    if (!cleanCut && booted.quarantined.length === 0) expect(after.checkpoint, label).not.toBeNull();
  }

  it("undamaged, with and without a checkpoint, it gives every position", () => {
    logCase(ref.hal, (b) => b, "no checkpoint");
    logCase(checkpointed, (b) => b, "checkpoint");
    expect(bootAndDrain(checkpointed.clone()).seqs.A).toEqual(range(A_ACKED + 1, A.count));
  });

  it("every single bit flip of every record drops only that record", () => {
    for (const [name, base] of [
      ["no checkpoint", ref.hal],
      ["checkpoint", checkpointed],
    ] as const) {
      const scan = ackLogScan(base.readFile(ACK_LOG_PATH));
      const size = base.readFile(ACK_LOG_PATH).length;
      for (let offset = scan.checkpointBytes; offset < size; offset++) {
        for (let bit = 0; bit < 8; bit++) {
          logCase(
            base,
            (b) => {
              b[offset] = (b[offset] ?? 0) ^ (1 << bit);
              return b;
            },
            `${name}: byte ${offset} bit ${bit}`,
          );
        }
      }
    }
  });

  it("every single bit flip of the checkpoint quarantines the log", () => {
    const scan = ackLogScan(checkpointed.readFile(ACK_LOG_PATH));
    for (let offset = 0; offset < scan.checkpointBytes; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        logCase(
          checkpointed,
          (b) => {
            b[offset] = (b[offset] ?? 0) ^ (1 << bit);
            return b;
          },
          `checkpoint byte ${offset} bit ${bit}`,
        );
      }
    }
  });

  it("a torn tail at every length is ignored; a cut checkpoint quarantines the log", () => {
    for (const [name, base] of [
      ["no checkpoint", ref.hal],
      ["checkpoint", checkpointed],
    ] as const) {
      const size = base.readFile(ACK_LOG_PATH).length;
      // Fewer than 4 bytes cannot say they began a checkpoint: nothing is applied, nothing quarantined.
      for (let length = 0; length < size; length++) {
        logCase(
          base,
          (b) => b.slice(0, length),
          `${name}: cut to ${length}`,
          (d) => d.length >= 4,
        );
      }
    }
  });

  it("zero-filled tails and random bytes", () => {
    for (const [name, base] of [
      ["no checkpoint", ref.hal],
      ["checkpoint", checkpointed],
    ] as const) {
      const size = base.readFile(ACK_LOG_PATH).length;
      // Zeros from byte 4 on leave the checkpoint's magic; before it they erase both its marks.
      for (let from = 0; from < size; from++) {
        logCase(
          base,
          (b) => b.fill(0, from),
          `${name}: zeros from ${from}`,
          () => from >= 4,
        );
      }
    }
    const prng = new Prng(7);
    for (let i = 0; i < 20; i++) {
      const length = prng.below(400);
      logCase(ref.hal, () => new Uint8Array(length).map(() => prng.below(256)), `random ${length} bytes`);
    }
  });
});
