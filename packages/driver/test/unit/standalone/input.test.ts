import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CodedError } from '@secrets-store-csi/core';
import {
  parseStandaloneInput,
  readStandaloneInput,
  standaloneErrorCodes,
} from '../../../src/standalone/input.js';

const FILE = 'input.yaml';

const SPC = `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: my-spc
spec:
  provider: fake
  parameters:
    objects: "array: []"
`;

const POD = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  uid: 11111111-2222-4333-8444-555555555555
spec:
  serviceAccountName: web-sa
  volumes:
    - name: config
      configMap:
        name: cfg
    - name: secrets
      csi:
        driver: secrets-store.csi.k8s.io
        readOnly: true
        volumeAttributes:
          secretProviderClass: my-spc
          extra: value
    - name: other
      csi:
        driver: other.example.com
        volumeAttributes:
          ignored: "yes"
`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function errorOf(run: () => unknown): CodedError {
  try {
    run();
  } catch (error) {
    return error as CodedError;
  }
  throw new Error('expected an error, got none');
}

describe('parseStandaloneInput', () => {
  describe('with only a SecretProviderClass', () => {
    const input = parseStandaloneInput(SPC, FILE);

    it('reads the SecretProviderClass into the default namespace', () => {
      expect(input.spc.metadata.name).to.equal('my-spc');
      expect(input.spc.metadata.namespace).to.equal('default');
      expect(input.spc.spec.provider).to.equal('fake');
    });

    it('makes up a pod named "standalone" in the default namespace with a random uid', () => {
      expect(input.pod.name).to.equal('standalone');
      expect(input.pod.namespace).to.equal('default');
      expect(input.pod.uid).to.match(UUID);
    });

    it('builds the volume context kubelet would send for an ephemeral volume', () => {
      expect(input.volumeContext).to.deep.equal({
        secretProviderClass: 'my-spc',
        'csi.storage.k8s.io/pod.name': 'standalone',
        'csi.storage.k8s.io/pod.namespace': 'default',
        'csi.storage.k8s.io/pod.uid': input.pod.uid,
        'csi.storage.k8s.io/serviceAccount.name': 'default',
        'csi.storage.k8s.io/ephemeral': 'true',
      });
    });

    it('has no node-publish secrets', () => {
      expect(input.secrets).to.equal(undefined);
    });
  });

  it('gives every run a different pod uid', () => {
    expect(parseStandaloneInput(SPC, FILE).pod.uid).not.to.equal(parseStandaloneInput(SPC, FILE).pod.uid);
  });

  it("keeps the SecretProviderClass's own namespace when there is no Pod", () => {
    const input = parseStandaloneInput(SPC.replace('name: my-spc', 'name: my-spc\n  namespace: team'), FILE);
    expect(input.spc.metadata.namespace).to.equal('team');
    expect(input.pod.namespace).to.equal('team');
  });

  describe('with a Pod', () => {
    const input = parseStandaloneInput(`${SPC}---${POD}`, FILE);

    it("takes the pod's name, namespace and uid", () => {
      expect(input.pod).to.deep.equal({
        name: 'web',
        namespace: 'shop',
        uid: '11111111-2222-4333-8444-555555555555',
      });
    });

    it("moves the SecretProviderClass into the pod's namespace", () => {
      expect(input.spc.metadata.namespace).to.equal('shop');
    });

    it("merges the first csi volume's attributes with the pod attributes", () => {
      expect(input.volumeContext).to.deep.equal({
        secretProviderClass: 'my-spc',
        extra: 'value',
        'csi.storage.k8s.io/pod.name': 'web',
        'csi.storage.k8s.io/pod.namespace': 'shop',
        'csi.storage.k8s.io/pod.uid': '11111111-2222-4333-8444-555555555555',
        'csi.storage.k8s.io/serviceAccount.name': 'web-sa',
        'csi.storage.k8s.io/ephemeral': 'true',
      });
    });
  });

  it('lets the Pod come before the SecretProviderClass', () => {
    expect(parseStandaloneInput(`${POD}---${SPC}`, FILE).pod.name).to.equal('web');
  });

  it('refuses a Pod whose csi volumeAttributes are not all strings', () => {
    const pod = POD.replace('extra: value', 'extra: 3');
    const error = errorOf(() => parseStandaloneInput(`${SPC}---${pod}`, FILE));
    expect(error.code).to.equal(standaloneErrorCodes.invalidInput);
    expect(error.message).to.equal(`${FILE}: Pod csi volumeAttributes must be a map of strings`);
  });

  describe('with a Secret', () => {
    it('decodes base64 data and adds stringData over it', () => {
      const secret = `
kind: Secret
metadata:
  name: creds
