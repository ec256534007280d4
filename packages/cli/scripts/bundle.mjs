#!/usr/bin/env node
/**
 * Bundles the `elect` command (dist/bin.js, built by tsc) into bundle/:
 * elect.js with yargs, pino and the supervisor, and one chunk per backend
 * (and one for the metrics endpoint) that is loaded only when chosen. A cold
 * start of `elect run` then reads a handful of files instead of some four
 * hundred, which is most of the time Node spends before the first line of
 * our code runs (pnpm bench:peers, "cold start").
 *
 * What stays outside, loaded by Node as installed: pino-pretty (for a
 * terminal only) and prom-client (for --metrics only), whose CommonJS
 * exports a bundle would hand to `import()` as a default export alone; and
 * Node's own modules. CommonJS dependencies in the bundle get a real
 * `require` for Node's modules through the banner.
 *
 * Nothing is done while the bundle is newer than every file it was made
 * from (and than this script). A new bundle is made beside the old one and
 * swapped in with two renames, so an `elect` started meanwhile finds either
 * the old bundle or the new one, whole.
 *
 *   node scripts/bundle.mjs       # after tsc -b; pnpm build runs both
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(cli, 'bundle');
const entry = path.join(outdir, 'elect.js');
// What the last bundle was made from (esbuild's metafile), kept out of the package.
const inputsFile = path.join(cli, 'node_modules', '.cache', 'elect-bundle-inputs.json');

function upToDate() {
  try {
    const made = fs.statSync(entry).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8'));
    return inputs.every((input) => fs.statSync(path.resolve(cli, input)).mtimeMs < made);
  } catch {
    return false; // no bundle, no record, or an input gone
  }
}

if (!upToDate()) {
  const fresh = `${outdir}.${process.pid}.new`;
  const stale = `${outdir}.${process.pid}.old`;
  fs.rmSync(fresh, { recursive: true, force: true });
  const result = await build({
    entryPoints: { elect: path.join(cli, 'dist', 'bin.js') },
    outdir: fresh,
    absWorkingDir: cli,
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
    external: ['pino-pretty', 'prom-client'],
    banner: { js: "import { createRequire as __electCreateRequire } from 'node:module';\nconst require = __electCreateRequire(import.meta.url);" },
  });
  if (fs.existsSync(outdir)) fs.renameSync(outdir, stale);
  fs.renameSync(fresh, outdir);
  fs.rmSync(stale, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(inputsFile), { recursive: true });
  fs.writeFileSync(inputsFile, JSON.stringify([...Object.keys(result.metafile.inputs), path.relative(cli, fileURLToPath(import.meta.url))]));
}
