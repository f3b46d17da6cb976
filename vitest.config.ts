// Vitest settings: node environment, generous per-test timeouts for the property, crash and
// real-filesystem suites. Two test files at a time: Vitest's default is one fewer worker than
// cores, which on a 2-core CI machine runs the files one by one, though most of them wait on
// fsyncs and child processes (the suite took 525 s that way on such a machine, 310 s with two).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    maxWorkers: 2,
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
