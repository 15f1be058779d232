/**
 * A Helm chart repository as the walkthroughs use one: scripts/chart-repo.sh packages the charts and indexes
 * them into a folder, and a static file server on 127.0.0.1 serves that folder to `helm repo add`.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHART_REPO_SCRIPT = fileURLToPath(new URL('../../../scripts/chart-repo.sh', import.meta.url));

export interface ChartRepository {
  /** The repository's URL, for `helm repo add <name> <url>`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the files below `root` (nothing outside it) over HTTP on 127.0.0.1. */
export async function serveFolder(root: string): Promise<ChartRepository> {
  const server: Server = createServer((request, response) => {
    const path = normalize(join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    stat(path).then(
      (info) => {
        if (!info.isFile()) throw new Error('not a file');
        response.writeHead(200, { 'content-length': info.size });
        createReadStream(path).pipe(response);
      },
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    url: `http://127.0.0.1:${String(address.port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * The repository's charts packaged and indexed into the (empty) folder `root` by the documented script,
 * and served. `env` is helm's environment (PATH with helm, or HELM naming it).
 */
export async function serveChartRepository(root: string, env: NodeJS.ProcessEnv): Promise<ChartRepository> {
  const served = await serveFolder(root);
  try {
    await run('bash', [CHART_REPO_SCRIPT, '--url', served.url, root], { env });
    return served;
  } catch (error) {
    await served.close();
    throw error;
  }
}
