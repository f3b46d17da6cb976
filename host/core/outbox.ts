// The upload loop of a store-and-forward buffer, written once: an Outbox reads a device's streams
// in batches (readBulk), hands each batch to any async sender, and ACKs exactly that batch when the
// sender resolves or reverts it (NACK) when the sender rejects. What the device guarantees —
// every record delivered once per successful send, in order, across restarts — then holds through
// this API without the caller touching readBulk, ack or revert.
//
// Ordering. A stream's ACK erases its oldest pending records, so a stream has at most one batch in
// flight: a second one could only be ACKed after the first, and would be sent again if the first
// failed. `maxInFlight` bounds how many streams are in flight at once (1 by default: batches go
// one after another, oldest stream position first, streams taken in turn).
//
// Failure. When a sender rejects, its batch is reverted, no new batch starts, the signal given to
// the other senders in flight is aborted, and drain waits for them: each one that still resolves
// is ACKed (its records were delivered), each one that rejects is reverted. Then drain rejects with
// the first sender's error. Nothing is left pending after drain returns or rejects; records a
// previous upload left pending (a loop that threw before its ACK) are reverted when drain starts.
//
// The event loop. Every device call here is synchronous and short (one readBulk reads at most
// bulkCapacity records); between batches drain waits for the senders and then yields to the event
// loop (setImmediate), so a caller's processMemory timer keeps its tick while a drain runs, even
// with a sender that resolves at once.

import { UsageError } from "../base/user-error.js";
import type { Device, UploadRecord } from "./device.js";

/** A stream of the device, by its (source, sensor) pair. */
export interface OutboxStream {
  source: number;
  sensor: number;
}

/** One batch of one stream's records, oldest first; `records[i].seq` rises by one each. */
export interface OutboxBatch {
  source: number;
  sensor: number;
  records: UploadRecord[];
}

/** What a sender is given besides its batch. */
export interface OutboxSendContext {
  /** Aborted when drain stops early (another batch failed, or the caller's signal was aborted). */
  signal: AbortSignal;
}

/**
 * Sends one batch. Resolving means the receiver has the batch (it is ACKed: erased from the
 * device); rejecting means it may not have it (it is reverted: sent again by a later drain).
 */
export type OutboxSender = (batch: OutboxBatch, context: OutboxSendContext) => Promise<unknown>;

/** What an Outbox takes. */
export interface OutboxOptions {
  /** The streams to upload, in turn; every configured stream (device.streamList()) by default. */
  streams?: readonly OutboxStream[];
  /** Records per batch at most: 1 … device.bulkCapacity (the default). */
  packetRecords?: number;
  /** Batches in flight at once, at most one per stream: 1 … 64 (default 1). */
  maxInFlight?: number;
}

/** What outbox.drain takes. */
export interface DrainOptions {
  /** Stops the drain between batches: no new batch starts, those in flight settle, drain rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What outbox.drain resolves to. */
export interface DrainResult {
  /** Batches the sender resolved (each one ACKed). */
  batches: number;
  /** Records in those batches. */
  records: number;
}

export const OUTBOX_IN_FLIGHT_MAX = 64;

/** Devices with a drain running: two drains over one device would read each other's pending records. */
const draining = new WeakSet<Device>();

interface Sent {
  stream: OutboxStream;
  records: number;
}

/**
 * Sends a device's records through any async sender, ACKing each batch the sender resolves and
 * reverting each one it rejects (see {@link Outbox.drain}).
 *
 * @example
 * const outbox = new Outbox(device, { streams: [{ source: 0, sensor: 1001 }], packetRecords: 32 });
 * for (;;) {
 *   try {
 *     await outbox.drain((batch, { signal }) => fetch(url, { method: "POST", body: JSON.stringify(batch), signal })
 *       .then((response) => { if (!response.ok) throw new Error(`HTTP ${response.status}`); }));
 *   } catch (error) {
 *     console.warn(`upload failed, retrying in 10 s: ${error}`);
 *   }
 *   await new Promise((resolve) => setTimeout(resolve, 10_000));
 * }
 */
export class Outbox {
  readonly device: Device;
  readonly packetRecords: number;
  readonly maxInFlight: number;
  private readonly streams: readonly OutboxStream[] | null;

  /**
   * An outbox over `device`. Throws UsageError for a packetRecords outside 1 … device.bulkCapacity
   * or a maxInFlight outside 1 … 64, and CoreError (E_STREAM_UNKNOWN) for a stream the device has
   * not configured.
   *
   * @example
   * const outbox = new Outbox(device, { packetRecords: 32 });
   * await outbox.drain(async (batch) => { await post(batch); });
   */
  constructor(device: Device, options: OutboxOptions = {}) {
    this.device = device;
    const capacity = device.bulkCapacity;
    const packetRecords = options.packetRecords ?? capacity;
    if (!Number.isInteger(packetRecords) || packetRecords < 1 || packetRecords > capacity) {
      throw new UsageError(`outbox: packetRecords ${packetRecords} is not an integer in 1 … ${capacity}`);
    }
    const maxInFlight = options.maxInFlight ?? 1;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > OUTBOX_IN_FLIGHT_MAX) {
      throw new UsageError(`outbox: maxInFlight ${maxInFlight} is not an integer in 1 … ${OUTBOX_IN_FLIGHT_MAX}`);
    }
    this.packetRecords = packetRecords;
    this.maxInFlight = maxInFlight;
    this.streams =
      options.streams === undefined ? null : options.streams.map(({ source, sensor }) => ({ source, sensor }));
    for (const stream of this.streams ?? []) device.streamIndex(stream.source, stream.sensor);
  }

