import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/store-env.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // the machines have 2 cores; the end-to-end tests spawn processes of their own
    maxWorkers: 2,
  },
});
