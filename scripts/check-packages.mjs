#!/usr/bin/env node
// Checks the public packages as a user gets them: packs each one, installs
// the tarballs into a scratch project outside the workspace, and there
// imports them (ESM and CommonJS), type-checks a program against them
// (strict, no skipLibCheck, under nodenext and bundler resolution), and runs
// publint and "are the types wrong" on each tarball. Also: no build
// leftovers in a tarball, and every source map ships with its sources.
//
// Run after `pnpm build`. Needs the npm registry for the packages' own
// dependencies. Exits 1 with one line per problem.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['core', 'zk', 'etcd', 'metrics', 'testcontainers', 'cli'];
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const problems = [];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-packages-'));

function run(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

/** Runs a check; a failure becomes one problem line with the tool's own output. */
function check(what, fn) {
  try {
    fn();
    console.log(`ok   ${what}`);
  } catch (error) {
    const output = [error.stdout, error.stderr].filter(Boolean).join('\n').trim() || String(error.message ?? error);
    problems.push(`${what}:\n${output.split('\n').map((line) => `       ${line}`).join('\n')}`);
    console.log(`FAIL ${what}`);
  }
}

try {
  // Pack.
  const tarballs = path.join(scratch, 'tarballs');
  fs.mkdirSync(tarballs);
  const packed = {};
  for (const name of packages) {
    const dir = path.join(root, 'packages', name);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir });
    const file = fs.readdirSync(tarballs).find((f) => f.startsWith(manifest.name.replace('@', '').replace('/', '-')));
    const extracted = path.join(scratch, 'extracted', name);
    fs.mkdirSync(extracted, { recursive: true });
    run('tar', ['xzf', path.join(tarballs, file), '-C', extracted]);
    packed[name] = { manifest, tarball: path.join(tarballs, file), dir: path.join(extracted, 'package') };
  }

  // What is in each tarball.
  for (const name of packages) {
    const { manifest, tarball, dir } = packed[name];
    check(`${manifest.name}: no build leftovers, source maps with their sources`, () => {
      const files = new Set(run('tar', ['tzf', tarball]).trim().split('\n').map((f) => f.replace(/^package\//, '')));
      const leftovers = [...files].filter((f) => /\.tsbuildinfo$|(^|\/)test\/|\.test\.(js|d\.ts)$/.test(f));
      if (leftovers.length > 0) throw new Error(`build leftovers: ${leftovers.join(', ')}`);
      const missing = [];
      for (const file of files) {
        if (!file.endsWith('.map')) continue;
        const map = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
        for (const source of map.sources ?? []) {
          const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), map.sourceRoot ?? '', source));
          if (!files.has(resolved)) missing.push(`${file} → ${resolved}`);
        }
      }
      if (missing.length > 0) throw new Error(`source maps point at files the tarball lacks:\n${missing.slice(0, 10).join('\n')}`);
    });
    const library = Object.values(manifest.exports).some((target) => target.default?.startsWith('./bundle/'));
    if (library) {
      check(`${manifest.name}: its bundle leaves out its peers and our other packages`, () => {
        // esbuild marks each file it takes in with a comment naming its path.
        const outside = [...Object.keys(manifest.peerDependencies ?? {}), ...Object.keys(manifest.dependencies ?? {}).filter((d) => d.startsWith('@elect/'))];
        const texts = fs.readdirSync(path.join(dir, 'bundle')).map((file) => fs.readFileSync(path.join(dir, 'bundle', file), 'utf8'));
        const marks = (dep) => [`node_modules/${dep}/`, ...(dep.startsWith('@elect/') ? [`${dep.slice('@elect/'.length)}/dist/`] : [])];
        const inlined = outside.filter((dep) => texts.some((text) => marks(dep).some((mark) => text.includes(mark))));
        if (inlined.length > 0) throw new Error(`the bundle took in ${inlined.join(', ')}, of which a program must have one copy, its own`);
      });
    }
    check(`${manifest.name}: README says what it is in its first lines`, () => {
      const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
      const opening = readme.split('\n').slice(0, 8).join(' ');
      if (!opening.startsWith(`# ${manifest.name}`) || opening.length < 80) throw new Error('the README must open with the package name and a sentence on what it is');
    });
    check(`${manifest.name}: publint`, () => run(bin('publint'), ['--strict', dir]));
    check(`${manifest.name}: are the types wrong`, () => run(bin('attw'), ['--profile', 'esm-only', '--format', 'ascii', tarball]));
  }

  // A user's project.
  const app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }, null, 2));
  const typesNode = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version;
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', ...packages.map((n) => packed[n].tarball), `@types/node@${typesNode}`], { cwd: app });

  const entries = {
    '@elect/core': ['runWhileLeader', 'LeadershipLostError', 'systemClock'],
    '@elect/core/testing': ['MemoryServer', 'ManualClock'],
    '@elect/core/backend': ['LossDeadline', 'LeadershipHandle', 'candidateStateMachine'],
    '@elect/zk': ['connectZooKeeper', 'latchPath'],
    '@elect/etcd': ['connectEtcd', 'electionName'],
    '@elect/metrics': ['ElectMetrics'],
    '@elect/testcontainers': ['startZooKeeperContainer', 'startEtcdContainer', 'startProxy', 'expireSession', 'revokeLease'],
    '@elect/cli': ['run', 'parseDuration'],
  };
  for (const [specifier, names] of Object.entries(entries)) {
    const probe = `const m = MODULE; const missing = ${JSON.stringify(names)}.filter((n) => typeof m[n] === 'undefined'); if (missing.length) { console.error('missing exports: ' + missing.join(', ')); process.exit(1); }`;
    check(`${specifier}: ESM import`, () => run('node', ['--input-type=module', '-e', probe.replace('MODULE', `await import(${JSON.stringify(specifier)})`)], { cwd: app }));
    check(`${specifier}: CommonJS require`, () => run('node', ['-e', probe.replace('MODULE', `require(${JSON.stringify(specifier)})`)], { cwd: app }));
  }

  // The `elect` command as installed: it runs from its bundle, which loads a
  // backend's chunk only when chosen and pino-pretty only on a terminal.
  const elect = path.join(app, 'node_modules', '.bin', 'elect');
  check('elect: --version', () => {
    const printed = run(elect, ['--version'], { cwd: app }).trim();
    if (printed !== packed.cli.manifest.version) throw new Error(`printed ${JSON.stringify(printed)}, not ${packed.cli.manifest.version}`);
  });
  // Nothing listens on port 1: each backend loads, tries, and gives up with 69.
  const unreachable = (backend) => ['leader', '-b', backend, '-c', backend === 'zk' ? '127.0.0.1:1' : 'http://127.0.0.1:1', '-e', 'x', '--connect-timeout', '300ms'];
  const exitCode = (fn) => {
    try {
      fn();
      return 0;
    } catch (error) {
      if (typeof error.status !== 'number') throw error;
      return error.status;
    }
  };
  for (const backend of ['zk', 'etcd']) {
    check(`elect: the ${backend} backend loads (unreachable: exit 69)`, () => {
      const code = exitCode(() => run(elect, unreachable(backend), { cwd: app }));
      if (code !== 69) throw new Error(`exit ${code}, not 69`);
    });
  }
  // On a terminal the logs are pretty: `script` (util-linux) gives elect one,
  // running the command line through $SHELL, here /bin/sh.
  check('elect: readable logs on a terminal', () => {
    const transcript = path.join(scratch, 'terminal.txt');
    const quote = (word) => `'${word.replaceAll("'", "'\\''")}'`;
    const command = [elect, ...unreachable('zk'), '--log-level', 'info'].map(quote).join(' ');
    const code = exitCode(() => run('script', ['-qec', command, transcript], { cwd: app, env: { ...process.env, SHELL: '/bin/sh' } }));
    const text = fs.readFileSync(transcript, 'utf8');
    if (code !== 69) throw new Error(`exit ${code}, not 69:\n${text}`);
    if (!/unreachable|cannot reach|not reach/i.test(text) || text.includes('{"level"')) throw new Error(`not a pretty log:\n${text}`);
  });

  // Types, as a strict user project sees them.
  fs.writeFileSync(
    path.join(app, 'main.ts'),
    [
      "import { runWhileLeader, LeadershipLostError, type Election, type Leadership } from '@elect/core';",
      "import { MemoryServer, ManualClock } from '@elect/core/testing';",
      "import { LossDeadline } from '@elect/core/backend';",
      "import { connectZooKeeper, type ZooKeeperConnectionOptions } from '@elect/zk';",
      "import { connectEtcd, type EtcdConnection } from '@elect/etcd';",
      "import { steadyLeadMs } from '@elect/zk/pacing';",
      "import { run } from '@elect/cli';",
      "import { ElectMetrics } from '@elect/metrics';",
      "import { Registry } from 'prom-client';",
      "import { startZooKeeperContainer, startProxy, revokeLease, type Cluster, type Proxy } from '@elect/testcontainers';",
      'export async function leader(election: Election): Promise<bigint> {',
      "  return await runWhileLeader(election, async (l: Leadership) => l.token, { id: 'a', clock: new ManualClock() });",
      '}',
      "export const options: ZooKeeperConnectionOptions = { connectString: 'zk:2181', acl: [{ scheme: 'world', id: 'anyone', permissions: 'cdrwa' }] };",
      'export type Connections = [Awaited<ReturnType<typeof connectZooKeeper>>, EtcdConnection, typeof connectEtcd];',
      'export const lost = new LeadershipLostError("deadline", "gone");',
      'export const server = new MemoryServer();',
      'export const lead: number = steadyLeadMs(10_000);',
      'export type Deadline = LossDeadline;',
      'export const cli: (argv: readonly string[]) => Promise<number> = run;',
      'export const metrics = new ElectMetrics({ registry: new Registry() });',
      'export const measured: Election = metrics.election(server.connect().election("x"));',
      "export const zkOptions: ZooKeeperConnectionOptions = { connectString: 'zk:2181', telemetry: metrics.telemetry('zk') };",
      'export async function cut(): Promise<[Cluster, Proxy]> {',
      '  const cluster = await startZooKeeperContainer({ size: 3 });',
      '  const proxy = await startProxy(cluster.members[0]!, { replyDelayMs: 10 });',
      "  await revokeLease(cluster.members[0]!, 'ff');",
      '  return [cluster, proxy];',
      '}',
      '',
    ].join('\n'),
  );
  for (const [resolution, module] of [
    ['nodenext', 'nodenext'],
    ['bundler', 'esnext'],
  ]) {
    const config = path.join(app, `tsconfig.${resolution}.json`);
    fs.writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, target: 'es2023', lib: ['es2023', 'esnext.disposable'], module, moduleResolution: resolution, types: ['node'] },
        files: ['main.ts'],
      }),
    );
    check(`tsc --strict without skipLibCheck, ${resolution} resolution`, () => run(bin('tsc'), ['-p', config], { cwd: app }));
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`\n${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log('\nall packages install and check clean');
