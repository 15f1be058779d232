/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC, service-account token signing so the
 * TokenRequest API works) and kube-controller-manager (garbage collector, namespace and service-account
 * controllers). Certificates come from the test PKI; the admin identity is a client certificate in
 * system:masters.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { artifact } from './binaries.js';
import type { TestPki } from './pki.js';
import { freePort } from './ports.js';
import { startProcess, waitUntil, type ManagedProcess } from './process.js';

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface KubeControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly adminKubeconfigPath: string;
  /** A client-node configuration for the admin user. */
  readonly kubeConfig: KubeConfig;
  readonly serviceAccountIssuer: string;
  /** PEM public key that verifies service-account tokens. */
  readonly serviceAccountPublicKeyPath: string;
  readonly processes: readonly ManagedProcess[];
  stop(): Promise<void>;
}

export function kubeconfigYaml(
  server: string,
  caPath: string,
  user: string,
  certPath: string,
  keyPath: string,
): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test-world',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caPath}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate: ${certPath}`,
    `    client-key: ${keyPath}`,
    'contexts:',
    '- name: test-world',
    `  context: {cluster: test-world, user: ${user}}`,
    'current-context: test-world',
    '',
  ].join('\n');
}

export async function startKubeControlPlane(dir: string, pki: TestPki): Promise<KubeControlPlane> {
  await mkdir(dir, { recursive: true });
  const [etcdBin, apiserverBin, controllerManagerBin] = await Promise.all([
    artifact('etcd'),
    artifact('kube-apiserver'),
    artifact('kube-controller-manager'),
  ]);
  const [apiserverCert, adminCert, kcmCert, serviceAccountKey] = await Promise.all([
    pki.issue({
      name: 'kube-apiserver',
      commonName: 'kube-apiserver',
      usage: 'server',
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
    }),
    pki.issue({
      name: 'admin',
      commonName: 'test-world-admin',
      organization: 'system:masters',
      usage: 'client',
    }),
    pki.issue({
      name: 'kube-controller-manager',
      commonName: 'system:kube-controller-manager',
      usage: 'client',
    }),
    pki.keyPair('service-account'),
  ]);
  const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const server = `https://127.0.0.1:${apiPort}`;
  const adminKubeconfigPath = join(dir, 'admin.kubeconfig');
  const kcmKubeconfigPath = join(dir, 'kube-controller-manager.kubeconfig');
  await writeFile(
    adminKubeconfigPath,
    kubeconfigYaml(server, pki.caCertPath, 'admin', adminCert.certPath, adminCert.keyPath),
  );
  await writeFile(
    kcmKubeconfigPath,
    kubeconfigYaml(server, pki.caCertPath, 'kube-controller-manager', kcmCert.certPath, kcmCert.keyPath),
  );
  const processes: ManagedProcess[] = [];
  const stop = async () => {
    for (const p of [...processes].reverse()) await p.stop();
  };

  try {
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcd = await startProcess({
      name: 'etcd',
      command: etcdBin,
      args: [
        '--name=test-world',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=test-world=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      logPath: join(dir, 'etcd.log'),
    });
    processes.push(etcd);
    await waitUntil(async () => (await fetch(`${etcdUrl}/health`)).ok, {
      description: 'etcd /health',
      process: etcd,
      timeoutMs: 30_000,
    });

    const apiserver = await startProcess({
      name: 'kube-apiserver',
      command: apiserverBin,
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        '--advertise-address=127.0.0.1',
        `--tls-cert-file=${apiserverCert.certPath}`,
        `--tls-private-key-file=${apiserverCert.keyPath}`,
        `--client-ca-file=${pki.caCertPath}`,
        // Node and NodeRestriction: a real kubelet (node/kubelet-node.ts) is authorized as production nodes are.
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${serviceAccountKey.publicKeyPath}`,
        `--service-account-signing-key-file=${serviceAccountKey.privateKeyPath}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--endpoint-reconciler-type=none',
        '--allow-privileged=true',
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        '--profiling=false',
      ],
      logPath: join(dir, 'kube-apiserver.log'),
    });
    processes.push(apiserver);

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(adminKubeconfigPath);
    const [ca, cert, key] = await Promise.all(
      [pki.caCertPath, adminCert.certPath, adminCert.keyPath].map((p) => readFile(p)),
    );
    await waitUntil(() => httpsOk(`${server}/readyz`, { ca, cert, key }), {
      description: 'kube-apiserver /readyz',
      process: apiserver,
      timeoutMs: 120_000,
      intervalMs: 500,
    });

    const controllerManager = await startProcess({
      name: 'kube-controller-manager',
      command: controllerManagerBin,
      args: [
        `--kubeconfig=${kcmKubeconfigPath}`,
        `--authentication-kubeconfig=${kcmKubeconfigPath}`,
        `--authorization-kubeconfig=${kcmKubeconfigPath}`,
        `--client-ca-file=${pki.caCertPath}`,
        '--authentication-skip-lookup=true',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        '--controllers=serviceaccount-token-controller,serviceaccount-controller,root-ca-certificate-publisher-controller,namespace-controller,garbage-collector-controller,daemonset-controller',
        `--service-account-private-key-file=${serviceAccountKey.privateKeyPath}`,
        `--root-ca-file=${pki.caCertPath}`,
        '--profiling=false',
      ],
      logPath: join(dir, 'kube-controller-manager.log'),
    });
    processes.push(controllerManager);
    await waitUntil(
      // Its serving certificate is self-signed (cert-dir); only liveness matters here.
      () => httpsOk(`https://127.0.0.1:${kcmPort}/healthz`, { rejectUnauthorized: false }),
      {
        description: 'kube-controller-manager /healthz',
        process: controllerManager,
        timeoutMs: 120_000,
        intervalMs: 500,
      },
    );

    return {
      server,
      adminKubeconfigPath,
      kubeConfig,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      serviceAccountPublicKeyPath: serviceAccountKey.publicKeyPath,
      processes,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** GET over HTTPS (with client certificates when given); true on 200. */
function httpsOk(url: string, options: RequestOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpsGet(url, options, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('error', () => {
      resolve(false);
    });
  });
}
