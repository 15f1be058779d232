import { createHash } from 'node:crypto';
import { mkdir, rm, symlink, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ProviderError, type MountRequest, type MountResult } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { DirectoryProvider } from '../../src/provider.js';
import { makeRoot, objectsParameter } from '../fixtures.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function request(objects: string | undefined, defaultFileMode = 0o644): MountRequest {
  return {
    attributes: objects === undefined ? {} : { objects },
    secrets: {},
    defaultFileMode,
    currentObjectVersions: [],
    targetPath: '/target',
  };
}

const options = (maxResponseSizeInBytes = 4 * 1024 * 1024) => ({
  abortSignal: new AbortController().signal,
  maxResponseSizeInBytes,
});

function summary(result: MountResult) {
  return result.files.map((file, index) => ({
    path: file.path,
    mode: file.mode,
    contents: Buffer.from(file.contents).toString(),
    ...result.objectVersions[index],
  }));
}

describe('DirectoryProvider', () => {
  let base: string;
  let root: string;
  let write: (name: string, text: string) => Promise<void>;
  let provider: DirectoryProvider;

  beforeEach(async () => {
    ({ base, root, write } = await makeRoot());
    provider = await DirectoryProvider.open(root);
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function failure(
    objects: string | undefined,
    maxResponseSizeInBytes?: number,
  ): Promise<ProviderError> {
    try {
      await provider.mount(request(objects), options(maxResponseSizeInBytes));
    } catch (error) {
      expect(error).to.be.instanceOf(ProviderError);
      return error as ProviderError;
    }
    throw new Error('expected the mount to fail');
  }

  describe('open', () => {
    async function openError(rootDir: string): Promise<string> {
      try {
        await DirectoryProvider.open(rootDir);
      } catch (error) {
        expect((error as { code?: string }).code).to.equal('InvalidRootDirectory');
        return (error as Error).message;
      }
      throw new Error('expected the root directory to be refused');
    }

    it('resolves the root directory through symlinks', async () => {
      await symlink(root, join(base, 'root-link'));
      expect((await DirectoryProvider.open(join(base, 'root-link'))).rootDir).to.equal(root);
    });

    it('refuses a root directory that is missing, relative, a file, or /', async () => {
      expect(await openError('')).to.equal(
        '--root-dir is required: the directory whose files the provider serves',
      );
      expect(await openError(join(base, 'nope'))).to.equal(
        `root directory "${join(base, 'nope')}" does not exist (--root-dir)`,
      );
      expect(await openError('relative/dir')).to.equal(
        'root directory "relative/dir" is not an absolute path (--root-dir)',
      );
      expect(await openError(join(root, 'db-password'))).to.equal(
        `root directory "${join(root, 'db-password')}" is not a directory (--root-dir)`,
      );
      expect(await openError(join(root, 'db-password', 'x'))).to.equal(
        `root directory "${join(root, 'db-password', 'x')}" cannot be read: ENOTDIR (--root-dir)`,
      );
      expect(await openError('/')).to.equal(
        'root directory "/" is the filesystem root; serve a directory that holds only what pods may read (--root-dir)',
      );
    });
  });

  it('serves each object under its alias, with its mode, id file/<name> and the SHA-256 of its content', async () => {
    const result = await provider.mount(
      request(
        objectsParameter(
          'objectName: db-password\nobjectAlias: password\nfilePermission: 0400',
          'objectName: tls/tls.crt',
          'objectName: db-password-link',
        ),
        0o640,
      ),
      options(),
    );
    expect(summary(result)).to.deep.equal([
      {
        path: 'password',
        mode: 0o400,
        contents: 'hunter2',
        id: 'file/db-password',
        version: sha256('hunter2'),
      },
      {
        path: 'tls/tls.crt',
        mode: 0o640,
        contents: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        id: 'file/tls/tls.crt',
        version: sha256('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'),
      },
      {
        path: 'db-password-link',
        mode: 0o640,
        contents: 'hunter2',
        id: 'file/db-password-link',
        version: sha256('hunter2'),
      },
    ]);
  });

  it('reports a changed file as a new version', async () => {
    const objects = objectsParameter('objectName: db-password');
    const before = await provider.mount(request(objects), options());
    await write('db-password', 'correct horse battery staple');
    const after = await provider.mount(request(objects), options());
    expect(after.objectVersions[0]!.version).to.not.equal(before.objectVersions[0]!.version);
    expect(after.objectVersions[0]!.version).to.equal(sha256('correct horse battery staple'));
  });

  it('follows a Kubernetes-style ..data symlink swap inside the root', async () => {
    await mkdir(join(root, 'cm', '..2024_01_01'), { recursive: true });
    await write('cm/..2024_01_01/key', 'v1');
    await symlink('..2024_01_01', join(root, 'cm', '..data'));
    await symlink('..data/key', join(root, 'cm', 'key'));
    const result = await provider.mount(request(objectsParameter('objectName: cm/key')), options());
    expect(Buffer.from(result.files[0]!.contents).toString()).to.equal('v1');
  });

  it('fails an unknown object with not-found, naming it', async () => {
    for (const name of ['nope', 'db-password/below-a-file']) {
      const error = await failure(objectsParameter(`objectName: ${name}`));
      expect([error.kind, error.code, error.message]).to.deep.equal([
        'not-found',
        'ObjectNotFound',
        `object "${name}" not found`,
      ]);
    }
  });

  it('refuses a symlink that leads out of the root', async () => {
    const error = await failure(objectsParameter('objectName: escape'));
    expect([error.kind, error.code, error.message]).to.deep.equal([
      'permission-denied',
      'ObjectOutsideRoot',
      `object "escape" resolves to a file outside the provider's root directory`,
    ]);
  });

  it('refuses a directory, a FIFO, and a symlink loop', async () => {
    const directory = await failure(objectsParameter('objectName: tls'));
    expect([directory.kind, directory.message]).to.deep.equal([
      'invalid-argument',
      'object "tls" is not a regular file',
    ]);
    execFileSync('mkfifo', [join(root, 'fifo')]);
    expect((await failure(objectsParameter('objectName: fifo'))).message).to.equal(
      'object "fifo" is not a regular file',
    );
    await symlink('loop-b', join(root, 'loop-a'));
    await symlink('loop-a', join(root, 'loop-b'));
    const loop = await failure(objectsParameter('objectName: loop-a'));
    expect([loop.kind, loop.code, loop.message]).to.deep.equal([
      'permission-denied',
      'ObjectNotReadable',
      'object "loop-a" cannot be read: ELOOP',
    ]);
  });

  it('refuses an oversized file before reading it, naming the limit and the flags', async () => {
    await write('big', '');
    await truncate(join(root, 'big'), 5 * 1024 * 1024);
    const error = await failure(objectsParameter('objectName: big'));
    expect([error.kind, error.code]).to.deep.equal(['resource-exhausted', 'ResponseTooLarge']);
    expect(error.message).to.equal(
      'object "big" is 5242880 bytes, over the 4194304-byte limit on a mount response; the driver accepts at ' +
        'most its --max-call-recv-msg-size (4 MiB by default): to send more, raise it on the driver and ' +
        '--max-response-size on this provider to the same value',
    );
  });

  it('stops reading once the objects together pass the limit', async () => {
    await write('half', 'x'.repeat(600));
    const error = await failure(
      objectsParameter('objectName: half', 'objectName: half\nobjectAlias: again', 'objectName: nope'),
      1000,
    );
    expect(error.message).to.match(
      /^the content of the objects up to "half" is 1200 bytes, over the 1000-byte limit/,
    );
  });

  it('checks the parameters before touching the disk', async () => {
    const error = await failure(objectsParameter('objectName: nope', 'objectName: ../outside/node-secret'));
    expect(error.message).to.equal(`object "../outside/node-secret": objectName must not contain '..'`);
  });

  it('stops when the mount is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline exceeded'));
    let message: string | undefined;
    await provider
      .mount(request(objectsParameter('objectName: db-password')), {
        ...options(),
        abortSignal: controller.signal,
      })
      .catch((error: unknown) => {
        message = (error as Error).message;
      });
    expect(message).to.equal('deadline exceeded');
  });
});
