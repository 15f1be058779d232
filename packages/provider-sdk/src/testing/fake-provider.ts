/**
 * A programmable provider for tests of the driver and of the SDK: it records every call, answers what it is
 * told (a result, a function of the request, an error), can be slowed down or held until released, and sees
 * aborts. `startFakeProviderServer` serves one on a unix socket in a temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MountOptions, MountRequest, MountResult, SecretProvider } from '../contract.js';
import { serve, type ProviderServer, type ServeOptions } from '../serve.js';

export type FakeBehaviour = (
  request: MountRequest,
  options: MountOptions,
) => MountResult | Promise<MountResult>;

export interface FakeMountCall {
  readonly request: MountRequest;
  readonly abortSignal: AbortSignal;
}

/** What upstream's e2e provider answers: one file `foo` with `secret`, version `v1`. */
export const defaultFakeBehaviour: FakeBehaviour = (request) => ({
  files: [{ path: 'foo', mode: request.defaultFileMode, contents: new TextEncoder().encode('secret') }],
  objectVersions: [{ id: 'secret/foo', version: 'v1' }],
});

function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

export class FakeProvider implements SecretProvider {
  readonly name: string;
  readonly runtimeName: string;
  readonly version: string;
  readonly calls: FakeMountCall[] = [];
  #behaviour: FakeBehaviour = defaultFakeBehaviour;
  #delayInMs = 0;
  #gate: Promise<void> | undefined;
  #heldCount = 0;
  #waiters: (() => void)[] = [];

  constructor(
    options: { readonly name?: string; readonly runtimeName?: string; readonly version?: string } = {},
  ) {
    this.name = options.name ?? 'fake';
    this.runtimeName = options.runtimeName ?? 'FakeProvider';
    this.version = options.version ?? '0.0.0-fake';
  }

  /** Later mounts answer `result`, or what `result` computes from the request. */
  returns(result: MountResult | FakeBehaviour): this {
    this.#behaviour = typeof result === 'function' ? result : () => result;
    return this;
  }

  /** Later mounts fail with `error`. */
  fails(error: unknown): this {
    this.#behaviour = () => {
      throw error;
    };
    return this;
  }

  /** Later mounts wait `ms` first (an abort cuts the wait short). */
  delays(ms: number): this {
    this.#delayInMs = ms;
    return this;
  }

  /**
   * Later mounts wait until `release()`. `waiting(n)` resolves once n mounts are held, so a test knows its
   * calls have arrived without sleeping.
   */
  hold(): { release(): void; waiting(count: number): Promise<void> } {
    let release = () => {};
    this.#gate = new Promise<void>((resolve) => {
      release = () => {
        this.#gate = undefined;
        resolve();
      };
    });
    return {
      release: () => {
        release();
      },
      waiting: (count) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (this.#heldCount >= count) resolve();
            else this.#waiters.push(check);
          };
          check();
        }),
    };
  }

  async mount(request: MountRequest, options: MountOptions): Promise<MountResult> {
    this.calls.push({ request, abortSignal: options.abortSignal });
    if (this.#gate !== undefined) {
      this.#heldCount++;
      const waiters = this.#waiters;
      this.#waiters = [];
      waiters.forEach((wake) => {
        wake();
      });
      try {
        await abortable(this.#gate, options.abortSignal);
      } finally {
        this.#heldCount--;
      }
    }
    if (this.#delayInMs > 0) {
      await abortable(new Promise((resolve) => setTimeout(resolve, this.#delayInMs)), options.abortSignal);
    }
    return this.#behaviour(request, options);
  }
}

export interface ProviderTestServer<P extends SecretProvider> {
  readonly provider: P;
  readonly server: ProviderServer;
  /** `<directory>/<name>.sock`, where the driver would find the provider. */
  readonly socketPath: string;
  /** The temporary providers directory. */
  readonly directory: string;
  /** Shuts the server down and removes the directory. */
  stop(): Promise<void>;
}

export type FakeProviderServer = ProviderTestServer<FakeProvider>;

export type TestServeOptions = Partial<Omit<ServeOptions, 'endpoint'>>;

/** Serves `provider` on `<new temp dir>/<name>.sock`, without signal handlers unless asked. */
export async function startProviderServer<P extends SecretProvider>(
  provider: P,
  options: TestServeOptions = {},
): Promise<ProviderTestServer<P>> {
  const directory = await mkdtemp(join(tmpdir(), 'provider-'));
  const socketPath = join(directory, `${provider.name}.sock`);
  try {
    const server = await serve(provider, { signals: [], ...options, endpoint: `unix://${socketPath}` });
    return {
      provider,
      server,
      socketPath,
      directory,
      stop: async () => {
        await server.shutdown();
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** Serves a FakeProvider (a new one by default) as `startProviderServer` does. */
export function startFakeProviderServer(
  options: { readonly provider?: FakeProvider } & TestServeOptions = {},
): Promise<FakeProviderServer> {
  const { provider = new FakeProvider(), ...serveOptions } = options;
  return startProviderServer(provider, serveOptions);
}
