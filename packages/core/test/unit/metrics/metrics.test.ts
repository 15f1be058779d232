import { expect } from 'chai';
import {
  OS_TYPE,
  UPSTREAM_DRIVER_BUCKETS,
  createMetricsRegistry,
  defineCounter,
  defineDurationHistogram,
  exponentialBucketsRange,
  timeSeconds,
} from '../../../src/metrics/index.js';

describe('metrics helpers', () => {
  it("reproduces upstream's histogram buckets (0.1 s to 2 s in 11 steps)", () => {
    const rounded = UPSTREAM_DRIVER_BUCKETS.map((b) => Number(b.toFixed(4)));
    expect(rounded).to.deep.equal([
      0.1, 0.1349, 0.1821, 0.2456, 0.3314, 0.4472, 0.6034, 0.8142, 1.0986, 1.4823, 2,
    ]);
  });

  it('rejects impossible bucket ranges', () => {
    expect(() => exponentialBucketsRange(0, 1, 3)).to.throw(RangeError);
    expect(() => exponentialBucketsRange(2, 1, 3)).to.throw(RangeError);
    expect(() => exponentialBucketsRange(1, 2, 1)).to.throw(RangeError);
  });

  it('names the OS as Go does', () => {
    expect(OS_TYPE).to.equal(process.platform === 'win32' ? 'windows' : process.platform);
  });

  it('exposes a counter with its labels under the _total name', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const counter = defineCounter(registry, {
      name: 'node_publish_total',
      help: 'Total number of node publish calls',
      labelNames: ['provider', 'os_type'],
    });
    counter.inc({ provider: 'azure', os_type: OS_TYPE });
    counter.inc({ provider: 'azure', os_type: OS_TYPE });
    const text = await registry.metrics();
    expect(text).to.include(`node_publish_total{provider="azure",os_type="${OS_TYPE}"} 2`);
  });

  it('refuses counter names without _total and histograms without a seconds unit', () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    expect(() => defineCounter(registry, { name: 'node_publish', help: 'h', labelNames: [] })).to.throw(
      'counter name "node_publish" must be a Prometheus name ending in _total',
    );
    expect(() =>
      defineDurationHistogram(registry, { name: 'rotation_ms', help: 'h', labelNames: [], buckets: [1] }),
    ).to.throw('duration histogram name "rotation_ms" must end in _seconds');
  });

  it('keeps a unit-less upstream name only when asked to', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const histogram = defineDurationHistogram(registry, {
      name: 'grpc_request',
      upstreamNameWithoutUnit: true,
      help: 'h',
      labelNames: [],
      buckets: [1],
    });
    histogram.observe(0.5);
    expect(await registry.metrics()).to.include('grpc_request_bucket{le="1"} 1');
    expect(() =>
      defineDurationHistogram(createMetricsRegistry({ processMetrics: false }), {
        name: 'grpc_request',
        help: 'h',
        labelNames: [],
        buckets: [1],
      }),
    ).to.throw('duration histogram name "grpc_request" must end in _seconds');
  });

  it("accepts upstream's _sec histogram and records into its buckets", async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const histogram = defineDurationHistogram(registry, {
      name: 'rotation_reconcile_duration_sec',
      help: 'Duration of rotation reconcile',
      labelNames: ['os_type'],
      buckets: UPSTREAM_DRIVER_BUCKETS,
    });
    histogram.observe({ os_type: OS_TYPE }, 0.15);
    const text = await registry.metrics();
    expect(text).to.match(/rotation_reconcile_duration_sec_bucket\{le="0.1349\d*",os_type="[a-z]+"\} 0/);
    expect(text).to.match(/rotation_reconcile_duration_sec_bucket\{le="0.182\d*",os_type="[a-z]+"\} 1/);
  });

  it('includes process metrics by default', async () => {
    const text = await createMetricsRegistry().metrics();
    expect(text).to.include('process_cpu_user_seconds_total');
  });

  it('times work in seconds, also when it fails', async () => {
    const observed: number[] = [];
    let t = 0n;
    const clock = () => (t += 1_500_000_000n);
    expect(
      await timeSeconds(
        (s) => observed.push(s),
        () => Promise.resolve('ok'),
        clock,
      ),
    ).to.equal('ok');
    try {
      await timeSeconds(
        (s) => observed.push(s),
        () => Promise.reject(new Error('boom')),
        clock,
      );
      expect.fail('should have thrown');
    } catch (error) {
      expect((error as Error).message).to.equal('boom');
    }
    expect(observed).to.deep.equal([1.5, 1.5]);
  });
});
