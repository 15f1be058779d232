#!/usr/bin/env node
/**
 * The provider process: the standard provider flags plus `--root-dir`, then serve until SIGTERM.
 *   secrets-store-csi-driver-provider-directory --root-dir=/srv/secrets \
 *     --endpoint=unix:///var/run/secrets-store-csi-providers/directory.sock
 */
import { runProvider } from '@secrets-store-csi/provider-sdk';
import { directoryProviderFlags } from './flags.js';
import { DirectoryProvider, PROVIDER_NAME, PROVIDER_VERSION } from './provider.js';

process.exitCode = await runProvider({
  name: PROVIDER_NAME,
  version: PROVIDER_VERSION,
  defaults: {
    endpoint: `unix:///var/run/secrets-store-csi-providers/${PROVIDER_NAME}.sock`,
    healthzPort: 8990,
    prometheusPort: 8899,
  },
  flags: directoryProviderFlags,
  create: ({ flags }) => DirectoryProvider.open(flags['root-dir']),
});
