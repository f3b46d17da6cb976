// Finds and compiles the core once per process; every device instantiates from the same
// WebAssembly.Module.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: the nearest folder above this module that holds package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "assembly"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error("imx-memsim: cannot find the package root (package.json beside assembly/)");
}

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
