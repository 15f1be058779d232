/** The CSI Identity service, as upstream answers it. */
import { status, type sendUnaryData } from '@grpc/grpc-js';
import type { csi } from '@secrets-store-csi/protocol';
import { statusError } from './status.js';

export interface PluginInfo {
  /** `--drivername`. */
  readonly name: string;
  readonly version: string;
}

export function identityHandlers(info: PluginInfo): csi.IdentityHandlers {
  return {
    GetPluginInfo(_call, callback: sendUnaryData<csi.GetPluginInfoResponse>) {
      if (info.name === '') {
        callback(statusError(status.UNAVAILABLE, 'driver name not configured'));
        return;
      }
      if (info.version === '') {
        callback(statusError(status.UNAVAILABLE, 'driver version not configured'));
        return;
      }
      callback(null, { name: info.name, vendor_version: info.version });
    },
    GetPluginCapabilities(_call, callback: sendUnaryData<csi.GetPluginCapabilitiesResponse>) {
      // Upstream advertises the controller service (whose calls are unimplemented); kept for csi-sanity parity.
      callback(null, { capabilities: [{ service: { type: 'CONTROLLER_SERVICE' } }] });
    },
    Probe(_call, callback: sendUnaryData<csi.ProbeResponse>) {
      callback(null, { ready: { value: true } });
    },
  };
}

/** Upstream registers a controller service whose only answer is one capability of type UNKNOWN. */
export function controllerHandlers(): csi.ControllerHandlers {
  return {
    ControllerGetCapabilities(_call, callback: sendUnaryData<csi.ControllerGetCapabilitiesResponse>) {
      callback(null, { capabilities: [{ rpc: { type: 'UNKNOWN' } }] });
    },
  };
}
