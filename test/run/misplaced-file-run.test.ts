// The reproducer, at the level a user meets it: `imx-memsim run` stops with records on
// disk (an outage at the end), one `.imx` file is moved into another `history/<bucket>/` while the
// device is off, and the next run with --drain delivers everything. Before, boot said "kept", the
// reader looked for the file at its hashed bucket, counted its records as discarded, and the next
// boot deleted it. Now recovery moves it back (SPEC.md 6.4): the summary shows the move, nothing is
// discarded, and the upload log holds every record written, each once, in order.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { imxHeaderRead, imxPathParse } from "../../host/format/imx.js";
import { cli, imxRecords, logCheck, uploadLogRecords } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-misplaced-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a file moved into another bucket between two runs", () => {
  it("is moved back at boot and its records reach the upload log once", async () => {
    const storage = join(dir, "st");
    const log = join(dir, "up.ndjson");
    const common = ["--storage", storage, "--upload-log", log, "--duration", "6h", "--speed", "max", "--quiet"];
    const first = await cli(["run", ...common, "--outage", "4h at 2h", "--json", join(dir, "s1.json")]);
    expect(first.code, first.stderr).toBe(0);
    const s1 = JSON.parse(readFileSync(join(dir, "s1.json"), "utf8")) as { records: { written: number } };

    const onDisk = imxRecords(storage);
    expect(onDisk.length).toBeGreaterThan(1000);
    const victim = [...new Set(onDisk.map((r) => `${r.source}/${r.sensor}`))].sort()[0] as string;
    const files = readdirSync(join(storage, "history"), { recursive: true, encoding: "utf8" })
      .map((p) => `history/${p}`)
      .filter((p) => imxPathParse(p) !== null)
      .sort();
    const path = files.find((p) => {
      const name = imxPathParse(p);
      return name !== null && `${name.source}/${name.sensor}` === victim;
    }) as string;
    const header = imxHeaderRead(readFileSync(join(storage, path)));
    expect(header).not.toBeNull();
    const bucket = ((imxPathParse(path)?.bucket ?? 0) + 3) % 10;
    const moved = `history/${bucket}/${path.slice(path.lastIndexOf("/") + 1)}`;
    mkdirSync(join(storage, "history", String(bucket)), { recursive: true });
    renameSync(join(storage, path), join(storage, moved));

    const second = await cli(["run", ...common, "--drain", "--json", join(dir, "s2.json")]);
    expect(second.code, second.stderr).toBe(0);
    const s2 = JSON.parse(readFileSync(join(dir, "s2.json"), "utf8")) as {
      recovery: { moved: number; quarantined: number; filesKept: number };
      records: { written: number; discarded: number; stored: number; balanced: boolean };
    };
    expect(s2.recovery.moved).toBe(1);
    expect(s2.recovery.quarantined).toBe(0);
    expect(s2.records.discarded).toBe(0);
    expect(s2.records.stored).toBe(0);
    expect(s2.records.balanced).toBe(true);

    const records = uploadLogRecords(log);
    const check = logCheck(records);
    expect(check.duplicates).toBe(0);
    expect(check.outOfOrder).toBe(0);
    expect(records).toHaveLength(s1.records.written + s2.records.written);
    // The moved file's records are there, each once.
    const seqs = new Set(records.filter((r) => `${r.source}/${r.sensor}` === victim).map((r) => r.seq));
    for (let k = 0; k < (header?.recordCount ?? 0); k++) expect(seqs.has((header?.firstSeq ?? 0) + k)).toBe(true);
  }, 60_000);
});
