#!/usr/bin/env node
/**
 * The driver DaemonSet's two sidecars as one stand-in process, packaged as the `test-sidecars` image by
 * scripts/images.sh for the end-to-end suite (test infrastructure). node-driver-registrar and livenessprobe
 * cannot be built here (the Go module proxy answers 403 for kubernetes-csi's repositories), so the chart's
 * `linux.registrarImage` and `linux.livenessProbeImage` point at this image, which takes their flags:
 *
 * - with `--http-endpoint=<host:port>` it is the livenessprobe: `GET /healthz` calls the driver's CSI Probe
 *   on `--csi-address` (within `--probe-timeout`) and answers 200 when it succeeds, 500 otherwise;
 * - otherwise it is the registrar: it asks the driver its name (GetPluginInfo on `--csi-address`) and serves
 *   kubelet's registration service in `/registration`, pointing kubelet at `--kubelet-registration-path`.
 *
 * It runs until SIGTERM.
 */
import { createServer } from 'node:http';
import { CsiNodeClient } from '../kubelet-csi-client.js';
import { startPluginRegistrar } from './plugin-registrar.js';

function flag(args: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

function durationMs(text: string | undefined, fallback: number): number {
  const match = /^(\d+)(ms|s)$/.exec(text ?? '');
  if (match === null) return fallback;
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1);
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

async function untilTerminated(): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
}

async function livenessProbe(args: readonly string[], csiAddress: string, endpoint: string): Promise<void> {
  const timeoutMs = durationMs(flag(args, 'probe-timeout'), 1000);
  const separator = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, separator) || '0.0.0.0';
  const port = Number(endpoint.slice(separator + 1));
  const server = createServer((request, response) => {
    if (request.url !== '/healthz') {
      response.writeHead(404).end();
      return;
    }
    const client = new CsiNodeClient(csiAddress);
    client
      .probe({ deadline: Date.now() + timeoutMs })
      .then((outcome) => {
        if (outcome.ok) response.writeHead(200).end('ok');
        else response.writeHead(500).end(outcome.message);
      })
      .catch((error: unknown) => response.writeHead(500).end(String(error)))
      .finally(() => {
        client.close();
      });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  log(`livenessprobe stand-in: /healthz on ${host}:${String(port)} probes ${csiAddress}`);
  await untilTerminated();
  server.close();
}

async function registrar(args: readonly string[], csiAddress: string): Promise<void> {
  const kubeletRegistrationPath = flag(args, 'kubelet-registration-path');
  if (kubeletRegistrationPath === undefined) throw new Error('--kubelet-registration-path is required');
  let driverName: string | undefined;
  while (driverName === undefined) {
    const client = new CsiNodeClient(csiAddress);
    const outcome = await client.getPluginInfo({ deadline: Date.now() + 5000 });
    client.close();
    if (outcome.ok) driverName = outcome.response.name;
    else {
      log(`registrar stand-in: the driver does not answer yet (${outcome.message}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  const registration = await startPluginRegistrar({
    registrationDir: flag(args, 'registration-dir') ?? '/registration',
    driverName,
    kubeletRegistrationPath,
  });
  log(
    `registrar stand-in: ${driverName} at ${kubeletRegistrationPath}, registration socket ${registration.socketPath}`,
  );
  registration.registered.then(
    () => {
      log('registrar stand-in: kubelet registered the plugin');
    },
    (error: unknown) => {
      log(`registrar stand-in: ${String(error)}`);
    },
  );
  await untilTerminated();
  await registration.stop();
}

const args = process.argv.slice(2);
const csiAddress = flag(args, 'csi-address') ?? '/run/csi/socket';
const httpEndpoint = flag(args, 'http-endpoint');
try {
  if (httpEndpoint === undefined) await registrar(args, csiAddress);
  else await livenessProbe(args, csiAddress, httpEndpoint);
} catch (error) {
  log(`sidecar stand-in: ${String(error)}`);
  process.exitCode = 1;
}
