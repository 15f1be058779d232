/**
 * The signals that stop the daemon, listened for from the first moment of `main`: a SIGTERM that arrives while
 * the driver starts must not be lost. As PID 1 in its container, a process ignores a signal it has no handler
 * for, so kubelet's SIGTERM would otherwise wait out the grace period and the SIGKILL would leave the CSI
 * socket behind.
 */
export interface SignalSource {
  once(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** Resolves with the first shutdown signal received from now on, whenever it is awaited. */
export function shutdownSignal(source: SignalSource = process): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      for (const s of SHUTDOWN_SIGNALS) source.removeListener(s, stop);
      resolve(signal);
    };
    for (const s of SHUTDOWN_SIGNALS) source.once(s, stop);
  });
}
