// A ledger per stream: every record the suite writes, kept so that whatever the device hands back
// can be compared with it exactly — sequence number, time, and the 32-bit value (a float32 value
// is compared with its float32 rounding, with Object.is, so no tolerance and no off-by-one hides).
// Values and times live in typed arrays that grow by doubling and are reused after reset(), so the
// per-iteration cycle allocates nothing once warm.

import type { BulkRecords, DataType, Device, RecordType, UploadRecord } from "../core/device.js";

export interface StreamSpec {
  name: string;
  source: number;
  sensor: number;
  type: RecordType;
  dataType: DataType;
  /** TSD only: the sample period in ms; 0 for EVT. */
  sampleRateMs: number;
}

/** UTC of the first sample of every test stream (2025-01-10, the seed document's date). */
export const SUITE_UTC_BASE_MS = Date.UTC(2025, 0, 10);
/** EVT records of a ledger are spaced this far apart (times need not be periodic; they must be exact). */
const EVT_SPACING_MS = 7;

export interface VerifyOutcome {
  /** Records that matched. */
  matched: number;
  /** Records that did not (wrong value, time, order or tier, or never written). */
  mismatches: number;
  /** Written records that were skipped over (a gap in sequence numbers: discarded). */
  missing: number;
  /** The first mismatch, as text, or "". */
  first: string;
}

export class Ledger {
  index: number;
  /** Sequence number of the first record this ledger wrote since the last reset. */
  startSeq = 0;
  private values = new Float64Array(256);
  private times = new Float64Array(256);
  /** Records written since the last reset. */
  written = 0;
  /** Records read back (matched or not) since the last reset. */
  readBack = 0;
  /** Records read back that matched exactly, and written records skipped over, since the last reset. */
  matched = 0;
  missing = 0;

  constructor(
    public device: Device,
    readonly spec: StreamSpec,
  ) {
    this.index = this.configure();
    this.reset();
  }

  private configure(): number {
    const { spec } = this;
    return this.device.configureStream(spec.source, spec.sensor, {
      type: spec.type,
      dataType: spec.dataType,
      sampleRateMs: spec.sampleRateMs,
    });
  }

  /** Moves the ledger to `device` (booted on the same storage after a power-off), keeping what it knows. */
  rebind(device: Device): void {
    this.device = device;
    this.index = this.configure();
  }

  /** After a revert (NACK): what is not acknowledged will be read again. */
  rewind(): void {
    const acked = this.device.counts(this.spec.source, this.spec.sensor).ackedSeq;
    this.readBack = Math.max(0, Math.min(this.written, acked - this.startSeq));
  }

  /** Starts over at the stream's next sequence number (the stream must hold no live records). */
  reset(): void {
    this.startSeq = this.device.counts(this.spec.source, this.spec.sensor).nextSeq;
    this.written = 0;
    this.readBack = 0;
    this.matched = 0;
    this.missing = 0;
  }

  /** The time the record with sequence number `seq` is written with. */
  timeOf(seq: number): number {
    return this.spec.type === "tsd"
      ? SUITE_UTC_BASE_MS + seq * this.spec.sampleRateMs
      : SUITE_UTC_BASE_MS + seq * EVT_SPACING_MS;
  }

  /** The value the device stores for `value` under the stream's data type. */
  stored(value: number): number {
    return this.spec.dataType === "float32" ? Math.fround(value) : value;
  }

  /** Writes one record (throws the device's CoreError if refused; then nothing is recorded). */
  write(value: number): void {
    const seq = this.startSeq + this.written;
    const utcMs = this.timeOf(seq);
    if (this.spec.type === "tsd") this.device.writeTsd(this.spec.source, this.spec.sensor, value, utcMs);
    else this.device.writeEvt(this.spec.source, this.spec.sensor, value, utcMs);
    this.push(this.stored(value), utcMs);
  }

  /**
   * Writes `values` as the stream's next records in one batched write (writeTsdMany/writeEvtMany),
   * timed as write() times them. Throws the device's CoreError if one is refused; the records before
   * it were written and are recorded.
   */
  writeMany(values: Float64Array | Uint32Array | Int32Array): void {
    const { spec, device } = this;
    const first = this.startSeq + this.written;
    const count = values.length;
    let times: Float64Array | null = null;
    try {
      if (spec.type === "tsd") device.writeTsdMany(spec.source, spec.sensor, values, this.timeOf(first));
      else {
        times = this.scratchTimes(count);
        for (let i = 0; i < count; i++) times[i] = this.timeOf(first + i);
        device.writeEvtMany(spec.source, spec.sensor, values, times);
      }
    } finally {
      // What the device took: every record up to its next sequence number.
      const taken = Math.min(count, device.counts(spec.source, spec.sensor).nextSeq - first);
      for (let i = 0; i < taken; i++) this.push(this.stored(values[i] ?? NaN), this.timeOf(first + i));
    }
  }

  private timesScratch = new Float64Array(0);

  private scratchTimes(count: number): Float64Array {
    if (this.timesScratch.length < count) this.timesScratch = new Float64Array(count);
    return this.timesScratch.subarray(0, count);
  }

