import { expect } from 'chai';
import { goJsonStringMap } from '../../src/gojson.js';

describe('goJsonStringMap', () => {
  it('writes null for an absent map, as Go marshals a nil map', () => {
    expect(goJsonStringMap(undefined)).to.equal('null');
  });

  it('writes an empty object for an empty map', () => {
    expect(goJsonStringMap({})).to.equal('{}');
  });

  it('sorts keys by their UTF-8 bytes, not by UTF-16 code units', () => {
    // U+FF5E sorts before U+1F600 in UTF-16 order reversed: its UTF-16 unit 0xFF5E > 0xD83D, but its UTF-8
    // bytes EF BD 9E sort before F0 9F 98 80.
    expect(goJsonStringMap({ '\u{1F600}': '2', '\uFF5E': '1', b: '0', a: '0' })).to.equal(
      '{"a":"0","b":"0","\uFF5E":"1","\u{1F600}":"2"}',
    );
  });

  it('escapes HTML characters and line separators as Go does', () => {
    expect(goJsonStringMap({ k: '<a href="x">&</a>\u2028\u2029' })).to.equal(
      '{"k":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e\\u2028\\u2029"}',
    );
  });

  it('escapes control characters with the short forms Go uses', () => {
    expect(goJsonStringMap({ k: '\n\r\t\b\f\u0001"\\' })).to.equal('{"k":"\\n\\r\\t\\b\\f\\u0001\\"\\\\"}');
  });

  it('replaces a lone surrogate with U+FFFD, as Go replaces invalid UTF-8', () => {
    expect(goJsonStringMap({ k: 'a\uD800b' })).to.equal('{"k":"a\uFFFDb"}');
  });

  it('round-trips through JSON.parse for ordinary values', () => {
    const map = { 'csi.storage.k8s.io/pod.name': 'web-0', objects: 'array:\n  - |\n    objectName: x\n' };
    expect(JSON.parse(goJsonStringMap(map))).to.deep.equal(map);
  });
});
