/**
 * An esbuild plugin for the daemons' bundles: Node's built-in modules through require(), not import. Node's
 * ES-module facade of a built-in reads every export to fill the namespace, which runs the lazy getters
 * (`node:http` then loads undici for its WebSocket/EventSource exports: +16.5 MiB RSS for
 * `import 'node:http'` against +3.3 MiB for `require('node:http')`, Node 24). CommonJS dependencies already
 * require() them. The bundle must define `require` (a createRequire banner).
 */
import { builtinModules } from 'node:module';

const builtins = new Set(builtinModules);

export const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name) || args.kind !== 'import-statement') return undefined;
      return { path: `node:${name}`, namespace: 'builtin-require' };
    });
    build.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};
