// Generates host/core/abi.generated.ts from assembly/abi.ts, the single source of truth for the
// constants both sides of the wasm boundary use, and host/core/core-exports.generated.ts from
// assembly/index.ts, the core's only export surface. Run by `npm run build:abi`.
//
// Every line `export const NAME: T = <integer>;` becomes a host constant. A section whose header
// reads `// ---- Title (enum TypeName) ----` is also an enumeration: each of its constants that
// ends in a comment `// "name"` is a member, and the host gets one table per enumeration,
// `<TYPE_NAME>_CODES` (name → code), `<TYPE_NAME>_NAMES` (the names in code order) and
// `<TYPE_NAME>_BY_CODE` (code → name), plus the type `TypeName` (the union of the names). A
// constant named `…_COUNT` in the section, if there is one, must equal the number of members, whose
// codes must then run 0 … count − 1.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../assembly/abi.ts", import.meta.url));
const target = fileURLToPath(new URL("../host/core/abi.generated.ts", import.meta.url));
const constPattern =
  /^export const ([A-Z0-9_]+): (?:i32|u32|i64|u64|usize) = (-?(?:0x[0-9a-fA-F]+|\d+));(?:\s*\/\/\s*(.*))?$/;
const sectionPattern = /^\/\/ ---- (.*?)(?: \(enum ([A-Za-z]+)\))? -*$/;
const memberPattern = /^"([a-z0-9-]+)"/;

/**
 * TierState → TIER_STATE
 * @param {string} typeName
 * @returns {string}
 */
