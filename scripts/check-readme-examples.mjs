#!/usr/bin/env node
// Type-checks every ```ts block of the READMEs (the root one and each
// package's) against the packages' sources, so
// the examples people copy always compile. Each block becomes one module in a
// temporary folder inside the repository (so @elect/* resolve through
// tsconfig paths), then `tsc --noEmit` runs over them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readmes = ['README.md', ...readdirSync(path.join(root, 'packages')).map((p) => path.join('packages', p, 'README.md'))].filter(
  (f) => existsSync(path.join(root, f)),
);
const blocks = readmes.flatMap((f) =>
  [...readFileSync(path.join(root, f), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]),
);
if (blocks.length === 0) {
  console.error('check-readme-examples: no ```ts blocks in the READMEs');
  process.exit(1);
}

const dir = mkdtempSync(path.join(root, '.readme-examples-'));
try {
  const files = blocks.map((code, i) => {
    const file = path.join(dir, `example-${i + 1}.ts`);
    // A module of its own, so top-level await and names don't clash.
    writeFileSync(file, `${code}\nexport {};\n`);
    return file;
  });
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: '../tsconfig.tests.json', include: files.map((f) => path.basename(f)) }, null, 2),
  );
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { stdio: 'inherit' });
  console.log(`check-readme-examples: ${blocks.length} README example(s) type-check`);
} catch {
  console.error('check-readme-examples: a README example does not type-check (see above)');
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
