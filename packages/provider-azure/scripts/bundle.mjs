#!/usr/bin/env node
/**
 * Bundles the Azure provider process for the image: dist/bundle/main.mjs (an ES module, with its source map),
 * and the Azure SDK half, loaded on the first mount, as a chunk beside it (esbuild code splitting keeps the
 * dynamic import of src/wiring.ts lazy). Run by `pnpm build`.
 *
 *   node scripts/bundle.mjs [--analyze]
 */
import { rmSync } from 'node:fs';
import { build } from 'esbuild';
import { builtinsThroughRequire } from '../../../scripts/esbuild/builtins-through-require.mjs';

const analyze = process.argv.includes('--analyze');
rmSync('dist/bundle', { recursive: true, force: true });
const result = await build({
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // Workspace packages from their TypeScript sources (their `source` export condition).
  conditions: ['source'],
  plugins: [builtinsThroughRequire],
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: analyze,
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __sscsiCreateRequire } from 'node:module'; const require = __sscsiCreateRequire(import.meta.url);",
  },
});
if (analyze && result.metafile !== undefined) {
  const { analyzeMetafile } = await import('esbuild');
  process.stdout.write(await analyzeMetafile(result.metafile));
}