  /**
   * Sends every record the streams hold through `send`, batch by batch, and resolves once nothing
   * is left to read (records written to a stream after drain found it empty wait for the next
   * drain). Rejects with the sender's error once every batch in flight has settled (see the top of
   * this file), with `signal.reason` when the signal was aborted, with UsageError when another
   * drain of the same device is running, and with CoreError when the device fails. Nothing is left
   * pending either way.
   *
   * @example
   * const controller = new AbortController();
   * process.once("SIGTERM", () => controller.abort());
   * const { records } = await outbox.drain(send, { signal: controller.signal });
   */
  async drain(send: OutboxSender, options: DrainOptions = {}): Promise<DrainResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (draining.has(this.device)) throw new UsageError("outbox: a drain of this device is already running");
    draining.add(this.device);
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.drainStreams(send, stop);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      draining.delete(this.device);
    }
  }

  private async drainStreams(send: OutboxSender, stop: AbortController): Promise<DrainResult> {
    const device = this.device;
    const streams = this.streams ?? device.streamList().map(({ source, sensor }) => ({ source, sensor }));
    // Records left pending by an upload that never finished (an earlier loop that threw) are sent again.
    for (const { source, sensor } of streams) {
      if (device.counts(source, sensor).pending > 0) device.revert(source, sensor);
    }
    const result: DrainResult = { batches: 0, records: 0 };
    const inFlight = new Map<number, Promise<void>>();
    const empty = new Set<number>();
    // The first reason to stop: a sender's or the device's error, or the caller's abort (then the
    // senders' rejections that follow are its consequence, and drain rejects with its reason).
    const stopped: { failure: { error: unknown } | null } = { failure: null };
    const fail = (error: unknown): void => {
      stopped.failure ??= { error: stop.signal.aborted ? stop.signal.reason : error };
      stop.abort(error);
    };
    const settle = (index: number, sent: Sent, outcome: { ok: true } | { ok: false; error: unknown }): void => {
      inFlight.delete(index);
      const { source, sensor } = sent.stream;
      try {
        if (outcome.ok) {
          const pending = device.counts(source, sensor).pending;
          if (pending !== sent.records) {
            throw new UsageError(
              `outbox: stream ${source}/${sensor} holds ${pending} pending records, not the ${sent.records} sent: ` +
                `something else read from it during the drain`,
            );
          }
          device.ack(source, sensor, sent.records);
          result.batches++;
          result.records += sent.records;
        } else {
          device.revert(source, sensor);
          fail(outcome.error);
        }
      } catch (error) {
        device.revert(source, sensor);
        fail(error);
      }
    };

    let next = 0;
    // Each pass starts batches while there is room, then waits for one to settle. Every pass either
    // settles a batch or finds a stream empty, so the passes are bounded by the records and streams.
    for (;;) {
      while (stopped.failure === null && !stop.signal.aborted && inFlight.size < this.maxInFlight) {
        const index = this.nextStream(streams, next, inFlight, empty);
        if (index < 0) break;
        next = (index + 1) % streams.length;
        const stream = streams[index] as OutboxStream;
        let records: UploadRecord[];
        try {
          records = device.readBulk(stream.source, stream.sensor, this.packetRecords);
        } catch (error) {
          fail(error);
          break;
        }
        if (records.length === 0) {
          empty.add(index);
          continue;
        }
        const sent: Sent = { stream, records: records.length };
        const batch: OutboxBatch = { source: stream.source, sensor: stream.sensor, records };
        const context: OutboxSendContext = { signal: stop.signal };
        inFlight.set(
          index,
          Promise.resolve()
            .then(() => send(batch, context))
            .then(
              () => settle(index, sent, { ok: true }),
              (error: unknown) => settle(index, sent, { ok: false, error }),
            ),
        );
      }
      if (inFlight.size === 0) break;
      await Promise.race(inFlight.values());
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (stopped.failure !== null) throw stopped.failure.error;
    if (stop.signal.aborted) throw stop.signal.reason;
    return result;
  }

  /** The first stream at or after `from` (in turn) that is neither in flight nor found empty, or -1. */
  private nextStream(
    streams: readonly OutboxStream[],
    from: number,
    inFlight: ReadonlyMap<number, unknown>,
    empty: ReadonlySet<number>,
  ): number {
    for (let step = 0; step < streams.length; step++) {
      const index = (from + step) % streams.length;
      if (!inFlight.has(index) && !empty.has(index)) return index;
    }
    return -1;
  }
}
