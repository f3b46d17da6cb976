// The random workload of a run, drawn from its seed: the streams, then one action per step, weighted
// like a device's main loop with an unreliable uplink (and, as the fault profile allows, power cuts
// and a full disk).

import { type Board, CLEANUP_POLICIES, type CleanupPolicy } from "../boards.js";
import type { Prng } from "../base/prng.js";
import type { RecordType } from "../core/device.js";
import { imxFileBytes } from "../format/imx.js";
import type { StreamModel } from "./model.js";
import type { FaultProfile, SimAction, SimStreamSpec } from "./options.js";

/** Streams drawn from a seed: 1 to 4 (at most streamsMax), TSD or EVT, every data type. */
export function streamsDraw(prng: Prng, streamsMax: number): SimStreamSpec[] {
  const count = Math.min(streamsMax, prng.between(1, 4));
  const specs: SimStreamSpec[] = [];
  for (let i = 0; i < count; i++) {
    const type: RecordType = prng.chance(1, 2) ? "evt" : "tsd";
    specs.push({
      source: prng.below(3),
      sensor: 100 + i,
      type,
      dataType: prng.pick(["uint32", "int32", "float32"] as const),
      sampleRateMs: type === "tsd" ? prng.pick([1, 10, 1000]) : 0,
    });
  }
  return specs;
}

/** What the next action is drawn from. */
export interface WorkloadRun {
  readonly prng: Prng;
  readonly models: readonly StreamModel[];
  readonly board: Board;
  readonly bulkCap: number;
  readonly policy: CleanupPolicy;
  readonly profile: FaultProfile;
}

/** One random action, weighted like a device's main loop with an unreliable uplink. */
export function actionDraw(run: WorkloadRun): SimAction {
  const p = run.prng;
  const stream = p.below(run.models.length);
  const perSector = (run.models[stream] as StreamModel).perSector;
  const burstMax = Math.max(8, Math.floor((run.board.memory.sectorCount * perSector) / 4));
  const weights = [
    /* configure */ 2,
    /* write */ 34,
    /* read */ 10,
    /* ack */ 8,
    /* upload */ 10,
    /* revert */ 3,
    /* tick */ 14,
    /* flush */ 3,
    /* cancel */ 2,
    /* clock */ 3,
    /* settle */ run.policy === "lazy" ? 4 : 1,
    /* restart */ 2,
    /* crash */ run.profile.crashes ? 2 : 0,
    /* arm-crash */ run.profile.crashes ? 3 : 0,
    /* disk-full */ run.profile.diskFull ? 2 : 0,
    /* policy */ 1,
    /* misplace */ run.profile.movesFiles === true ? 3 : 0,
  ];
  switch (p.weighted(weights)) {
    case 0:
      return { kind: "configure", stream };
    case 1:
      return {
        kind: "write",
        stream,
        count: p.chance(1, 5) ? p.between(1, burstMax) : p.between(1, 2 * perSector + 1),
      };
    case 2:
      return { kind: "read", stream, max: p.between(1, 2 * run.bulkCap) };
    case 3: {
      const pending = (run.models[stream] as StreamModel).pending;
      return {
        kind: "ack",
        stream,
        count: p.chance(1, 2) ? "all" : p.between(0, pending + (p.chance(1, 10) ? 1 : 0)),
      };
    }
    case 4:
      return { kind: "upload", stream, max: p.between(1, run.bulkCap) };
    case 5:
      return { kind: "revert", stream };
    case 6:
      return { kind: "tick", count: p.between(1, 6) };
    case 7:
      return { kind: "flush", ticks: p.between(0, 6) };
    case 8:
      return { kind: "cancel" };
    case 9:
      return { kind: "clock", deltaMs: p.chance(1, 3) ? -p.between(1, 10_000) : p.between(1, 3_600_000) };
    case 10:
      return { kind: "settle" };
    case 11:
      return { kind: "restart" };
    case 12:
      return { kind: "crash" };
    case 13:
      return { kind: "arm-crash", inOps: p.between(1, 48) };
    case 14: {
      const fileBytes = imxFileBytes(run.board.disk?.sectorsPerFileMax ?? 1, run.board.memory.sectorBytes);
      return { kind: "disk-full", roomBytes: p.chance(1, 2) ? null : p.below(3 * fileBytes) };
    }
    case 15:
      return { kind: "policy", policy: p.pick(CLEANUP_POLICIES) };
    default:
      return { kind: "misplace", pick: p.next() };
  }
}
