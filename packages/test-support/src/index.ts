export { artifact, readManifest, type TestWorldManifest } from './binaries.js';
export * from './entra.js';
export * from './kube.js';
export * from './pki.js';
export { freePort } from './ports.js';
export * from './process.js';
export { trustCertificateAuthority } from './trust.js';
export * from './world.js';
export * from './kubelet.js';
