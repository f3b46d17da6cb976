// The README's "Use it as a library" example is the first example of the API reference (the
// package documentation in host/index.ts, which TypeDoc puts on docs/api/index.html), word for
// word, and it runs: the test writes it to a temporary file with the package name pointed at the
// built entry, runs it with node and checks the line it prints.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function readmeExample(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Use it as a library\n"));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error("README.md: no js block under ## Use it as a library");
  return match[1];
}

function docsFirstExample(): string {
  const entry = readFileSync(join(ROOT, "host", "index.ts"), "utf8");
  const comment = entry.slice(0, entry.indexOf("*/"));
  const match = /@example\n \* ```js\n([\s\S]*?) \* ```/.exec(comment);
  if (match?.[1] === undefined) throw new Error("host/index.ts: no @example js block in the package documentation");
  return match[1]
    .split("\n")
    .map((line) => line.replace(/^ \* ?/, ""))
    .join("\n");
}

test("the README's library example is the docs' first example", () => {
  expect(docsFirstExample()).toBe(readmeExample());
});

test("the README's library example runs and prints what its comment says", async () => {
  const code = readmeExample();
  const entry = pathToFileURL(join(ROOT, "dist", "host", "index.js")).href;
  const dir = mkdtempSync(join(tmpdir(), "imx-readme-"));
  try {
    const file = join(dir, "example.mjs");
    writeFileSync(file, code.replace('from "imx-memsim"', `from ${JSON.stringify(entry)}`));
    const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
    const promised = /\/\/ (.+)\n$/.exec(code)?.[1];
    expect(stdout.trim()).toBe(promised);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
