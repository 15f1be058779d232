/**
 * jmesPath extraction (issue 16 §2): what each kind of result becomes, JSON and YAML values, and failures
 * that name the object's entry but never any part of the value.
 */
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import fc from 'fast-check';
import { extractFiles } from '../../../src/content/extract.js';
import type { JmesPathEntry } from '../../../src/model.js';

const entry = (path: string, objectAlias = path): JmesPathEntry => ({
  path,
  objectAlias,
  filePermission: '',
});
const texts = (value: string, ...paths: string[]) =>
  extractFiles(
    value,
    paths.map((path) => entry(path)),
  ).map((file) => file.text);

/** The error of a failing extraction; checks it is InvalidContent and quotes none of `secretParts`. */
function failure(value: string, paths: string[], secretParts: string[]): string {
  try {
    extractFiles(
      value,
      paths.map((path) => entry(path, 'out')),
    );
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).code).to.equal('InvalidContent');
    const message = (error as Error).message;
    for (const part of secretParts) expect(message).not.to.include(part);
    return message;
  }
  throw new Error('expected a failure');
}

const JSON_VALUE = JSON.stringify({
  username: 'admin',
  password: 'p@ss word\nline2',
  port: 5432,
  tls: true,
  hosts: ['a.example', 'b.example'],
  nested: { deep: { key: 'v' } },
  empty: '',
});

