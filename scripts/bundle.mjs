#!/usr/bin/env node
/**
 * Bundles what Node loads at run time (after `tsc -b`; `pnpm build` runs
 * both), into `bundle/` in each package:
 *
 * - @elect/core, @elect/zk, @elect/etcd: one file per entry point of the
 *   package's `exports` (`bundle/index.js`, `bundle/backend.js`, …), with the
 *   code they share in chunks. A library's bundle takes in its own modules and
 *   its private dependencies (node-zookeeper-client), never a peer dependency
 *   (@jest/globals, which throws unless Jest provides it) nor another of our
 *   packages: there must be one copy of core's classes in a program, or an
 *   error thrown by a backend would not be an `instanceof` the one a user
 *   imports.
 * - @elect/cli: the `elect` command (dist/bin.js) whole, with yargs and pino,
 *   and one chunk per backend (and one for the metrics endpoint) that is
 *   loaded only when chosen. It is made from the libraries' modules as tsc
 *   built them (their exports' `unbundled` condition), not from their bundles.
 *
 * Node then reads a handful of files instead of some hundred modules, and
 * that is most of what it spends before the first line of our code runs, in
 * time and in memory (pnpm bench:peers, "cold start" and "RSS"). What stays
 * outside the CLI's bundle, loaded by Node as installed: pino-pretty (for a
 * terminal only) and prom-client (for --metrics only), whose CommonJS exports
 * a bundle would hand to `import()` as a default export alone; and Node's own
 * modules. CommonJS code in a bundle (`commonjs`) gets a real `require` for
 * Node's modules through the banner.
 *
 * Nothing is done for a package whose bundle is newer than every file it was
 * made from, its package.json, esbuild and this script. A new bundle is made
 * beside the old one and only then swapped in (two renames), so a build that
 * fails leaves the old bundle whole.
 *
 *   node scripts/bundle.mjs            # every package (pnpm build)
 *   node scripts/bundle.mjs core etcd  # these (a test's global setup)
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const script = fileURLToPath(import.meta.url);
const esbuildManifest = createRequire(import.meta.url).resolve('esbuild/package.json');
const root = path.resolve(path.dirname(script), '..');

/**
 * string-width (which yargs and cliui use to lay out --help and the usage
 * messages) builds an Intl.Segmenter and regular expressions over Unicode
 * properties (`\p{RGI_Emoji}` and others) as it is loaded. That cost `elect`
 * 20-30 ms and 2.5 MiB at every start (yargs took 37 ms to import, 14 ms
 * without them), for text that a run that goes well never lays out. So every
 * `import … from 'string-width'` gets a stand-in with the same function,
 * which loads the real module (bundled as it is) the first time it is called.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(build) {
    build.onResolve({ filter: /^string-width$/ }, async ({ path: request, kind, importer, resolveDir, pluginData }) => {
      if (pluginData === lazyStringWidth) return undefined; // our own lookup of the real one, below
      const real = await build.resolve(request, { kind, importer, resolveDir, pluginData: lazyStringWidth });
      if (real.errors.length > 0) return { errors: real.errors };
      // Relative, as esbuild names files: the bundle's comments name no directory of this machine.
      return { path: path.relative(build.initialOptions.absWorkingDir, real.path), namespace: 'lazy-string-width' };
    });
    build.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, ({ path: real }) => ({
      contents: `export default function stringWidth(...args) {\n  return require('./${path.basename(real)}').default(...args);\n}\n`,
      resolveDir: path.resolve(build.initialOptions.absWorkingDir, path.dirname(real)),
    }));
  },
};

/** Each package's bundle is made from its dist/ (tsc's output). */
const targets = [
  { name: 'core' },
  { name: 'zk', commonjs: true },
  { name: 'etcd' },
  {
    name: 'cli',
    external: ['pino-pretty', 'prom-client'],
    entryPoints: { elect: 'dist/bin.js' },
    conditions: ['unbundled'],
    commonjs: true,
    plugins: [lazyStringWidth],
  },
];

/**
 * A library's entry points, from its `exports` (`./bundle/backend.js` is made
 * from its `unbundled` module, `./dist/backend.js`), and what stays outside:
 * its peer dependencies and our other packages.
 */
function library(dir) {
  const { exports, dependencies = {}, peerDependencies = {} } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const entryPoints = {};
  for (const target of Object.values(exports)) {
    const bundled = /^\.\/bundle\/(.+)\.js$/.exec(target.default);
    if (!bundled || !target.unbundled) throw new Error(`${dir}: export ${JSON.stringify(target)} is not { types, unbundled, default: ./bundle/… }`);
    entryPoints[bundled[1]] = target.unbundled;
  }
  const external = [...Object.keys(peerDependencies), ...Object.keys(dependencies).filter((name) => name.startsWith('@elect/'))];
  return { entryPoints, external };
}

const only = process.argv.slice(2);
for (const name of only) if (!targets.some((target) => target.name === name)) throw new Error(`bundle.mjs: no package ${name}`);

for (const target of targets.filter((t) => only.length === 0 || only.includes(t.name))) {
  const dir = path.join(root, 'packages', target.name);
  const outdir = path.join(dir, 'bundle');
  // What the last bundle was made from (esbuild's metafile), kept out of the package.
  const inputsFile = path.join(dir, 'node_modules', '.cache', 'elect-bundle-inputs.json');
  const { entryPoints, external } = target.entryPoints ? { entryPoints: target.entryPoints, external: target.external } : library(dir);

  const upToDate = () => {
    try {
      const made = Math.min(...Object.keys(entryPoints).map((entry) => fs.statSync(path.join(outdir, `${entry}.js`)).mtimeMs));
      const inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8'));
      return inputs.every((input) => fs.statSync(path.resolve(dir, input)).mtimeMs < made);
    } catch {
      return false; // no bundle, no record, or an input gone
    }
  };
  if (upToDate()) continue;

  const fresh = `${outdir}.${process.pid}.new`;
  const stale = `${outdir}.${process.pid}.old`;
  fs.rmSync(fresh, { recursive: true, force: true });
  const result = await build({
    entryPoints,
    outdir: fresh,
    absWorkingDir: dir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    // Not minified, and names stay as written: a stack trace names the
    // functions of the sources, and the bundle marks each file it took in. No
    // source map: it would point into other packages, which a user of the
    // published package does not have.
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
    external,
    conditions: target.conditions ?? [],
    plugins: target.plugins ?? [],
    ...(target.commonjs && { banner: { js: "import { createRequire as __electCreateRequire } from 'node:module';\nconst require = __electCreateRequire(import.meta.url);" } }),
  });
  if (fs.existsSync(outdir)) fs.renameSync(outdir, stale);
  fs.renameSync(fresh, outdir);
  fs.rmSync(stale, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(inputsFile), { recursive: true });
  const alsoFrom = [path.join(dir, 'package.json'), esbuildManifest, script].map((file) => path.relative(dir, file));
  // A plugin's stand-in is named `<namespace>:<the file it stands for>`.
  const inputs = Object.keys(result.metafile.inputs).map((input) => input.replace(/^[a-z-]+:/, ''));
  fs.writeFileSync(inputsFile, JSON.stringify([...inputs, ...alsoFrom]));
}
