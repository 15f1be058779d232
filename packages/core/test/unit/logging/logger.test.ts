import { Writable } from 'node:stream';
import { expect } from 'chai';
import {
  createLogger,
  recordingLogger,
  SecretValues,
  silentLogger,
  type LoggerOptions,
} from '../../../src/logging/index.js';

function capture(options: Omit<LoggerOptions, 'stream'>) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      callback();
    },
  });
  return { logger: createLogger({ ...options, stream }), lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('createLogger', () => {
  it('writes JSON lines with level, timestamp, message and fields', async () => {
    const { logger, lines } = capture({ format: 'json', level: 'info' });
    logger.info('node publish volume complete', { pod: 'default/web-0', durationMs: 12 });
    await flush();
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(line).to.deep.include({
      level: 'info',
      message: 'node publish volume complete',
      pod: 'default/web-0',
      durationMs: 12,
    });
    expect(line.timestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('writes text lines as key=value pairs, quoting where needed', async () => {
    const { logger, lines } = capture({ format: 'text', level: 'info' });
    logger.warn('provider slow', { provider: 'azure', note: 'took a while' });
    await flush();
    expect(lines[0]).to.match(/^\S+Z warn "provider slow" provider=azure note="took a while"$/);
  });

  it('drops lines below its level', async () => {
    const { logger, lines } = capture({ format: 'json', level: 'warn' });
    logger.info('chatty');
    logger.debug('chattier');
    logger.error('kept');
    await flush();
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).to.deep.equal(['kept']);
  });

  it('adds child fields to every line', async () => {
    const { logger, lines } = capture({ format: 'json', level: 'info' });
    logger.child({ component: 'driver' }).child({ volume: 'v1' }).info('hello', { extra: 1 });
    await flush();
    expect(JSON.parse(lines[0] ?? '{}')).to.deep.include({ component: 'driver', volume: 'v1', extra: 1 });
  });

  for (const format of ['json', 'text'] as const) {
    it(`never prints a secret field or a known secret value (${format})`, async () => {
      const secrets = new SecretValues();
      secrets.add('kv-secret-value-123');
      const { logger, lines } = capture({ format, level: 'debug', secrets });
      logger.info('mount request for kv-secret-value-123', {
        secrets: { clientsecret: 'client-secret-abc' },
        attributes: { objects: 'has kv-secret-value-123 inside', secretProviderClass: 'spc' },
        error: new Error('provider said kv-secret-value-123'),
      });
      await flush();
      const text = lines.join('\n');
      expect(text).not.to.include('kv-secret-value-123');
      expect(text).not.to.include('client-secret-abc');
      expect(text).to.include('spc');
      expect(text).to.include('[REDACTED]');
    });
  }
});

describe('silentLogger', () => {
  it('accepts every call, and its children are silent too', () => {
    silentLogger.info('x');
    expect(silentLogger.child({ a: 1 })).to.equal(silentLogger);
  });
});

describe('recordingLogger', () => {
  it('keeps every line with its level, and children add their fields to the shared list', () => {
    const logger = recordingLogger();
    logger.warn('first', { a: 1 });
    logger.child({ pod: 'p' }).error('second');
    expect(logger.lines).to.deep.equal([
      { level: 'warn', message: 'first', fields: { a: 1 } },
      { level: 'error', message: 'second', fields: { pod: 'p' } },
    ]);
  });
});
