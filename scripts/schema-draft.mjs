// Drafts a JSON Schema (draft 2020-12) from one real `--json` output, as the starting point of a
// new schemas/<name>.v1.schema.json: every property it saw is required and typed as seen (arrays
// take the union of their items). Edit the draft afterwards: the title and description, what
// each field means where its name does not say it, and any field that may also be null.
//
//   node scripts/schema-draft.mjs <name> <output.json> > schemas/<name>.v1.schema.json

import { readFileSync } from "node:fs";

/** @typedef {{ type?: string | string[], properties?: Record<string, Schema>, required?: string[], items?: Schema, description?: string }} Schema */

/** @param {unknown} value @returns {Schema} */
function infer(value) {
  // A null in the sample says nothing of the field's type when it is set: left open; edit it.
  if (value === null) return {};
  if (Array.isArray(value)) {
    const items = value.map(infer).reduce((a, b) => merge(a, b), /** @type {Schema | null} */ (null));
    return items === null ? { type: "array" } : { type: "array", items };
  }
  if (typeof value === "object") {
    /** @type {Record<string, Schema>} */
    const properties = {};
    for (const [key, item] of Object.entries(value)) properties[key] = infer(item);
    return { type: "object", properties, required: Object.keys(properties) };
  }
  // Counts and times alike are numbers: a field whole in one run may be fractional in another.
  if (typeof value === "number") return { type: "number" };
  return { type: typeof value };
}

/** @param {Schema | null} a @param {Schema} b @returns {Schema} */
function merge(a, b) {
  if (a === null) return b;
  if (a.type === undefined || b.type === undefined) return {};
  const types = [...new Set([a.type, b.type].flat())];
  /** @type {Schema} */
  const merged = { type: types.length === 1 ? types[0] : types };
  if (a.properties !== undefined || b.properties !== undefined) {
    /** @type {Record<string, Schema>} */
    const properties = { ...a.properties };
    for (const [key, schema] of Object.entries(b.properties ?? {}))
      properties[key] = merge(properties[key] ?? null, schema);
    merged.properties = properties;
    merged.required = (a.required ?? []).filter((key) => (b.required ?? []).includes(key));
  }
  if (a.items !== undefined || b.items !== undefined) merged.items = merge(a.items ?? null, b.items ?? {});
  return merged;
}

const [name, file] = process.argv.slice(2);
if (name === undefined || file === undefined) {
  console.error("usage: node scripts/schema-draft.mjs <name> <output.json>");
  process.exit(2);
}
/** @type {unknown} */
const sample = JSON.parse(readFileSync(file, "utf8"));
const schema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: `https://imx-memsim.dev/schemas/${name}.v1.schema.json`,
  title: `imx-memsim ${name} --json, version 1`,
  description: "TODO: what the output is, which command writes it, and when.",
  ...infer(sample),
};
console.log(JSON.stringify(schema, null, 2));
