// Formats the AssemblyScript core with prettier and the repository's prettier config.
//
// Prettier's TypeScript parser rejects decorators on functions and variables (`@inline`,
// `@external(...)`, `@lazy`), which AssemblyScript uses and TypeScript does not allow. This script
// masks each such decorator as a comment, formats, and puts the decorators back where prettier left
// the comments. A decorator alone on its line becomes `//@N`; one in front of code on the same line
// becomes `/*@N*/`, padded to the decorator's width so that prettier wraps the line as it would with
// the decorator there. Decorators on classes and class members are valid TypeScript and left as they are.
//
//   node scripts/format-assembly.mjs [--check] [file ...]   (default: every .ts file under assembly/)
//
// --check writes nothing, lists the files that are not formatted and exits 1 if there are any.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";

const DECORATOR = String.raw`@[A-Za-z_$][\w$]*(?:\((?:[^()"']|"[^"]*"|'[^']*')*\))?`;
/** Leading indent, one or more decorators, then the rest of the line. */
const DECORATED_LINE = new RegExp(String.raw`^(\s*)((?:${DECORATOR}\s*)+)(\S.*)?$`);
/** Declarations TypeScript does not let a decorator stand in front of. */
const MASKED_TARGET =
  /^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:function|const|let|var|namespace|enum)\b/;
const LINE_MARK = /^(\s*)\/\/@(\d+)$/;
const INLINE_MARK = /\/\*@(\d+)_*\*\//g;

/**
 * Replaces the decorators TypeScript rejects by numbered comments.
 * @param {string} text
 * @returns {{ masked: string, decorators: string[] }}
 */
export function decoratorsMask(text) {
  if (/\/\/@\d|\/\*@\d/.test(text)) throw new Error("the source already holds a //@N or /*@N*/ comment");
  const lines = text.split("\n");
  /** @type {string[]} */
  const decorators = [];
  for (let i = 0; i < lines.length; i++) {
    const match = DECORATED_LINE.exec(lines[i] ?? "");
    if (!match) continue;
    const [, indent = "", decoratorText = "", rest = ""] = match;
    const target = rest === "" ? nextCodeLine(lines, i + 1) : rest;
    if (!MASKED_TARGET.test(target)) continue;
    const shown = decoratorText.trimEnd();
    const index = decorators.push(shown) - 1;
    if (rest === "") {
      lines[i] = `${indent}//@${index}`;
    } else {
      const mark = `/*@${index}`;
      lines[i] = `${indent}${mark}${"_".repeat(Math.max(0, shown.length - mark.length - 2))}*/ ${rest}`;
    }
  }
  return { masked: lines.join("\n"), decorators };
}

/**
 * Puts the masked decorators back; fails if prettier dropped, doubled or reordered any of them.
 * @param {string} text
 * @param {string[]} decorators
 * @returns {string}
 */
export function decoratorsUnmask(text, decorators) {
  /** @type {number[]} */
  const seen = [];
  const restore = (/** @type {string} */ digits) => {
    const index = Number(digits);
    const decorator = decorators[index];
    if (decorator === undefined) throw new Error(`unknown decorator mark ${index}`);
    seen.push(index);
    return decorator;
  };
  const unmasked = text
    .split("\n")
    .map((line) => {
      const own = LINE_MARK.exec(line);
      if (own) return `${own[1] ?? ""}${restore(own[2] ?? "")}`;
      return line.replace(INLINE_MARK, (_mark, /** @type {string} */ digits) => restore(digits));
    })
    .join("\n");
  if (seen.length !== decorators.length || seen.some((index, k) => index !== k)) {
    throw new Error("a decorator was lost, doubled or moved out of order while formatting");
  }
  return unmasked;
}

/**
 * Formats one AssemblyScript source with prettier; `filepath` selects the prettier config.
 * @param {string} text
 * @param {string} filepath
 * @returns {Promise<string>}
 */
export async function assemblyFormat(text, filepath) {
  const { masked, decorators } = decoratorsMask(text);
  if (decoratorsUnmask(masked, decorators) !== text) throw new Error("masking the decorators is not reversible");
  const config = (await prettier.resolveConfig(filepath)) ?? {};
  const formatted = await prettier.format(masked, { ...config, filepath, parser: "typescript" });
  return decoratorsUnmask(formatted, decorators);
}

/**
 * @param {string[]} lines
 * @param {number} from
 * @returns {string} the first line from `from` on that is neither blank nor a comment
 */
function nextCodeLine(lines, from) {
  for (let i = from; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line !== "" && !line.startsWith("//") && !DECORATED_LINE.test(line)) return line;
  }
  return "";
}

/**
 * @param {string[]} args
 * @returns {Promise<number>} the exit code
 */
async function main(args) {
  const check = args.includes("--check");
  const root = fileURLToPath(new URL("..", import.meta.url));
  let files = args.filter((arg) => arg !== "--check");
  if (files.length === 0) {
    const dir = path.join(root, "assembly");
    files = readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((name) => name.endsWith(".ts"))
      .sort()
      .map((name) => path.join(dir, name));
  }
  let unformatted = 0;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const formatted = await assemblyFormat(text, path.resolve(file));
    if (formatted === text) continue;
    unformatted++;
    const shown = path.relative(process.cwd(), file);
    if (check) console.log(`[warn] ${shown}`);
    else {
      writeFileSync(file, formatted);
      console.log(`formatted ${shown}`);
    }
  }
  if (check && unformatted > 0) {
    console.log(`[warn] ${unformatted} AssemblyScript file(s) not formatted; run npm run format:assembly`);
    return 1;
  }
  if (check) console.log("All AssemblyScript files are formatted.");
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
