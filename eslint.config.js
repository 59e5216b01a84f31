// ESLint flat config: typescript-eslint's type-checked rules over sources, tests, bench and scripts.
// Formatting is Prettier's job (`npm run format`); ESLint checks correctness only.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["dist/**", "node_modules/**", "coverage/**", "bench/out/**", "test-artifacts/**", "models/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        projectService: { allowDefaultProject: ["vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // fastify plugins and interface implementations are async by contract, with or without an await.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    // Tests read answers that are untyped by nature (JSON over HTTP, CLI stdout) and assert on their shape;
    // the assertions are the type check there. Everything else applies to tests too.
    files: ["test/**"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Browser-side code: the recorder and the demo page's scripts.
    files: ["src/recorder/**", "src/server/demo/**", "scripts/build-recorder.mjs"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
