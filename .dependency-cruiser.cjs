// Import rules for the host, the tests and the core, checked by `npm run deps` (part of `npm test`).
//
// The host is layered, lowest first; a file may import only from its own layer or a lower one:
//   0  host/base, host/format     tiny shared utilities; the on-disk format (pure, no I/O policy);
//      also host/core/*.generated.ts: the core's ABI constants, generated from assembly/ and
//      importing nothing, which boards.ts and the config image need below the core
//   1  host/hal, host/boards.ts, host/config-image.ts
//   2  host/core
//   3  host/sim, host/replay, host/bench, host/inspect (reading device RAM and RAM dumps)
//   4  host/run, host/suite, host/verify
//   5  host/ui, host/compare, host/size (the dashboard, the Perfetto trace, compare and size:
//      they watch or drive runs)
//   6  host/cli
//   host/index.ts is the public entry: it may import any layer and nothing in host/ imports it.
// host/base imports nothing else of the project; generated files import nothing at all.
// Tests may import anything; nothing in host/ imports a test. No file of host/, test/ or assembly/
// takes part in an import circle, type-only imports included.
/** Layers from lowest to highest: each entry is a path pattern (relative to the repository root). */
const LAYERS = [
  "^host/((base|format)/|core/[^/]+\\.generated\\.ts$)",
  "^host/(hal/|boards\\.ts$|config-image\\.ts$)",
  "^host/core/(?![^/]+\\.generated\\.ts$)",
  "^host/(sim|replay|bench|inspect)/",
  "^host/(run|suite|verify)/",
  "^host/(ui|compare|size)/",
  "^host/cli/",
];

/** Where no file may take part in an import circle: the host, the tests and the core. */
const CIRCULAR_CHECKED = "^(host|test|assembly)/";

const layerRules = LAYERS.slice(0, -1).map((from, index) => ({
  name: `layer-${index}-imports-higher`,
  comment: `${from} may import only from its own layer or a lower one (see .dependency-cruiser.cjs).`,
  severity: "error",
  from: { path: from },
  to: { path: LAYERS.slice(index + 1) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No file takes part in an import circle (type-only imports count).",
      severity: "error",
      from: { path: CIRCULAR_CHECKED },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "base-imports-project",
      comment: "host/base holds tiny shared utilities with no project imports.",
      severity: "error",
      from: { path: "^host/base/" },
      to: { path: "^(host/(?!base/)|test/|assembly/)" },
    },
    {
      name: "generated-imports-project",
      comment: "Generated files (host/core/*.generated.ts) are constants derived from assembly/: they import nothing.",
      severity: "error",
      from: { path: "^host/.*\\.generated\\.ts$" },
      to: { path: "^(host|test|assembly)/" },
    },
    {
      name: "host-imports-public-entry",
      comment: "host/index.ts is the public entry for users; the host itself imports the module it needs.",
      severity: "error",
      from: { path: "^host/" },
      to: { path: "^host/index\\.ts$" },
    },
    {
      name: "host-imports-test",
      comment: "The host never imports from the tests.",
      severity: "error",
      from: { path: "^host/" },
      to: { path: "^test/" },
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves to a file or an installed package.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|build|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".d.ts"],
    },
  },
};