data:
  clientid: ${Buffer.from('my-id').toString('base64')}
  clientsecret: ${Buffer.from('from-data').toString('base64')}
stringData:
  clientsecret: from-string-data
  token: t0k3n
`;
      expect(parseStandaloneInput(`${SPC}---${secret}`, FILE).secrets).to.deep.equal({
        clientid: 'my-id',
        clientsecret: 'from-string-data',
        token: 't0k3n',
      });
    });

    it('reads a Secret without data as empty secrets', () => {
      expect(parseStandaloneInput(`${SPC}---\nkind: Secret\n`, FILE).secrets).to.deep.equal({});
    });

    it('refuses data that is not a map of strings', () => {
      const error = errorOf(() => parseStandaloneInput(`${SPC}---\nkind: Secret\ndata:\n  n: 1\n`, FILE));
      expect(error.code).to.equal(standaloneErrorCodes.invalidInput);
      expect(error.message).to.equal(`${FILE}: Secret data must be a map of strings`);
    });

    it('refuses stringData that is a list', () => {
      const error = errorOf(() => parseStandaloneInput(`${SPC}---\nkind: Secret\nstringData: [a]\n`, FILE));
      expect(error.message).to.equal(`${FILE}: Secret stringData must be a map of strings`);
    });
  });

  it('skips empty documents', () => {
    expect(parseStandaloneInput(`---\n${SPC}---\n`, FILE).spc.metadata.name).to.equal('my-spc');
  });

  it('refuses a file without a SecretProviderClass', () => {
    const error = errorOf(() => parseStandaloneInput(POD, FILE));
    expect(error).to.be.instanceOf(CodedError);
    expect(error.code).to.equal(standaloneErrorCodes.invalidInput);
    expect(error.message).to.equal(`${FILE}: no SecretProviderClass document`);
  });

  it('refuses an empty file', () => {
    expect(errorOf(() => parseStandaloneInput('', FILE)).message).to.equal(
      `${FILE}: no SecretProviderClass document`,
    );
  });

  it('refuses a document of another kind', () => {
    const error = errorOf(() => parseStandaloneInput(`${SPC}---\nkind: ConfigMap\n`, FILE));
    expect(error.message).to.equal(
      `${FILE}: unexpected kind "ConfigMap"; want SecretProviderClass, Secret or Pod`,
    );
  });

  it('refuses a document that is not an object', () => {
    expect(errorOf(() => parseStandaloneInput(`${SPC}---\n- a\n- b\n`, FILE)).message).to.equal(
      `${FILE}: every document must be a Kubernetes object`,
    );
  });

  it('refuses invalid YAML', () => {
    const error = errorOf(() => parseStandaloneInput('kind: [SecretProviderClass\n', FILE));
    expect(error.code).to.equal(standaloneErrorCodes.invalidInput);
    expect(error.message).to.match(new RegExp(`^${FILE}: not valid YAML: .+`));
  });

  it('refuses an invalid SecretProviderClass, naming the file and the field', () => {
    const error = errorOf(() => parseStandaloneInput(SPC.replace('provider: fake', 'provider: ""'), FILE));
    expect(error.code).to.equal(standaloneErrorCodes.invalidInput);
    expect(error.message).to.match(new RegExp(`^${FILE}: invalid SecretProviderClass .*spec\\.provider`));
  });
});

describe('readStandaloneInput', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'standalone-input-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and parses a file', async () => {
    const file = join(dir, 'spc.yaml');
    await writeFile(file, SPC);
    expect((await readStandaloneInput(file)).spc.metadata.name).to.equal('my-spc');
  });

  it('reports a missing file with its name and ENOENT', async () => {
    const file = join(dir, 'missing.yaml');
    const error = await readStandaloneInput(file).then(
      () => {
        throw new Error('expected an error');
      },
      (e: unknown) => e as CodedError,
    );
    expect(error.code).to.equal(standaloneErrorCodes.invalidInput);
    expect(error.message).to.equal(`${file}: cannot read: ENOENT`);
  });

  it('names the file in a parse error', async () => {
    const file = join(dir, 'pod.yaml');
    await writeFile(file, POD);
    const error = await readStandaloneInput(file).catch((e: unknown) => e as Error);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.equal(`${file}: no SecretProviderClass document`);
  });
});

describe('parseStandaloneInput with repeated documents', () => {
  it('refuses two SecretProviderClass documents instead of silently using the last', () => {
    const spc =
      'apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata: {name: a}\nspec: {provider: p, parameters: {x: y}}\n';
    expect(() => parseStandaloneInput(`${spc}---\n${spc}`, 'in.yaml')).to.throw(
      'in.yaml: more than one SecretProviderClass document; keep one',
    );
  });
});
