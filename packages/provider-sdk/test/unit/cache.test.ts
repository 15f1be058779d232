import { expect } from 'chai';
import fc from 'fast-check';
import { CoalescingCache } from '../../src/cache.js';

/** A fetch whose completion the test controls. */
function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function clock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('CoalescingCache', () => {
  it('refuses a TTL or size that would not bound it', () => {
    expect(() => new CoalescingCache({ ttlInMs: 0, maxEntries: 1 })).to.throw(RangeError, 'ttlInMs');
    expect(() => new CoalescingCache({ ttlInMs: Infinity, maxEntries: 1 })).to.throw(RangeError, 'ttlInMs');
    expect(() => new CoalescingCache({ ttlInMs: 1, maxEntries: 0 })).to.throw(RangeError, 'maxEntries');
    expect(() => new CoalescingCache({ ttlInMs: 1, maxEntries: 1.5 })).to.throw(RangeError, 'maxEntries');
  });

  it('shares one fetch among concurrent requests of the same identity and object', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 60_000, maxEntries: 10 });
    const backend = deferred<string>();
    let calls = 0;
    const fetch = () => {
      calls++;
      return backend.promise;
    };
    const waiting = Array.from({ length: 5 }, () => cache.get('tenant/client-a', 'secret/db', fetch));
    backend.resolve('v1');
    expect(await Promise.all(waiting)).to.deep.equal(['v1', 'v1', 'v1', 'v1', 'v1']);
    expect(calls).to.equal(1);
    expect(cache.stats).to.deep.equal({ hits: 0, coalesced: 4, fetches: 1, evictions: 0 });
  });

  it('never serves one identity what another fetched, even at the same time', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 60_000, maxEntries: 10 });
    const a = deferred<string>();
    const b = deferred<string>();
    const forA = cache.get('identity-a', 'secret/db', () => a.promise);
    const forB = cache.get('identity-b', 'secret/db', () => b.promise);
    a.resolve('what a may read');
    b.resolve('what b may read');
    expect(await forA).to.equal('what a may read');
    expect(await forB).to.equal('what b may read');
    expect(await cache.get('identity-b', 'secret/db', () => Promise.reject(new Error('not kept')))).to.equal(
      'what b may read',
    );
    expect(cache.stats.fetches).to.equal(2);
  });

  it('keeps no two (identity, object) pairs apart by separators alone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.string(), fc.string(), async (i1, o1, i2, o2) => {
        fc.pre(i1 !== '' && i2 !== '' && (i1 !== i2 || o1 !== o2));
        const cache = new CoalescingCache<string>({ ttlInMs: 1000, maxEntries: 10 });
        await cache.get(i1, o1, () => Promise.resolve('first'));
        expect(await cache.get(i2, o2, () => Promise.resolve('second'))).to.equal('second');
      }),
    );
  });

  it('refuses an empty identity key', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 1000, maxEntries: 10 });
    let error: unknown;
    try {
      await cache.get('', 'secret/db', () => Promise.resolve('v'));
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.equal('identityKey must name the identity that fetches the object');
  });

  it('serves a value until its TTL ends, then fetches again', async () => {
    const time = clock();
    const cache = new CoalescingCache<string>({ ttlInMs: 30_000, maxEntries: 10, now: time.now });
    let version = 0;
    const fetch = () => Promise.resolve(`v${++version}`);
    expect(await cache.get('id', 'obj', fetch)).to.equal('v1');
    time.advance(29_999);
    expect(await cache.get('id', 'obj', fetch)).to.equal('v1');
    time.advance(1);
    expect(await cache.get('id', 'obj', fetch)).to.equal('v2');
    expect(cache.stats).to.include({ hits: 1, fetches: 2 });
  });

  it('does not keep a failed fetch: waiting callers see the error, the next call fetches again', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 30_000, maxEntries: 10 });
    const backend = deferred<string>();
    const first = cache.get('id', 'obj', () => backend.promise);
    const second = cache.get('id', 'obj', () => Promise.resolve('unused'));
    backend.reject(new Error('429 throttled'));
    for (const pending of [first, second]) {
      let message: string | undefined;
      await pending.catch((error: unknown) => {
        message = (error as Error).message;
      });
      expect(message).to.equal('429 throttled');
    }
    expect(await cache.get('id', 'obj', () => Promise.resolve('v2'))).to.equal('v2');
    expect(cache.size).to.equal(1);
  });

  it('recovers from a fetch that throws before returning a promise', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 30_000, maxEntries: 10 });
    let message: string | undefined;
    await cache
      .get('id', 'obj', () => {
        throw new Error('bad configuration');
      })
      .catch((error: unknown) => {
        message = (error as Error).message;
      });
    expect(message).to.equal('bad configuration');
    expect(await cache.get('id', 'obj', () => Promise.resolve('v1'))).to.equal('v1');
  });

  it('keeps at most maxEntries values, dropping the least recently used', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 60_000, maxEntries: 2 });
    await cache.get('id', 'a', () => Promise.resolve('a1'));
    await cache.get('id', 'b', () => Promise.resolve('b1'));
    await cache.get('id', 'a', () => Promise.resolve('unused')); // a is now the most recent
    await cache.get('id', 'c', () => Promise.resolve('c1')); // drops b
    expect(cache.size).to.equal(2);
    expect(await cache.get('id', 'a', () => Promise.resolve('a2'))).to.equal('a1');
    expect(await cache.get('id', 'b', () => Promise.resolve('b2'))).to.equal('b2');
    expect(cache.stats.evictions).to.equal(2);
  });

  it('drops expired values from memory when it stores new ones', async () => {
    const time = clock();
    const cache = new CoalescingCache<string>({ ttlInMs: 1000, maxEntries: 10, now: time.now });
    await cache.get('id', 'a', () => Promise.resolve('a'));
    await cache.get('id', 'b', () => Promise.resolve('b'));
    time.advance(1000);
    await cache.get('id', 'c', () => Promise.resolve('c'));
    expect(cache.size).to.equal(1);
    expect(cache.stats.evictions).to.equal(0);
  });

  it('lets one caller stop waiting while the shared fetch completes for the others', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 60_000, maxEntries: 10 });
    const backend = deferred<string>();
    const controller = new AbortController();
    const impatient = cache.get('id', 'obj', () => backend.promise, { abortSignal: controller.signal });
    const patient = cache.get('id', 'obj', () => backend.promise, {
      abortSignal: new AbortController().signal,
    });
    controller.abort(new Error('deadline exceeded'));
    let message: string | undefined;
    await impatient.catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.equal('deadline exceeded');
    backend.resolve('v1');
    expect(await patient).to.equal('v1');
    expect(await cache.get('id', 'obj', () => Promise.resolve('v2'))).to.equal('v1');
  });

  it('passes a failed shared fetch to an abortable caller, and refuses an already aborted one', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 60_000, maxEntries: 10 });
    let message: string | undefined;
    await cache
      .get('id', 'obj', () => Promise.reject(new Error('boom')), {
        abortSignal: new AbortController().signal,
      })
      .catch((error: unknown) => {
        message = (error as Error).message;
      });
    expect(message).to.equal('boom');
    const aborted = AbortSignal.abort(new Error('gone'));
    await cache
      .get('id', 'obj', () => Promise.resolve('never'), { abortSignal: aborted })
      .catch((error: unknown) => {
        message = (error as Error).message;
      });
    expect(message).to.equal('gone');
    expect(cache.stats.fetches).to.equal(1);
  });

  it('forgets a value on delete and everything on clear', async () => {
    const cache = new CoalescingCache<string>({ ttlInMs: 60_000, maxEntries: 10 });
    await cache.get('id', 'a', () => Promise.resolve('a1'));
    await cache.get('id', 'b', () => Promise.resolve('b1'));
    cache.delete('id', 'a');
    expect(await cache.get('id', 'a', () => Promise.resolve('a2'))).to.equal('a2');
    cache.clear();
    expect(cache.size).to.equal(0);
  });
});
