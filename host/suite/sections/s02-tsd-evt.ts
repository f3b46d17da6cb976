// Section 2 — TSD and EVT: the original harness's 8 sensors and 4 controls (ids, sample rates and
// kinds from reference section 6.1) write 100 samples per TSD sensor, 50 events per control and
// 25 per event sensor, and every one is read back exactly — value (its float32 rounding), time
// and order — with no tolerance and no accepted off-by-one (the original accepted one for the
// temperature sensor). Records fill (S − 8) / 4 TSD or S / 12 EVT per sector.
//
// On a board whose stream table cannot hold the 12 streams beside the others (tiny: 4) the
// sensors run in groups on fresh devices; on a small RAM the upload runs whenever RAM is nearly
// full, so nothing is discarded and everything is still read back.

import type { Device } from "../../core/device.js";
import { type Ledger, ledgersUpload, outcomeNew } from "../ledger.js";
import { recordsPerSector } from "../../format/imx.js";
import { HARNESS_STREAMS, harnessSampleCount, harnessValue, streamsFit, withLedgers } from "../streams.js";
import type { Section, SectionRun } from "./section.js";

export const tsdEvtSection: Section = {
  id: 2,
  title: "TSD/EVT: 8 sensors and 4 controls written and read back exactly",
  needsDisk: false,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const n = board.memory.sectorCount;
    const groupSize = streamsFit(env.device, HARNESS_STREAMS) ? HARNESS_STREAMS.length : board.memory.streamsMax;
    for (let start = 0; start < HARNESS_STREAMS.length; start += groupSize) {
      const group = HARNESS_STREAMS.slice(start, start + groupSize);
      await withLedgers(env, ctx, "tsd-evt", group, true, (device: Device, ledgers: Ledger[]) => {
        const outcome = outcomeNew();
        const upload = (): void => {
          ledgersUpload(ledgers, outcome);
        };
        for (const ledger of ledgers) {
          const { spec } = ledger;
          const perSector = recordsPerSector(spec.type, board.memory.sectorBytes);
          const samples = harnessSampleCount(spec);
          for (let i = 0; i < samples; i++) {
            // Upload first when the next sector would take the last free one.
            if (device.countRamSectorsWithData() >= n - 1) upload();
            ledger.write(harnessValue(spec.sensor, i));
            if (i === perSector - 1 || i === perSector) {
              const expected = i === perSector - 1 ? 1 : 2;
              const ram = device.counts(spec.source, spec.sensor).ramSectors;
              if (ledger.readBack === 0) {
                ctx.equal(
                  `${spec.type.toUpperCase()}: ${perSector} records per ${board.memory.sectorBytes}-byte sector (sectors after ${i + 1} records)`,
                  expected,
                  ram,
                );
              }
            }
          }
        }
        upload();
        for (const ledger of ledgers) {
          const { spec } = ledger;
          ctx.check(
            `${spec.name} (${spec.sensor}, ${spec.type.toUpperCase()} ${spec.dataType}${spec.type === "tsd" ? `, every ${spec.sampleRateMs / 1000} s` : ""}): every sample read back`,
            ledger.matched === ledger.written && ledger.written === harnessSampleCount(spec),
            `${harnessSampleCount(spec)} of ${harnessSampleCount(spec)} exact`,
            `${ledger.matched} of ${ledger.written} exact${ledger.missing > 0 ? `, ${ledger.missing} missing` : ""}`,
          );
        }
        ctx.check(
          "every record's value, time and order exact",
          outcome.mismatches === 0 && outcome.missing === 0,
          "0 mismatches, 0 missing",
          `${outcome.mismatches} mismatches, ${outcome.missing} missing${outcome.first ? `; first: ${outcome.first}` : ""}`,
        );
        ctx.equal(
          "nothing left in the streams",
          0,
          ledgers.reduce((sum, l) => sum + device.counts(l.spec.source, l.spec.sensor).total, 0),
        );
      });
    }
  },
};
