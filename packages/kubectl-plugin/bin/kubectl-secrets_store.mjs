#!/usr/bin/env node
// The package's bin, committed so pnpm links it on a fresh clone before anything is built. It runs the
// compiled plugin (dist/), which `pnpm --filter @secrets-store-csi/kubectl-plugin build` makes; for a copy
// to put on PATH, the build also writes the single file dist/bundle/kubectl-secrets_store.mjs.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'kubectl-secrets_store: not built yet (no dist/main.js): run `pnpm build` at the repository root, ' +
      'or `pnpm --filter @secrets-store-csi/kubectl-plugin... build`\n',
  );
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
