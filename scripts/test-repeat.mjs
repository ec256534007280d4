#!/usr/bin/env node
// The flake hunter: runs the whole suite N times and prints, per test that
// failed at least once, how often it failed and its first failure message.
//
//   pnpm test:repeat 5                          # process runtime, 5 runs
//   pnpm test:repeat 5 --runtime both --load    # both runtimes, a busy process per core
//   pnpm test:repeat 10 --timing 0.5 -- packages/zk/test/faults-standalone.test.ts
//
// --runtime process|container|both (default process); --load keeps every core
// busy with a spinning process for the whole run (what CI under load sees);
// --timing sets ELECT_TEST_TIMING. Arguments after `--` go to jest (a file
// pattern, --selectProjects …). Exits 1 if any run failed. Asserts nothing
// itself and never retries a test: it only counts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function usage(message) {
  console.error(`test:repeat: ${message}`);
  console.error('usage: pnpm test:repeat N [--runtime process|container|both] [--load] [--timing X] [-- jest args]');
  process.exit(64);
}

const argv = process.argv.slice(2);
const dashes = argv.indexOf('--');
const own = dashes < 0 ? argv : argv.slice(0, dashes);
const jestArgs = dashes < 0 ? [] : argv.slice(dashes + 1);
let runs;
let runtimes = ['process'];
let load = false;
let timing;
for (let i = 0; i < own.length; i += 1) {
  const arg = own[i];
  if (arg === '--load') load = true;
  else if (arg === '--runtime') {
    const value = own[++i];
    if (value === 'both') runtimes = ['process', 'container'];
    else if (value === 'process' || value === 'container') runtimes = [value];
    else usage(`--runtime takes process, container or both, got ${JSON.stringify(value)}`);
  } else if (arg === '--timing') {
    timing = own[++i];
    if (!(Number(timing) > 0)) usage(`--timing takes a positive number, got ${JSON.stringify(timing)}`);
  } else if (/^\d+$/.test(arg) && runs === undefined) runs = Number(arg);
  else usage(`unknown argument ${JSON.stringify(arg)}`);
}
if (!(runs >= 1)) usage('say how many runs, e.g. `pnpm test:repeat 5`');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-repeat-'));
const spinners = [];
function stopSpinners() {
  for (const child of spinners.splice(0)) child.kill('SIGKILL');
}
if (load) {
  for (let i = 0; i < os.availableParallelism(); i += 1) {
    spinners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  }
  console.log(`test:repeat: ${spinners.length} busy processes (one per core) for the whole run`);
}
process.on('exit', () => {
  stopSpinners();
  fs.rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** Runs jest once for `runtime`; resolves with its JSON results (or undefined) and exit code. */
function runOnce(runtime, index) {
  const output = path.join(dir, `${runtime}-${index}.json`);
  const env = { ...process.env, ELECT_TEST_RUNTIME: runtime, NODE_OPTIONS: '--experimental-vm-modules' };
  if (timing !== undefined) env.ELECT_TEST_TIMING = timing;
  const jest = path.join(repo, 'node_modules', '.bin', 'jest');
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(jest, ['--json', `--outputFile=${output}`, ...jestArgs], { cwd: repo, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    child.on('close', (code) => {
      const results = fs.existsSync(output) ? JSON.parse(fs.readFileSync(output, 'utf8')) : undefined;
      resolve({ code, results, seconds: Math.round((Date.now() - started) / 1000), stderr });
    });
  });
}

const failures = new Map(); // test name -> { count, first }
const lines = [];
let failedRuns = 0;
for (let i = 1; i <= runs; i += 1) {
  for (const runtime of runtimes) {
    const { code, results, seconds, stderr } = await runOnce(runtime, i);
    let failed = 0;
    const note = (name, message) => {
      failed += 1;
      const entry = failures.get(name) ?? { count: 0, first: message };
      entry.count += 1;
      failures.set(name, entry);
    };
    if (!results) note(`(jest itself, ${runtime})`, stderr.trim().split('\n').slice(-5).join(' | '));
    for (const suite of results?.testResults ?? []) {
      const file = path.relative(repo, suite.name);
      const failedTests = suite.assertionResults.filter((t) => t.status === 'failed');
      for (const t of failedTests) note(`${file} › ${t.fullName}`, firstLine(t.failureMessages[0]));
      if (suite.status === 'failed' && failedTests.length === 0) note(`${file} (the file itself)`, firstLine(suite.message));
    }
    if (/worker process has failed to exit gracefully/i.test(stderr)) note(`(a jest worker failed to exit gracefully, ${runtime})`, 'open handles after the last test');
    if (code !== 0 || failed > 0) failedRuns += 1;
    const passed = results?.numPassedTests ?? 0;
    const line = `run ${i}/${runs} ${runtime}: ${passed} passed, ${failed} failed, ${seconds} s${code === 0 ? '' : ` (exit ${code})`}`;
    lines.push(line);
    console.log(line);
  }
}

// The busy processes would keep this process alive for ever: they go now.
stopSpinners();
console.log('');
if (failures.size === 0) {
  console.log(`test:repeat: no failures in ${runs * runtimes.length} runs`);
} else {
  console.log('failures  test  (first message)');
  for (const [name, { count, first }] of [...failures].sort((a, b) => b[1].count - a[1].count)) {
    console.log(`${String(count).padStart(3)}/${runs * runtimes.length}  ${name}\n          ${first}`);
  }
}
process.exitCode = failedRuns === 0 ? 0 : 1;

function firstLine(message = '') {
  // Jest messages start with the matcher's text and its diff, then the stack:
  // keep the first lines (the diff says what differed), without colour codes.
  const text = message.replaceAll(`${String.fromCharCode(27)}[`, '\0').replace(/\0[0-9;]*m/g, '');
  const kept = text.split('\n').filter((l) => l.trim() !== '').slice(0, 14);
  return kept.map((l) => l.trimEnd().slice(0, 300)).join('\n          ');
}
