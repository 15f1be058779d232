import { expect } from 'chai';
import {
  backoffDelay,
  defaultInformerBackoff,
  Informer,
  type ListResult,
  type Timers,
  type WatchFn,
} from '../../../src/kube/informer.js';
import { recordingLogger } from './helpers.js';

const obj = (name: string, resourceVersion: string, namespace = 'ns') => ({
  metadata: { name, namespace, resourceVersion },
});

/** Timers that only record: a test fires them by hand. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  readonly delays: number[] = [];
  private next = 0;
  set(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = ++this.next;
    this.pending.set(id, { callback, ms });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fire(): void {
    const [id, timer] = [...this.pending.entries()][0] ?? [];
    if (id === undefined || timer === undefined) throw new Error('no timer pending');
    this.pending.delete(id);
    timer.callback();
  }
}

interface WatchCall {
  readonly query: Record<string, string | boolean | undefined>;
  readonly onEvent: (type: string, object: unknown) => void;
  readonly onDone: (error: unknown) => void;
  aborted: boolean;
}

/** A scripted API: each list returns the next result; each watch call is kept for the test to drive. */
class ScriptedApi {
  lists: (ListResult | Error)[] = [];
  listCalls = 0;
  readonly watches: WatchCall[] = [];
  /** When set, watch calls end at once with this error, before resolving (as client-node does). */
  failWatchWith: unknown;

  list = (): Promise<ListResult> => {
    this.listCalls++;
    const next = this.lists.shift() ?? { items: [], resourceVersion: '1' };
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };

