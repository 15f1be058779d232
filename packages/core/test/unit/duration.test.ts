import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { isCodedError } from '../../src/errors.js';

describe('parseDuration', () => {
  const valid: [string, number][] = [
    ['2m', 120_000],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['500ms', 500],
    ['0', 0],
    ['-1m', -60_000],
    [' 90s ', 90_000],
    ['1h1m1s1ms', 3_661_001],
  ];
  for (const [text, ms] of valid) {
    it(`reads "${text}" as ${ms} ms`, () => {
      expect(parseDuration(text)).to.equal(ms);
    });
  }

  for (const text of ['', '10', 'm', '2 m', '1d', 'abc', '1m-', '-']) {
    it(`rejects "${text}" with InvalidDuration and an example of the form`, () => {
      try {
        parseDuration(text);
        expect.fail('should have thrown');
      } catch (error) {
        expect(isCodedError(error) && error.code).to.equal('InvalidDuration');
        expect((error as Error).message).to.equal(
          `invalid duration "${text.trim()}": expected a number and unit such as 30s, 2m or 1h30m`,
        );
      }
    });
  }
});

describe('formatDuration', () => {
  it('prints durations as Go does', () => {
    expect(formatDuration(120_000)).to.equal('2m0s');
    expect(formatDuration(5_400_000)).to.equal('1h30m0s');
    expect(formatDuration(1500)).to.equal('1.5s');
    expect(formatDuration(250)).to.equal('250ms');
    expect(formatDuration(0)).to.equal('0s');
    expect(formatDuration(-30_000)).to.equal('-30s');
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1000, 61_000, 3_600_000, 86_400_000, 1500]) {
      expect(parseDuration(formatDuration(ms))).to.equal(ms);
    }
  });
});
