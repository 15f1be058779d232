#!/usr/bin/env node
/**
 * Bundles the plugin into one executable ES module, dist/bundle/kubectl-secrets_store.mjs, for users to copy
 * onto their PATH as `kubectl-secrets_store` (only Node.js 22 or later needed there):
 *
 *   install -m 0755 dist/bundle/kubectl-secrets_store.mjs /usr/local/bin/kubectl-secrets_store
 *
 * koffi (the driver's mount(2) binding) stays outside: dry-run publishes into a private temporary directory
 * and never loads it.
 */
import { chmodSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bundle', { recursive: true, force: true });
const outfile = 'dist/bundle/kubectl-secrets_store.mjs';
await build({
  entryPoints: ['src/cli.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // Workspace packages from their TypeScript sources (their `source` export condition).
  conditions: ['source'],
  external: ['koffi'],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __sscsiCreateRequire } from 'node:module'; const require = __sscsiCreateRequire(import.meta.url);",
  },
});
chmodSync(outfile, 0o755);
