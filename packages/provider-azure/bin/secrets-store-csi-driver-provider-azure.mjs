#!/usr/bin/env node
// The `secrets-store-csi-driver-provider-azure` command: runs the built dist/main.js. This launcher is committed so that pnpm can link the
// command on install, before anything is built; without a build it says how to build instead of failing
// with ENOENT.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write(
    'secrets-store-csi-driver-provider-azure: not built yet (no dist/main.js): run `pnpm build` at the repository root, ' +
      'or `pnpm --filter @secrets-store-csi/provider-azure build`\n',
  );
  process.exitCode = 1;
}
