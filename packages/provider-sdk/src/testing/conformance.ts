/// <reference types="mocha" />
/**
 * The provider conformance suite: what every provider must do on the wire, checked over a real unix socket
 * with a client that dials as the driver does. A provider package runs it against itself:
 *
 *   describeProviderConformance({ name: 'directory', start: async () => ({ socketPath, goodAttributes, ... }) });
 *
 * The checks are also exported one by one (`conformanceChecks`) so a test can run them outside mocha.
 */
import * as assert from 'node:assert/strict';
import { StatusCode, statusCodeName } from '@secrets-store-csi/protocol/wire';
import type { provider as wire } from '@secrets-store-csi/protocol';
import { checkHealth } from '../health.js';
import { checkFileMode, checkFilePath } from '../rules.js';
import {
  DEFAULT_POD_ATTRIBUTES,
  ProviderClient,
  driverMountRequest,
  type CallOutcome,
  type DriverMountInput,
} from './client.js';

type Attributes = Readonly<Record<string, string>>;

export interface ConformanceTarget {
  /** The socket the provider under test listens on. */
  readonly socketPath: string;
  /** SecretProviderClass parameters that mount successfully (the suite adds the pod attributes). */
  readonly goodAttributes: Attributes;
  /** Parameters naming an object the provider does not have: the mount must fail with NOT_FOUND. */
  readonly unknownObjectAttributes: Attributes;
  /** Parameter sets that try to place or read a file outside its place (`..`, absolute paths). Each must fail
   * with INVALID_ARGUMENT or PERMISSION_DENIED. */
  readonly traversalAttributes: readonly Attributes[];
  /** Other parameter sets the provider must refuse with INVALID_ARGUMENT (malformed parameters). */
  readonly invalidAttributes?: readonly Attributes[];
  /** False when the provider sets file modes itself whatever the request's `permission` says. */
  readonly usesDefaultFileMode?: boolean;
  /** Changes the store so the next good mount reports a new version of at least one object. */
  readonly rotate?: () => Promise<void>;
  /** The provider's healthz URL, when it runs one. */
  readonly healthzUrl?: string;
  /** Stops the provider and cleans up. */
  stop(): Promise<void>;
}

export interface ConformanceOptions {
  /** The provider's name, for the suite's title. */
  readonly name: string;
  /** Starts the provider under test; called once for the suite. */
  start(): Promise<ConformanceTarget>;
}

export interface ConformanceContext {
  readonly target: ConformanceTarget;
  readonly client: ProviderClient;
}

export interface ConformanceCheck {
  readonly title: string;
  run(context: ConformanceContext): Promise<void>;
}

/** A secret value the suite sends and then looks for in every error message. */
const SECRET_MARKER = 'conformance-secret-4f9a1c';
const TOKEN_MARKER = 'conformance-token-7d2e8b';
const TOKEN_ATTRIBUTES: Attributes = {
  'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({
    'api://AzureADTokenExchange': { token: TOKEN_MARKER, expirationTimestamp: '2030-01-01T00:00:00Z' },
  }),
};

async function mountGood(context: ConformanceContext, input: Partial<DriverMountInput> = {}) {
  const result = await context.client.mount(
    driverMountRequest({ parameters: context.target.goodAttributes, ...input }),
  );
  if (!result.ok)
    assert.fail(`the good parameters failed to mount: ${statusCodeName(result.code)} ${result.details}`);
  return result.response;
}

function expectFailure(
  result: CallOutcome<wire.MountResponse__Output>,
  codes: readonly StatusCode[],
  what: string,
): asserts result is Extract<CallOutcome<wire.MountResponse__Output>, { ok: false }> {
  if (result.ok) assert.fail(`${what}: the mount succeeded`);
  assert.ok(
    codes.includes(result.code),
    `${what}: expected ${codes.map((code) => statusCodeName(code)).join(' or ')}, got ${statusCodeName(result.code)} (${result.details})`,
  );
}

