/**
 * The test world every integration and end-to-end test uses, started once per test run in a temporary
 * directory on loopback and always stopped: by the mocha root hook (`@secrets-store-csi/test-support/hooks`)
 * after the run, and by exit hooks on failure or Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTokenEndpoint, type TokenEndpoint } from './entra.js';
import { startKubeControlPlane, type KubeControlPlane } from './kube.js';
import { createTestPki, issueLocalhostServing, type TestPki } from './pki.js';
import { installExitHooks, stopAllProcesses } from './process.js';
import { trustCertificateAuthority } from './trust.js';

export interface TestWorld {
  /** Temporary directory holding certificates, data and every server's log. */
  readonly dir: string;
  readonly pki: TestPki;
  readonly kube: KubeControlPlane;
  readonly entra: TokenEndpoint;
  stop(): Promise<void>;
}

export async function startTestWorld(): Promise<TestWorld> {
  installExitHooks();
  const dir = await mkdtemp(join(tmpdir(), 'sscsi-test-world-'));
  const pki = await createTestPki(dir);
  trustCertificateAuthority(pki.caCertPath);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    await stopAllProcesses();
    if (process.env.SSCSI_KEEP_TEST_WORLD === undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    const kube = await startKubeControlPlane(join(dir, 'kube'), pki);
    stops.push(() => kube.stop());
    const serving = await issueLocalhostServing(pki, 'entra');
    const entra = await startTokenEndpoint({
      ...serving,
      assertionPublicKeyPaths: [kube.serviceAccountPublicKeyPath],
    });
    stops.push(() => entra.stop());
    return { dir, pki, kube, entra, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

let shared: Promise<TestWorld> | undefined;

/** The run's one test world, started on first use. */
export function sharedTestWorld(): Promise<TestWorld> {
  shared ??= startTestWorld();
  return shared;
}

export async function stopSharedTestWorld(): Promise<void> {
  if (shared === undefined) return;
  const world = shared;
  shared = undefined;
  await (await world.catch(() => undefined))?.stop();
}
