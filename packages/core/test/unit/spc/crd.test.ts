/**
 * The CRD manifests in deploy/crds, checked with a JSON Schema validator (the OpenAPI v3 subset Kubernetes
 * uses is JSON Schema for these keywords). The integration tests apply the same files to a real API server.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import { parse } from 'yaml';
import { parseSecretProviderClass } from '../../../src/spc/index.js';
import { azureSpc, e2eSpcV1alpha1, podStatus } from './fixtures.js';

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema: { openAPIV3Schema: object };
}
interface Crd {
  metadata: { name: string };
  spec: { group: string; scope: string; names: Record<string, string>; versions: CrdVersion[] };
}

const crdDir = new URL('../../../../../deploy/crds/', import.meta.url);
const readCrd = (file: string) => parse(readFileSync(new URL(file, crdDir), 'utf8')) as Crd;
const spcCrd = readCrd('secrets-store.csi.x-k8s.io_secretproviderclasses.yaml');
const podStatusCrd = readCrd('secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml');

function validator(crd: Crd, version: string) {
  const found = crd.spec.versions.find((v) => v.name === version);
  if (found === undefined) throw new Error(`${crd.metadata.name} has no version ${version}`);
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(found.schema.openAPIV3Schema);
}

describe('CRD manifests', () => {
  it('declare the upstream names, scope and versions', () => {
    expect(spcCrd.metadata.name).to.equal('secretproviderclasses.secrets-store.csi.x-k8s.io');
    expect(spcCrd.spec.names).to.deep.equal({
      kind: 'SecretProviderClass',
      listKind: 'SecretProviderClassList',
      plural: 'secretproviderclasses',
      singular: 'secretproviderclass',
    });
    expect(podStatusCrd.metadata.name).to.equal('secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io');
    expect(podStatusCrd.spec.names.singular).to.equal('secretproviderclasspodstatus');
    for (const crd of [spcCrd, podStatusCrd]) {
      expect(crd.spec.group).to.equal('secrets-store.csi.x-k8s.io');
      expect(crd.spec.scope).to.equal('Namespaced');
      expect(
        crd.spec.versions.map((v) => [v.name, v.served, v.storage, v.deprecated ?? false]),
      ).to.deep.equal([
        ['v1', true, true, false],
        ['v1alpha1', true, false, true],
      ]);
    }
    expect(spcCrd.spec.versions[1]?.deprecationWarning).to.equal(
      'secrets-store.csi.x-k8s.io/v1alpha1 is deprecated. Use secrets-store.csi.x-k8s.io/v1 instead.',
    );
  });

  for (const version of ['v1', 'v1alpha1']) {
    describe(`SecretProviderClass ${version} schema`, () => {
      const validate = validator(spcCrd, version);
      const accepted: [string, unknown][] = [
        ['the Azure provider example with sync to Opaque and TLS Secrets', azureSpc()],
        ['the upstream e2e provider class', { ...e2eSpcV1alpha1(), status: {} }],
        [
          'a class with an empty secretObjects list',
          { ...azureSpc(), spec: { provider: 'vault', parameters: { roleName: 'r' }, secretObjects: [] } },
        ],
        [
          'a provider name with digits, dashes and underscores',
          { ...azureSpc(), spec: { provider: 'e2e_provider-2', parameters: { x: '' } } },
        ],
        [
          'padded names that upstream trims',
          {
            ...azureSpc(),
            spec: {
              provider: 'azure',
              parameters: { a: 'b' },
              secretObjects: [
                { secretName: ' s ', type: 'Opaque', data: [{ objectName: ' f ', key: ' k ' }] },
              ],
            },
          },
        ],
      ];
      for (const [name, object] of accepted) {
        it(`accepts ${name}`, () => {
          expect(validate(object), JSON.stringify(validate.errors)).to.equal(true);
        });
      }

      const rejected: [string, Record<string, unknown>, string][] = [
        [
          'no provider',
          { provider: undefined, parameters: { a: 'b' } },
          "must have required property 'provider'",
        ],
        ['an empty provider', { provider: '', parameters: { a: 'b' } }, 'must match pattern'],
        [
          'a provider that is not a socket name',
          { provider: 'a/b', parameters: { a: 'b' } },
          'must match pattern',
        ],
        ['no parameters', { provider: 'azure' }, "must have required property 'parameters'"],
        ['empty parameters', { provider: 'azure', parameters: {} }, 'must NOT have fewer than 1 properties'],
        ['a non-string parameter', { provider: 'azure', parameters: { n: 5 } }, 'must be string'],
        [
          'a secret object without type',
          {
            provider: 'azure',
            parameters: { a: 'b' },
            secretObjects: [{ secretName: 's', data: [{ objectName: 'f', key: 'k' }] }],
          },
          "must have required property 'type'",
        ],
        [
          'a blank secretName',
          {
            provider: 'azure',
            parameters: { a: 'b' },
            secretObjects: [{ secretName: '  ', type: 'Opaque', data: [{ objectName: 'f', key: 'k' }] }],
          },
          'must match pattern',
        ],
        [
          'a secret object with no data',
          {
            provider: 'azure',
            parameters: { a: 'b' },
            secretObjects: [{ secretName: 's', type: 'Opaque', data: [] }],
          },
          'must NOT have fewer than 1 items',
        ],
        [
          'a data item without key',
          {
            provider: 'azure',
            parameters: { a: 'b' },
            secretObjects: [{ secretName: 's', type: 'Opaque', data: [{ objectName: 'f' }] }],
          },
          "must have required property 'key'",
        ],
      ];
      for (const [name, spec, message] of rejected) {
        it(`rejects ${name}, as the parser does`, () => {
          const object = { ...azureSpc(), spec: JSON.parse(JSON.stringify(spec)) as unknown };
          expect(validate(object)).to.equal(false);
          const messages = validate.errors?.map((e) => e.message ?? '') ?? [];
          expect(
            messages.some((m) => m.startsWith(message)),
            messages.join(', '),
          ).to.equal(true);
          expect(() => parseSecretProviderClass(object)).to.throw(
            /^invalid SecretProviderClass default\/azure-kvname: spec\./,
          );
        });
      }
    });
  }

  it('keeps v1alpha1 status.byPod only in v1alpha1, as upstream does', () => {
    const schemaOf = (v: string) =>
      spcCrd.spec.versions.find((x) => x.name === v)?.schema.openAPIV3Schema as {
        properties: { status: { properties?: Record<string, unknown> } };
      };
    expect(schemaOf('v1alpha1').properties.status.properties).to.have.property('byPod');
    expect(schemaOf('v1').properties.status.properties).to.equal(undefined);
  });

  for (const version of ['v1', 'v1alpha1']) {
    it(`SecretProviderClassPodStatus ${version} accepts upstream's status and ours, and rejects a bad condition`, () => {
      const validate = validator(podStatusCrd, version);
      expect(validate(podStatus()), JSON.stringify(validate.errors)).to.equal(true);
      const base = podStatus();
      const withCondition = (status: string) => ({
        ...base,
        status: {
          ...(base.status as object),
          conditions: [
            {
              type: 'Mounted',
              status,
              reason: 'ProviderError',
              message: 'm',
              lastTransitionTime: '2026-11-22T10:00:00Z',
            },
          ],
        },
      });
      expect(validate(withCondition('False'))).to.equal(true);
      expect(validate(withCondition('Perhaps'))).to.equal(false);
    });
  }
});
