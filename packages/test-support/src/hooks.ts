/**
 * Mocha root hooks: add `"require": ["@secrets-store-csi/test-support/hooks"]` to a package's .mocharc.json
 * and every test file can `await sharedTestWorld()`; the world is stopped once, after the last test.
 */
import { stopSharedTestWorld } from './world.js';

export const mochaHooks = {
  async afterAll(this: unknown): Promise<void> {
    await stopSharedTestWorld();
  },
};
