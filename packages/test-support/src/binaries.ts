/**
 * Finds the binaries that scripts/test-world/build.sh built and cached (keyed by the pinned versions), through
 * the manifest it writes. Tests never build anything themselves: a missing manifest or binary is an error that
 * says which command to run.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BUILD_SCRIPT = fileURLToPath(new URL('../../../scripts/test-world/build.sh', import.meta.url));

export interface TestWorldManifest {
  readonly versions: Readonly<Record<string, string>>;
  readonly artifacts: Readonly<Record<string, string>>;
  readonly lowkeyVaultJava?: string;
}

let cached: Promise<TestWorldManifest> | undefined;

export function readManifest(): Promise<TestWorldManifest> {
  cached ??= (async () => {
    const { stdout } = await run('bash', [BUILD_SCRIPT, '--print-manifest-path']);
    const path = stdout.trim();
    try {
      return JSON.parse(await readFile(path, 'utf8')) as TestWorldManifest;
    } catch (error) {
      throw new Error(`the test world is not built (no ${path}): run bash scripts/test-world/build.sh`, {
        cause: error,
      });
    }
  })();
  return cached;
}

/** The path of a built component such as `kube-apiserver`, or an error naming the build command. */
export async function artifact(component: string): Promise<string> {
  const manifest = await readManifest();
  const path = manifest.artifacts[component];
  if (path === undefined) {
    throw new Error(
      `${component} is not in the test world build: run bash scripts/test-world/build.sh ${component}`,
    );
  }
  return path;
}
