// Validates Amazon States Language definitions with asl-validator, all in one process.
// Input (stdin): {"name": definition, ...}. Output (stdout): {"name": ["error", ...], ...},
// an empty list for a valid definition. The static gates (tests/infra) call it.
"use strict";
const aslValidator = require("asl-validator");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const definitions = JSON.parse(input);
  const results = {};
  for (const [name, definition] of Object.entries(definitions)) {
    const { errors } = aslValidator(definition, { checkPaths: true, checkArn: true });
    results[name] = errors.map((e) => `${e["Error code"] || ""} ${e.message || JSON.stringify(e)}`.trim());
  }
  process.stdout.write(JSON.stringify(results));
});
