/**
 * What the manifests in deploy/ must give the provider for each identity mode to work (issue 12): identity
 * binding needs the pod's api://AKSIdentityBinding token from the CSIDriver's tokenRequests, and the cluster
 * CA at the service-account path to trust the token proxy.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { defaultServiceAccountCaFile } from '../../src/auth/identity-binding.js';

const deploy = new URL('../../../../deploy/', import.meta.url);
const documents = (path: string): Record<string, unknown>[] =>
  parseAllDocuments(readFileSync(new URL(path, deploy), 'utf8')).map(
    (document) => document.toJS() as Record<string, unknown>,
  );

interface PodSpec {
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  containers: { name: string; volumeMounts?: { name: string; mountPath: string }[] }[];
  volumes?: { name: string; projected?: { sources: Record<string, unknown>[] } }[];
}

describe('deploy/ for identity binding', () => {
  it('requests both token audiences upstream requests in the CSIDriver', () => {
    const [driver] = documents('driver/csidriver.yaml') as [
      { spec: { tokenRequests: { audience: string }[] } },
    ];
    expect(driver.spec.tokenRequests.map((request) => request.audience)).to.have.members([
      'api://AzureADTokenExchange',
      'api://AKSIdentityBinding',
    ]);
  });

  it('gives the provider container the cluster CA at the service-account path', () => {
    const all = documents('provider-azure/daemonset.yaml');
    const daemonSet = all.find((d) => d.kind === 'DaemonSet') as { spec: { template: { spec: PodSpec } } };
    const pod = daemonSet.spec.template.spec;
    const account = all.find((d) => d.kind === 'ServiceAccount') as
      { automountServiceAccountToken?: boolean } | undefined;
    const automounted = pod.automountServiceAccountToken ?? account?.automountServiceAccountToken ?? true;
    const caDir = posix.dirname(defaultServiceAccountCaFile);
    const container = pod.containers[0]!;
    const mount = container.volumeMounts?.find((m) => m.mountPath === caDir);
    if (!automounted) {
      expect(mount, `a volume mounted at ${caDir}`).to.not.equal(undefined);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      const items = (volume?.projected?.sources ?? []).flatMap(
        (source) =>
          (source.configMap as { items?: { key: string; path: string }[] } | undefined)?.items ?? [],
      );
      expect(items).to.deep.include({ key: 'ca.crt', path: posix.basename(defaultServiceAccountCaFile) });
    }
  });
});
