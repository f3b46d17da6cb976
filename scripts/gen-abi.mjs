// Generates host/core/abi.generated.ts from assembly/abi.ts, the single source of truth for the
// constants both sides of the wasm boundary use. Run by `npm run build:abi`.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../assembly/abi.ts", import.meta.url));
const target = fileURLToPath(new URL("../host/core/abi.generated.ts", import.meta.url));
const pattern = /^export const ([A-Z0-9_]+): (?:i32|u32|i64|u64|usize) = (-?(?:0x[0-9a-fA-F]+|\d+));/;

const lines = ["// Generated from assembly/abi.ts by scripts/gen-abi.mjs — do not edit.", ""];
let count = 0;
for (const line of readFileSync(source, "utf8").split("\n")) {
  const match = pattern.exec(line);
  if (match) {
    lines.push(`export const ${match[1]} = ${match[2]};`);
    count++;
  } else if (line.startsWith("export const")) {
    throw new Error(`gen-abi: cannot parse constant line: ${line}`);
  } else if (line.startsWith("// ----")) {
    lines.push("", line);
  }
}
lines.push("");
const text = lines.join("\n");
let previous = "";
try {
  previous = readFileSync(target, "utf8");
} catch {
  // first generation
}
if (previous !== text) writeFileSync(target, text);
console.log(`gen-abi: ${count} constants`);
