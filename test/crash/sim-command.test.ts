// `imx-memsim sim`: runs a range of seeds through the simulator, prints plain progress lines when
// stderr is not a terminal, each failure with its seed, and a summary; SEED=<n> replays exactly one
// seed; bad options are usage errors; a board given as a file is named by its path in the replay
// lines, so they replay. (The exit code is set by the command's action from summary.passed; here
// the summary is checked directly.)

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../host/base/user-error.js";
import { programBuild } from "../../host/cli/main.js";
import { type SimCommandOptions, type SimIo, simRun, simSummaryText } from "../../host/cli/sim-command.js";
import { variantFileWrite } from "../support/geometries.js";

function io(env: NodeJS.ProcessEnv = {}): SimIo & { outText: string; errText: string } {
  const sink = {
    outText: "",
    errText: "",
    tty: false,
    env,
    out: (text: string) => {
      sink.outText += text;
    },
    err: (text: string) => {
      sink.errText += text;
    },
  };
  return sink;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-sim-cmd-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const base: SimCommandOptions = { seeds: "3", from: "5", board: "tiny", steps: "60", faults: "default" };

describe("imx-memsim sim", () => {
  it("is registered on the command line", () => {
    expect(programBuild().commands.map((c) => c.name())).toContain("sim");
  });

  it("runs the seeds and sums them up", async () => {
    const sink = io();
    const summary = await simRun(base, sink);
    expect(summary.passed).toBe(true);
    expect(summary.seeds).toBe(3);
    expect(summary.seedFrom).toBe(5);
    expect(summary.seedsPassed).toBe(3);
    expect(summary.stepsRun).toBeGreaterThanOrEqual(180);
    expect(sink.errText).toMatch(/sim: 3\/3 seeds, 0 failed/);
    const text = simSummaryText(summary);
    expect(text).toMatch(/seeds +3 \(5 … 7\), 3 passed, 0 failed/);
    expect(text).toMatch(/result +PASS/);
  });

  it("reports a failing seed with its replay line, and SEED=<n> runs just that seed", async () => {
    const sink = io({ SEED: "32" });
    const summary = await simRun({ ...base, seeds: "50", steps: "300", faults: "lying-positions" }, sink);
    expect(summary.seeds).toBe(1);
    expect(summary.passed).toBe(false);
    expect(summary.failures.map((f) => f.seed)).toEqual([32]);
    expect(sink.errText).toMatch(/^sim seed=32 step=\d+/m);
    expect(simSummaryText(summary)).toMatch(
      /failed seeds 32\nreplay +SEED=32 imx-memsim sim --board tiny --steps 300 --faults lying-positions/,
    );
  });

  it("names a board file by its path in the replay lines", async () => {
    const file = variantFileWrite(dir, 16);
    const sink = io({ SEED: "32" });
    const summary = await simRun({ ...base, board: file, steps: "300", faults: "lying-positions" }, sink);
    expect(summary.board).toBe("tiny-s16");
    expect(summary.passed).toBe(false);
    const replay = `SEED=32 imx-memsim sim --board ${file} --steps 300 --faults lying-positions`;
    expect(sink.errText).toContain(`replay: ${replay}`);
    expect(simSummaryText(summary)).toMatch(/^board +tiny-s16,/m);
    expect(simSummaryText(summary)).toContain(`replay       ${replay}`);
  });

  it("refuses bad options as usage errors", async () => {
    await expect(simRun({ ...base, seeds: "0" }, io())).rejects.toBeInstanceOf(UsageError);
    await expect(simRun({ ...base, board: "rp2040" }, io())).rejects.toThrow(/no disk tier/);
    await expect(simRun({ ...base, faults: "cosmic-rays" }, io())).rejects.toThrow(/--faults must be one of/);
    await expect(simRun({ ...base, policy: "sometimes" }, io())).rejects.toBeInstanceOf(UsageError);
    await expect(simRun(base, io({ SEED: "-1" }))).rejects.toBeInstanceOf(UsageError);
  });
});
