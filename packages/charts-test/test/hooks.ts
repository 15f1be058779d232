/** Mocha root hook: the run's helm homes and chart copies are removed after the last test. */
import { removeScratch } from './helm.js';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await removeScratch();
  },
};
