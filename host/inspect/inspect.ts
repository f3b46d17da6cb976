// Reading a RAM dump (`run --ram-dump`, or device.snapshot()) as a firmware engineer reads a core
// dump: the config from the state block, the SAT (free list, each stream's chain, owners), each
// stream, the file table and the state machine, and the invariants checked on the way:
//   - the free list and every chain end at SECTOR_NULL within the sector count (no cycle, no
//     sector id out of range), and each chain's length is its stream's ramSectors;
//   - no sector is on two lists (free list and chains), and every sector on a list has that
//     list's owner;
//   - free + used = sectors: the free list's length is satFreeCount, and the sectors on chains, the
//     raw sectors and the free ones add up to sectorCount;
//   - every stream's file list ends within filesMax and its length is its diskFiles.
// Every walk is bounded by the table's size, so a damaged dump cannot make it loop.

import * as abi from "../core/abi.generated.js";
import type { Board } from "../boards.js";
import { coreModule } from "../core/wasm.js";
import { FILE, FILE_STATE_NAMES, OWNER_RAW, RamView, SAT, STATE, statePtrOf, STREAM } from "./ram-layout.js";

export interface InspectStream {
  index: number;
  source: number;
  sensor: number;
  type: string;
  dataType: string;
  sampleRateMs: number;
  nextSeq: number;
  ackedSeq: number;
  readSeq: number;
  pending: number;
  ramRecords: number;
  diskRecords: number;
  ramSectors: number;
  diskFiles: number;
  recordsDiscarded: number;
  /** The stream's RAM sectors, oldest first, as far as the chain could be followed. */
  sectors: number[];
}

export interface InspectFile {
  slot: number;
  stream: number;
  state: string;
  firstSeq: number;
  records: number;
  sizeBytes: number;
  failedDeletes: number;
}

export interface InspectReport {
  board: string;
  ramBytes: number;
  config: Record<string, number | string | boolean>;
  sat: { sectorCount: number; free: number; used: number; raw: number; freeListHead: number; freeList: number[] };
  streams: InspectStream[];
  files: InspectFile[];
  stateMachine: Record<string, number | string>;
  violations: string[];
}

const CLEANUP_NAMES = ["immediate", "batched", "lazy"];
const DISK_FULL_NAMES = ["evict-oldest", "refuse-new"];
const TYPE_NAMES: Record<number, string> = { [abi.RECORD_TYPE_TSD]: "tsd", [abi.RECORD_TYPE_EVT]: "evt" };
const DATA_TYPE_NAMES = ["uint32", "int32", "float32"];
/** Sector ids listed per free list in the report (the count is always given). */
const FREE_LIST_SHOWN = 64;

let statePtrCache: number | null = null;

/** Where this build of the core keeps its state block (instantiates the module once, boots nothing). */
export function coreStatePtr(): number {
  if (statePtrCache !== null) return statePtrCache;
  const module = coreModule("release");
  const memory = new WebAssembly.Memory({ initial: 1 });
  const hal: Record<string, () => number> = {};
  for (const entry of WebAssembly.Module.imports(module)) if (entry.kind === "function") hal[entry.name] = () => 0;
  const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => 0 }, hal });
  const configImagePtr = (instance.exports as { configImagePtr: () => number }).configImagePtr();
  statePtrCache = statePtrOf(configImagePtr);
  return statePtrCache;
}

