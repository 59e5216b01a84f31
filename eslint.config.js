// ESLint flat config: typescript-eslint's type-checked rules over sources, tests, bench and scripts.
// Formatting is Prettier's job (`npm run format`); ESLint checks only correctness.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "bench/out/**", "test-artifacts/**", "models/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Browser-side code: the recorder and the demo page's scripts.
    files: ["src/recorder/**", "src/server/demo/**"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
