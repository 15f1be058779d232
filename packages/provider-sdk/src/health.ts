/**
 * The gRPC health service (`grpc.health.v1.Health`) as upstream's providers serve it: `Check` answers
 * SERVING whatever service is named; `Watch` and `List` are not implemented. And the probe the healthz HTTP
 * endpoint runs: dial the provider's own socket, call `Check`, close.
 */
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';

const descriptor = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: {
                    ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } },
                  },
                },
                Health: {
                  methods: {
                    Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

interface HealthCheckResponse {
  status: string;
}

type HealthClient = grpc.Client & {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
};

const loaded = grpc.loadPackageDefinition(
  fromJSON(descriptor as Parameters<typeof fromJSON>[0], { keepCase: true, enums: String, defaults: true }),
) as unknown as {
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
};

export const healthService: grpc.ServiceDefinition = loaded.grpc.health.v1.Health.service;

export const healthHandlers: grpc.UntypedServiceImplementation = {
  Check: (
    _call: grpc.ServerUnaryCall<unknown, HealthCheckResponse>,
    callback: grpc.sendUnaryData<HealthCheckResponse>,
  ) => {
    callback(null, { status: 'SERVING' });
  },
};

/**
 * Calls `Health.Check` on `target` (a gRPC target such as `unix:/run/p.sock`) over a fresh connection, so a
 * deleted socket file fails the check. Resolves when the answer is SERVING; rejects with the reason otherwise.
 */
export async function checkHealth(target: string, timeoutInMs: number): Promise<void> {
  const client = new loaded.grpc.health.v1.Health(target, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
  }) as unknown as HealthClient;
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
