// Reading device RAM from the outside, as a debugger reads a core dump: the core state block, the
// SAT, the stream table and the file table at the addresses the state block holds (SPEC.md,
// "Device RAM"). Nothing here calls the core: the live dashboard reads a running device's memory
// with it, `inspect` a dump whose state may be damaged, so every read is bounds-checked and a
// pointer that leaves the RAM reads as absent rather than throwing.
//
// The state block sits at align8(__heap_base), a fixed address of the module; the config image
// follows it and the CRC table, so statePtr = configImagePtr() − CRC_TABLE_BYTES − CORE_STATE_BYTES.

import * as abi from "../core/abi.generated.js";

/** Offsets in the core state block (SPEC.md section 3.8; drawn in assembly/state.ts). */
export const STATE = {
  diskQuotaBytes: 0,
  ramBytes: 8,
  sectorBytes: 12,
  sectorCount: 16,
  streamsMax: 20,
  filesMax: 24,
  sectorsPerFileMax: 28,
  spillThresholdPercent: 32,
  spillTargetPercent: 36,
  diskThresholdPercent: 40,
  cleanupPolicy: 44,
  tickIntervalMs: 48,
  tsdPerSector: 72,
  evtPerSector: 76,
  statsPtr: 80,
  queryPtr: 84,
  satPtr: 88,
  streamsPtr: 92,
  filesPtr: 96,
  poolPtr: 100,
  layoutEnd: 124,
  clockNowMs: 128,
  lastTickMs: 136,
  tierState: 144,
  flushProgress: 156,
  streamCount: 168,
  satFreeHead: 172,
  satFreeCount: 176,
  fileFreeHead: 184,
  fileSlotsInUse: 188,
  cleanupQueueHead: 200,
  cleanupQueueTail: 204,
  cleanupQueueLength: 208,
  cleanupDeletingCount: 212,
  booted: 216,
  diskTier: 217,
  diskFullPolicy: 221,
} as const;

/** Offsets in a SAT entry (section 3.2). */
export const SAT = { next: 0, owner: 4, count: 6, firstSeq: 8 } as const;
/** Offsets in a stream table entry (section 3.3). */
export const STREAM = {
  source: 0,
  sensor: 4,
  recordType: 8,
  dataType: 9,
  sampleRateMs: 12,
  nextSeq: 16,
  ackedSeq: 24,
  readSeq: 32,
  pendingCount: 40,
  ramHead: 48,
  ramTail: 52,
  ramSectors: 56,
  diskHead: 60,
  diskTail: 64,
  diskFiles: 68,
  ramRecords: 72,
  diskRecords: 80,
  recordsDiscarded: 104,
} as const;
/** Offsets in a file table entry (section 3.4). */
export const FILE = {
  firstSeq: 0,
  records: 8,
  stream: 12,
  state: 14,
  failedDeletes: 15,
  sectors: 16,
  sizeBytes: 20,
  next: 24,
  generation: 28,
  timeMs: 32,
} as const;

/** The owner of a sector taken through the raw sector API. */
export const OWNER_RAW = abi.STREAM_NULL - 1;
export const FILE_STATE_NAMES = ["free", "live", "awaiting-delete", "deleting"] as const;

/** Where the state block sits, from the module's configImagePtr(). */
export function statePtrOf(configImagePtr: number): number {
  return configImagePtr - abi.CRC_TABLE_BYTES - abi.CORE_STATE_BYTES;
}

/** A bounds-checked little-endian view of device RAM. */
export class RamView {
  private readonly view: DataView;
  readonly bytes: number;

  constructor(
    ram: Uint8Array,
    readonly statePtr: number,
  ) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    this.bytes = ram.byteLength;
  }

  /** Whether `size` bytes at `address` lie inside the RAM. */
  holds(address: number, size: number): boolean {
    return Number.isInteger(address) && address >= 0 && address + size <= this.bytes;
  }

  u8(address: number): number {
    return this.holds(address, 1) ? this.view.getUint8(address) : 0;
  }
  u16(address: number): number {
    return this.holds(address, 2) ? this.view.getUint16(address, true) : 0;
  }
  u32(address: number): number {
    return this.holds(address, 4) ? this.view.getUint32(address, true) : 0;
  }
  i32(address: number): number {
    return this.holds(address, 4) ? this.view.getInt32(address, true) : 0;
  }
  /** A u64 as a number (exact below 2^53, which every count and sequence number of the core is). */
  u64(address: number): number {
    return this.holds(address, 8)
      ? this.view.getUint32(address, true) + this.view.getUint32(address + 4, true) * 2 ** 32
      : 0;
  }
  f64(address: number): number {
    return this.holds(address, 8) ? this.view.getFloat64(address, true) : NaN;
  }

  /** A u32 field of the state block. */
  state(offset: number): number {
    return this.u32(this.statePtr + offset);
  }

  satEntry(sector: number): number {
    return this.state(STATE.satPtr) + sector * abi.SAT_ENTRY_BYTES;
  }
  streamEntry(index: number): number {
    return this.state(STATE.streamsPtr) + index * abi.STREAM_ENTRY_BYTES;
  }
  fileEntry(slot: number): number {
    return this.state(STATE.filesPtr) + slot * abi.FILE_ENTRY_BYTES;
  }
}
