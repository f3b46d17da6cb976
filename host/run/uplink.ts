// The device's uploader, after imatrix_upload() (reference section 1.4): every cycle it reads each
// stream in bulk, up to a packet's worth of records (they become pending), "sends" the packets,
// and when the cloud's answer arrives, after the simulated latency, acknowledges what was accepted
// and reverts (NACK) what was not. A packet whose answer is lost (--ack-loss), or that was in the
// air when the uplink went down (--outage), is reverted when the 30 s response timeout expires.
// While the uplink is down no cycle starts. After a cycle that found a full packet the next one
// starts at once (a backlog drains packet by packet); otherwise after the upload interval.
//
// The cloud is the upload log: an accepted packet's records are appended and fsynced BEFORE ack()
// is called. A record the log already holds (delivered again because the previous run died
// between the log's fsync and the ACK being made durable, or because an ACK was refused) is not
// appended again; it is acknowledged and counted as redelivered.
//
// Sequence numbers in the log are the cloud's: the device's sequence number plus an offset that is
// 0 unless the device, after losing its RAM to a kill, numbered records again from a sequence
// number the cloud had already seen (SPEC.md 6.4: the positions file is written only by an ACK
// that erases disk records and by a completed flush). device-run.ts picks the offsets so that each
// stream's seqs in the log only grow.

import * as abi from "../core/abi.generated.js";
import type { Device, UploadRecord } from "../core/device.js";
import { CoreError } from "../core/errors.js";
import type { Prng } from "../base/prng.js";
import type { OutageSchedule } from "./outage-schedule.js";
import type { SensorStream } from "./sensors.js";
import { uploadLogLine, type UploadLogWriter } from "./upload-log.js";

/** IMX_UPLOAD_REQUEST_TIMEOUT on the device. */
export const UPLOAD_TIMEOUT_MS_DEFAULT = 30_000;
const PPM = 1_000_000;

export interface UplinkSettings {
  /** Records per stream per packet (default: the board's bulk-read capacity). */
  packetRecords: number;
  /** Time between upload cycles when there is no backlog. */
  everyMs: number;
  latencyMinMs: number;
  latencyMaxMs: number;
  timeoutMs: number;
  /** Chance that a packet's answer is lost, in parts per million. */
  ackLossPpm: number;
}

/** One stream as the uploader sees it: its device identity and the cloud's view of it. */
export interface RunStream {
  index: number;
  key: string;
  source: number;
  sensor: number;
  sensorStream: SensorStream;
  /** [fromDeviceSeq, offset] pairs, latest last: cloud seq = device seq + offset of the latest pair with from ≤ it. */
  seqOffsets: Array<[number, number]>;
  /** The last cloud seq the upload log holds for this stream, -1 for none. */
  logLastSeq: number;
  logTail: Map<number, { utcMs: number; value: number }>;
  storedAtStart: number;
  acked: number;
  appended: number;
  redelivered: number;
}

export function cloudSeq(stream: RunStream, deviceSeq: number): number {
  const offsets = stream.seqOffsets;
  for (let i = offsets.length - 1; i >= 0; i--) {
    const entry = offsets[i];
    if (entry !== undefined && entry[0] <= deviceSeq) return deviceSeq + entry[1];
  }
  return deviceSeq;
}

interface Packet {
  stream: RunStream;
  records: UploadRecord[];
  lost: boolean;
}

export interface UplinkCounters {
  cycles: number;
  cyclesSkippedLinkDown: number;
  packetsSent: number;
  packetsAcked: number;
  packetsLost: number;
  packetsOutage: number;
  /** Packets whose answer would have come after the response timeout. */
  packetsTimedOut: number;
  recordsSent: number;
  recordsAcked: number;
  recordsAppended: number;
  recordsRedelivered: number;
  recordsReverted: number;
  /** A redelivered record that differs from what the log holds at its seq: a bug if ever non-zero. */
  redeliveryMismatches: number;
  /** Redelivered records older than the tail of the log read at start (not compared). */
  redeliveryUnchecked: number;
  /** ACKs the core refused (E_ACK_PERSIST); the packet was reverted and goes again. */
  ackPersistFailures: number;
  /** Appends to the upload log that failed; the packets were reverted. */
  logFailures: number;
}

export class Uploader {
  private phase: "idle" | "waiting" = "idle";
  private nextCycleMs: number;
  private responseAtMs = 0;
  private timeoutAtMs = 0;
  private packets: Packet[] = [];
  private answered = false;
  private cycleStartMs = 0;
  lastLogError: string | null = null;
  readonly counters: UplinkCounters = {
    cycles: 0,
    cyclesSkippedLinkDown: 0,
    packetsSent: 0,
    packetsAcked: 0,
    packetsLost: 0,
    packetsOutage: 0,
    packetsTimedOut: 0,
    recordsSent: 0,
    recordsAcked: 0,
    recordsAppended: 0,
    recordsRedelivered: 0,
    recordsReverted: 0,
    redeliveryMismatches: 0,
    redeliveryUnchecked: 0,
    ackPersistFailures: 0,
    logFailures: 0,
  };

  constructor(
    private readonly device: Device,
    private readonly streams: readonly RunStream[],
    private readonly settings: UplinkSettings,
    private readonly schedule: OutageSchedule,
    private readonly prng: Prng,
    private readonly log: UploadLogWriter | null,
    startMs: number,
  ) {
    this.nextCycleMs = startMs;
  }

  /** Records read and not yet acknowledged or reverted. */
  get inflightRecords(): number {
    let n = 0;
    for (const packet of this.packets) n += packet.records.length;
    return n;
  }

