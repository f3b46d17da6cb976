// Finds and compiles the core once per process; every device instantiates from the same
// WebAssembly.Module.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRootDir } from "../boards.js";

/**
 * The package root: the nearest folder above this module whose package.json names imx-memsim (a
 * clone, or node_modules/imx-memsim of an installed package, which ships no assembly/).
 */
export function packageRoot(): string {
  return packageRootDir();
}

/** The core's wasm build: "release" (optimized, the default) or "debug" (unoptimized, with debug information; slower). Both check the core's assertions. */
export type CoreBuild = "release" | "debug";

const modules = new Map<CoreBuild, WebAssembly.Module>();

/** The compiled core (build/<build>.wasm), compiled once and cached. */
export function coreModule(build: CoreBuild = "release"): WebAssembly.Module {
  const cached = modules.get(build);
  if (cached) return cached;
  const path = join(packageRoot(), "build", `${build}.wasm`);
  if (!existsSync(path)) {
    throw new Error(`imx-memsim: ${path} is missing; run \`npm run build\` first`);
  }
  const module = new WebAssembly.Module(readFileSync(path));
  modules.set(build, module);
  return module;
}
