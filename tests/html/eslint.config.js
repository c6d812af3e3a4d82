// SPDX-License-Identifier: BSD-2-Clause
// Lint of the HTML report's script (browser) and of these tests (node).
// ESLint lints only files under its base path, so `npm run lint` runs it from
// the repository root with `-c tests/html/eslint.config.js`: the paths below
// are relative to the root.
"use strict";
const js = require("@eslint/js");
const globals = require("globals");

const rules = {
  ...js.configs.recommended.rules,
  eqeqeq: "error",
  "no-var": "error",
  "prefer-const": "error",
};
module.exports = [
  { ignores: ["**/node_modules/**", "tests/html/artifacts/**"] },
  {
    files: ["src/html/report.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules,
  },
  {
    files: ["tests/html/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "commonjs",
      // node, and the browser for the functions puppeteer runs in the page
      globals: { ...globals.node, ...globals.browser },
    },
    rules,
  },
];
