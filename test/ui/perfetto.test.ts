// `run --perfetto FILE` writes Chrome Trace Event JSON on simulated time: it parses, its spans
// (`ph: "X"`) include ticks, spills, file writes, deletions, uploads and the outage, its counters
// (`ph: "C"`) RAM, disk, backlog and records, and every timestamp lies within the run.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../../host/ui/perfetto.js";
import { CLI, ROOT } from "../run/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-perfetto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("run --perfetto", () => {
  it("writes spans and counters on simulated time", () => {
    const path = join(dir, "run.json");
    execFileSync(
      process.execPath,
      [CLI, "run", "--duration", "1d", "--speed", "max", "--outage", "8h at 2h", "--quiet", "--perfetto", path],
      { cwd: ROOT },
    );
    const trace = JSON.parse(readFileSync(path, "utf8")) as { traceEvents: TraceEvent[]; displayTimeUnit: string };
    const events = trace.traceEvents;
    const spans = events.filter((e) => e.ph === "X");
    const names = new Set(spans.map((e) => e.name));
    for (const name of ["spill", "file write", "delete", "upload", "outage", "move-to-disk"])
      expect(names).toContain(name);
    const counters = new Set(events.filter((e) => e.ph === "C").map((e) => e.name));
    expect([...counters].sort()).toEqual(["RAM sectors", "backlog", "disk bytes", "disk files", "records"]);
    const dayUs = 24 * 3600 * 1e6;
    for (const e of events) {
      expect(Number.isInteger(e.ts)).toBe(true);
      expect(e.ts).toBeGreaterThanOrEqual(0);
      expect(e.ts + (e.dur ?? 0)).toBeLessThanOrEqual(dayUs + 60e6);
    }
    const outage = spans.find((e) => e.name === "outage");
    expect(outage?.ts).toBe(2 * 3600 * 1e6);
    expect(outage?.dur).toBe(8 * 3600 * 1e6);
  });
});
