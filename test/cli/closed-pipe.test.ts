// A reader that stops early (`imx-memsim test --help | head -1`) ends a command quietly: the CLI is
// started with its stdout pipe already closed by the reader, so its first write meets EPIPE, and it
// must exit without a stack or an error message (status 0: nothing had failed yet), for help, tables, JSON
// and a command that keeps printing while it runs.

import { describe, expect, it } from "vitest";
import { cliWith, spawnCli } from "../run/helpers.js";

const COMMANDS: readonly (readonly string[])[] = [
  ["--help"],
  ["test", "--help"],
  ["boards"],
  ["boards", "--json"],
  ["test", "--section", "1", "--iterations", "3"],
];

describe("output into a closed pipe", () => {
  for (const args of COMMANDS) {
    it(`imx-memsim ${args.join(" ")} exits quietly`, async () => {
      const child = spawnCli(args);
      child.stdout?.destroy();
      const result = await cliWith(child, 60_000);
      // Progress lines on stderr are the command's own; a stack or an error line is not.
      expect(result.stderr).not.toMatch(/EPIPE|Error|imx-memsim:|\n\s+at /);
      expect(result.signal).toBeNull();
      expect(result.code).toBe(0);
    });
  }
});