  /** Records a write the caller made itself. */
  push(storedValue: number, utcMs: number): void {
    if (this.written === this.values.length) {
      const values = new Float64Array(this.values.length * 2);
      values.set(this.values);
      this.values = values;
      const times = new Float64Array(this.times.length * 2);
      times.set(this.times);
      this.times = times;
    }
    this.values[this.written] = storedValue;
    this.times[this.written] = utcMs;
    this.written++;
  }

  valueAt(i: number): number {
    return this.values[i] ?? NaN;
  }

  /** Records written but not yet read back. */
  get unread(): number {
    return this.written - this.readBack;
  }

  /**
   * Compares records read from the device, in order, with what was written next. `tierOf(i)`, when
   * given, is the tier record i (0-based since reset) must come from. A sequence gap (records
   * discarded) counts the skipped records as missing and resynchronises.
   */
  verify(records: readonly UploadRecord[], outcome: VerifyOutcome, tierOf?: (i: number) => "ram" | "disk"): void {
    for (const record of records) this.verifyOne(record.seq, record.utcMs, record.value, record.tier, outcome, tierOf);
  }

  /** verify() of the first `count` records of a readBulkInto. */
  verifyBulk(
    records: BulkRecords,
    count: number,
    outcome: VerifyOutcome,
    tierOf?: (i: number) => "ram" | "disk",
  ): void {
    const { seq, utcMs, value, disk } = records;
    for (let k = 0; k < count; k++) {
      this.verifyOne(seq[k] ?? NaN, utcMs[k] ?? NaN, value[k] ?? NaN, disk[k] === 1 ? "disk" : "ram", outcome, tierOf);
    }
  }

  private verifyOne(
    seq: number,
    utcMs: number,
    got: number,
    gotTier: "ram" | "disk",
    outcome: VerifyOutcome,
    tierOf: ((i: number) => "ram" | "disk") | undefined,
  ): void {
    let i = this.readBack;
    const expectedSeq = this.startSeq + i;
    if (seq !== expectedSeq) {
      const at = seq - this.startSeq;
      if (at > i && at < this.written) {
        outcome.missing += at - i;
        this.missing += at - i;
        if (outcome.first === "")
          outcome.first = `${this.describe()}: records ${expectedSeq}…${seq - 1} never came back (discarded?)`;
        i = at;
      } else {
        outcome.mismatches++;
        if (outcome.first === "") outcome.first = `${this.describe()}: expected seq ${expectedSeq}, got seq ${seq}`;
        this.readBack = i + 1;
        return;
      }
    }
    const value = this.values[i];
    const time = this.times[i];
    const tier = tierOf?.(i);
    if (!Object.is(got, value) || utcMs !== time || (tier !== undefined && gotTier !== tier)) {
      outcome.mismatches++;
      if (outcome.first === "") {
        outcome.first =
          `${this.describe()} seq ${seq}: expected value ${value} at ${time}${tier ? ` from ${tier}` : ""}, ` +
          `got ${got} at ${utcMs} from ${gotTier}`;
      }
    } else {
      outcome.matched++;
      this.matched++;
    }
    this.readBack = i + 1;
  }

  describe(): string {
    return `${this.spec.name} (${this.spec.source}/${this.spec.sensor})`;
  }
}

export function outcomeNew(): VerifyOutcome {
  return { matched: 0, mismatches: 0, missing: 0, first: "" };
}

let bulkScratch: BulkRecords | null = null;

/** Typed arrays for bulk reads of `capacity` records, reused from one upload to the next. */
function bulkRecordsFor(capacity: number): BulkRecords {
  if (bulkScratch === null || bulkScratch.seq.length < capacity) {
    bulkScratch = {
      seq: new Float64Array(capacity),
      utcMs: new Float64Array(capacity),
      value: new Float64Array(capacity),
      disk: new Uint8Array(capacity),
    };
  }
  return bulkScratch;
}

/**
 * The upload: reads every stream in bulk until nothing is new, verifies each batch against its
 * ledger and acknowledges it. Returns the records read. Bounded: stops after `readsMax` reads.
 */
export function ledgersUpload(
  ledgers: readonly Ledger[],
  outcome: VerifyOutcome,
  tierOf?: (ledger: Ledger, i: number) => "ram" | "disk",
  readsMax = 1_000_000,
): number {
  let total = 0;
  let reads = 0;
  for (const ledger of ledgers) {
    const { device, spec } = ledger;
    const capacity = device.bulkCapacity;
    const batch = bulkRecordsFor(capacity);
    const tier = tierOf ? (i: number) => tierOf(ledger, i) : undefined;
    while (reads < readsMax) {
      reads++;
      const count = device.readBulkInto(spec.source, spec.sensor, capacity, batch);
      if (count === 0) break;
      ledger.verifyBulk(batch, count, outcome, tier);
      device.ack(spec.source, spec.sensor, count);
      total += count;
    }
  }
  return total;
}

/** Live records in every ledger's stream. */
export function ledgersLive(ledgers: readonly Ledger[]): number {
  let total = 0;
  for (const ledger of ledgers) total += ledger.device.counts(ledger.spec.source, ledger.spec.sensor).total;
  return total;
}
