#!/usr/bin/env node
/**
 * The Azure Key Vault provider process, as upstream's `secrets-store-csi-driver-provider-azure`:
 *   secrets-store-csi-driver-provider-azure --endpoint=unix:///provider/azure.sock
 */
import { runProvider } from '@secrets-store-csi/provider-sdk';
import { azureProviderFlags, createAzureProvider } from './app.js';
import { PROVIDER_NAME, PROVIDER_VERSION, RUNTIME_NAME } from './names.js';

process.exitCode = await runProvider({
  name: PROVIDER_NAME,
  runtimeName: RUNTIME_NAME,
  version: PROVIDER_VERSION,
  // Upstream prints {"version","buildDate"}; the image build sets SSCSI_BUILD_DATE.
  versionJson: { version: PROVIDER_VERSION, buildDate: process.env.SSCSI_BUILD_DATE ?? 'unknown' },
  defaults: { endpoint: 'unix:///tmp/azure.sock', healthzPort: 8989, prometheusPort: 8898 },
  flags: azureProviderFlags,
  create: createAzureProvider,
});
