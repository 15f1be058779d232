import { expect } from 'chai';
import fc from 'fast-check';
import {
  MAX_ERROR_CODE_LENGTH,
  MAX_STATUS_TEXT_LENGTH,
  UNUSABLE_ERROR_CODE,
  errorCodeOf,
  statusText,
} from '../../src/index.js';

const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

describe('untrusted text', function () {
  this.timeout(20_000);
  describe('errorCodeOf', () => {
    it('keeps the codes providers and the driver use unchanged', () => {
      for (const code of ['GRPCProviderError', 'FileWriteError', 'AzureKeyVaultError', 'code_1']) {
        expect(errorCodeOf(code)).to.equal(code);
      }
    });

    it('rewrites control characters, spaces and non-ASCII letters', () => {
      expect(errorCodeOf('Bad Reason\nInjected: yes')).to.equal('Bad_Reason_Injected_yes');
      expect(errorCodeOf('Fehlerä')).to.equal('Fehler');
      expect(errorCodeOf('tab\there')).to.equal('tab_here');
      expect(errorCodeOf('\n')).to.equal(UNUSABLE_ERROR_CODE);
      expect(errorCodeOf('')).to.equal('');
      expect(errorCodeOf('42 things')).to.equal('things');
      expect(errorCodeOf('x'.repeat(10_000))).to.have.length(MAX_ERROR_CODE_LENGTH);
    });

    it('always answers a valid condition reason and printable ASCII metadata value (fixed seed)', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }), (code) => {
          const safe = errorCodeOf(code);
          expect(safe).to.match(CONDITION_REASON);
          expect(safe.length).to.be.at.most(MAX_ERROR_CODE_LENGTH);
        }),
        { seed: 1212, numRuns: 150 },
      );
    });
  });

  describe('statusText', () => {
    it('replaces lone surrogates so encodeURI cannot throw', () => {
      expect(() => encodeURI('\ud800')).to.throw(URIError);
      expect(statusText('cloud \ud800 bad')).to.equal('cloud \ufffd bad');
      expect(statusText('pair 😀 ok')).to.equal('pair 😀 ok');
    });

    it('bounds the length', () => {
      const text = statusText('y'.repeat(1_000_000));
      expect(text.length).to.be.at.most(MAX_STATUS_TEXT_LENGTH);
      expect(text).to.match(/\(truncated\)$/);
    });

    it('is always encodable (fixed seed)', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 5000 }), (text) => {
          expect(() => encodeURI(statusText(text))).not.to.throw();
        }),
        { seed: 1212, numRuns: 200 },
      );
    });
  });
});
