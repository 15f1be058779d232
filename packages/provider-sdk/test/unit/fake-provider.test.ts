import { expect } from 'chai';
import type { MountRequest } from '../../src/contract.js';
import { FakeProvider } from '../../src/testing/index.js';

const request: MountRequest = {
  attributes: { objects: 'x' },
  secrets: {},
  defaultFileMode: 0o600,
  currentObjectVersions: [],
  targetPath: '/t',
};
const options = (signal = new AbortController().signal) => ({
  abortSignal: signal,
  maxResponseSizeInBytes: 1024,
});

describe('FakeProvider', () => {
  it('answers as upstream’s e2e provider does until told otherwise, and records each call', async () => {
    const fake = new FakeProvider();
    const result = await fake.mount(request, options());
    expect(result.objectVersions).to.deep.equal([{ id: 'secret/foo', version: 'v1' }]);
    expect(
      result.files.map((file) => [file.path, file.mode, Buffer.from(file.contents).toString()]),
    ).to.deep.equal([['foo', 0o600, 'secret']]);
    expect(fake.calls.map((call) => call.request)).to.deep.equal([request]);
    expect([fake.name, fake.runtimeName, fake.version]).to.deep.equal(['fake', 'FakeProvider', '0.0.0-fake']);
  });

  it('answers a computed result, or fails as told', async () => {
    const fake = new FakeProvider({ name: 'other', version: '2.0.0' }).returns((mountRequest) => ({
      files: [],
      objectVersions: [{ id: mountRequest.attributes.objects ?? '', version: '1' }],
    }));
    expect((await fake.mount(request, options())).objectVersions[0]?.id).to.equal('x');
    fake.fails(new Error('store down'));
    let message: string | undefined;
    await fake.mount(request, options()).catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.equal('store down');
  });

  it('delays its answer, and gives up the wait when aborted', async () => {
    const fake = new FakeProvider().delays(5);
    expect((await fake.mount(request, options())).files).to.have.length(1);
    fake.delays(60_000);
    const controller = new AbortController();
    const pending = fake.mount(request, options(controller.signal));
    controller.abort(new Error('cancelled'));
    let message: string | undefined;
    await pending.catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.equal('cancelled');
    let early: string | undefined;
    await fake.mount(request, options(AbortSignal.abort(new Error('already')))).catch((error: unknown) => {
      early = (error as Error).message;
    });
    expect(early).to.equal('already');
  });

  it('holds calls until released, and says when they have arrived', async () => {
    const fake = new FakeProvider();
    const held = fake.hold();
    const first = fake.mount(request, options());
    const second = fake.mount(request, options());
    await held.waiting(2);
    await held.waiting(1);
    held.release();
    expect(await Promise.all([first, second])).to.have.length(2);
    expect((await fake.mount(request, options())).files).to.have.length(1);
  });
});
