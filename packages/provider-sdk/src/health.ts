/**
 * The gRPC health service (`grpc.health.v1.Health`) as upstream's providers serve it: `Check` answers
 * SERVING whatever service is named; `Watch` and `List` are not implemented. And the probe the healthz HTTP
 * endpoint runs: dial the provider's own socket, call `Check`, close. The messages' codecs are in wire.ts.
 */
import * as grpc from '@grpc/grpc-js';
import {
  healthServiceDefinition,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '@secrets-store-csi/protocol/wire';

export const healthService: grpc.ServiceDefinition = healthServiceDefinition;

export const healthHandlers: grpc.UntypedServiceImplementation = {
  Check: (
    _call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
    callback: grpc.sendUnaryData<HealthCheckResponse>,
  ) => {
    callback(null, { status: 'SERVING' });
  },
};

const HealthClient = grpc.makeGenericClientConstructor(healthServiceDefinition, 'grpc.health.v1.Health');

type HealthClientType = grpc.Client & {
  Check(
    request: HealthCheckRequest,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
};

/**
 * Calls `Health.Check` on `target` (a gRPC target such as `unix:/run/p.sock`) over a fresh connection, so a
 * deleted socket file fails the check. Resolves when the answer is SERVING; rejects with the reason otherwise.
 */
export async function checkHealth(target: string, timeoutInMs: number): Promise<void> {
  const client = new HealthClient(target, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
  }) as unknown as HealthClientType;
  try {
    const response = await new Promise<HealthCheckResponse | undefined>((resolve, reject) => {
      client.Check({ service: '' }, { deadline: Date.now() + timeoutInMs }, (error, answer) => {
        if (error) reject(error);
        else resolve(answer);
      });
    });
    if (response?.status !== 'SERVING') throw new Error('expected health check response serving');
  } finally {
    client.close();
  }
}