describe('content/extract', () => {
  it('writes strings as they are, other JSON values as compact JSON', () => {
    expect(
      texts(
        JSON_VALUE,
        'username',
        'password',
        'port',
        'tls',
        'hosts',
        'hosts[1]',
        'nested',
        'nested.deep.key',
        'empty',
      ),
    ).to.deep.equal([
      'admin',
      'p@ss word\nline2',
      '5432',
      'true',
      '["a.example","b.example"]',
      'b.example',
      '{"deep":{"key":"v"}}',
      'v',
      '',
    ]);
  });

  it('evaluates full JMESPath: filters, functions, multiselect', () => {
    const value = JSON.stringify({
      users: [
        { name: 'a', role: 'ro' },
        { name: 'b', role: 'rw' },
      ],
    });
    expect(texts(value, "users[?role=='rw'].name | [0]", 'length(users)', 'users[*].name')).to.deep.equal([
      'b',
      '2',
      '["a","b"]',
    ]);
  });

  it('reads YAML values with the core schema (0600 is a number, yes a string), and YAML lists', () => {
    expect(
      texts('user: admin\nmode: 0600\nflag: yes\nport: "5432"\n', 'user', 'mode', 'flag', 'port'),
    ).to.deep.equal(['admin', '600', 'yes', '5432']);
    expect(texts('- first\n- second\n', '[1]')).to.deep.equal(['second']);
  });

  it('keeps the entry with each file, in entry order', () => {
    const files = extractFiles('{"a":"1","b":"2"}', [
      { path: 'b', objectAlias: 'bee', filePermission: '0600' },
      { path: 'a', objectAlias: 'ay', filePermission: '' },
    ]);
    expect(files.map((f) => [f.entry.objectAlias, f.entry.filePermission, f.text])).to.deep.equal([
      ['bee', '0600', '2'],
      ['ay', '', '1'],
    ]);
  });

  it('does not parse the value when there are no entries', () => {
    expect(extractFiles('not json: [', [])).to.deep.equal([]);
  });

  it('fails a missing key and a null value naming path and alias', () => {
    expect(failure(JSON_VALUE, ['username', 'missing'], ['admin', 'p@ss'])).to.equal(
      'jmesPath path "missing" (objectAlias "out"): selects nothing in the secret value (a missing key, or null)',
    );
    expect(failure('{"k": null, "password": "hunter2"}', ['k'], ['hunter2'])).to.include('selects nothing');
  });

  it('fails a value that is neither JSON nor a YAML mapping or list, without quoting it', () => {
    expect(failure('hunter2-plain-secret', ['a'], ['hunter2'])).to.equal(
      'jmesPath: the secret value is not a JSON or YAML mapping or list, so it has no keys to extract',
    );
    expect(failure('42', ['a'], ['42'])).to.include('not a JSON or YAML mapping or list');
    const broken = failure('{"password": "s3cr3t-XYZ", ', ['password'], ['s3cr3t']);
    expect(broken).to.match(
      /^jmesPath: the secret value is neither JSON nor YAML \(YAML error \w+ at line 1, column \d+\)$/,
    );
    expect(failure('a: 1\na: s3cr3t-dup\n', ['a'], ['s3cr3t'])).to.include(
      'YAML error DUPLICATE_KEY at line 2',
    );
  });

  it('fails an expression the value does not fit, without the library message', () => {
    const message = failure('{"n": 12345678, "s": "x"}', ['abs(s)'], ['12345678']);
    expect(message).to.include(
      'jmesPath path "abs(s)" (objectAlias "out"): cannot be evaluated on the secret value',
    );
  });

  it('refuses a value nested too deeply for the YAML reader with a clear error', () => {
    // Not JSON (a trailing comma), so the YAML reader would get it: 20000 balanced brackets abort the process
    // with an out-of-memory error inside the yaml library unless the depth is checked first.
    const deep = `${'['.repeat(20_000)}"s3cr3t-deep"${']'.repeat(20_000)},`;
    expect(failure(deep, ['a'], ['s3cr3t'])).to.equal(
      'jmesPath: the secret value is neither JSON nor YAML within the limits (yaml: collections are nested deeper than the limit of 32)',
    );
    // JSON itself is read by JSON.parse, deeper than the YAML limit.
    expect(texts(`${'['.repeat(100)}"v"${']'.repeat(100)}`, '[0][0][0]')).to.have.length(1);
  });

  it('refuses a YAML alias bomb instead of expanding it', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      lines.push(
        `${next}: &${next} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`,
      );
    }
    expect(failure(lines.join('\n'), ['a'], [])).to.include('cannot be read');
  });

  it('answers any value and any path with files or an InvalidContent error that quotes no part of the value (fuzz, fixed seed)', () => {
    const MARK = 'Zq9-SECRET-';
    const leaf = fc.oneof(
      fc.string({ maxLength: 8 }).map((s) => `${MARK}${s}`),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const json = fc
      .jsonValue({ maxDepth: 4 })
      .chain((base) => fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(leaf, fc.constant(base))));
    // JSON text, its YAML-ish mutations (truncated, with stray characters) and raw text.
    const value = fc.oneof(
      json.map((v) => JSON.stringify(v)),
      fc
        .tuple(json, fc.nat(), fc.constantFrom('', ':', '- ', '[', '&a *a', '\t'))
        .map(([v, cut, noise]) => `${JSON.stringify(v).slice(0, cut % 40)}${noise}${MARK}`),
      fc.string({ maxLength: 40 }).map((s) => `${MARK}${s}`),
    );
    const path = fc.constantFrom(
      'a',
      '""',
      'a.b',
      '[0]',
      '*',
      'keys(@)',
      'length(@)',
      '@',
      '[?a]',
      'abs(@)',
      'to_string(@)',
    );
    fc.assert(
      fc.property(value, fc.array(path, { minLength: 1, maxLength: 3 }), (text, paths) => {
        try {
          const files = extractFiles(
            text,
            paths.map((p, i) => entry(p, `f${i}`)),
          );
          expect(files).to.have.length(paths.length);
        } catch (error) {
          expect(error).to.be.instanceOf(ProviderError);
          expect((error as ProviderError).code).to.equal('InvalidContent');
          expect((error as Error).message).not.to.include(MARK);
        }
      }),
      { seed: 20261203, numRuns: 400, endOnFailure: true },
    );
  });
});
