/**
 * The protocol's names and status words without the gRPC definitions: what a process that does not load
 * the descriptor (a provider, which serves the provider protocol through hand-written codecs) needs. The
 * `./constants` export; the package's main export re-exports all of it.
 */
export { goCodeName, goStatusText } from './go-status.js';

/** Version of the provider protocol the driver announces in VersionRequest. */
export const PROVIDER_API_VERSION = 'v1alpha1';

/** Full gRPC service names, as they travel in request paths. */
export const serviceNames = Object.freeze({
  identity: 'csi.v1.Identity',
  node: 'csi.v1.Node',
  controller: 'csi.v1.Controller',
  provider: 'v1alpha1.CSIDriverProvider',
});