function sortedFiles(response: wire.MountResponse__Output) {
  return [...response.files]
    .map((file) => ({
      path: file.path,
      mode: file.mode,
      contents: Buffer.from(file.contents).toString('base64'),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

const malformed: Readonly<Record<'attributes' | 'secrets' | 'permission', readonly [string, string][]>> = {
  attributes: [
    ['', 'failed to unmarshal attributes, error: unexpected end of JSON input'],
    ['{"objects":', 'failed to unmarshal attributes, error: unexpected end of JSON input'],
    ['[]', 'failed to unmarshal attributes, error: expected a JSON object of strings, got an array'],
    ['{"a":1}', 'failed to unmarshal attributes, error: expected a string value for key "a", got a number'],
  ],
  secrets: [
    ['', 'failed to unmarshal secrets, error: unexpected end of JSON input'],
    [`{"password":"${SECRET_MARKER}`, 'failed to unmarshal secrets, error: unexpected end of JSON input'],
    [`{"password" "${SECRET_MARKER}"}`, 'failed to unmarshal secrets, error: invalid character at offset 12'],
    ['"text"', 'failed to unmarshal secrets, error: expected a JSON object of strings, got a string'],
  ],
  permission: [
    ['', 'failed to unmarshal file permission, error: unexpected end of JSON input'],
    ['abc', 'failed to unmarshal file permission, error: invalid character at offset 0'],
    ['"420"', 'failed to unmarshal file permission, error: expected a JSON number, got a string'],
    [
      '-1',
      'failed to unmarshal file permission, error: expected an integer file mode between 0 and 511, got -1',
    ],
    [
      '4.5',
      'failed to unmarshal file permission, error: expected an integer file mode between 0 and 511, got 4.5',
    ],
    [
      '512',
      'failed to unmarshal file permission, error: expected an integer file mode between 0 and 511, got 512',
    ],
  ],
};

export const conformanceChecks: readonly ConformanceCheck[] = [
  {
    title: 'answers Version with protocol v1alpha1, a runtime name and a semver runtime version',
    async run({ client }) {
      const result = await client.version();
      if (!result.ok) assert.fail(`Version failed: ${statusCodeName(result.code)} ${result.details}`);
      assert.equal(result.response.version, 'v1alpha1');
      assert.notEqual(result.response.runtime_name, '', 'runtime_name is empty');
      assert.match(result.response.runtime_version, /^v?\d+\.\d+\.\d+/, 'runtime_version is not semver');
    },
  },
  {
    title: 'mounts the good parameters: object versions, and files the driver can write',
    async run(context) {
      const response = await mountGood(context);
      assert.ok(response.object_version.length > 0, 'no object versions (the driver fails such a mount)');
      for (const version of response.object_version)
        assert.notEqual(version.id, '', 'an object version has no id');
      assert.ok(response.files.length > 0, 'no files');
      const paths = new Set<string>();
      for (const file of response.files) {
        assert.equal(
          checkFilePath(file.path),
          undefined,
          `file path ${JSON.stringify(file.path)} breaks the rules`,
        );
        assert.equal(checkFileMode(file.mode), undefined, `file ${file.path} has mode ${file.mode}`);
        assert.ok(!paths.has(file.path), `file path ${file.path} is returned twice`);
        paths.add(file.path);
      }
    },
  },
  {
    title: 'treats secrets "null" (no nodePublishSecretRef) like an empty object',
    async run(context) {
      const withNull = await mountGood(context, { secrets: null });
      const withEmpty = await mountGood(context, { secrets: {} });
      assert.deepEqual(sortedFiles(withNull), sortedFiles(withEmpty));
    },
  },
  {
    title: "uses the request's permission as the default file mode",
    async run(context) {
      if (context.target.usesDefaultFileMode === false) return;
      const first = sortedFiles(await mountGood(context, { permission: 0o644 }));
      const second = sortedFiles(await mountGood(context, { permission: 0o600 }));
      const defaulted = first.filter((file) => file.mode === 0o644).map((file) => file.path);
      assert.ok(defaulted.length > 0, 'no file of the good mount took the default mode 0644 (420)');
      for (const path of defaulted) {
        assert.equal(
          second.find((file) => file.path === path)?.mode,
          0o600,
          `${path} ignored permission "384"`,
        );
      }
    },
  },
  {
    title: 'answers repeated mounts with the same files and versions, and accepts current object versions',
    async run(context) {
      const first = await mountGood(context);
      const second = await mountGood(context, { currentObjectVersions: first.object_version });
      assert.deepEqual(sortedFiles(second), sortedFiles(first));
      assert.deepEqual(second.object_version, first.object_version);
    },
  },
  ...(['attributes', 'secrets', 'permission'] as const).map((field): ConformanceCheck => ({
    title: `refuses malformed ${field} with InvalidArgument and a message naming the field`,
    async run(context) {
      for (const [text, message] of malformed[field]) {
        const request = {
          ...driverMountRequest({ parameters: context.target.goodAttributes }),
          [field]: text,
        };
        const result = await context.client.mount(request);
        expectFailure(result, [StatusCode.INVALID_ARGUMENT], `${field} ${JSON.stringify(text)}`);
        assert.equal(result.details, message);
      }
    },
  })),
  {
    title:
      'fails an unknown object with NotFound, upstream\'s "failed to mount objects" text and an error code',
    async run(context) {
      const result = await context.client.mount(
        driverMountRequest({ parameters: context.target.unknownObjectAttributes }),
      );
      expectFailure(result, [StatusCode.NOT_FOUND], 'unknown object');
      assert.match(result.details, /^failed to mount objects, error: /);
      assert.ok(result.errorCode !== undefined && result.errorCode !== '', 'no error code in the trailers');
    },
  },
  {
    title: 'refuses every path traversal attempt',
    async run(context) {
      assert.ok(
        context.target.traversalAttributes.length > 0,
        'the target offers no traversal attempts to try',
      );
      for (const parameters of context.target.traversalAttributes) {
        const result = await context.client.mount(driverMountRequest({ parameters }));
        expectFailure(
          result,
          [StatusCode.INVALID_ARGUMENT, StatusCode.PERMISSION_DENIED],
          JSON.stringify(parameters),
        );
      }
    },
  },
  {
    title: 'refuses invalid parameters with InvalidArgument',
    async run(context) {
      for (const parameters of context.target.invalidAttributes ?? []) {
        const result = await context.client.mount(driverMountRequest({ parameters }));
        expectFailure(result, [StatusCode.INVALID_ARGUMENT], JSON.stringify(parameters));
      }
    },
  },
  {
    title: 'keeps secret values and tokens out of error messages',
    async run(context) {
      const results = [
        await context.client.mount(
          driverMountRequest({
            parameters: context.target.unknownObjectAttributes,
            podAttributes: { ...DEFAULT_POD_ATTRIBUTES, ...TOKEN_ATTRIBUTES },
            secrets: { clientsecret: SECRET_MARKER },
          }),
        ),
        ...(await Promise.all(
          malformed.secrets.map(([text]) =>
            context.client.mount({
              ...driverMountRequest({ parameters: context.target.goodAttributes }),
              secrets: text,
            }),
          ),
        )),
      ];
      for (const result of results) {
        if (result.ok) continue;
        assert.ok(
          !result.details.includes(SECRET_MARKER),
          `a secret value reached an error: ${result.details}`,
        );
        assert.ok(!result.details.includes(TOKEN_MARKER), `a token reached an error: ${result.details}`);
      }
    },
  },
  {
    title: 'serves 16 concurrent mounts, each complete and the same',
    async run(context) {
      const request = driverMountRequest({ parameters: context.target.goodAttributes });
      const results = await Promise.all(Array.from({ length: 16 }, () => context.client.mount(request)));
      const expected = results[0];
      if (!expected?.ok) assert.fail('a concurrent mount failed');
      for (const result of results) {
        if (!result.ok)
          assert.fail(`a concurrent mount failed: ${statusCodeName(result.code)} ${result.details}`);
        assert.deepEqual(sortedFiles(result.response), sortedFiles(expected.response));
        assert.deepEqual(result.response.object_version, expected.response.object_version);
      }
    },
  },
  {
    title: 'reports a changed object as a new version (rotation)',
    async run(context) {
      if (context.target.rotate === undefined) return;
      const before = await mountGood(context);
      await context.target.rotate();
      const after = await mountGood(context);
      assert.notDeepEqual(after.object_version, before.object_version, 'no object version changed');
    },
  },
  {
    title: 'answers gRPC health checks SERVING, and healthz ok',
    async run({ target }) {
      await checkHealth({ kind: 'unix', path: target.socketPath }, 5000);
      if (target.healthzUrl === undefined) return;
      const response = await fetch(target.healthzUrl);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'ok');
    },
  },
];

/** How long the provider under test may take to start, and to stop. */
const START_TIMEOUT_MS = 120_000;

/** Declares the conformance suite (mocha `describe`/`it`) for the provider `options.start` runs. */
export function describeProviderConformance(options: ConformanceOptions): void {
  describe(`${options.name} provider conformance`, function () {
    let context: ConformanceContext | undefined;
    let starting: ReturnType<ConformanceOptions['start']> | undefined;

    // Starting a provider with its doubles can take long on a loaded machine; and whatever happens to the
    // hook, what it started is stopped: a start that outlived a timed-out hook left servers open, and the
    // mocha process waiting on them forever.
    before(async function () {
      this.timeout(START_TIMEOUT_MS);
      starting = options.start();
      const target = await starting;
      context = { target, client: new ProviderClient(target.socketPath) };
    });

    after(async function () {
      this.timeout(START_TIMEOUT_MS);
      context?.client.close();
      const target = await starting?.catch(() => undefined);
      await target?.stop();
    });

    for (const check of conformanceChecks) {
      it(check.title, async function () {
        if (context === undefined) throw new Error('the provider under test did not start');
        await check.run(context);
      });
    }
  });
}
