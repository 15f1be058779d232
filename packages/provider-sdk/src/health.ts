/**
 * The gRPC health service (`grpc.health.v1.Health`) as upstream's providers serve it: `Check` answers
 * SERVING whatever service is named; `Watch` and `List` are not implemented. And the probe the healthz HTTP
 * endpoint runs: dial the provider's own socket, call `Check`, close. The messages' codecs are in
 * `@secrets-store-csi/protocol/wire`, and so is the transport (no @grpc/grpc-js).
 */
import {
  callUnary,
  healthServiceDefinition,
  type ListenTarget,
  type UnaryServer,
} from '@secrets-store-csi/protocol/wire';

export const healthService = healthServiceDefinition;

const SERVING = healthServiceDefinition.Check.responseSerialize({ status: 'SERVING' });

/** Serves `Health.Check` on `server`: SERVING for any service name. */
export function registerHealthService(server: UnaryServer): void {
  const { Check } = healthServiceDefinition;
  server.register(Check.path, (bytes) => {
    Check.requestDeserialize(bytes);
    return SERVING;
  });
}

/**
 * Calls `Health.Check` on `target` (the provider's own socket or address) over a fresh connection, so a
 * deleted socket file fails the check. Resolves when the answer is SERVING; rejects with the reason otherwise.
 */
export async function checkHealth(target: ListenTarget, timeoutInMs: number): Promise<void> {
  const { Check } = healthServiceDefinition;
  const { response } = await callUnary(target, Check.path, Check.requestSerialize({ service: '' }), {
    timeoutInMs,
    authority: 'localhost',
  });
  if (Check.responseDeserialize(response).status !== 'SERVING')
    throw new Error('expected health check response serving');
}
