// The quick bench run in-process: every benchmark present with its figures, baselines and
// device-independent counters, the HTML page with inline SVG, and --compare of a report against
// itself flagging nothing. Asserts shapes and counters only, never times.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchCommand } from "../../host/cli/bench-command.js";
import { compareReports, reportHtml, reportTable } from "../../host/bench/report.js";
import { BENCHMARKS, type BenchReport, benchmarkNamesParse } from "../../host/bench/suite.js";

let report: BenchReport;
let stdout = "";
let dir = "";

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-bench-test-"));
  const result = await benchCommand(
    { quick: true, json: path.join(dir, "bench.json"), html: path.join(dir, "bench.html") },
    (text) => {
      stdout += text;
    },
    () => {},
  );
  report = result.report;
}, 30_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function figure(id: string) {
  const found = report.benchmarks.flatMap((b) => b.figures).find((f) => f.id === id);
  if (!found) throw new Error(`no figure ${id}`);
  return found;
}

function counter(bench: string, key: string): number {
  const value = report.benchmarks.find((b) => b.name === bench)?.counters[key];
  if (value === undefined) throw new Error(`no counter ${bench}.${key}`);
  return value;
}

describe("imx-memsim bench --quick", () => {
  it("writes a JSON report with machine, Node version, board, seed and every benchmark", () => {
    const saved = JSON.parse(fs.readFileSync(path.join(dir, "bench.json"), "utf8")) as BenchReport;
    expect(saved.board).toBe("fc1-imx6");
    expect(saved.quick).toBe(true);
    expect(typeof saved.seed).toBe("number");
    expect(saved.node).toBe(process.version);
    expect(saved.machine.cores).toBeGreaterThan(0);
    expect(saved.machine.model.length).toBeGreaterThan(0);
    expect(saved.benchmarks.map((b) => b.name)).toEqual([...BENCHMARKS]);
    for (const bench of saved.benchmarks) {
      expect(bench.error, bench.name).toBeUndefined();
      expect(bench.skipped, bench.name).toBeUndefined();
      expect(bench.figures.length, bench.name).toBeGreaterThan(0);
      for (const f of bench.figures) {
        expect(f.samples, f.id).toBeGreaterThan(0);
        expect(f.median, f.id).toBeLessThanOrEqual(f.p99);
        expect(f.p99, f.id).toBeLessThanOrEqual(f.max);
      }
    }
  });

  it("measures a baseline and a ratio next to every figure that has one", () => {
    const withBaseline = [
      "cleanup-latency.fs.immediate",
      "cleanup-latency.fs.batched",
      "cleanup-latency.fs.lazy",
      "cleanup-latency.memory.immediate",
      "cleanup-latency.memory.batched",
      "cleanup-latency.memory.lazy",
      "append.tsd",
      "append.evt",
      "read-ack.ram",
      "read.disk",
      "read-ack.disk",
      "spill.fs",
      "spill.fs.io-floor",
      "recovery.100",
      "recovery.1000",
      "cleanup-many.fs",
      "cleanup-many.fs.immediate",
      "cleanup-many.fs.batched",
      "cleanup-many.fs.lazy",
    ];
    for (const id of withBaseline) {
      const f = figure(id);
      expect(f.baseline, id).toBeDefined();
      expect(f.ratio, id).toBeGreaterThan(0);
    }
    expect(figure("iteration.fs.batched").rate?.unit).toBe("iterations/s");
    expect(figure("tick.flush").targets?.length).toBe(2);
  });

  it("judges every figure the performance targets name, each target with a met flag", () => {
    const judged = [
      "append.tsd",
      "append.evt",
      "read.disk",
      "read-ack.disk",
      "spill.fs",
      "spill.fs.io-floor",
      "tick.flush",
      "tick.steady-spill",
      "recovery.100",
      "recovery.1000",
      "cleanup-latency.fs.immediate",
      "cleanup-latency.fs.batched",
      "cleanup-latency.fs.lazy",
      "cleanup-many.fs",
    ];
    for (const id of judged) {
      const targets = figure(id).targets ?? [];
      expect(targets.length, id).toBeGreaterThan(0);
      for (const t of targets) expect(typeof t.met, `${id}: ${t.text}`).toBe("boolean");
    }
    expect(figure("read-ack.disk").baseline?.label).toBe("plain reads of the same files");
    expect(figure("read.disk").baseline?.label).toBe("plain reads of the same files");
    // Each durable ACK costs an fsync that plain reads do not: the target says so, with the count.
    for (const t of figure("read-ack.disk").targets ?? []) expect(t.bound).toMatch(/fsync, \d+ per repetition/);
    expect(figure("spill.fs.io-floor").baseline?.label).toMatch(/directory fsync/);
    // A tick that writes files is bounded by their fsyncs: each of its targets says so, with the figure measured.
    for (const id of ["tick.flush", "tick.steady-spill"]) {
      for (const t of figure(id).targets ?? [])
        expect(t.bound, `${id}: ${t.text}`).toMatch(/fsync: .* [0-9.]+ ms per file/);
    }
  });

  it("reports device-independent counters", () => {
    expect(counter("iteration", "fs.batched.recordsPerIteration")).toBe(600);
    expect(counter("iteration", "fs.batched.filesPer1000Records")).toBeGreaterThan(0);
    expect(counter("iteration", "fs.batched.sectorsPerFile")).toBeGreaterThan(0);
    expect(counter("spill", "steady.filesPer1000Records")).toBeGreaterThan(0);
    expect(counter("spill", "steady.sectorsPerFile")).toBeGreaterThan(0);
    expect(counter("spill", "iteration.bytesWritten")).toBeGreaterThan(0);
    for (const hal of ["fs", "memory"]) {
      for (const policy of ["immediate", "batched", "lazy"]) {
        expect(counter("cleanup-latency", `${hal}.${policy}.halCallsPerIteration`)).toBeGreaterThan(0);
        expect(counter("cleanup-latency", `${hal}.${policy}.removesPerIteration`)).toBeGreaterThan(0);
      }
    }
    expect(counter("recovery", "100.files")).toBe(100);
    expect(counter("recovery", "1000.files")).toBe(1000);
  });

  it("deletes the files of cleanup-many under every policy, with an ETA judged where one is made", () => {
    for (const policy of ["immediate", "batched", "lazy"]) {
      expect(counter("cleanup-many", `${policy}.files`)).toBe(1000);
      expect(figure(`cleanup-many.fs.${policy}`).targets?.[0]?.text).toMatch(/1\.5x plain unlinks/);
    }
    // Batched: 1000 files at 16 per tick; lazy: at most 64 in flight (more ticks if a tick's take longer than the interval).
    expect(counter("cleanup-many", "batched.ticks")).toBe(Math.ceil(1000 / 16));
    expect(counter("cleanup-many", "lazy.ticks")).toBeGreaterThanOrEqual(Math.ceil(1000 / 64));
    expect(counter("cleanup-many", "lazy.inFlightMaxSeen")).toBe(counter("cleanup-many", "lazy.deletesInFlightMax"));
    // A device that has timed deletions estimates at once, and the estimate is judged.
    for (const policy of ["batched", "lazy"]) {
      expect(counter("cleanup-many", `${policy}.etaStartMs`)).toBeGreaterThan(0);
      expect(counter("cleanup-many", `${policy}.etaError`)).toBeGreaterThan(0);
      expect(figure(`cleanup-many.fs.${policy}`).targets?.map((t) => t.text)).toContain(
        "ETA right after the ACK within 2x of the actual time (device clock)",
      );
    }
    expect(figure("cleanup-many.fs").label).toBe(figure("cleanup-many.fs.batched").label);
  });

  it("prints a table and writes a self-contained HTML page with SVG charts", () => {
    expect(stdout).toContain("cleanup-latency.fs.batched");
    expect(reportTable(report)).toContain("ratio");
    const html = fs.readFileSync(path.join(dir, "bench.html"), "utf8");
    expect(html).toBe(reportHtml(report));
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it("--compare against itself flags nothing, and a worse ratio is flagged", () => {
    expect(compareReports(report, report).regressions).toEqual([]);
    const worse = structuredClone(report);
    const f = worse.benchmarks.flatMap((b) => b.figures).find((x) => x.id === "spill.fs");
    if (!f || f.ratio === undefined) throw new Error("no spill ratio");
    f.ratio *= 2;
    expect(compareReports(report, worse).regressions.map((line) => line.id)).toEqual(["spill.fs"]);
  });

  it("rejects unknown benchmark names", () => {
    expect(benchmarkNamesParse("append, tick")).toEqual(["append", "tick"]);
    expect(() => benchmarkNamesParse("append,nope")).toThrow(/unknown benchmark/);
  });
});
