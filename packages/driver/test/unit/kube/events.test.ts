import { expect } from 'chai';
import type { CoreV1Event } from '@kubernetes/client-node';
import {
  eventBody,
  eventComponent,
  eventName,
  KubeEventRecorder,
  type EventsApi,
} from '../../../src/kube/events.js';
import type { PodEvent } from '../../../src/kube/ports.js';
import { apiException, recordingLogger } from './helpers.js';

const pod = { name: 'web-0', namespace: 'app', uid: 'u-1' };
const event: PodEvent = { pod, type: 'Warning', reason: 'FailedMount', message: 'provider not found' };

function stubApi(fail?: Error): EventsApi & { bodies: CoreV1Event[] } {
  const bodies: CoreV1Event[] = [];
  return {
    bodies,
    createNamespacedEvent: (request) => {
      bodies.push(request.body);
      return fail === undefined ? Promise.resolve(request.body) : Promise.reject(fail);
    },
  };
}

describe('event recording', () => {
  it('uses the component of the upstream recorder that emits each reason', () => {
    expect(eventComponent('MountRotationFailed')).to.equal('csi-secrets-store-rotation');
    expect(eventComponent('SecretRotationComplete')).to.equal('csi-secrets-store-rotation');
    expect(eventComponent('FailedToCreateSecret')).to.equal('csi-secrets-store-controller');
    expect(eventComponent('FailedMount')).to.equal('csi-secrets-store-driver');
  });

  it("names an event like client-go: '<pod>.<UnixNano in hex>'", () => {
    const at = new Date('2025-01-02T03:04:05.678Z');
    expect(eventName('web-0', at, 0)).to.equal(`web-0.${(BigInt(at.getTime()) * 1_000_000n).toString(16)}`);
    expect(eventName('web-0', at, 1)).not.to.equal(eventName('web-0', at, 0));
    const long = eventName('p'.repeat(253), at, 0);
    expect(long).to.have.length(253);
    expect(long).to.match(/^p+\.[0-9a-f]+$/);
  });

  it('fills in the legacy fields and an eventTime in microseconds', () => {
    const at = new Date('2025-01-02T03:04:05.678Z');
    const body = eventBody(event, 'node-a', at, 0);
    expect(body).to.deep.include({
      reason: 'FailedMount',
      type: 'Warning',
      message: 'provider not found',
      source: { component: 'csi-secrets-store-driver', host: 'node-a' },
      reportingComponent: 'csi-secrets-store-driver',
      reportingInstance: 'csi-secrets-store-driver-node-a',
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
    });
    expect(body.involvedObject).to.deep.equal({ apiVersion: 'v1', kind: 'Pod', ...pod });
    expect(body.metadata.namespace).to.equal('app');
    expect(JSON.stringify({ t: body.eventTime })).to.equal('{"t":"2025-01-02T03:04:05.678000Z"}');
  });

  it('writes an identical event for the same pod at most once per 10 s', async () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const api = stubApi();
    const recorder = new KubeEventRecorder({ api, nodeName: 'n', logger: recordingLogger(), now: () => now });
    recorder.record(event);
    recorder.record(event);
    recorder.record({ ...event, message: 'other text' });
    recorder.record({ ...event, pod: { ...pod, uid: 'u-2' } });
    now = new Date(now.getTime() + 9_999);
    recorder.record(event);
    now = new Date(now.getTime() + 1);
    recorder.record(event);
    await recorder.flush();
    expect(api.bodies.map((b) => `${b.involvedObject.uid} ${b.message}`)).to.deep.equal([
      'u-1 provider not found',
      'u-1 other text',
      'u-2 provider not found',
      'u-1 provider not found',
    ]);
    expect(new Set(api.bodies.map((b) => b.metadata.name)).size).to.equal(4);
  });

  it('logs a failed write at warn and never throws', async () => {
    const logger = recordingLogger();
    const recorder = new KubeEventRecorder({
      api: stubApi(apiException(403, 'Forbidden', 'events is forbidden')),
      nodeName: 'n',
      logger,
    });
    expect(() => {
      recorder.record(event);
    }).not.to.throw();
    await recorder.flush();
    expect(logger.lines).to.deep.equal([
      {
        level: 'warn',
        message: 'failed to record event',
        fields: { pod: 'app/web-0', reason: 'FailedMount', error: 'events is forbidden' },
      },
    ]);
  });
});
