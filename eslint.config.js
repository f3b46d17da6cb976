// ESLint for the host, the tests, the scripts and the config files, with typescript-eslint's
// strict type-aware rules. `npm run lint` runs it with --max-warnings 0.
import eslint from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores([
    // AssemblyScript: typescript-eslint parses it, but its types (i32, usize, changetype, load/store)
    // are unknown to TypeScript, so every type-aware rule would report noise. asc type-checks it.
    "assembly/",
    "build/",
    "dist/",
    "coverage/",
    "docs/api/",
    "bench-out/",
    "bench/last.*",
    "**/*.generated.ts",
    "**/.*/",
    // Runs against another release's build (imported by path at run time), whose types this
    // checkout does not have: the fixture maker of test/fixtures/v0.1.0.
    "test/fixtures/",
  ]),
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        // Each file is checked against the tsconfig.json nearest to it (host, test/, scripts/);
        // the config files at the root belong to none of them.
        projectService: { allowDefaultProject: ["eslint.config.js", "vitest.config.ts", ".dependency-cruiser.cjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers in messages and reports print unambiguously; other non-strings still must be converted.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // `() => call()` callbacks are clear; a void value returned from a block body is still flagged.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // With verbatimModuleSyntax, \`import { type A }\` is kept as \`import {}\` and still loads the module.
      "@typescript-eslint/no-import-type-side-effects": "error",
      // A leading underscore marks a parameter kept for an interface; rest siblings are dropped on purpose.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    files: ["test/**"],
    rules: {
      // An index or lookup that the test's own set-up guarantees; a wrong one fails the test loudly.
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
