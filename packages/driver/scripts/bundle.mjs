#!/usr/bin/env node
/**
 * Bundles the driver process into one ES module for the image: dist/bundle/main.mjs (plus its source map).
 * One file loads faster and holds less than ~900 modules (start to first Probe, idle RSS: see bench/).
 * koffi stays outside (a native addon): the image ships node_modules/koffi next to the bundle's directory
 * tree, or any `node_modules/koffi` Node's resolution finds from dist/bundle/.
 *
 *   node scripts/bundle.mjs [--analyze]
 */
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const analyze = process.argv.includes('--analyze');
rmSync('dist/bundle', { recursive: true, force: true });
const result = await build({
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // Workspace packages from their TypeScript sources (their `source` export condition).
  conditions: ['source'],
  external: ['koffi'],
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