/** Reads and checks a dump of `board`'s RAM. */
export function ramInspect(dump: Uint8Array, board: Board): InspectReport {
  const violations: string[] = [];
  const ram = new RamView(dump, coreStatePtr());
  if (dump.length !== board.memory.ramBytes)
    violations.push(`the dump has ${dump.length} bytes, ${board.name}'s RAM ${board.memory.ramBytes}`);
  const at = (offset: number): number => ram.state(offset);
  if (ram.u8(ram.statePtr + STATE.booted) !== 1) violations.push("the state block says the core never booted");
  if (at(STATE.ramBytes) !== board.memory.ramBytes)
    violations.push(`the state block says ${at(STATE.ramBytes)} RAM bytes, ${board.name} has ${board.memory.ramBytes}`);
  const sectorCount = at(STATE.sectorCount);
  const streamCount = Math.min(at(STATE.streamCount), at(STATE.streamsMax));
  const filesMax = at(STATE.filesMax);
  const satEnd = ram.satEntry(sectorCount);
  if (!ram.holds(at(STATE.satPtr), sectorCount * abi.SAT_ENTRY_BYTES) || satEnd > at(STATE.layoutEnd))
    violations.push(`the SAT (${sectorCount} entries at ${at(STATE.satPtr)}) does not lie inside the layout`);
  const config = {
    board: board.name,
    ramBytes: at(STATE.ramBytes),
    sectorBytes: at(STATE.sectorBytes),
    sectorCount,
    streamsMax: at(STATE.streamsMax),
    filesMax,
    sectorsPerFileMax: at(STATE.sectorsPerFileMax),
    diskTier: ram.u8(ram.statePtr + STATE.diskTier) === 1,
    diskQuotaBytes: ram.u64(ram.statePtr + STATE.diskQuotaBytes),
    spillThresholdPercent: at(STATE.spillThresholdPercent),
    spillTargetPercent: at(STATE.spillTargetPercent),
    diskThresholdPercent: at(STATE.diskThresholdPercent),
    cleanupPolicy: CLEANUP_NAMES[ram.i32(ram.statePtr + STATE.cleanupPolicy)] ?? "unknown",
    diskFullPolicy: DISK_FULL_NAMES[ram.u8(ram.statePtr + STATE.diskFullPolicy)] ?? "unknown",
    tickIntervalMs: at(STATE.tickIntervalMs),
    layoutEnd: at(STATE.layoutEnd),
  };

  // Which list each sector was found on: -1 none, -2 the free list, k stream k's chain.
  const ON_NONE = -1;
  const ON_FREE = -2;
  const listOf = new Int32Array(sectorCount).fill(ON_NONE);
  const listName = (list: number): string => (list === ON_FREE ? "the free list" : `stream ${list}'s chain`);
  const owner = (id: number): number => ram.u16(ram.satEntry(id) + SAT.owner);
  const next = (id: number): number => ram.u32(ram.satEntry(id) + SAT.next);

  /** Follows a list from `head`; every violation it meets is named. Returns the sectors, in order. */
  const walk = (head: number, list: number, ownerExpected: number): number[] => {
    const sectors: number[] = [];
    let id = head;
    while (id !== abi.SECTOR_NULL) {
      if (id >= sectorCount) {
        violations.push(`${listName(list)} leads to sector ${id}, beyond the ${sectorCount} sectors`);
        break;
      }
      const seen = listOf[id] ?? ON_NONE;
      if (seen === list) {
        violations.push(`${listName(list)} does not terminate: it comes back to sector ${id} (a cycle)`);
        break;
      }
      if (seen !== ON_NONE) {
        violations.push(`sector ${id} is owned twice: on ${listName(seen)} and on ${listName(list)}`);
        break;
      }
      listOf[id] = list;
      if (owner(id) !== ownerExpected)
        violations.push(`sector ${id} is on ${listName(list)} but its owner field says ${ownerText(owner(id))}`);
      sectors.push(id);
      if (sectors.length > sectorCount) break;
      id = next(id);
    }
    return sectors;
  };

  const freeList = walk(at(STATE.satFreeHead), ON_FREE, abi.STREAM_NULL);
  if (freeList.length !== at(STATE.satFreeCount))
    violations.push(`the free list holds ${freeList.length} sectors, satFreeCount says ${at(STATE.satFreeCount)}`);

  const streams: InspectStream[] = [];
  for (let k = 0; k < streamCount; k++) {
    const e = ram.streamEntry(k);
    const sectors = walk(ram.u32(e + STREAM.ramHead), k, k);
    const ramSectors = ram.u32(e + STREAM.ramSectors);
    if (sectors.length !== ramSectors)
      violations.push(`stream ${k}'s chain holds ${sectors.length} sectors, its ramSectors says ${ramSectors}`);
    const tail = ram.u32(e + STREAM.ramTail);
    const last = sectors[sectors.length - 1] ?? abi.SECTOR_NULL;
    if (sectors.length === ramSectors && tail !== last)
      violations.push(`stream ${k}'s ramTail is sector ${tail}, its chain ends at ${last}`);
    streams.push({
      index: k,
      source: ram.u32(e + STREAM.source),
      sensor: ram.u32(e + STREAM.sensor),
      type: TYPE_NAMES[ram.u8(e + STREAM.recordType)] ?? "unused",
      dataType: DATA_TYPE_NAMES[ram.u8(e + STREAM.dataType)] ?? "unknown",
      sampleRateMs: ram.u32(e + STREAM.sampleRateMs),
      nextSeq: ram.u64(e + STREAM.nextSeq),
      ackedSeq: ram.u64(e + STREAM.ackedSeq),
      readSeq: ram.u64(e + STREAM.readSeq),
      pending: ram.u64(e + STREAM.pendingCount),
      ramRecords: ram.u64(e + STREAM.ramRecords),
      diskRecords: ram.u64(e + STREAM.diskRecords),
      ramSectors,
      diskFiles: ram.u32(e + STREAM.diskFiles),
      recordsDiscarded: ram.u64(e + STREAM.recordsDiscarded),
      sectors,
    });
  }

  let raw = 0;
  let onChains = 0;
  for (let id = 0; id < sectorCount; id++) {
    const list = listOf[id] ?? ON_NONE;
    const o = owner(id);
    if (list >= 0) onChains++;
    if (list !== ON_NONE) continue;
    if (o === OWNER_RAW) raw++;
    else if (o === abi.STREAM_NULL) violations.push(`sector ${id} is marked free but is not on the free list (leaked)`);
    else violations.push(`sector ${id} says stream ${o} owns it but is on no list (leaked)`);
  }
  if (freeList.length + onChains + raw !== sectorCount)
    violations.push(`free + used ≠ sectors: ${freeList.length} free + ${onChains + raw} used of ${sectorCount}`);

  const files: InspectFile[] = [];
  if (config.diskTier) {
    let inUse = 0;
    for (let slot = 0; slot < filesMax; slot++) {
      const f = ram.fileEntry(slot);
      const state = ram.u8(f + FILE.state);
      if (state === 0) continue;
      inUse++;
      files.push({
        slot,
        stream: ram.u16(f + FILE.stream),
        state: FILE_STATE_NAMES[state] ?? `state ${state}`,
        firstSeq: ram.u64(f + FILE.firstSeq),
        records: ram.u32(f + FILE.records),
        sizeBytes: ram.u32(f + FILE.sizeBytes),
        failedDeletes: ram.u8(f + FILE.failedDeletes),
      });
    }
    if (inUse !== at(STATE.fileSlotsInUse))
      violations.push(`${inUse} file slots are taken, fileSlotsInUse says ${at(STATE.fileSlotsInUse)}`);
    for (const stream of streams) {
      let slot = ram.u32(ram.streamEntry(stream.index) + STREAM.diskHead);
      let length = 0;
      while (slot !== abi.FILE_SLOT_NULL && length <= filesMax) {
        if (slot >= filesMax) {
          violations.push(`stream ${stream.index}'s file list leads to slot ${slot}, beyond the ${filesMax} slots`);
          break;
        }
        length++;
        slot = ram.u32(ram.fileEntry(slot) + FILE.next);
      }
      if (length > filesMax) violations.push(`stream ${stream.index}'s file list does not terminate (a cycle)`);
      else if (length !== stream.diskFiles)
        violations.push(
          `stream ${stream.index}'s file list holds ${length} files, its diskFiles says ${stream.diskFiles}`,
        );
    }
  }

  return {
    board: board.name,
    ramBytes: dump.length,
    config,
    sat: {
      sectorCount,
      free: freeList.length,
      used: onChains + raw,
      raw,
      freeListHead: at(STATE.satFreeHead),
      freeList: freeList.slice(0, FREE_LIST_SHOWN),
    },
    streams,
    files,
    stateMachine: {
      state: abi.TIER_STATE_NAMES[ram.i32(ram.statePtr + STATE.tierState)] ?? "unknown",
      flushProgress: ram.i32(ram.statePtr + STATE.flushProgress),
      clockNowMs: ram.f64(ram.statePtr + STATE.clockNowMs),
      lastTickMs: ram.f64(ram.statePtr + STATE.lastTickMs),
      cleanupQueueLength: at(STATE.cleanupQueueLength),
      cleanupDeleting: at(STATE.cleanupDeletingCount),
    },
    violations,
  };
}

