// Runs the compiled CLI and checks a refusal: exactly one `imx-memsim: …` line (stdout and stderr
// together) and exit 2.

import { expect } from "vitest";
import { cli } from "../run/helpers.js";

/** Runs the CLI and expects exactly one `imx-memsim: …` line matching `pattern`, and exit 2. */
export async function refused(args: readonly string[], pattern: RegExp): Promise<void> {
  const result = await cli(args);
  const output = result.stdout + result.stderr;
  const shown = `imx-memsim ${args.join(" ")}`;
  expect(output, shown).toMatch(/^imx-memsim: [^\n]*\n$/);
  expect(output, shown).toMatch(pattern);
  expect(result.code, `${shown}: ${output}`).toBe(2);
}
