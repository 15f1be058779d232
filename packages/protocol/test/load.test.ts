import { expect } from 'chai';
import { loadProtocol, serviceNames } from '../src/index.js';

describe('loadProtocol', () => {
  it('returns the same loaded contracts on every call', () => {
    expect(loadProtocol()).to.equal(loadProtocol());
  });

  it('exposes every service under its full upstream name and path', () => {
    const { csi, provider } = loadProtocol();
    const paths = (service: Record<string, { path: string }>) => Object.values(service).map((m) => m.path);
    expect(paths(provider.CSIDriverProvider.service)).to.have.members([
      '/v1alpha1.CSIDriverProvider/Version',
      '/v1alpha1.CSIDriverProvider/Mount',
    ]);
    expect(paths(csi.Identity.service)).to.have.members([
      '/csi.v1.Identity/GetPluginInfo',
      '/csi.v1.Identity/GetPluginCapabilities',
      '/csi.v1.Identity/Probe',
    ]);
    expect(paths(csi.Node.service)).to.include.members([
      '/csi.v1.Node/NodePublishVolume',
      '/csi.v1.Node/NodeUnpublishVolume',
      '/csi.v1.Node/NodeGetInfo',
    ]);
    expect(paths(csi.Controller.service)).to.deep.equal(['/csi.v1.Controller/ControllerGetCapabilities']);
    expect(Object.values(serviceNames)).to.have.members([
      'csi.v1.Identity',
      'csi.v1.Node',
      'csi.v1.Controller',
      'v1alpha1.CSIDriverProvider',
    ]);
  });
});