function ownerText(owner: number): string {
  if (owner === abi.STREAM_NULL) return "free";
  if (owner === OWNER_RAW) return "raw";
  return `stream ${owner}`;
}

/** The report as text, the way `inspect` prints it. */
export function inspectText(report: InspectReport): string {
  const lines: string[] = [];
  const c = report.config;
  lines.push(`RAM dump of ${report.board}: ${report.ramBytes} bytes`);
  lines.push(
    `config     ${c.sectorCount} sectors of ${c.sectorBytes} B, ${c.streamsMax} streams, ${c.filesMax} file slots; spill at ${c.spillThresholdPercent}% to ${c.spillTargetPercent}%; cleanup ${c.cleanupPolicy}; disk full: ${c.diskFullPolicy}; layout ends at byte ${c.layoutEnd}`,
  );
  const s = report.sat;
  lines.push(
    `SAT        ${s.free} free + ${s.used} used (${s.raw} raw) of ${s.sectorCount}; free list from sector ${s.freeListHead}`,
  );
  for (const st of report.streams) {
    lines.push(
      `stream ${st.index}   ${st.source}/${st.sensor} ${st.type} ${st.dataType}: next seq ${st.nextSeq}, acked ${st.ackedSeq}, read ${st.readSeq}, ${st.pending} pending; RAM ${st.ramRecords} records in ${st.ramSectors} sectors${st.sectors.length > 0 ? ` (${st.sectors.slice(0, 8).join(" → ")}${st.sectors.length > 8 ? " → …" : ""})` : ""}; disk ${st.diskRecords} records in ${st.diskFiles} files`,
    );
  }
  const byState = new Map<string, number>();
  for (const f of report.files) byState.set(f.state, (byState.get(f.state) ?? 0) + 1);
  lines.push(
    `files      ${report.files.length} slots taken${[...byState].map(([state, n]) => `, ${n} ${state}`).join("")}`,
  );
  const m = report.stateMachine;
  lines.push(
    `machine    ${m.state}, flush progress ${m.flushProgress}, clock ${Number.isFinite(m.clockNowMs) ? new Date(Number(m.clockNowMs)).toISOString() : String(m.clockNowMs)}, cleanup queue ${m.cleanupQueueLength} (${m.cleanupDeleting} deleting)`,
  );
  if (report.violations.length === 0)
    lines.push("invariants hold: every chain terminates, free + used = sectors, no sector owned twice");
  else for (const v of report.violations) lines.push(`VIOLATION  ${v}`);
  return lines.join("\n") + "\n";
}