  step(nowMs: number): void {
    if (this.phase === "waiting") {
      if (!this.answered && nowMs >= this.responseAtMs) this.answer(nowMs);
      if (this.answered && nowMs >= this.timeoutAtMs) this.expire(nowMs);
      if (this.phase === "waiting") return;
    }
    if (nowMs < this.nextCycleMs) return;
    if (!this.schedule.isUp(nowMs)) {
      this.counters.cyclesSkippedLinkDown++;
      this.nextCycleMs = nowMs + this.settings.everyMs;
      return;
    }
    this.send(nowMs);
  }

  private send(nowMs: number): void {
    const { packetRecords } = this.settings;
    this.counters.cycles++;
    for (const stream of this.streams) {
      const records = this.device.readBulk(stream.source, stream.sensor, packetRecords);
      if (records.length === 0) continue;
      const lost = this.prng.chance(this.settings.ackLossPpm, PPM);
      this.packets.push({ stream, records, lost });
      this.counters.packetsSent++;
      this.counters.recordsSent += records.length;
    }
    if (this.packets.length === 0) {
      this.nextCycleMs = nowMs + this.settings.everyMs;
      return;
    }
    const latencyMs = this.prng.between(this.settings.latencyMinMs, this.settings.latencyMaxMs);
    this.phase = "waiting";
    this.answered = false;
    this.responseAtMs = nowMs + latencyMs;
    this.timeoutAtMs = nowMs + this.settings.timeoutMs;
    // An answer slower than the timeout never counts: the packets time out.
    if (latencyMs >= this.settings.timeoutMs) {
      this.answered = true;
      for (const packet of this.packets) packet.lost = true;
      this.counters.packetsTimedOut += this.packets.length;
    }
    this.cycleStartMs = nowMs;
  }

  /** The cloud's answer: the accepted packets go to the log, then are acknowledged. */
  private answer(nowMs: number): void {
    this.answered = true;
    const linkUp = this.schedule.isUp(nowMs);
    const accepted: Packet[] = [];
    for (const packet of this.packets) {
      if (!linkUp) {
        packet.lost = true;
        this.counters.packetsOutage++;
      } else if (packet.lost) {
        this.counters.packetsLost++;
      } else {
        accepted.push(packet);
      }
    }
    const logged = this.logAppend(accepted);
    let full = false;
    for (const packet of accepted) {
      const { stream, records } = packet;
      if (!logged) {
        this.revert(packet);
        continue;
      }
      try {
        this.device.ack(stream.source, stream.sensor, records.length);
      } catch (error) {
        if (!(error instanceof CoreError) || error.code !== abi.E_ACK_PERSIST) throw error;
        // The log has the records; the device did not erase them. They go again and are recognised.
        this.counters.ackPersistFailures++;
        this.revert(packet);
        continue;
      }
      stream.acked += records.length;
      this.counters.packetsAcked++;
      this.counters.recordsAcked += records.length;
      if (records.length >= this.settings.packetRecords) full = true;
    }
    this.packets = this.packets.filter((packet) => packet.lost);
    if (this.packets.length === 0) this.cycleEnd(nowMs, full && logged);
  }

  /** The response timeout: lost packets are reverted. */
  private expire(nowMs: number): void {
    for (const packet of this.packets) this.revert(packet);
    this.packets = [];
    this.cycleEnd(nowMs, false);
  }

  private cycleEnd(nowMs: number, backlog: boolean): void {
    this.phase = "idle";
    this.nextCycleMs = backlog ? nowMs : Math.max(nowMs, this.cycleStartMs + this.settings.everyMs);
  }

  private revert(packet: Packet): void {
    this.device.revert(packet.stream.source, packet.stream.sensor);
    this.counters.recordsReverted += packet.records.length;
  }

  /** Appends the records the log does not hold yet; false if the log could not be written. */
  private logAppend(accepted: readonly Packet[]): boolean {
    let text = "";
    const tally = new Map<
      RunStream,
      { last: number; appended: number; redelivered: number; mismatches: number; unchecked: number }
    >();
    for (const { stream, records } of accepted) {
      let t = tally.get(stream);
      if (t === undefined) {
        t = { last: stream.logLastSeq, appended: 0, redelivered: 0, mismatches: 0, unchecked: 0 };
        tally.set(stream, t);
      }
      for (const record of records) {
        const seq = cloudSeq(stream, record.seq);
        if (seq <= t.last) {
          // Already in the log: acknowledged again, not appended again.
          t.redelivered++;
          const logged = stream.logTail.get(seq);
          if (logged === undefined) t.unchecked++;
          else if (logged.utcMs !== record.utcMs || !Object.is(logged.value, record.value)) t.mismatches++;
          continue;
        }
        if (this.log !== null)
          text += uploadLogLine({
            source: stream.source,
            sensor: stream.sensor,
            seq,
            utcMs: record.utcMs,
            value: record.value,
          });
        t.last = seq;
        t.appended++;
      }
    }
    let appended = 0;
    for (const t of tally.values()) appended += t.appended;
    if (this.log !== null && text !== "") {
      try {
        this.log.append(text, appended);
      } catch (error) {
        this.counters.logFailures++;
        this.lastLogError = (error as Error).message;
        return false;
      }
    }
    const c = this.counters;
    for (const [stream, t] of tally) {
      stream.logLastSeq = t.last;
      stream.appended += t.appended;
      stream.redelivered += t.redelivered;
      c.recordsAppended += t.appended;
      c.recordsRedelivered += t.redelivered;
      c.redeliveryMismatches += t.mismatches;
      c.redeliveryUnchecked += t.unchecked;
    }
    return true;
  }

  /** Reverts every packet in the air (a stop): its records stay on the device and go next run. */
  abandon(): number {
    let n = 0;
    for (const packet of this.packets) {
      this.revert(packet);
      n += packet.records.length;
    }
    this.packets = [];
    this.phase = "idle";
    return n;
  }
}