function screaming(typeName) {
  return typeName.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

const lines = ["// Generated from assembly/abi.ts by scripts/gen-abi.mjs — do not edit.", ""];
/** @typedef {{ name: string, constName: string, code: number }} EnumMember */
/** @typedef {{ typeName: string, members: EnumMember[], countConst: number | null }} Enumeration */
/** @type {Enumeration[]} */
const enums = [];
/** @type {Enumeration | null} */
let current = null;
let count = 0;
for (const line of readFileSync(source, "utf8").split("\n")) {
  const section = sectionPattern.exec(line);
  if (section) {
    lines.push("", line);
    current = section[2] ? { typeName: section[2], members: [], countConst: null } : null;
    if (current) enums.push(current);
    continue;
  }
  const match = constPattern.exec(line);
  if (match) {
    const [, name = "", literal = "0", comment] = match;
    lines.push(`export const ${name} = ${literal};`);
    count++;
    if (current) {
      const member = comment === undefined ? null : memberPattern.exec(comment);
      if (member) current.members.push({ name: member[1] ?? "", constName: name, code: Number(literal) });
      else if (name.endsWith("_COUNT")) current.countConst = Number(literal);
    }
  } else if (line.startsWith("export const")) {
    throw new Error(`gen-abi: cannot parse constant line: ${line}`);
  }
}

for (const { typeName, members, countConst } of enums) {
  const prefix = screaming(typeName);
  if (members.length === 0) throw new Error(`gen-abi: enum ${typeName} has no members (// "name" comments)`);
  const names = new Set(members.map((m) => m.name));
  const codes = new Set(members.map((m) => m.code));
  if (names.size !== members.length || codes.size !== members.length) {
    throw new Error(`gen-abi: enum ${typeName} repeats a name or a code`);
  }
  if (countConst !== null) {
    const dense = members.every((m) => m.code >= 0 && m.code < countConst);
    if (countConst !== members.length || !dense) {
      throw new Error(
        `gen-abi: the count in enum ${typeName} is ${countConst} but its codes are ${[...codes].join(", ")}`,
      );
    }
  }
  const sorted = [...members].sort((a, b) => a.code - b.code);
  lines.push(
    "",
    `// ---- enum ${typeName}: one table, read by every host user ----`,
    `export const ${prefix}_CODES = {`,
    ...sorted.map((m) => `  ${JSON.stringify(m.name)}: ${m.constName},`),
    "} as const;",
    `export const ${prefix}_NAMES = [${sorted.map((m) => JSON.stringify(m.name)).join(", ")}] as const;`,
    `export type ${typeName} = (typeof ${prefix}_NAMES)[number];`,
    `export const ${prefix}_BY_CODE: Readonly<Record<number, ${typeName}>> = {`,
    ...sorted.map((m) => `  [${m.constName}]: ${JSON.stringify(m.name)},`),
    "};",
  );
}

lines.push("");
writeIfChanged(target, lines.join("\n"));

// ---- The core's exports ---------------------------------------------------------------------------
// Every `export function name(param: type, …): type {` of assembly/index.ts becomes a member of the
// CoreExports interface, with the comment above it as its documentation. Every wasm number type is a
// JavaScript number on the host.
const exportsSource = fileURLToPath(new URL("../assembly/index.ts", import.meta.url));
const exportsTarget = fileURLToPath(new URL("../host/core/core-exports.generated.ts", import.meta.url));
const numberTypes = new Set(["i32", "u32", "f64", "usize", "bool", "u8", "u16", "i8", "i16", "f32"]);
const functionPattern = /^export function (\w+)\(([^)]*)\): (\w+) \{$/;
const members = [];
let comment = [];
for (const line of readFileSync(exportsSource, "utf8").split("\n")) {
  if (line.startsWith("//") && !line.startsWith("// ----")) {
    comment.push(line.replace(/^\/\/ ?/, ""));
    continue;
  }
  const fn = functionPattern.exec(line);
  if (fn) {
    const [, name = "", paramText = "", returnType = ""] = fn;
    const params = paramText
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p.length > 0)
      .map((p) => {
        const [paramName = "", type = ""] = p.split(":").map((part) => part.trim());
        if (!numberTypes.has(type)) throw new Error(`gen-abi: ${name}(${paramName}: ${type}) is not a number type`);
        return `${paramName}: number`;
      });
    if (returnType !== "void" && !numberTypes.has(returnType)) {
      throw new Error(`gen-abi: ${name} returns ${returnType}, not a number`);
    }
    members.push({
      name,
      signature: `${name}(${params.join(", ")}): ${returnType === "void" ? "void" : "number"};`,
      comment,
    });
  } else if (line.startsWith("export ")) {
    throw new Error(`gen-abi: cannot read this export of assembly/index.ts: ${line}`);
  }
  comment = [];
}
const exportLines = [
  "// Generated from assembly/index.ts by scripts/gen-abi.mjs — do not edit.",
  "",
  "/** The wasm core's exports as the host calls them (plus the memory); negative results are ABI error codes. */",
  "export interface CoreExports {",
  "  memory?: WebAssembly.Memory;",
];
for (const member of members) {
  const single = `  /** ${member.comment[0]} */`;
  if (member.comment.length === 1 && single.length <= 120) {
    exportLines.push(single);
  } else if (member.comment.length > 0) {
    exportLines.push("  /**", ...member.comment.map((text) => `   * ${text}`.trimEnd()), "   */");
  }
  exportLines.push(`  ${member.signature}`);
}
exportLines.push(
  "}",
  "",
  "/** The names of the core's function exports, in the order assembly/index.ts declares them. */",
  `export const CORE_EXPORT_NAMES = [`,
  ...members.map((member) => `  "${member.name}",`),
  "] as const;",
  "",
);
writeIfChanged(exportsTarget, exportLines.join("\n"));
console.log(`gen-abi: ${count} constants, ${enums.length} enumerations, ${members.length} core exports`);

/**
 * @param {string} path
 * @param {string} text
 */
function writeIfChanged(path, text) {
  let previous = "";
  try {
    previous = readFileSync(path, "utf8");
  } catch {
    // first generation
  }
  if (previous !== text) writeFileSync(path, text);
}
