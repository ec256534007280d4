#!/usr/bin/env node
// Type-checks every ```ts block of README.md against the packages' sources, so
// the examples people copy always compile. Each block becomes one module in a
// temporary folder inside the repository (so @elect/* resolve through
// tsconfig paths), then `tsc --noEmit` runs over them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
if (blocks.length === 0) {
  console.error('check-readme-examples: README.md has no ```ts blocks');
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
