// Vitest settings: node environment, generous per-test timeouts for the property, crash and
// real-filesystem suites (a 2-core CI machine runs files in parallel).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
