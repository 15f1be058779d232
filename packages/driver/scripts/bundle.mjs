#!/usr/bin/env node
/**
 * Bundles the driver process into one ES module for the image: dist/bundle/main.mjs (plus its source map).
 * One file loads faster and holds less than ~900 modules (start to first Probe, idle RSS: see bench/).
 * koffi stays outside (a native addon): the image ships node_modules/koffi next to the bundle's directory
 * tree, or any `node_modules/koffi` Node's resolution finds from dist/bundle/.
 *
 *   node scripts/bundle.mjs [--analyze]
 */
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { builtinsThroughRequire } from '../../../scripts/esbuild/builtins-through-require.mjs';

/**
 * grpc-js require()s @grpc/proto-loader lazily, only to load its own channelz and ORCA .proto files (from
 * its package directory, which the image does not ship next to the bundle); the driver uses neither, and
 * its own codecs are hand-written (@secrets-store-csi/protocol/wire). Bundled, the loader and the full
 * protobufjs it pulls in cost ~0.5 MiB of RSS at idle: a stub that says why stands in for it.
 */
const protoLoaderStub = {
  name: 'proto-loader-stub',
  setup(build) {
    build.onResolve({ filter: /^@grpc\/proto-loader$/ }, (args) => ({
      path: args.path,
      namespace: 'proto-loader-stub',
    }));
    build.onLoad({ filter: /.*/, namespace: 'proto-loader-stub' }, () => ({
      contents:
        'module.exports = { loadSync() { throw new Error("@grpc/proto-loader is not bundled: channelz and ORCA are not supported"); } };',
      loader: 'js',
    }));
  },
};

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
  plugins: [builtinsThroughRequire, protoLoaderStub],
  // CommonJS dependencies call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __sscsiCreateRequire } from 'node:module'; const require = __sscsiCreateRequire(import.meta.url);",
  },
});
// V8 keeps a script's source for lazy compilation; one non-ASCII character makes it a two-byte string, twice
// the size (the bundle's 1 MB then held 2 MiB of heap). esbuild escapes strings, not regular expressions.
// eslint-disable-next-line no-control-regex -- the whole ASCII range is the point
const nonAscii = /[^\x00-\x7f]/u.exec(readFileSync('dist/bundle/main.mjs', 'utf8'));
if (nonAscii !== null) {
  throw new Error(
    `dist/bundle/main.mjs has a non-ASCII character (${JSON.stringify(nonAscii[0])} at ${nonAscii.index}): ` +
      'escape it in the source (\\uXXXX) so V8 holds the bundle as a one-byte string',
  );
}
if (analyze && result.metafile !== undefined) {
  const { analyzeMetafile } = await import('esbuild');
  process.stdout.write(await analyzeMetafile(result.metafile));
}
