#!/usr/bin/env node
// Prints one line over jest --json result files (missing files are ignored):
//   tests: 812 passed, 0 failed, 4 skipped
// With --each, first one line per file, named after it.
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const each = args[0] === '--each';
const files = each ? args.slice(1) : args;

const total = { passed: 0, failed: 0, skipped: 0 };
for (const file of files) {
  if (!fs.existsSync(file)) continue;
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  // A suite that failed to run (a syntax error, a throw at load) has no failed test: count it.
  const counts = {
    passed: r.numPassedTests,
    failed: r.numFailedTests + r.numRuntimeErrorTestSuites,
    skipped: r.numPendingTests + r.numTodoTests,
  };
  if (each) console.log(`${path.basename(file, '.json')}: ${line(counts)}`);
  for (const key of Object.keys(total)) total[key] += counts[key];
}
console.log(`tests: ${line(total)}`);

function line({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed, ${skipped} skipped`;
}
