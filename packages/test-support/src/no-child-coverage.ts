/**
 * Loaded before the tests (.mocharc.json `require`: `@secrets-store-csi/test-support/no-child-coverage`).
 * Child processes the tests start (the driver, providers) run the same sources through tsx; c8 merges their V8 coverage badly with this
 * process's (covered lines come out uncovered), so children do not report coverage. This process's own
 * coverage is unaffected: Node captured NODE_V8_COVERAGE at startup.
 */
delete process.env.NODE_V8_COVERAGE;
