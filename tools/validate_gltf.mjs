// Validate .glb/.gltf files with the Khronos glTF validator (npm gltf-validator).
// Usage: node tools/validate_gltf.mjs FILE... ; prints one JSON line per file:
// {"file", "errors", "warnings", "messages": [{code, message, pointer, severity}]}; exit 1 when any file has errors.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const validator = require("gltf-validator");

let failed = false;
for (const file of process.argv.slice(2)) {
  const bytes = new Uint8Array(await readFile(file));
  const dir = path.dirname(file);
  const report = await validator.validateBytes(bytes, {
    uri: file,
    maxIssues: 200,
    externalResourceFunction: (uri) => readFile(path.join(dir, decodeURIComponent(uri))).then((b) => new Uint8Array(b)),
  });
  const issues = report.issues;
  if (issues.numErrors > 0) failed = true;
  console.log(JSON.stringify({
    file, errors: issues.numErrors, warnings: issues.numWarnings,
    messages: issues.messages.filter((m) => m.severity <= 1).slice(0, 50),
  }));
}
process.exit(failed ? 1 : 0);