  watch: WatchFn = (_path, query, onEvent, onDone) => {
    const call: WatchCall = { query, onEvent, onDone, aborted: false };
    this.watches.push(call);
    if (this.failWatchWith !== undefined) onDone(this.failWatchWith);
    return Promise.resolve({
      abort: () => {
        call.aborted = true;
      },
    });
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function informerOver(api: ScriptedApi, timers: Timers, logger = recordingLogger()) {
  return new Informer<unknown>({
    resource: 'things',
    path: '/api/v1/things',
    fieldSelector: 'spec.nodeName=n',
    list: api.list,
    watch: api.watch,
    convert: (o) => o,
    logger,
    timers,
  });
}

describe('informer restart backoff', () => {
  it('doubles from 1 s to at most 30 s by default', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, defaultInformerBackoff))).to.deep.equal([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('follows a configured schedule', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 250 }))).to.deep.equal([
      100, 200, 250, 250,
    ]);
  });
});

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion with the field selector', async () => {
    const api = new ScriptedApi();
    api.lists.push({ items: [obj('a', '5')], resourceVersion: '7' });
    const informer = informerOver(api, new ManualTimers());
    informer.start();
    await informer.whenSynced();
    await settle();
    expect(informer.get('ns', 'a')).to.deep.equal(obj('a', '5'));
    expect(api.watches[0]?.query).to.deep.equal({
      resourceVersion: '7',
      allowWatchBookmarks: true,
      fieldSelector: 'spec.nodeName=n',
    });
    api.watches[0]?.onEvent('ADDED', obj('b', '8'));
    api.watches[0]?.onEvent('MODIFIED', obj('a', '9'));
    api.watches[0]?.onEvent('DELETED', obj('b', '10'));
    expect(informer.get('ns', 'a')).to.deep.equal(obj('a', '9'));
    expect(informer.get('ns', 'b')).to.equal(undefined);
    expect(informer.size).to.equal(1);
    informer.stop();
    expect(api.watches[0]?.aborted).to.equal(true);
  });

  it('restarts a failing watch with exponential backoff and resumes from the last resourceVersion', async () => {
    const api = new ScriptedApi();
    const timers = new ManualTimers();
    const logger = recordingLogger();
    const informer = informerOver(api, timers, logger);
    api.failWatchWith = Object.assign(new Error('Internal Server Error'), { statusCode: 500 });
    informer.start();
    await settle();
    for (let i = 0; i < 6; i++) {
      timers.fire();
      await settle();
    }
    expect(timers.delays).to.deep.equal([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(api.listCalls).to.equal(1);
    expect(api.watches.map((w) => w.query.resourceVersion)).to.deep.equal(Array(7).fill('1'));
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).to.have.length(7);
    expect(warnings[0]?.fields).to.deep.include({ status: 500, delayMs: 1_000, resource: 'things' });
    informer.stop();
    expect(timers.pending.size).to.equal(0);
  });

  it('starts again from the initial delay after a watch that delivered events', async () => {
    const api = new ScriptedApi();
    const timers = new ManualTimers();
    const informer = informerOver(api, timers);
    api.failWatchWith = new Error('boom');
    informer.start();
    await settle();
    timers.fire();
    await settle();
    api.failWatchWith = undefined;
    timers.fire();
    await settle();
    const healthy = api.watches.at(-1);
    healthy?.onEvent('BOOKMARK', obj('', '42'));
    healthy?.onDone(null);
    expect(timers.delays).to.deep.equal([1_000, 2_000, 1_000]);
    timers.fire();
    await settle();
    expect(api.watches.at(-1)?.query.resourceVersion).to.equal('42');
    informer.stop();
  });

  it('lists again after 410 Gone, from an ERROR event or from the HTTP status', async () => {
    const api = new ScriptedApi();
    const timers = new ManualTimers();
    api.lists.push(
      { items: [obj('a', '1')], resourceVersion: '1' },
      { items: [obj('c', '20')], resourceVersion: '20' },
    );
    const informer = informerOver(api, timers);
    informer.start();
    await settle();
    api.watches[0]?.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
    api.watches[0]?.onDone(null);
    timers.fire();
    await settle();
    expect(api.listCalls).to.equal(2);
    expect(informer.get('ns', 'a')).to.equal(undefined);
    expect(informer.get('ns', 'c')).to.deep.equal(obj('c', '20'));
    expect(api.watches[1]?.query.resourceVersion).to.equal('20');
    api.watches[1]?.onDone(Object.assign(new Error('Gone'), { statusCode: 410 }));
    timers.fire();
    await settle();
    expect(api.listCalls).to.equal(3);
    informer.stop();
  });

  it('retries a failed list and reports synced only after a list succeeds', async () => {
    const api = new ScriptedApi();
    const timers = new ManualTimers();
    api.lists.push(new Error('connection refused'));
    const informer = informerOver(api, timers);
    informer.start();
    await settle();
    expect(informer.hasSynced).to.equal(false);
    expect(timers.delays).to.deep.equal([1_000]);
    timers.fire();
    await informer.whenSynced();
    expect(informer.hasSynced).to.equal(true);
    informer.stop();
  });

  it('opens no watch when stopped during the initial list, and releases whoever waits for sync', async () => {
    const api = new ScriptedApi();
    let release: (list: ListResult) => void = () => undefined;
    api.list = () => new Promise((resolve) => (release = resolve));
    const informer = informerOver(api, new ManualTimers());
    informer.start();
    const synced = informer.whenSynced();
    informer.stop();
    await synced;
    release({ items: [obj('a', '1')], resourceVersion: '1' });
    await settle();
    expect(api.watches).to.have.length(0);
    expect(informer.get('ns', 'a')).to.equal(undefined);
  });

  it('aborts a watch that connects after stop() and ignores its late callbacks', async () => {
    const api = new ScriptedApi();
    let connect: () => void = () => undefined;
    const inner = api.watch;
    api.watch = (path, query, onEvent, onDone) =>
      new Promise((resolve) => {
        connect = () => {
          resolve(inner(path, query, onEvent, onDone));
        };
      });
    const timers = new ManualTimers();
    const informer = informerOver(api, timers);
    informer.start();
    await settle();
    informer.stop();
    connect();
    await settle();
    expect(api.watches[0]?.aborted).to.equal(true);
    api.watches[0]?.onEvent('ADDED', obj('late', '2'));
    api.watches[0]?.onDone(new Error('aborted'));
    expect(informer.get('ns', 'late')).to.equal(undefined);
    expect(timers.pending.size).to.equal(0);
  });

  it('leaves no timer behind after stop() with real timers', async () => {
    const api = new ScriptedApi();
    api.failWatchWith = new Error('boom');
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // The first timer of a test makes the test harness hold one of its own; count from after that.
    await new Promise((resolve) => setTimeout(resolve, 1));
    const before = timeouts();
    const informer = new Informer<unknown>({
      resource: 'things',
      path: '/x',
      list: api.list,
      watch: api.watch,
      convert: (o) => o,
      logger: recordingLogger(),
      backoff: { initialMs: 5, maxMs: 20 },
    });
    informer.start();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(api.watches.length).to.be.greaterThan(2);
    informer.stop();
    const watchesAtStop = api.watches.length;
    expect(timeouts()).to.equal(before);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(api.watches.length).to.equal(watchesAtStop);
  });

  it('skips an object it cannot convert and keeps the rest', async () => {
    const api = new ScriptedApi();
    api.lists.push({ items: [obj('good', '1'), obj('bad', '1')], resourceVersion: '1' });
    const logger = recordingLogger();
    const informer = new Informer<string>({
      resource: 'things',
      path: '/x',
      list: api.list,
      watch: api.watch,
      convert: (o) => {
        const name = (o as { metadata: { name: string } }).metadata.name;
        if (name === 'bad') throw new Error('unreadable');
        return name;
      },
      logger,
      timers: new ManualTimers(),
    });
    informer.start();
    await informer.whenSynced();
    expect([informer.get('ns', 'good'), informer.get('ns', 'bad')]).to.deep.equal(['good', undefined]);
    expect(logger.lines.some((l) => l.level === 'warn' && l.fields.object === 'ns/bad')).to.equal(true);
    informer.stop();
  });
});
