#!/usr/bin/env node
// The harness's watchdog ("janitor"): a tiny standalone process that owns the
// servers a test starts, so that nothing outlives the test — not even when the
// test process is SIGKILLed, which runs no `finally`, no `afterAll`, no exit hook.
//
// The test process starts one watchdog per cluster (or network namespace) in
// its own session, keeps the write end of the watchdog's stdin, and sends it
// JSON lines:
//   {"op":"spawn","id":1,"command":"java","args":[...],"log":"/tmp/elect-test-…/zk1.log"}
//       → {"id":1,"pid":1234} (or {"id":1,"error":"…"}), later {"exit":1234,"code":…,"signal":…}
//   {"op":"adopt","pid":1234}   kill this process group too (started elsewhere)
//   {"op":"release","pid":1234} forget an adopted group that has ended
//   {"op":"path","path":"/tmp/elect-test-…"}  remove this directory at the end
//   {"op":"netns","name":"elect-…"}           delete this network namespace at the end
// When stdin reaches EOF — the test closed the cluster, or the kernel closed
// the pipe because the test process died — the watchdog SIGKILLs every
// process group it knows, waits until they are gone (it is their parent, so it
// reaps them), deletes the namespaces and directories, and exits.
//
// Each server runs in its own process group (detached), so pausing or killing
// one member never touches another, and a group-kill of the test runner does
// not reach the servers: only this watchdog (or the harness) ends them, by pid.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import process from 'node:process';
import readline from 'node:readline';

const children = new Map(); // pid -> Promise that resolves when the child has exited
const adopted = new Set(); // pids of process groups started by someone else
const paths = new Set();
const namespaces = new Set();
let cleaning = false;

// Our stdout is a pipe to the test process; if that process is gone, writes fail. Ignore.
process.stdout.on('error', () => {});
function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function spawnServer({ id, command, args, log, cwd, env }) {
  let fd;
  try {
    fd = fs.openSync(log, 'a');
    const child = spawn(command, args, { cwd, env: env ?? process.env, detached: true, stdio: ['ignore', fd, fd] });
    child.once('error', (error) => reply({ id, error: error.message }));
    if (child.pid === undefined) return;
    const pid = child.pid;
    children.set(
      pid,
      new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          children.delete(pid);
          reply({ exit: pid, code, signal });
          resolve();
        }),
      ),
    );
    reply({ id, pid });
  } catch (error) {
    reply({ id, error: error instanceof Error ? error.message : String(error) });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// An adopted process is not our child, so we cannot reap it: "gone" means no
// such pid, or a zombie waiting for its own parent.
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const pid of [...children.keys(), ...adopted]) killGroup(pid);
  const limit = Date.now() + 5000;
  await Promise.race([Promise.all(children.values()), new Promise((resolve) => setTimeout(resolve, 5000))]);
  while ([...adopted].some(alive) && Date.now() < limit) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const name of namespaces) spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  for (const path of paths) {
    // Only ever remove what the harness created.
    if (/\/elect-test-[^/]+/.test(path)) fs.rmSync(path, { recursive: true, force: true, maxRetries: 3 });
  }
  process.exit(0);
}

const handlers = {
  spawn: spawnServer,
  adopt: ({ pid }) => adopted.add(pid),
  release: ({ pid }) => adopted.delete(pid),
  path: ({ path }) => paths.add(path),
  netns: ({ name }) => namespaces.add(name),
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (cleaning || line.trim() === '') return;
  try {
    const message = JSON.parse(line);
    handlers[message.op]?.(message);
  } catch (error) {
    reply({ error: `bad request ${line}: ${error instanceof Error ? error.message : String(error)}` });
  }
});
process.stdin.on('end', cleanup);
process.stdin.on('error', cleanup);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, cleanup);
reply({ ready: process.pid });
